"""What every connector shares: GET with retries, errors that name the service and request, safe XML.

Retries: a 5xx answer, a timeout or a dropped connection is tried again (``attempts`` in all, waiting
``backoff`` seconds, doubled each time); a 4xx is the request's fault and fails at once. Every error
names the service and the request (method and URL with its parameters: the rate services take no
secrets), and for a bad answer the field and the value.

XML is parsed with the standard library after refusing any document type declaration: without a DTD
there can be no entity declarations, so neither entity expansion ("billion laughs") nor external
entities can reach the parser (what defusedxml's ``forbid_dtd`` guarantees, without the dependency).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.parsers import expat

import httpx2 as httpx

from kassa.errors import ServiceError

USER_AGENT = "kassa (exchange rates; https://github.com/kassa)"


@dataclass(frozen=True)
class Service:
    """One web service: its name as people know it and where it answers (settable for tests and mirrors)."""

    name: str
    base_url: str
    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        url = f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"
        # "/" and "+" stay readable: CBR's dates are dd/mm/yyyy, ECB's keys join currencies with "+".
        return f"{url}?{urlencode(params, safe='/+')}" if params else url

    def error(self, request: str, problem: str) -> ServiceError:
        return ServiceError(f"{self.name}: {request}: {problem}")


def excerpt(body: bytes | str, limit: int = 120) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def get(
    service: Service, path: str, params: Mapping[str, str] | None = None, *, empty: int | None = None
) -> tuple[str, bytes | None]:
    """(the request as named in errors, the answer's body) of ``GET path?params``, retried as above.

    ``empty``: the status by which the service says "nothing matches" (body ``None``), not an error.
    """
    url = service.url(path, params)
    request = f"GET {url}"
    problem = ""
    wait = service.backoff
    with httpx.Client(timeout=service.timeout, headers={"User-Agent": USER_AGENT}) as client:
        for attempt in range(1, service.attempts + 1):
            try:
                response = client.get(url)
            except httpx.TimeoutException:
                problem = f"no answer within {service.timeout:g} s"
            except httpx.TransportError as exc:
                problem = f"cannot connect ({type(exc).__name__}: {exc})"
            else:
                if response.status_code < 400:
                    return request, response.content
                if response.status_code == empty:
                    return request, None
                if response.status_code < 500:
                    raise service.error(request, f"HTTP {response.status_code} {excerpt(response.content)}")
                problem = f"HTTP {response.status_code} {excerpt(response.content)}"
            if attempt < service.attempts:
                service.sleep(wait)
                wait *= 2
    raise service.error(request, f"{problem} (tried {service.attempts} times)")


class _DocumentType(Exception):
    pass


def _refuse_dtd(*_: object) -> None:
    raise _DocumentType


def parse_xml(service: Service, request: str, body: bytes) -> ET.Element:
    """The root element of an XML answer; an answer that is not XML, or declares a DTD, is refused."""
    check = expat.ParserCreate()
    check.StartDoctypeDeclHandler = _refuse_dtd
    check.EntityDeclHandler = _refuse_dtd
    try:
        check.Parse(body, True)
    except _DocumentType:
        raise service.error(request, "the answer declares a document type; refused") from None
    except expat.ExpatError as exc:
        raise service.error(request, f"the answer is not XML ({exc}): {excerpt(body)}") from None
    return ET.fromstring(body)

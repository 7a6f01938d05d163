"""What every connector shares: one retry loop with per-service hooks, errors naming the service and
request, safe XML.

**Retries** (:class:`Retry`, :meth:`Retry.send`): every connector and the Telegram sender go through
the same loop; what differs per service is a *hook* that reads one answer and says what it means
(:class:`Verdict`):

* ``done(value)`` — the answer is the result;
* ``poll(seconds, why)`` — not ready yet, ask again after the server's wait (Direct's 201/202 with
  ``retryIn``, Metrica's ``created``); bounded only by the deadline;
* ``wait(why, seconds)`` — the service is busy or rate-limited: wait the seconds it asked for
  (Telegram's ``retry_after``) or back off, then ask again (Direct's queue-full 9000, 429s);
* ``retry(problem)`` — a fault (5xx, an HTML error page): back off and try again, ``attempts`` in all,
  then fail (or, with ``exhausted``, raise what the caller makes of it: Direct splits the period);
* ``fail(error)`` — the request's own fault (a 4xx): at once.

Transport faults are the loop's own: a connection that could not be made is always retried; a timeout
waiting for the answer, or a connection dropped mid-answer, is retried only for an ``idempotent``
request — a POST that may already have taken effect (a Telegram message) is not sent twice.

Waits are "equal jitter" exponential back-off (:func:`kassa.connectors.pacing.backoff`) unless
``jitter`` is off (one client of a small service, where fixed waits are easier to read in a log); every
wait is checked against the overall ``deadline``, so no server can keep a sync waiting for ever. The
clock, the sleep and the random source are values, so tests run hours of waiting in no time.

Every error names the service and the request (method and URL with its parameters: the rate services
take no secrets; services with secrets pass their own error factory, which scrubs them), and for a bad
answer the field and the value.

XML is parsed with the standard library after refusing any document type declaration: without a DTD
there can be no entity declarations, so neither entity expansion ("billion laughs") nor external
entities can reach the parser (what defusedxml's ``forbid_dtd`` guarantees, without the dependency).
"""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from xml.parsers import expat

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.pacing import Clock, RateLimit, Sleep, backoff
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

    def judge(response: httpx.Response) -> Verdict:
        if response.status_code < 400:
            return done(response.content)
        if response.status_code == empty:
            return done(None)
        problem = f"HTTP {response.status_code} {excerpt(response.content)}"
        if response.status_code < 500:
            return fail(service.error(request, problem))
        return retry(problem)

    policy = Retry(attempts=service.attempts, backoff=service.backoff, jitter=False, sleep=service.sleep)
    with httpx.Client(timeout=service.timeout, headers={"User-Agent": USER_AGENT}) as client:
        body: bytes | None = policy.send(
            lambda: client.get(url),
            judge,
            lambda problem: service.error(request, problem),
            timeout=service.timeout,
        )
    return request, body


# -- the one retry loop ----------------------------------------------------------------------------


@dataclass
class Counts:
    """What a client did, for a sync's summary."""

    requests: int = 0
    polls: int = 0  # "not ready yet" answers
    retries: int = 0  # requests sent again after a fault or a busy answer
    waited: float = 0.0  # seconds slept (polls, waits and back-off)
    splits: int = 0  # periods asked again in parts (too much data for one request)


@dataclass(frozen=True)
class Verdict:
    """What a service's hook makes of one answer (module docstring); build one with the functions below."""

    action: str  # done | poll | wait | retry | fail
    value: Any = None
    seconds: float | None = None
    problem: str = ""
    error: Exception | None = None
    exhausted: Callable[[ServiceError], Exception] | None = None


def done(value: Any) -> Verdict:
    return Verdict("done", value=value)


def poll(seconds: float, why: str) -> Verdict:
    return Verdict("poll", seconds=seconds, problem=why)


def wait(why: str, seconds: float | None = None) -> Verdict:
    return Verdict("wait", seconds=seconds, problem=why)


def retry(problem: str, exhausted: Callable[[ServiceError], Exception] | None = None) -> Verdict:
    return Verdict("retry", problem=problem, exhausted=exhausted)


def fail(error: Exception) -> Verdict:
    return Verdict("fail", error=error)


ErrorFactory = Callable[[str], ServiceError]
"""problem -> the error naming the service and the request (and scrubbed of its secrets)."""


@dataclass
class Retry:
    """How one client retries: attempts, waits, deadline; its :attr:`counts` add up over its requests."""

    attempts: int = 4  # tries of one request through faults ("retry" answers, transport faults)
    backoff: float = 1.0  # first back-off after a fault, doubled each time up to ``cap``
    cap: float = 60.0
    wait_base: float | None = None  # first back-off of a "busy" answer without a wait of its own
    waits_use_attempts: bool = True  # False: busy answers are bounded by the deadline alone
    max_wait: float | None = None  # a server asking to wait longer than this fails at once
    deadline: float | None = None  # seconds from :meth:`start` for everything, waits included
    deadline_hint: str = ""  # what to do when the deadline is reached ("sync again later…")
    jitter: bool = True
    idempotent: bool = True  # False: a timeout or a dropped answer is not retried (module docstring)
    limit: RateLimit | None = None  # waited on before every request
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    counts: Counts = field(default_factory=Counts)
    _deadline_at: float | None = None

    def start(self) -> None:
        """Start the deadline's clock (a client calls it once per unit of work: one report)."""
        self._deadline_at = None if self.deadline is None else self.clock() + self.deadline

    def _backoff(self, n: int, base: float) -> float:
        if not self.jitter:
            return min(self.cap, base * 2 ** max(n - 1, 0))
        return backoff(n, base=base, cap=self.cap, rng=self.rng)

    def pause(self, seconds: float, why: str, error: ErrorFactory) -> None:
        """Sleep ``seconds``, unless that would pass the deadline: then fail, saying why it waited."""
        if self._deadline_at is not None and self.clock() + seconds > self._deadline_at:
            said = dict(why=why, seconds=f"{seconds:g}", deadline=f"{self.deadline:g}")
            if self.deadline_hint:
                raise error(m.Said(m.PAST_DEADLINE, hint=self.deadline_hint, **said))
            raise error(m.Said(m.PAST_DEADLINE_BARE, **said))
        self.sleep(seconds)
        self.counts.waited += seconds

    def send(
        self,
        do: Callable[[], httpx.Response],
        judge: Callable[[httpx.Response], Verdict],
        error: ErrorFactory,
        *,
        timeout: float,
    ) -> Any:
        """Send ``do()`` until ``judge`` says done, or fail; the done value."""
        if self._deadline_at is None:
            self.start()
        faults = busy = 0
        while True:
            if self._deadline_at is not None and self.clock() > self._deadline_at:
                raise error(m.Said(m.NO_RESULT, deadline=f"{self.deadline:g}"))
            if self.limit is not None:
                self.limit.wait()
            self.counts.requests += 1
            verdict = self._attempt(do, judge, timeout)
            if verdict.action == "done":
                return verdict.value
            if verdict.action == "fail":
                if isinstance(verdict.error, _Unsent):
                    raise error(str(verdict.error)) from None
                assert verdict.error is not None
                raise verdict.error
            if verdict.action == "poll":
                self.counts.polls += 1
                self.pause(verdict.seconds or 0.0, verdict.problem, error)
                continue
            if verdict.action == "wait":
                busy += 1
                if self.max_wait is not None and (verdict.seconds or 0.0) > self.max_wait:
                    raise error(
                        f"{verdict.problem}; asked to wait {verdict.seconds:g} s, longer than {self.max_wait:g} s"
                    )
                if self.waits_use_attempts:
                    faults += 1
                    if faults >= self.attempts:
                        raise error(f"{verdict.problem} (tried {faults} times)")
                self.counts.retries += 1
                seconds = verdict.seconds
                if seconds is None:
                    seconds = self._backoff(
                        busy, self.wait_base if self.wait_base is not None else self.backoff
                    )
                self.pause(seconds, verdict.problem, error)
                continue
            faults += 1  # "retry": a fault
            if faults >= self.attempts:
                exc = error(f"{verdict.problem} (tried {faults} times)")
                raise verdict.exhausted(exc) if verdict.exhausted else exc
            self.counts.retries += 1
            self.pause(self._backoff(faults, self.backoff), verdict.problem, error)

    def _attempt(
        self, do: Callable[[], httpx.Response], judge: Callable[[httpx.Response], Verdict], timeout: float
    ) -> Verdict:
        try:
            response = do()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was sent: always safe again
            return retry(f"the connection failed ({type(exc).__name__})")
        except httpx.TimeoutException:
            if self.idempotent:
                return retry(f"no answer within {timeout:g} s")
            return fail(_Unsent(f"no answer within {timeout:g} s (it may have been delivered; not retried)"))
        except httpx.HTTPError as exc:  # dropped mid-answer, broken gzip, protocol error
            if self.idempotent:
                return retry(f"the connection failed ({type(exc).__name__})")
            return fail(
                _Unsent(
                    f"the connection failed ({type(exc).__name__}; it may have been delivered, not retried)"
                )
            )
        return judge(response)


class _Unsent(Exception):
    """A transport fault of a request that is not retried: turned into the caller's error in send()."""


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

"""A fake Google Ads API (REST searchStream) and OAuth token endpoint on 127.0.0.1.

What it checks, as the real services do (../shared/research/api-protocols.md §6.1):

* ``POST /token`` (form): ``grant_type=refresh_token`` with the right client id, secret and refresh
  token, else 400 ``invalid_grant``; answers ``{"access_token", "expires_in": 3599, "token_type"}``;
* ``POST /v21/customers/{id}/googleAds:searchStream``: ``Authorization: Bearer <live token>`` (else
  401 ``UNAUTHENTICATED``), ``developer-token`` (else 400 [guess at the status]), the customer id in
  digits, ``login-customer-id`` equal to the manager's when the account is reached through one (else
  403 ``PERMISSION_DENIED`` with Google's message), a JSON body ``{"query": GAQL}`` selecting the
  fields kassa needs ``FROM campaign`` with ``segments.date BETWEEN 'a' AND 'b'``.

It answers a JSON **array** of batches of ``batch`` rows (int64 values as strings), the last with
``queryResourceConsumption``. Faults: ``fault((status, body))`` (``None`` body: an HTML page),
``expire_all()`` (every access token dies).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

NEEDED = ("segments.date", "campaign.id", "metrics.cost_micros", "metrics.clicks", "metrics.impressions")
STREAM = re.compile(r"^/v21/customers/([^/]+)/googleAds:searchStream$")
BETWEEN = re.compile(r"WHERE segments\.date BETWEEN '(\d{4}-\d\d-\d\d)' AND '(\d{4}-\d\d-\d\d)'")
# (date, campaign id, campaign name, impressions, clicks, cost)
Row = tuple[str, str, str, int, int, Decimal]


@dataclass
class FakeGoogle:
    customer: str
    client_id: str
    developer_token: str
    client_secret: str
    refresh_token: str
    manager: str | None = None
    rows: list[Row] = field(default_factory=list)
    batch: int = 2
    faults: list[Any] = field(default_factory=list)
    live: set[str] = field(default_factory=set)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""

    def expire_all(self) -> None:
        self.live.clear()

    def endpoints(self) -> list[str]:
        return [e for e, _ in self.log]

    def stream(self, since: str, until: str) -> list[dict[str, Any]]:
        picked = [r for r in self.rows if since <= r[0] <= until]
        results = [
            {"campaign": {"resourceName": f"customers/{self.customer}/campaigns/{cid}", "id": cid, "name": name},
             "metrics": {"impressions": str(imp), "clicks": str(clicks), "costMicros": str(int(cost * 1_000_000))},
             "segments": {"date": day}, "customer": {"currencyCode": "RUB"}}
            for day, cid, name, imp, clicks, cost in picked
        ]  # fmt: skip
        mask = "segments.date,campaign.id,campaign.name,metrics.impressions,metrics.clicks,metrics.costMicros,customer.currencyCode"
        out = [
            {"results": results[i : i + self.batch], "fieldMask": mask, "requestId": "req-1"}
            for i in range(0, len(results), self.batch)
        ] or [{"fieldMask": mask, "requestId": "req-1"}]
        out[-1]["queryResourceConsumption"] = "120"
        return out

    def answer(self, path: str, h: dict[str, str], raw: bytes) -> tuple[int, Any]:
        if path == "/token":
            self.log.append(("token", {}))
            form = dict(parse_qsl(raw.decode()))
            if (form.get("grant_type"), form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != (
                "refresh_token", self.client_id, self.client_secret, self.refresh_token
            ):  # fmt: skip
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            token = "ya29." + secrets.token_hex(10)
            self.live.add(token)
            return 200, {
                "access_token": token,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/adwords",
            }
        m = STREAM.match(path)
        if not m:
            return 404, _err(404, "NOT_FOUND", path)
        try:
            query = str(json.loads(raw)["query"])
        except (ValueError, KeyError, TypeError):
            query = ""
        self.log.append(("stream", {"query": query, **h}))
        if self.faults:
            return self.faults.pop(0)
        auth = h.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.live:
            return 401, _err(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if h.get("developer-token") != self.developer_token:
            return 400, _err(
                400,
                "INVALID_ARGUMENT",
                "The developer token is not valid or the developer-token header is missing.",
            )
        if m[1] != self.customer:
            return 400, _err(400, "INVALID_ARGUMENT", "Invalid customer ID (digits only, no hyphens).")
        if self.manager and h.get("login-customer-id") != self.manager:
            return 403, _err(
                403,
                "PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header.",
            )
        between = BETWEEN.search(query)
        if (
            not query.startswith("SELECT ")
            or " FROM campaign " not in query
            or not between
            or not all(f in query for f in NEEDED)
        ):
            return 400, _err(400, "INVALID_ARGUMENT", "Error in query.")
        return 200, self.stream(between[1], between[2])


def _err(code: int, status: str, message: str, delay: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"} if delay else {},
        "message": message,
    }
    if delay:
        detail["details"] = {"quotaErrorDetails": {"retryDelay": delay}}
    return {"error": {"code": code, "message": message, "status": status, "details": [
        {"@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure", "errors": [detail], "requestId": "r"}]}}  # fmt: skip


def quota(delay: str) -> tuple[int, list[dict[str, Any]]]:
    """A 429 as searchStream sends it: array-wrapped, with a retry delay."""
    return 429, [_err(429, "RESOURCE_EXHAUSTED", "Too many requests.", delay)]


@contextmanager
def fake_google(**kwargs: Any) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(**kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload = fake.answer(urlsplit(self.path).path, h, raw)
            if payload is None:
                data, ctype = b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"
            else:
                data, ctype = json.dumps(payload).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

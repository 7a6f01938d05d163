"""A fake VK Ads API v2 on 127.0.0.1: OAuth2 client credentials with refresh, campaigns, daily statistics.

What it checks, as the real service does (../shared/research/api-protocols.md §5):

* ``POST /api/v2/oauth2/token.json``, form-encoded: ``grant_type=client_credentials`` with the right
  ``client_id``/``client_secret`` (else 401 ``invalid_client``) mints a token — at most ``cap`` (5)
  active ones, the next refused with 403 ``token_limit_exceeded`` [the exact error text is not
  documented]; ``grant_type=refresh_token`` with a live refresh token swaps the pair (the old access and
  refresh tokens die; not counted towards the cap), a dead one: 401 ``invalid_grant``. ``expires_in``
  is sent as a **string**, as in VK's example;
* API calls need ``Authorization: Bearer <live token>`` (else 401);
* ``GET /api/v2/ad_plans.json``: ``limit`` ≤ 250, ``offset``; ``{"count", "offset", "items"}``;
* ``GET /api/v2/statistics/ad_plans/day.json``: ``id`` (≤ 200), ``date_from``/``date_to`` (≤ 92 days),
  ``metrics``; ``{"items": [{"id", "rows": [{"date", "base": {"shows", "clicks", "spent"}}], "total"}],
  "total"}`` with ``spent`` a decimal string.

Faults: ``fault(endpoint, …)`` with ``(status, body)`` (``None`` body: an HTML page) or ``"drop"``;
``expire_all()`` kills every access token (a token expiring mid-sync).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# (date, campaign id, shows, clicks, spent)
Row = tuple[str, int, int, int, Decimal]


@dataclass
class FakeVk:
    client_id: str
    client_secret: str
    campaigns: list[int] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    cap: int = 5
    expires_in: str = "86400"
    faults: dict[str, list[Any]] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)  # access token -> its refresh token
    refreshable: set[str] = field(default_factory=set)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""
    # X-RateLimit-RPS-Remaining sent with each API answer, in order (the last one repeated); none: no header
    rps_left: list[int] = field(default_factory=list)
    hourly_left: int | None = None

    def fault(self, endpoint: str, *answers: Any) -> None:
        self.faults.setdefault(endpoint, []).extend(answers)

    def expire_all(self) -> None:
        self.live.clear()  # the refresh tokens stay valid

    def endpoints(self) -> list[str]:
        return [e for _, e, _ in self.log]

    def statistics(self, ids: list[int], since: str, until: str) -> dict[str, Any]:
        items = []
        for i in ids:
            rows = [
                {"date": d, "base": {"shows": s, "clicks": c, "spent": f"{m:.2f}", "ctr": 0.0, "cpc": "0"}}
                for d, cid, s, c, m in self.rows
                if cid == i and since <= d <= until
            ]
            items.append({"id": i, "rows": rows, "total": {"base": {}}})
        return {"items": items, "total": {"base": {}}}

    def answer(self, method: str, path: str, q: dict[str, str], h: dict[str, str]) -> tuple[int, Any]:
        endpoint = {
            "/api/v2/oauth2/token.json": "token",
            "/api/v2/ad_plans.json": "campaigns",
            "/api/v2/statistics/ad_plans/day.json": "statistics",
        }.get(path)
        if endpoint is None:
            return 404, {"error": {"code": "not_found", "message": path}}
        self.log.append((method, endpoint, q))
        injected = self.faults.get(endpoint)
        if injected:
            fault = injected.pop(0)
            if fault == "drop":
                return -1, None
            return fault
        if endpoint == "token":
            return self._token(method, q, h)
        auth = h.get("authorization", "")
        if method != "GET" or not auth.startswith("Bearer ") or auth[7:] not in self.live:
            return 401, {"error": {"code": "invalid_token", "message": "token is invalid or expired"}}
        if endpoint == "campaigns":
            limit, offset = int(q.get("limit", "20")), int(q.get("offset", "0"))
            if limit > 250:
                return 400, {"error": {"code": "invalid_limit", "message": "limit must be at most 250"}}
            page = self.campaigns[offset : offset + limit]
            return 200, {"count": len(self.campaigns), "offset": offset, "items": [{"id": i} for i in page]}
        try:
            ids = [int(x) for x in q["id"].split(",")]
            d1, d2 = dt.date.fromisoformat(q["date_from"]), dt.date.fromisoformat(q["date_to"])
        except (KeyError, ValueError):
            return 400, {"error": {"code": "invalid_params", "message": "id, date_from, date_to required"}}
        if len(ids) > 200 or (d2 - d1).days + 1 > 92 or d1 > d2 or not q.get("metrics"):
            return 400, {"error": {"code": "invalid_params", "message": "at most 200 ids and 92 days"}}
        return 200, self.statistics(ids, q["date_from"], q["date_to"])

    def _token(self, method: str, form: dict[str, str], h: dict[str, str]) -> tuple[int, Any]:
        if method != "POST" or "x-www-form-urlencoded" not in h.get("content-type", ""):
            return 400, {"error": "invalid_request", "error_description": "form-encoded POST expected"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "client credentials are invalid"}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if len(self.live) >= self.cap:  # the live tokens of this app count towards the cap
                return 403, {
                    "error": "token_limit_exceeded",
                    "error_description": "active access token limit reached",
                }
        elif grant == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in self.refreshable:
                return 401, {"error": "invalid_grant", "error_description": "refresh token is invalid"}
            self.refreshable.discard(old)
            for a in [a for a, r in self.live.items() if r == old]:
                del self.live[a]
        else:
            return 400, {"error": "unsupported_grant_type"}
        access, refresh = "vk-acc-" + secrets.token_hex(8), "vk-ref-" + secrets.token_hex(8)
        self.live[access] = refresh
        self.refreshable.add(refresh)
        return 200, {"access_token": access, "token_type": "bearer", "scope": "read_ads",
                     "expires_in": self.expires_in, "refresh_token": refresh}  # fmt: skip


@contextmanager
def fake_vk(client_id: str, client_secret: str, **kwargs: Any) -> Iterator[FakeVk]:
    fake = FakeVk(client_id=client_id, client_secret=client_secret, **kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            h = {k.lower(): v for k, v in self.headers.items()}
            q = dict(parse_qsl(url.query))
            if method == "POST":
                q |= dict(parse_qsl(raw.decode("utf-8", "replace")))
            with lock:
                status, payload = fake.answer(method, url.path, q, h)
            if status == -1:
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b'{"items": [{"id": 1, "rows": [')
                self.wfile.flush()
                self.close_connection = True
                return
            if payload is None:
                data, ctype = b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"
            else:
                data, ctype = json.dumps(payload).encode(), "application/json"
            self.send_response(status)
            if url.path != "/api/v2/oauth2/token.json":
                with lock:
                    if fake.rps_left:
                        left = fake.rps_left.pop(0) if len(fake.rps_left) > 1 else fake.rps_left[0]
                        self.send_header("X-RateLimit-RPS-Limit", "5")
                        self.send_header("X-RateLimit-RPS-Remaining", str(left))
                    if fake.hourly_left is not None:
                        self.send_header("X-RateLimit-Hourly-Remaining", str(fake.hourly_left))
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

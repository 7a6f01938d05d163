"""A fake amoCRM API v4 account on 127.0.0.1, replaying the documented protocol
(../shared/research/api-protocols.md §3).

* ``POST /oauth2/access_token`` (JSON body): ``authorization_code`` (a code works once) and
  ``refresh_token`` — **single-use**: a refresh returns a new pair and revokes the old refresh token
  (and its access token); a retired or unknown refresh token gets 401 ``"hint": "Token has been
  revoked"`` (§3.1). ``refresh_delay`` holds the answer that long (the race of two syncs).
* ``GET /api/v4/leads``: ``Authorization: Bearer`` (a live access token or the long-lived one, else
  401); ``filter[updated_at][from|to]`` (inclusive), ``order[updated_at]=asc``, ``limit`` (≤ 250, else
  400) capped by ``page_size``, ``page``; ``_links.next`` while more remain; ``_embedded.contacts`` only
  with ``with=contacts``; nothing matching: **204 with no body** (§3.2).
* ``GET /api/v4/contacts?filter[id][]=…``, ``GET /api/v4/leads/pipelines``.

Faults: ``fault((status, body, content_type), …)`` answers the next API requests so (bytes as
given: 429 ``"Too Many Requests"`` in plain text, the HTML page of a blocked account);
``next_elsewhere`` points ``_links.next`` at another host.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

REVOKED = {
    "hint": "Token has been revoked",
    "title": "Некорректный запрос",
    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
    "status": 401,
    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
}
UNAUTHORIZED = {"title": "Unauthorized", "type": "https://httpstatus.es/401", "status": 401,
                "detail": "Неавторизованный запрос"}  # fmt: skip
BLOCKED_PAGE = (
    b"<!DOCTYPE html><html><head><title>\xd0\x90\xd0\xba\xd0\xba\xd0\xb0\xd1\x83\xd0\xbd\xd1\x82 "
    b"\xd0\xb7\xd0\xb0\xd0\xb1\xd0\xbb\xd0\xbe\xd0\xba\xd0\xb8\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb0\xd0\xbd"
    b"</title><style>body{color:red}</style></head><body><h1>Account is blocked</h1></body></html>"
)  # "Аккаунт заблокирован"


@dataclass
class FakeAmo:
    leads: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    client_id: str = "client-7f3a"
    client_secret: str = "amo-client-secret-9d1e"
    redirect_uri: str = "https://shop.example/amo"
    long_lived: str = ""  # a long-lived token, when the account has one
    page_size: int = 250
    refresh_delay: float = 0.0
    next_elsewhere: bool = False
    codes: set[str] = field(default_factory=set)
    access: set[str] = field(default_factory=set)  # live access tokens
    refresh: set[str] = field(default_factory=set)  # live refresh tokens
    issued: int = 0
    faults: list[tuple[int, bytes, str]] = field(default_factory=list)
    log: list[tuple[str, str, dict[str, list[str]], str]] = field(default_factory=list)
    base_url: str = ""

    def fault(self, *answers: tuple[int, bytes, str]) -> None:
        self.faults.extend(answers)

    def requests(self, path: str) -> list[dict[str, list[str]]]:
        return [q for method, p, q, _ in self.log if p == path]

    def issue(self) -> dict[str, Any]:
        self.issued += 1
        pair = {"token_type": "Bearer", "expires_in": 86400, "access_token": f"acc-{self.issued}-x8Kq",
                "refresh_token": f"ref-{self.issued}-p2Lw", "server_time": 1793000000}  # fmt: skip
        self.access.add(pair["access_token"])
        self.refresh.add(pair["refresh_token"])
        return pair

    # -- the token endpoint ----------------------------------------------------------------------------
    def token(self, body: dict[str, Any]) -> tuple[int, bytes, str]:
        if (body.get("client_id"), body.get("client_secret"), body.get("redirect_uri")) != (
            self.client_id, self.client_secret, self.redirect_uri,
        ):  # fmt: skip
            return _problem(400, {"hint": "Client authentication failed", "title": "Некорректный запрос",
                                  "status": 400, "detail": "В запросе отсутствует ряд параметров"})  # fmt: skip
        grant = body.get("grant_type")
        if grant == "authorization_code":
            if body.get("code") not in self.codes:
                return _problem(400, {"hint": "Authorization code has been revoked", "status": 400,
                                      "title": "Некорректный запрос"})  # fmt: skip
            self.codes.discard(body["code"])
            return 200, json.dumps(self.issue()).encode(), "application/json"
        if grant == "refresh_token":
            old = body.get("refresh_token")
            if old not in self.refresh:
                return _problem(401, REVOKED)
            self.refresh.discard(old)  # single-use: retired the moment it is honoured
            self.access.discard(old.replace("ref-", "acc-").replace("-p2Lw", "-x8Kq"))
            return 200, json.dumps(self.issue()).encode(), "application/json"
        return _problem(400, {"title": "Bad Request", "status": 400, "detail": f"grant_type {grant!r}"})

    # -- the API ---------------------------------------------------------------------------------------
    def api(self, path: str, q: dict[str, list[str]], auth: str) -> tuple[int, bytes, str]:
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or not (
            token in self.access or (self.long_lived and token == self.long_lived)
        ):
            return _problem(401, UNAUTHORIZED)
        if self.faults:
            return self.faults.pop(0)
        if path == "/api/v4/leads/pipelines":
            return _hal({"_total_items": len(self.pipelines), "_links": {"self": {"href": self.base_url + path}},
                         "_embedded": {"pipelines": self.pipelines}})  # fmt: skip
        if path == "/api/v4/leads":
            return self._leads(path, q)
        if path == "/api/v4/contacts":
            ids = set(q.get("filter[id][]", []))
            found = [c for c in self.contacts if str(c["id"]) in ids]
            return self._page(path, q, found, "contacts")
        return _problem(404, {"title": "Not Found", "status": 404, "detail": f"no such path {path}"})

    def _leads(self, path: str, q: dict[str, list[str]]) -> tuple[int, bytes, str]:
        lo = int(q.get("filter[updated_at][from]", ["0"])[0])
        hi = int(q.get("filter[updated_at][to]", [str(2**40)])[0])
        chosen = sorted((x for x in self.leads if lo <= x["updated_at"] <= hi), key=lambda x: x["updated_at"])
        if "contacts" not in ",".join(q.get("with", [])):
            chosen = [dict(x, _embedded={k: v for k, v in x["_embedded"].items() if k != "contacts"})
                      for x in chosen]  # fmt: skip
        return self._page(path, q, chosen, "leads")

    def _page(self, path: str, q: dict[str, list[str]], items: list[Any], key: str) -> tuple[int, bytes, str]:
        limit = int(q.get("limit", ["50"])[0])
        if limit > 250:
            return _problem(400, {"validation-errors": [{"request_id": "0", "errors": [
                {"code": "InvalidLimit", "path": "limit", "detail": "limit must be 1..250"}]}],
                "title": "Bad Request", "status": 400, "detail": "Request validation failed"})  # fmt: skip
        size = min(limit, self.page_size)
        page = int(q.get("page", ["1"])[0])
        shown = items[(page - 1) * size : page * size]
        if not shown:
            return 204, b"", ""  # no rows: no body at all (§3.2)

        def href(n: int) -> str:
            query = urlencode([(k, v) for k, vs in q.items() if k != "page" for v in vs] + [("page", str(n))])
            base = "http://elsewhere.example" if self.next_elsewhere and n > page else self.base_url
            return f"{base}{path}?{query}"

        links: dict[str, Any] = {"self": {"href": href(page)}}
        if page * size < len(items):
            links["next"] = {"href": href(page + 1)}
        return _hal({"_page": page, "_links": links, "_embedded": {key: shown}})


def _hal(body: dict[str, Any]) -> tuple[int, bytes, str]:
    return 200, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/hal+json"


def _problem(status: int, body: dict[str, Any]) -> tuple[int, bytes, str]:
    return status, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/problem+json"


@contextmanager
def fake_amocrm(**kwargs: Any) -> Iterator[FakeAmo]:
    fake = FakeAmo(**kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            q = parse_qs(url.query)
            with lock:
                fake.log.append(("GET", url.path, q, self.headers.get("authorization", "")))
                answer = fake.api(url.path, q, self.headers.get("authorization", ""))
            self._send(*answer)

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            if fake.refresh_delay and body.get("grant_type") == "refresh_token":
                time.sleep(fake.refresh_delay)
            with lock:
                fake.log.append(("POST", url.path, {k: [str(v)] for k, v in body.items()}, ""))
                if url.path != "/oauth2/access_token":
                    answer = _problem(404, {"title": "Not Found", "status": 404})
                else:
                    answer = fake.token(body)
            self._send(*answer)

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

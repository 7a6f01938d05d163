"""A fake T-Bank Business statement API (``GET /api/v1/statement``, cursor paging) on 127.0.0.1.

What it checks, as T-API does (../shared/research/api-protocols.md §8.1): ``Authorization: Bearer``
(else 401), ``accountNumber`` of the account (else 403), ``from``/``to`` as ISO 8601 UTC instants;
operations whose ``operationDate`` lies in ``[from, to)`` come ``page`` at a time (``limit`` capped by
it) with ``nextCursor`` while more remain; ``balances`` on the first page only (the documented pain
point). Amounts are written to the JSON as the number literals given (``"1530.10"`` → ``1530.10``).

Faults: ``fault((status, body, headers), …)`` answers the next requests so (``None`` body: an HTML
page); ``loop_cursor`` makes the second page point back at the first cursor.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def operation(
    op_id: str, at: str, kind: str, amount: str, number: str, purpose: str, name: str, inn: str,
    account: str = "40702810900000000777", doc_date: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One operation as T-Bank writes it; ``amount`` is kept as its literal text (see :func:`dumps`)."""
    op: dict[str, Any] = {
        "operationId": op_id, "operationDate": at, "typeOfOperation": kind,
        "operationAmount": Literal(amount), "accountAmount": Literal(amount),
        "operationCurrencyDigitalCode": "643", "documentNumber": number, "payPurpose": purpose,
        "category": "incomePeople" if kind == "Credit" else "contragentPeople",
        "counterParty": {"name": name, "inn": inn, "kpp": "770101001", "account": account,
                         "bankName": "АО «ТБанк»", "bankBic": "044525974"},
    }  # fmt: skip
    if doc_date:
        op["documentDate"] = doc_date
    return op


class Literal(str):
    """A JSON number written exactly as this text."""


def dumps(value: Any) -> bytes:
    def enc(v: Any) -> str:
        if isinstance(v, Literal):
            return str(v)
        if isinstance(v, dict):
            return "{" + ",".join(f"{json.dumps(k)}:{enc(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    return enc(value).encode("utf-8")


def _instant(text: str) -> dt.datetime:
    if not text.endswith("Z"):
        raise ValueError(text)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakeTBank:
    token: str
    account: str = "40702810010000012345"
    operations: list[dict[str, Any]] = field(default_factory=list)
    page: int = 2
    loop_cursor: bool = False
    faults: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    log: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""

    def fault(self, *answers: tuple[int, Any, dict[str, str]]) -> None:
        self.faults.extend(answers)

    def answer(self, path: str, q: dict[str, str], h: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        self.log.append(dict(q, authorization=h.get("authorization", "")))
        if path != "/api/v1/statement":
            return 404, {"errorMessage": f"no such path {path}"}, {}
        if h.get("authorization") != f"Bearer {self.token}":
            return 401, {"errorId": "x1", "errorMessage": "Unauthorized", "errorCode": "UNAUTHORIZED"}, {}
        if self.faults:
            return self.faults.pop(0)
        if q.get("accountNumber") != self.account:
            return 403, {"errorMessage": "the account does not belong to the token's company"}, {}
        try:
            since, until = _instant(q["from"]), _instant(q["to"])
        except (KeyError, ValueError):
            return 400, {"errorMessage": "from and to must be ISO 8601 UTC instants"}, {}
        chosen = [
            op for op in self.operations if since <= dt.datetime.fromisoformat(op["operationDate"]) < until
        ]
        start = int(q.get("cursor", "c0")[1:])
        limit = min(int(q.get("limit", "50")), self.page)
        body: dict[str, Any] = {"operations": chosen[start : start + limit]}
        if start == 0:
            body["balances"] = {"incoming": Literal("1000.00"), "outgoing": Literal("2000.00")}
        if start + limit < len(chosen):
            body["nextCursor"] = "c0" if self.loop_cursor and start > 0 else f"c{start + limit}"
        return 200, body, {}


@contextmanager
def fake_tbank(token: str, **kwargs: Any) -> Iterator[FakeTBank]:
    fake = FakeTBank(token=token, **kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload, headers = fake.answer(url.path, dict(parse_qsl(url.query)), h)
            data = b"<html><body>502 Bad Gateway</body></html>" if payload is None else dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if payload is None else "application/json")
            for k, v in headers.items():
                self.send_header(k, v)
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

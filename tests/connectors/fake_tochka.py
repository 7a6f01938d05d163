"""A fake Tochka Open Banking statements API (init → poll until Ready → operations) on 127.0.0.1.

What it checks, as Tochka does (../shared/research/api-protocols.md §8.2): ``Authorization: Bearer``
(else 401), a JSON body ``Data.Statement`` with the ``accountId`` ("account/BIC") and
``startDateTime``/``endDateTime`` days (else 400); a statement answers ``Created`` at its first check,
``Processing`` up to its ``polls``-th, then ``Ready`` with every transaction whose
``documentProcessDate`` is in its period. Amounts are written as JSON floats, from the literal text
given (``"0.3"`` → ``0.3``): Tochka's encoding, the one a client must not read through a float.

Faults: ``fault(endpoint, (status, body, headers), …)`` for ``init`` or ``get`` (``None`` body: an
HTML page); ``expire(n)`` deletes the next ``n`` statements after their first check (a 404, as after
24 hours); ``polls`` large keeps a statement ``Processing``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.connectors.fake_tbank import Literal, dumps


def transaction(
    tid: str, day: str, kind: str, amount: str, number: str, purpose: str, name: str, inn: str,
    account: str = "40702810900000000777", doc_date: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    side = "Debtor" if kind == "Credit" else "Creditor"
    t: dict[str, Any] = {
        "transactionId": tid, "paymentId": f"p-{tid}", "creditDebitIndicator": kind, "status": "Booked",
        "documentNumber": number, "transactionTypeCode": "Платежное поручение",
        "documentProcessDate": day, "description": purpose,
        "Amount": {"amount": Literal(amount), "amountNat": Literal(amount), "currency": "RUB"},
        f"{side}Party": {"inn": inn, "name": name, "kpp": "770101001"},
        f"{side}Account": {"schemeName": "RU.CBR.PAN", "identification": account},
        f"{side}Agent": {"schemeName": "RU.CBR.BICFI", "name": "АО «Банк»", "identification": "044525225",
                         "accountIdentification": "30101810400000000225"},
    }  # fmt: skip
    if doc_date:
        t["documentDate"] = doc_date
    return t


def tochka_error(status: int, message: str) -> dict[str, Any]:
    return {"code": str(status), "id": "b7c9e1", "message": message,
            "Errors": [{"errorCode": "Error", "message": message, "url": ""}]}  # fmt: skip


@dataclass
class FakeTochka:
    token: str
    account_id: str = "40702810010000012345/044525104"
    transactions: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 2
    expiring: int = 0
    faults: dict[str, list[tuple[int, Any, dict[str, str]]]] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""

    def fault(self, endpoint: str, *answers: tuple[int, Any, dict[str, str]]) -> None:
        self.faults.setdefault(endpoint, []).extend(answers)

    def expire(self, n: int) -> None:
        self.expiring = n

    def endpoints(self) -> list[str]:
        return [e for e, _ in self.log]

    def answer(
        self, method: str, path: str, body: bytes, h: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        get = re.fullmatch(r"/uapi/open-banking/v1\.0/accounts/(.+)/statements/([^/]+)", path)
        if method == "POST" and path == "/uapi/open-banking/v1.0/statements":
            endpoint = "init"
        elif method == "GET" and get:
            endpoint = "get"
        else:
            return 404, tochka_error(404, f"no such method {method} {path}"), {}
        self.log.append((endpoint, path))
        if h.get("authorization") != f"Bearer {self.token}":
            return 401, tochka_error(401, "Unauthorized"), {}
        if self.faults.get(endpoint):
            return self.faults[endpoint].pop(0)
        if endpoint == "init":
            try:
                st = json.loads(body)["Data"]["Statement"]
                account, start, end = st["accountId"], st["startDateTime"], st["endDateTime"]
            except (ValueError, KeyError, TypeError):
                return 400, tochka_error(400, "Data.Statement with accountId, startDateTime, endDateTime"), {}
            if account != self.account_id:
                return 403, tochka_error(403, "no access to the account"), {}
            sid = f"st-{len(self.statements) + 1}"
            self.statements[sid] = {"checks": 0, "start": start, "end": end, "gone": self.expiring > 0}
            self.expiring = max(0, self.expiring - 1)
            return (
                200,
                {"Data": {"Statement": {"accountId": account, "statementId": sid, "status": "Created"}}},
                {},
            )
        assert get is not None
        account, sid = unquote(get[1]), get[2]
        st = self.statements.get(sid)
        if account != self.account_id or st is None or (st["gone"] and st["checks"] >= 1):
            return 404, tochka_error(404, "Statement not found"), {}
        st["checks"] += 1
        state = "Ready" if st["checks"] > self.polls else "Created" if st["checks"] == 1 else "Processing"
        one: dict[str, Any] = {"accountId": account, "statementId": sid, "status": state,
                               "startDateTime": st["start"], "endDateTime": st["end"]}  # fmt: skip
        if state == "Ready":
            one["Transaction"] = [
                t for t in self.transactions if st["start"] <= t["documentProcessDate"] <= st["end"]
            ]
        return 200, {"Data": {"Statement": [one]}}, {}


@contextmanager
def fake_tochka(token: str, **kwargs: Any) -> Iterator[FakeTochka]:
    fake = FakeTochka(token=token, **kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload, headers = fake.answer(method, urlsplit(self.path).path, raw, h)
            data = b"<html><body>504 Gateway Time-out</body></html>" if payload is None else dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if payload is None else "application/json")
            for k, v in headers.items():
                self.send_header(k, v)
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
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/uapi"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

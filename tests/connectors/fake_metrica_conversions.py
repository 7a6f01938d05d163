"""A fake Yandex Metrica offline-conversions upload on 127.0.0.1 (api-protocols.md §2; Metrica's
"Passing offline conversions" page).

``POST /management/v1/counter/{id}/offline_conversions/upload?client_id_type=CLIENT_ID|YCLID|USER_ID|PURCHASE_ID``
with ``Authorization: OAuth <token>`` and a multipart body whose field ``file`` is a UTF-8 CSV: the
column names on the first line — the identifier column matching ``client_id_type`` (``ClientId``,
``Yclid``…), ``Target``, ``DateTime`` (Unix seconds, in the past), optional ``Price`` and ``Currency``
(three letters). A malformed file: 400 with Metrica's error body naming the line. Accepted rows are kept
keyed by identifier + Target + DateTime, as Metrica deduplicates: ``counted`` is what statistics show.
``faults``: statuses answered before any check (e.g. ``[503]``).
"""

from __future__ import annotations

import csv
import email.parser
import email.policy
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PATH = re.compile(r"^/management/v1/counter/(\d+)/offline_conversions/upload$")
ID_COLUMN = {"CLIENT_ID": "ClientId", "YCLID": "Yclid", "USER_ID": "UserId", "PURCHASE_ID": "PurchaseId"}


def _err(code: int, kind: str, message: str) -> dict[str, Any]:
    return {"errors": [{"error_type": kind, "message": message}], "code": code, "message": message}


@dataclass
class FakeMetricaConversions:
    token: str
    counter: str = "24169438"
    now: float = field(default_factory=time.time)
    counted: dict[tuple[str, str, str, int], dict[str, str]] = field(default_factory=dict)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    base_url: str = ""

    def _file(self, content_type: str, body: bytes) -> bytes | None:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        if not msg.is_multipart():
            return None
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else None
        return None

    def answer(self, path: str, query: dict[str, str], h: dict[str, str], body: bytes) -> tuple[int, Any]:
        if self.faults:
            return self.faults.pop(0), b"<html><body>503 Service Temporarily Unavailable</body></html>"
        m = PATH.match(path)
        if not m:
            return 404, _err(404, "not_found", f"no such resource {path}")
        if h.get("authorization") != f"OAuth {self.token}":
            return 403, _err(403, "invalid_token", "Invalid oauth_token")
        if m.group(1) != self.counter:
            return 403, _err(403, "access_denied", f"no access to counter {m.group(1)}")
        kind = query.get("client_id_type", "")
        if kind not in ID_COLUMN:
            return 400, _err(
                400, "invalid_parameter", "client_id_type: CLIENT_ID, USER_ID, YCLID or PURCHASE_ID"
            )
        raw = self._file(h.get("content-type", ""), body)
        if raw is None:
            return 400, _err(400, "invalid_parameter", "no multipart field 'file'")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return 400, _err(400, "invalid_parameter", "the file is not UTF-8")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return 400, _err(400, "invalid_parameter", "empty file")
        header = rows[0]
        need = [ID_COLUMN[kind], "Target", "DateTime"]
        if header[:3] != need or any(c not in ("Price", "Currency") for c in header[3:]):
            return 400, _err(
                400, "invalid_parameter", f"line 1: columns {header}; expected {need} + Price, Currency"
            )
        parsed = []
        for n, row in enumerate(rows[1:], start=2):
            rec = dict(zip(header, row, strict=False))
            if len(row) != len(header) or not rec[ID_COLUMN[kind]] or not rec["Target"]:
                return 400, _err(
                    400, "invalid_parameter", f"line {n}: wrong number of fields or an empty one"
                )
            if not rec["DateTime"].isdigit() or int(rec["DateTime"]) > self.now:
                return 400, _err(
                    400, "invalid_parameter", f"line {n}: DateTime must be a past Unix time in seconds"
                )
            if kind == "CLIENT_ID" and not rec["ClientId"].isdigit():
                return 400, _err(400, "invalid_parameter", f"line {n}: ClientId is a number")
            if rec.get("Price"):
                try:
                    float(rec["Price"])
                except ValueError:
                    return 400, _err(400, "invalid_parameter", f"line {n}: Price is a number")
                if not re.fullmatch(r"[A-Z]{3}", rec.get("Currency", "")):
                    return 400, _err(400, "invalid_parameter", f"line {n}: Currency is an ISO 4217 code")
            parsed.append(rec)
        for rec in parsed:
            self.counted[(kind, rec[ID_COLUMN[kind]], rec["Target"], int(rec["DateTime"]))] = rec
        uploading = {"id": len(self.uploads) + 1, "status": "UPLOADED", "line_quantity": len(parsed),
                     "client_id_type": kind, "source_quantity": len(parsed)}  # fmt: skip
        self.uploads.append(uploading)
        return 200, {"uploading": uploading}


@contextmanager
def fake_metrica_conversions(token: str, **kwargs: Any) -> Iterator[FakeMetricaConversions]:
    fake = FakeMetricaConversions(token=token, **kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload = fake.answer(url.path, dict(parse_qsl(url.query)), h, body)
            data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(payload, dict) else "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

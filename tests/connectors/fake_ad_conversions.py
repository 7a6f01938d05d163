"""Fake Google Ads click-conversion upload and Meta Conversions API on 127.0.0.1, checking the documented
request format.

Google (``ConversionUploadService.UploadClickConversions``): ``POST /token`` refreshes as in
fake_google.py; ``POST /v21/customers/{id}:uploadClickConversions`` needs ``Authorization: Bearer``
with a live token and ``developer-token``, a body with ``partialFailure: true`` (Google: required) and
``conversions[]`` each with ``gclid``, ``conversionAction`` = ``customers/{id}/conversionActions/{n}``,
``conversionDateTime`` ``yyyy-mm-dd hh:mm:ss+hh:mm`` (the zone required), and ``currencyCode`` with a
value. ``refuse_gclids``: clicks Google does not know — an empty result at their index and a
``partialFailureError`` naming ``conversions[i]``. Accepted conversions are kept by ``orderId``, as
Google deduplicates: ``counted``.

Meta (``POST /v21.0/{pixel}/events``): JSON body with ``access_token`` and ``data`` (≤ 1000 events), each
with ``event_name``, integer ``event_time`` in the past, ``action_source``, ``user_data`` holding at
least one of ``fbc`` (``fb.1.<ms>.<fbclid>``), ``em``, ``ph`` (64 hex: SHA-256), and ``custom_data`` with
``value`` and ``currency`` for a Purchase. Events kept by ``event_id`` (Meta's dedup): ``counted``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

GOOGLE_PATH = re.compile(r"^/v21/customers/(\d+):uploadClickConversions$")
META_PATH = re.compile(r"^/v21\.0/(\d+)/events$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
SHA = re.compile(r"^[0-9a-f]{64}$")
FBC = re.compile(r"^fb\.1\.\d{13}\.\S+$")


def _gerr(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


@dataclass
class FakeAdConversions:
    developer_token: str
    client_id: str
    client_secret: str
    refresh_token: str
    meta_token: str
    customer: str = "1234567890"
    pixel: str = "555000111"
    refuse_gclids: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)
    counted: dict[str, dict[str, Any]] = field(default_factory=dict)  # Google, by orderId
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # Meta, by event_id
    requests: list[str] = field(default_factory=list)
    base_url: str = ""
    _n: int = 0

    def answer(self, path: str, h: dict[str, str], raw: bytes) -> tuple[int, Any]:
        self.requests.append(path)
        if path == "/token":
            form = dict(parse_qsl(raw.decode()))
            if (form.get("grant_type"), form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != (
                "refresh_token", self.client_id, self.client_secret, self.refresh_token
            ):  # fmt: skip
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            self._n += 1
            token = f"ya29.access-{self._n}"
            self.live.add(token)
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _gerr(400, "INVALID_ARGUMENT", "the body is not JSON")
        if m := GOOGLE_PATH.match(path):
            return self._google(m.group(1), h, body)
        if m := META_PATH.match(path):
            return self._meta(m.group(1), body)
        return 404, _gerr(404, "NOT_FOUND", path)

    def _google(self, customer: str, h: dict[str, str], body: Any) -> tuple[int, Any]:
        if h.get("authorization", "").removeprefix("Bearer ") not in self.live:
            return 401, _gerr(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if h.get("developer-token") != self.developer_token:
            return 400, _gerr(400, "INVALID_ARGUMENT", "developer-token")
        if customer != self.customer:
            return 403, _gerr(403, "PERMISSION_DENIED", "USER_PERMISSION_DENIED")
        if body.get("partialFailure") is not True:
            return 400, _gerr(400, "INVALID_ARGUMENT", "partial_failure must be true")
        results: list[dict[str, Any]] = []
        errors = []
        for i, c in enumerate(body.get("conversions") or []):
            action = re.fullmatch(
                rf"customers/{customer}/conversionActions/(\d+)", str(c.get("conversionAction"))
            )
            if not c.get("gclid") or not action or not TIME.match(str(c.get("conversionDateTime", ""))):
                return 400, _gerr(
                    400, "INVALID_ARGUMENT", f"conversions[{i}]: gclid, conversionAction, conversionDateTime"
                )
            if "conversionValue" in c and not re.fullmatch(r"[A-Z]{3}", str(c.get("currencyCode", ""))):
                return 400, _gerr(400, "INVALID_ARGUMENT", f"conversions[{i}].currencyCode")
            if c["gclid"] in self.refuse_gclids:
                results.append({})
                errors.append({"message": "The click ID could not be decoded.", "location": {
                    "fieldPathElements": [{"fieldName": "conversions", "index": i}, {"fieldName": "gclid"}]}})  # fmt: skip
                continue
            self.counted[str(c.get("orderId") or f"{c['gclid']}|{c['conversionDateTime']}")] = c
            results.append(
                {
                    "gclid": c["gclid"],
                    "conversionAction": c["conversionAction"],
                    "conversionDateTime": c["conversionDateTime"],
                }
            )
        out: dict[str, Any] = {"results": results, "jobId": "1"}
        if errors:
            out["partialFailureError"] = {
                "code": 3,
                "message": "partial failure",
                "details": [{"errors": errors}],
            }
        return 200, out

    def _meta(self, pixel: str, body: Any) -> tuple[int, Any]:
        def err(message: str) -> tuple[int, Any]:
            return 400, {
                "error": {"message": message, "type": "OAuthException", "code": 100, "fbtrace_id": "x"}
            }

        if body.get("access_token") != self.meta_token:
            return 400, {
                "error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
            }
        if pixel != self.pixel:
            return err(f"Unsupported post request. Object with ID '{pixel}' does not exist")
        data = body.get("data")
        if not isinstance(data, list) or not 0 < len(data) <= 1000:
            return err("data: 1 to 1000 events")
        for i, e in enumerate(data):
            u = e.get("user_data") or {}
            if not isinstance(e.get("event_time"), int) or e["event_time"] > time.time():
                return err(f"data[{i}].event_time: an integer Unix time in the past")
            if not e.get("event_name") or e.get("action_source") not in (
                "system_generated",
                "website",
                "physical_store",
                "other",
            ):
                return err(f"data[{i}]: event_name and action_source")
            if not (u.get("fbc") or u.get("em") or u.get("ph")):
                return err(f"data[{i}].user_data: no customer information")
            if u.get("fbc") and not FBC.match(u["fbc"]):
                return err(f"data[{i}].user_data.fbc: fb.1.<ms>.<fbclid>")
            if any(not SHA.match(v) for k in ("em", "ph") for v in u.get(k, [])):
                return err(f"data[{i}].user_data: em/ph must be SHA-256 hashes")
            if e["event_name"] == "Purchase":
                cd = e.get("custom_data") or {}
                if not isinstance(cd.get("value"), (int, float)) or not re.fullmatch(
                    r"[A-Z]{3}", str(cd.get("currency", ""))
                ):
                    return err(f"data[{i}].custom_data: value and currency for a Purchase")
        for e in data:
            self.events.setdefault(str(e.get("event_id") or id(e)), e)
        return 200, {"events_received": len(data), "messages": [], "fbtrace_id": f"trace{len(self.requests)}"}


@contextmanager
def fake_ad_conversions(**kwargs: Any) -> Iterator[FakeAdConversions]:
    fake = FakeAdConversions(**kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload = fake.answer(self.path.split("?")[0], h, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

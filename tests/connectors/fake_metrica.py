"""A fake Yandex Metrica Logs API on 127.0.0.1: the documented requests, statuses and faults.

What it checks, as the real service does (../shared/research/api-protocols.md §2):

* ``Authorization: OAuth <token>`` — otherwise 403 ``invalid_token`` (with ``echo_token_in_errors`` the
  message repeats what it was given, as a misbehaving proxy might);
* the counter in the path — another one: 403 ``access_denied``;
* evaluate/create: ``date1``, ``date2`` (YYYY-MM-DD, date2 before ``today``, at most a year),
  ``fields`` (known ``ym:s:`` names, ≤ 3000 characters) and ``source=visits`` in the **query string**;
  create with a body: 400; missing parameters: 400 ``missing_parameter``;
* download only of a ``processed`` request ("Only log of requests in status 'processed' can be
  downloaded") and of an existing part ("Incorrect part number"); clean only when processed, cancel
  only when not.

What it answers: ``GET /management/v1/counter/{id}`` the counter's settings with ``time_zone_name``
(``time_zone``; None leaves it out); evaluate ``possible`` unless the period is longer than ``max_days`` (then
``possible: false`` with ``max_possible_day_quantity = max_days``); a created request stays
``created`` for ``polls`` status checks, then turns ``final`` (``processed`` by default) with its rows
split over ``parts`` parts, each a TSV with the field line. ``faults`` injects answers per endpoint
(``evaluate``, ``create``, ``status``, ``download``, ``clean``): ``(status, error_type)``, ``(503, None)``
for an HTML page, or ``"drop"`` for a connection dropped mid-answer. ``extra_lines`` are appended raw to
the last part (malformed rows). ``pending`` holds the ids not cleaned or cancelled (the quota's load).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

KNOWN = re.compile(r"^ym:s:[A-Za-z_]+$")
PATH = re.compile(
    r"^/management/v1/counter/(\d+)(?:/(logrequests/evaluate|logrequests|logrequest/(\d+)(?:/(clean|cancel)|/part/(\d+)/download)?))?$"
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("'", "\\'")


@dataclass
class LogRequest:
    id: int
    date1: str
    date2: str
    fields: list[str]
    status: str = "created"
    checks: int = 0
    parts: list[str] = field(default_factory=list)


@dataclass
class FakeMetrica:
    token: str
    counter: str = "24169438"
    time_zone: str | None = "Europe/Moscow"  # the counter's settings: time_zone_name (None: not said)
    rows: list[dict[str, str]] = field(default_factory=list)
    today: str = "2026-11-02"
    max_days: int = 366
    polls: int = 2
    final: str = "processed"
    parts: int = 2
    extra_lines: list[str] = field(default_factory=list)
    echo_token_in_errors: bool = False
    faults: dict[str, list[Any]] = field(default_factory=dict)
    requests: dict[int, LogRequest] = field(default_factory=dict)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (method, endpoint, query)
    base_url: str = ""
    _next: int = 15071596

    @property
    def pending(self) -> list[int]:
        return [
            r.id for r in self.requests.values() if r.status in ("created", "processed", "awaiting_retry")
        ]

    def fault(self, endpoint: str, *answers: Any) -> None:
        self.faults.setdefault(endpoint, []).extend(answers)

    def endpoints(self) -> list[str]:
        return [e for _, e, _ in self.log]

    def tsv(self, fields: list[str], date1: str, date2: str) -> list[str]:
        picked = [r for r in self.rows if date1 <= r["ym:s:dateTime"][:10] <= date2]
        return ["\t".join(_escape(r.get(f, "")) for f in fields) for r in picked]

    # -- the protocol --------------------------------------------------------------------------------
    def answer(
        self, method: str, path: str, query: dict[str, str], h: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        m = PATH.match(path)
        if not m:
            return 404, _err(404, "not_found", f"no such resource {path}")
        counter, what, rid, action, part = m.groups()
        endpoint = {"logrequests/evaluate": "evaluate", "logrequests": "create", None: "counter"}.get(what)
        if endpoint is None:
            endpoint = action or ("download" if part is not None else "status")
        self.log.append((method, endpoint, query))
        auth = h.get("authorization", "")
        if auth != f"OAuth {self.token}":
            text = f"invalid token {auth!r}" if self.echo_token_in_errors else "Invalid oauth_token"
            return 403, _err(403, "invalid_token", text)
        if counter != self.counter:
            return 403, _err(403, "access_denied", f"no access to counter {counter}")
        injected = self.faults.get(endpoint)
        if injected:
            fault = injected.pop(0)
            if fault == "drop":
                return -1, None
            status, kind = fault
            if kind is None:
                return status, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
            return status, _err(status, kind, "injected")
        if endpoint == "counter":
            if method != "GET":
                return 405, _err(405, "invalid_parameter", "the counter's settings take GET")
            counter_obj: dict[str, Any] = {"id": int(self.counter), "name": "shop", "status": "Active"}
            if self.time_zone:
                counter_obj["time_zone_name"] = self.time_zone
            return 200, {"counter": counter_obj}
        expect = {"evaluate": "GET", "create": "POST", "status": "GET", "download": "GET",
                  "clean": "POST", "cancel": "POST"}[endpoint]  # fmt: skip
        if method != expect:
            return 405, _err(405, "invalid_parameter", f"{endpoint} takes {expect}")
        if endpoint in ("evaluate", "create"):
            problem = self._check_params(query)
            if problem:
                return 400, _err(400, *problem)
            if endpoint == "create" and body:
                return 400, _err(400, "invalid_parameter", "parameters go in the query string")
            if endpoint == "evaluate":
                days = (
                    dt.date.fromisoformat(query["date2"]) - dt.date.fromisoformat(query["date1"])
                ).days + 1
                ok = days <= self.max_days
                return 200, {
                    "log_request_evaluation": {"possible": ok, "max_possible_day_quantity": self.max_days}
                }
            lr = LogRequest(self._next, query["date1"], query["date2"], query["fields"].split(","))
            self._next += 1
            self.requests[lr.id] = lr
            return 200, {"log_request": self._object(lr)}
        lr = self.requests.get(int(rid))
        if lr is None:
            return 404, _err(404, "not_found", f"no log request {rid}")
        if endpoint == "status":
            lr.checks += 1
            if lr.status == "created" and lr.checks > self.polls:
                lr.status = self.final
                if self.final == "processed":
                    lines = self.tsv(lr.fields, lr.date1, lr.date2)
                    n = max(1, min(self.parts, len(lines) or 1))
                    size = -(-len(lines) // n) if lines else 0
                    head = "\t".join(lr.fields)
                    lr.parts = ["\n".join([head, *lines[i * size : (i + 1) * size]]) + "\n" for i in range(n)]
                    if self.extra_lines:
                        lr.parts[-1] += "\n".join(self.extra_lines) + "\n"
            return 200, {"log_request": self._object(lr)}
        if endpoint == "download":
            if lr.status != "processed":
                return 400, _err(
                    400, "invalid_parameter", "Only log of requests in status 'processed' can be downloaded"
                )
            if int(part) >= len(lr.parts):
                return 400, _err(400, "invalid_parameter", "Incorrect part number")
            return 200, lr.parts[int(part)].encode("utf-8")
        if endpoint == "clean":
            if lr.status != "processed":
                return 400, _err(400, "invalid_parameter", "only a processed log request can be cleaned")
            lr.status = "cleaned_by_user"
            return 200, {"log_request": self._object(lr)}
        if lr.status not in ("created", "awaiting_retry"):
            return 400, _err(
                400, "invalid_parameter", "only a log request not yet processed can be cancelled"
            )
        lr.status = "canceled"
        return 200, {"log_request": self._object(lr)}

    def _check_params(self, q: dict[str, str]) -> tuple[str, str] | None:
        for key in ("date1", "date2", "fields", "source"):
            if not q.get(key):
                return "missing_parameter", f"{key} is required"
        try:
            d1, d2 = dt.date.fromisoformat(q["date1"]), dt.date.fromisoformat(q["date2"])
        except ValueError:
            return "invalid_parameter", "dates are YYYY-MM-DD"
        if d2 >= dt.date.fromisoformat(self.today) or d1 > d2:
            return "invalid_parameter", "date2 must be before today and not before date1"
        if (d2 - d1).days + 1 > 366:
            return "invalid_parameter", "a log request covers at most a year"
        if q["source"] != "visits":
            return "invalid_parameter", "source must be visits or hits (this fake: visits)"
        if len(q["fields"]) > 3000 or not all(KNOWN.match(f) for f in q["fields"].split(",")):
            return "invalid_parameter", "unknown fields"
        return None

    def _object(self, lr: LogRequest) -> dict[str, Any]:
        out: dict[str, Any] = {"request_id": lr.id, "counter_id": int(self.counter), "source": "visits",
                               "date1": lr.date1, "date2": lr.date2, "fields": lr.fields, "status": lr.status,
                               "attribution": "LASTSIGN"}  # fmt: skip
        if lr.parts:
            out["size"] = sum(len(p) for p in lr.parts)
            out["parts"] = [{"part_number": i, "size": len(p)} for i, p in enumerate(lr.parts)]
        return out


def _err(code: int, kind: str, message: str) -> dict[str, Any]:
    return {"errors": [{"error_type": kind, "message": message}], "code": code, "message": message}


@contextmanager
def fake_metrica(token: str, **kwargs: Any) -> Iterator[FakeMetrica]:
    fake = FakeMetrica(token=token, **kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload = fake.answer(method, url.path, dict(parse_qsl(url.query)), h, body)
            if status == -1:  # dropped mid-answer: promise more than is sent, then close
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"ym:s:visitID\tym:s:cl")
                self.wfile.flush()
                self.close_connection = True
                return
            if isinstance(payload, (dict, list)):
                data, ctype = json.dumps(payload).encode(), "application/json; charset=utf-8"
            else:
                data = payload
                ctype = (
                    "text/html" if data.startswith(b"<html") else "text/tab-separated-values; charset=utf-8"
                )
            self.send_response(status)
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

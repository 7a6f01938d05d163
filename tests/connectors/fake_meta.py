"""A fake Meta Marketing API (Insights, async report runs, cursor paging) on 127.0.0.1.

What it checks, as Graph does (../shared/research/api-protocols.md §6.2): the token (header
``Authorization: Bearer`` or an ``access_token`` parameter; otherwise error 190), the ad account in
``act_<id>``, ``level=campaign``, ``time_increment=1``, a ``time_range`` JSON with ``since``/``until``
and ``fields`` including ``spend``, ``campaign_id``. A run goes ``Job Not Started`` → ``Job Running``
(reporting **100 %** while still running, the documented pain point) → ``Job Completed`` after
``polls`` status checks (or ``final``). Results come ``page`` rows at a time with
``paging.cursors`` and an absolute ``paging.next`` that — as Meta's do — carries the access token.

Faults: ``fault(endpoint, (status, body))`` for ``start``, ``status``, ``results`` (``None`` body: an
HTML page); :func:`meta_error` builds Graph's error body.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

# (date, campaign id, campaign name, impressions, link clicks, spend)
Row = tuple[str, str, str, int, int, Decimal]


def meta_error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}
    if subcode:
        err["error_subcode"] = subcode
    return {"error": err}


@dataclass
class FakeMeta:
    token: str
    account: str = "1234567890"
    rows: list[Row] = field(default_factory=list)
    polls: int = 2
    final: str = "Job Completed"
    page: int = 2
    # A run of more days than this is refused as Meta refuses too much data in one call: "code1" with
    # code 1 and HTTP 500 when the run starts, "subcode" with code 100 / 1487534 when its results are read.
    max_days: int | None = None
    too_much: str = "code1"
    faults: dict[str, list[Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""

    def fault(self, endpoint: str, *answers: Any) -> None:
        self.faults.setdefault(endpoint, []).extend(answers)

    def endpoints(self) -> list[str]:
        return [e for _, e, _ in self.log]

    def data(self, since: str, until: str) -> list[dict[str, str]]:
        return [
            {"campaign_id": cid, "campaign_name": name, "impressions": str(imp), "clicks": str(clicks + 3),
             "inline_link_clicks": str(clicks), "spend": f"{spend}", "account_currency": "RUB",
             "date_start": day, "date_stop": day}
            for day, cid, name, imp, clicks, spend in self.rows
            if since <= day <= until
        ]  # fmt: skip

    def answer(self, method: str, path: str, q: dict[str, str], h: dict[str, str]) -> tuple[int, Any]:
        m = re.fullmatch(r"/v21\.0/(act_\d+/insights|\d+|\d+/insights)", path)
        if not m:
            return 404, meta_error(803, f"Unknown path {path}")
        target = m[1]
        endpoint = (
            "start"
            if target.startswith("act_")
            else ("results" if target.endswith("/insights") else "status")
        )
        self.log.append((method, endpoint, q))
        token = h.get("authorization", "").removeprefix("Bearer ") or q.get("access_token", "")
        if token != self.token:
            return 400, meta_error(190, "Invalid OAuth access token - Cannot parse access token")
        if self.faults.get(endpoint):
            return self.faults[endpoint].pop(0)
        if endpoint == "start":
            if method != "POST":
                return 400, meta_error(100, "start a report run with POST")
            if target != f"act_{self.account}/insights":
                return 400, meta_error(100, "Unsupported post request: no such ad account")
            try:
                tr = json.loads(q["time_range"])
                since, until = tr["since"], tr["until"]
            except (KeyError, ValueError, TypeError):
                return 400, meta_error(100, "time_range must be a JSON object with since and until")
            fields = q.get("fields", "").split(",")
            if (
                q.get("level") != "campaign"
                or q.get("time_increment") != "1"
                or not {"spend", "campaign_id"} <= set(fields)
            ):
                return 400, meta_error(100, "level=campaign, time_increment=1 and fields with spend expected")
            days = (dt.date.fromisoformat(until) - dt.date.fromisoformat(since)).days + 1
            big = self.max_days is not None and days > self.max_days
            if big and self.too_much == "code1":
                return 500, meta_error(
                    1, "Please reduce the amount of data you're asking for, then retry your request"
                )
            rid = str(6_000_000_000 + len(self.runs))
            self.runs[rid] = {"checks": 0, "data": self.data(since, until), "big": big}
            return 200, {"report_run_id": rid}
        rid = target.split("/")[0]
        run = self.runs.get(rid)
        if run is None:
            return 400, meta_error(100, f"Unsupported get request. Object with ID '{rid}' does not exist")
        if endpoint == "status":
            run["checks"] += 1
            if run["checks"] == 1:
                state, pct = "Job Not Started", 0
            elif run["checks"] <= self.polls:
                state, pct = "Job Running", 100  # 100 % yet still running
            else:
                state, pct = self.final, 100
            run["state"] = state
            return 200, {"id": rid, "async_status": state, "async_percent_completion": pct}
        if run.get("state") != "Job Completed":
            return 400, meta_error(100, "the report run is not completed")
        start = int(q.get("after") or 0)
        limit = min(int(q.get("limit", "25")), self.page)
        if run["big"] and start + limit >= len(run["data"]):  # the last page: earlier ones were read
            return 400, meta_error(100, "Please reduce the amount of data you're asking for", 1487534)
        chunk = run["data"][start : start + limit]
        body: dict[str, Any] = {
            "data": chunk,
            "paging": {"cursors": {"before": str(start), "after": str(start + limit)}},
        }
        if start + limit < len(run["data"]):
            nq = urlencode({"access_token": self.token, "limit": str(limit), "after": str(start + limit)})
            body["paging"]["next"] = f"{self.base_url}/v21.0/{rid}/insights?{nq}"
        return 200, body


@contextmanager
def fake_meta(token: str, **kwargs: Any) -> Iterator[FakeMeta]:
    fake = FakeMeta(token=token, **kwargs)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            q = dict(parse_qsl(url.query)) | dict(parse_qsl(raw.decode()))
            h = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, payload = fake.answer(method, url.path, q, h)
            data = (
                b"<html><body>Sorry, something went wrong.</body></html>"
                if payload is None
                else json.dumps(payload).encode()
            )
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if payload is None else "application/json")
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
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

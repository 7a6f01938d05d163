"""A fake Yandex Direct Reports API v5 on 127.0.0.1: the documented request checks and answers.

What it checks, as the real service does (../shared/research/api-protocols.md §1):

* ``Authorization: Bearer <token>`` — missing, without "Bearer", or another token: HTTP 400, error 53;
* ``Client-Login`` — required when the token is an agency's (``agency=True``): error 8000 [guess: the
  real code for a missing Client-Login is not in the notes];
* ``processingMode`` ∈ online|offline|auto, ``returnMoneyInMicros``/``skipReport*`` ∈ true|false;
* the body: JSON ``{"params": ReportDefinition}`` with the required ``SelectionCriteria``,
  ``FieldNames``, ``ReportName``, ``ReportType``, ``DateRangeType``, ``Format`` (only TSV), ``IncludeVAT``
  (YES|NO), and ``DateFrom``/``DateTo`` with ``CUSTOM_DATE``: error 8000 otherwise;
* a poll must be the identical request: a ``ReportName`` seen before with other parameters is error
  4000 [guess at the code; the rule is documented].

What it answers: a script of steps per period (``plan``), then 200 with the report built from ``rows``:
the report-name line, the column line, the rows, ``Total rows: N`` — each left out as the skip headers
ask; money in micros unless ``returnMoneyInMicros: false``. Every request is logged with its time, and
the time of the answer before it, so a test can check that a poll waited the ``retryIn`` it was given.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIELDS = ["Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost"]
REQUIRED = (
    "SelectionCriteria",
    "FieldNames",
    "ReportName",
    "ReportType",
    "DateRangeType",
    "Format",
    "IncludeVAT",
)

# A step: ("queued"|"building", retryIn value or None, header name) -> 201/202;
# ("error", http status, error_code or None) -> the JSON error body (None: an HTML page);
# ("empty", status) -> no body; ("ok",) -> the report.
Step = tuple


@dataclass
class Logged:
    at: float
    previous_answer_at: float | None
    previous_retry_in: float | None
    headers: dict[str, str]
    params: dict
    status: int = 0


@dataclass
class FakeDirect:
    token: str
    rows: list[tuple[str, str, str, int, int, Decimal]] = field(default_factory=list)
    agency: bool = False
    echo_token_in_errors: bool = False  # a misbehaving proxy: its error text repeats the token
    plans: dict[tuple[str, str] | None, list[Step]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    _last_answer: float | None = None
    _last_retry_in: float | None = None

    def plan(self, *steps: Step, period: tuple[str, str] | None = None) -> None:
        self.plans[period] = list(steps)

    def report_text(self, since: str, until: str, *, micros: bool = True, name: str = "report",
                    header: bool = True, summary: bool = True) -> str:  # fmt: skip
        picked = [r for r in self.rows if since <= r[0] <= until]
        lines = [f"{name} ({since} - {until})"] if header else []
        lines.append("\t".join(FIELDS))
        for day, cid, cname, imp, clicks, cost in picked:
            money = str(int(cost * 1_000_000)) if micros else f"{cost:.2f}"
            lines.append("\t".join([day, cid, cname, str(imp), str(clicks), money]))
        if summary:
            lines.append(f"Total rows: {len(picked)}")
        return "\n".join(lines) + "\n"

    # -- the documented checks -----------------------------------------------------------------------
    def _check(self, h: dict[str, str], raw: bytes) -> tuple[int, int, str] | dict:
        auth = h.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] != self.token:
            detail = (
                f"token {auth!r} is not valid"
                if self.echo_token_in_errors
                else "OAuth token is missing or invalid"
            )
            return 400, 53, detail
        if self.agency and not h.get("client-login"):
            return 400, 8000, "Client-Login header is required for an agency token"
        if h.get("processingmode", "auto") not in ("online", "offline", "auto"):
            return 400, 8000, "processingMode must be online, offline or auto"
        for name in ("returnmoneyinmicros", "skipreportheader", "skipcolumnheader", "skipreportsummary"):
            if h.get(name, "false") not in ("true", "false"):
                return 400, 8000, f"{name} must be true or false"
        try:
            params = json.loads(raw)["params"]
        except (ValueError, KeyError, TypeError):
            return 400, 8000, "the request body is not JSON with params"
        missing = [k for k in REQUIRED if k not in params]
        if missing:
            return 400, 8000, f"required field(s) missing: {', '.join(missing)}"
        if params["Format"] != "TSV" or params["IncludeVAT"] not in ("YES", "NO"):
            return 400, 8000, "Format must be TSV and IncludeVAT YES or NO"
        crit = params["SelectionCriteria"]
        if params["DateRangeType"] == "CUSTOM_DATE" and not (crit.get("DateFrom") and crit.get("DateTo")):
            return 400, 8000, "DateFrom and DateTo are required with CUSTOM_DATE"
        signature = json.dumps({k: v for k, v in params.items() if k != "ReportName"}, sort_keys=True)
        if self.names.setdefault(params["ReportName"], signature) != signature:
            return 400, 4000, "a report with this name and other parameters is already queued"
        return params

    def answer(self, h: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        checked = self._check(h, raw)
        if isinstance(checked, tuple):
            status, code, detail = checked
            return status, {}, _error(code, detail)
        params = checked
        crit = params["SelectionCriteria"]
        period = (crit["DateFrom"], crit["DateTo"])
        steps = self.plans.get(period, self.plans.get(None, []))
        step = steps.pop(0) if steps else ("ok",)
        if step[0] in ("queued", "building"):
            _, value, header = (*step, "retryIn")[:3]
            headers = {"reportsInQueue": "1"}
            if value is not None:
                headers[header] = str(value)
            return (201 if step[0] == "queued" else 202), headers, b""
        if step[0] == "error":
            _, status, code = step
            if code is None:
                return (
                    status,
                    {"Content-Type": "text/html"},
                    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                )
            return status, {}, _error(code, "injected")
        if step[0] == "empty":
            return step[1], {}, b""
        body = self.report_text(
            *period,
            micros=h.get("returnmoneyinmicros", "true") != "false",
            name=params["ReportName"],
            header=h.get("skipreportheader") != "true",
            summary=h.get("skipreportsummary") != "true",
        )
        return 200, {"Content-Type": "text/tab-separated-values; charset=utf-8"}, body.encode()


def _error(code: int, detail: str) -> bytes:
    body = {"error": {"request_id": "8695244274068608439", "error_code": code,
                      "error_string": "injected" if detail == "injected" else "Request error",
                      "error_detail": detail}}  # fmt: skip
    return json.dumps(body).encode()


@contextmanager
def fake_direct(token: str, **kwargs: object) -> Iterator[FakeDirect]:
    fake = FakeDirect(token=token, **kwargs)  # type: ignore[arg-type]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            h = {k.lower(): v for k, v in self.headers.items()}
            if not self.path.rstrip("/").endswith("/reports"):
                status, headers, body = 404, {}, b"not found"
            else:
                with lock:
                    entry = Logged(time.monotonic(), fake._last_answer, fake._last_retry_in, h, {})
                    with suppress(ValueError, AttributeError):
                        entry.params = json.loads(raw).get("params", {})
                    fake.log.append(entry)
                    status, headers, body = fake.answer(h, raw)
                    entry.status = status
                    fake._last_answer = time.monotonic()
                    retry = next((v for k, v in headers.items() if k.lower() == "retryin"), None)
                    try:
                        fake._last_retry_in = float(retry) if retry else None
                    except ValueError:  # an unreadable retryIn injected on purpose
                        fake._last_retry_in = None
            self.send_response(status)
            headers.setdefault("RequestId", "8695244274068608439")
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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

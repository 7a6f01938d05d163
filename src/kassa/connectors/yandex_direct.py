"""Yandex Direct Reports API v5: one statistics report per day and campaign, as TSV.

Request (https://yandex.com/dev/direct/doc/en/reports, /headers, /spec): ``POST {base}/reports`` with a
JSON ``ReportDefinition`` and the headers ``Authorization: Bearer <token>``, ``Client-Login`` (an
agency's client; omitted for an advertiser's own token), ``Accept-Language``, ``processingMode: auto``,
``returnMoneyInMicros: true`` (money as integers × 1,000,000, converted exactly by the reader),
``skipReportHeader: true`` and ``skipReportSummary: true`` (what tapi-yandex-direct sends: the exact
texts of those two lines are not documented; the column line stays, so the reader checks the columns).

The offline flow (/mode, /codes): 201 "queued" and 202 "being built" are answered to the **identical
request sent again**; ``retryIn`` (read case-insensitively, again on every answer: it changes between
polls) says when. Everything one report takes, polls and waits included, is bounded by
:attr:`Timing.deadline`: a report still 202 then is an error, never an endless loop. Faults:

* 400 with ``error.error_code`` 9000 (five offline reports already queued), 56/506 (request limits), and
  HTTP 429: wait (jittered back-off) and ask again, within the deadline;
* 500/502 (502: "processing time exceeded", i.e. too much data), 503/504, error 52 and 1000–1002,
  timeouts and dropped connections: retried ``attempts`` times; a 500/502 that persists splits the
  period in two and fetches each half (down to one day);
* 53 (invalid or expired token), 58 (application not approved), 54 (no rights), HTTP 401/403: fail at
  once, naming the connection that needs re-authorising.

Error codes are read from ``error.error_code`` of the JSON body (tapi reads ``error.code`` and so never
sees them); a body that is not JSON (an HTML error page), or no body, is reported with an excerpt. The
token never appears in a message: anything the server echoes is scrubbed of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from dataclasses import dataclass, field

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import (
    USER_AGENT,
    Counts,
    Retry,
    Verdict,
    done,
    excerpt,
    fail,
    poll,
    retry,
    wait,
)
from kassa.connectors.pacing import Clock, RateLimit, Sleep
from kassa.errors import ServiceError

BASE_URL = "https://api.direct.yandex.com/json/v5"
SANDBOX_URL = "https://api-sandbox.direct.yandex.com/json/v5"
NAME = "Yandex Direct"
FIELDS = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")
HISTORY_YEARS = 3  # statistics are kept for three years back from the current month (/restrictions)

AUTH_CODES = {53: "the token is invalid or expired", 58: "the application's API access is not approved",
              54: "the token has no rights to this account"}  # fmt: skip
WAIT_CODES = {9000: "the queue of offline reports is full", 56: "the request limit is reached",
              506: "too many requests at once"}  # fmt: skip
RETRY_CODES = {52: "the authorisation server is unavailable", 1000: "server error", 1001: "server error",
               1002: "server error"}  # fmt: skip


@dataclass(frozen=True)
class Timing:
    """Waiting rules (seconds). Tests shrink them; the defaults are the documented or tapi's values."""

    deadline: float = 1800.0  # one report, its polls and waits included
    retry_in: float = 10.0  # when a 201/202 carries no usable retryIn (tapi's default)
    max_poll: float = 120.0  # a larger retryIn is cut to this, so a bad header cannot stall a sync
    queue_wait: float = 10.0  # first wait after error 9000 (tapi: 10 s), then backed off
    backoff: float = 2.0  # first wait after a 5xx or a dropped connection
    backoff_cap: float = 60.0
    attempts: int = 4  # tries of one request through 5xx before splitting or giving up
    timeout: float = 300.0  # one HTTP request (an online report can take minutes)
    rate: tuple[int, float] = (20, 10.0)  # ≤ 20 Reports requests per 10 s per user (/restrictions)


@dataclass(frozen=True)
class Account:
    """Whose statistics and how to ask: what a connection holds (the token is never printed)."""

    connection: str  # the connection's name, for messages ("connection 'd' needs re-authorising")
    token: str = field(repr=False)
    client_login: str | None = None
    base_url: str = BASE_URL
    include_vat: bool = False
    language: str = "en"


Stats = Counts  # requests, polls (201/202 answers), retries, waits, periods split after a persistent 5xx


class _TooMuchData(Exception):
    """A period the server could not build (500/502 after every retry): split it."""

    def __init__(self, error: ServiceError) -> None:
        self.error = error


def report_definition(since: dt.date, until: dt.date, include_vat: bool) -> dict[str, object]:
    params: dict[str, object] = {
        "SelectionCriteria": {"DateFrom": since.isoformat(), "DateTo": until.isoformat()},
        "FieldNames": list(FIELDS),
        "OrderBy": [{"Field": "Date", "SortOrder": "ASCENDING"}],
        "ReportType": "CUSTOM_REPORT",
        "DateRangeType": "CUSTOM_DATE",
        "Format": "TSV",
        "IncludeVAT": "YES" if include_vat else "NO",
        "IncludeDiscount": "NO",
    }
    # An offline report is found again by its name: a name reused with other parameters is refused, so
    # the name carries a digest of everything else asked.
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    params["ReportName"] = f"kassa {since}..{until} {digest}"
    return {"params": params}


class Client:
    """Fetches reports for one account; ``stats`` counts what it did."""

    def __init__(
        self,
        account: Account,
        timing: Timing | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.account = account
        self.timing = timing or Timing()
        self.clock, self._sleep = clock, sleep
        self.rng = rng or random.Random()
        self.limit = RateLimit(*self.timing.rate, clock=clock, sleep=sleep)
        self.stats = Stats()
        self._retry = self._policy()
        self.url = f"{account.base_url.rstrip('/')}/reports"

    # -- messages ------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        token = self.account.token
        return text.replace(token, "***") if token else text

    def error(self, request: str, problem: str) -> ServiceError:
        return m.service_error(NAME, self.account.connection, request, problem, self._scrub)

    def _reauthorise(self, request: str, problem: str) -> ServiceError:
        c = self.account.connection
        return self.error(request, m.Said(m.REAUTH_DIRECT, problem=problem, name=repr(c), connection=c))

    # -- the report ----------------------------------------------------------------------------------
    def report(self, since: dt.date, until: dt.date) -> bytes:
        """The TSV report of ``since..until`` (column line, then rows), parts of a split period joined."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        self._retry = self._policy()
        self._retry.start()  # one deadline for the whole report, split parts included
        header, rows = None, []
        with httpx.Client(timeout=self.timing.timeout, headers={"User-Agent": USER_AGENT}) as http:
            for part in self._period(http, since, until):
                lines = part.splitlines()
                header = lines[0]
                rows.extend(lines[1:])
        assert header is not None
        return ("\n".join([header, *rows]) + "\n").encode("utf-8")

    def _period(self, http: httpx.Client, since: dt.date, until: dt.date) -> list[str]:
        try:
            return [self._one(http, since, until)]
        except _TooMuchData as exc:
            if since == until:
                raise exc.error from None
            self.stats.splits += 1
            middle = since + (until - since) // 2
            return self._period(http, since, middle) + self._period(
                http, middle + dt.timedelta(days=1), until
            )

    def _headers(self) -> dict[str, str]:
        h = {
            "Authorization": f"Bearer {self.account.token}",
            "Accept-Language": self.account.language,
            "processingMode": "auto",
            "returnMoneyInMicros": "true",
            "skipReportHeader": "true",
            "skipReportSummary": "true",
            "Content-Type": "application/json; charset=utf-8",
        }
        if self.account.client_login:
            h["Client-Login"] = self.account.client_login
        return h

    def _policy(self) -> Retry:
        t = self.timing
        return Retry(
            attempts=t.attempts,
            backoff=t.backoff,
            cap=t.backoff_cap,
            wait_base=t.queue_wait,
            waits_use_attempts=False,  # a full queue empties in its own time: the deadline bounds it
            deadline=t.deadline,
            deadline_hint=m.Said(m.LATER_REPORT),
            limit=self.limit,
            clock=self.clock,
            sleep=self._sleep,
            rng=self.rng,
            counts=self.stats,
        )

    def _one(self, http: httpx.Client, since: dt.date, until: dt.date) -> str:
        """One period's report: the offline flow, waits and retries (module docstring)."""
        body = json.dumps(report_definition(since, until, self.account.include_vat), ensure_ascii=False)
        request = f"POST {self.url} (report {since}..{until})"
        headers = self._headers()

        def judge(resp: httpx.Response) -> Verdict:
            status = resp.status_code
            if status == 200:
                return done(self._tsv(request, resp.content))
            if status in (201, 202):
                state = m.Said(m.QUEUED if status == 201 else m.BEING_BUILT)
                return poll(self._retry_in(resp), m.Said(m.NOT_READY, state=state, status=status))
            code, text = _api_error(resp.content)
            problem = f"HTTP {status}" + (f", error {code}: {text}" if code is not None else f" {text}")
            if code in AUTH_CODES or (code is None and status in (401, 403)):
                return fail(
                    self._reauthorise(request, f"{AUTH_CODES.get(code or 0, 'access refused')} ({problem})")
                )
            if code in WAIT_CODES or status == 429:
                return wait(f"{WAIT_CODES.get(code or 0, 'too many requests')} ({problem})")
            if not (status >= 500 or code in RETRY_CODES):
                return fail(self.error(request, problem))
            # 500/502 through every retry: too much data for one report, so the period is split.
            return retry(problem, exhausted=_TooMuchData if status in (500, 502) else None)

        self._retry.counts = self.stats  # sync.py may have handed the client its own Stats
        result: str = self._retry.send(
            lambda: http.post(self.url, content=body.encode("utf-8"), headers=headers),
            judge,
            lambda problem: self.error(request, problem),
            timeout=self.timing.timeout,
        )
        return result

    def _retry_in(self, resp: httpx.Response) -> float:
        """Seconds the answer asks to wait (header ``retryIn``, any case); a missing or unreadable value
        falls back to :attr:`Timing.retry_in`, a huge one is cut to :attr:`Timing.max_poll`."""
        raw = resp.headers.get("retryIn")  # httpx's headers are case-insensitive, as HTTP's are
        try:
            seconds = float(raw) if raw is not None else self.timing.retry_in
        except ValueError:
            seconds = self.timing.retry_in
        if not seconds >= 0:  # negative or NaN
            seconds = self.timing.retry_in
        return min(seconds, self.timing.max_poll)

    def _tsv(self, request: str, content: bytes) -> str:
        """The body of a 200, checked to be the report asked for: UTF-8 text whose first line is the
        column line. A report-name line or a "Total rows" line (a server that ignored the skip headers)
        is dropped; the rows are the reader's to check."""
        if not content.strip():
            raise self.error(request, "HTTP 200 with an empty body (expected the TSV report)")
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise self.error(request, f"the report is not UTF-8 text: {excerpt(content)}") from None
        lines = text.splitlines()
        columns = "\t".join(FIELDS)
        if lines[0] != columns and len(lines) > 1 and lines[1] == columns:
            lines = lines[1:]
        if lines[0] != columns:
            raise self.error(
                request,
                f"the answer is not the TSV report: expected the column line {columns!r}, got {excerpt(lines[0])}",
            )
        if len(lines) > 1 and lines[-1].lower().startswith("total rows"):
            lines = lines[:-1]
        return "\n".join(lines)


def _api_error(content: bytes) -> tuple[int | None, str]:
    """(``error.error_code``, its text) of a JSON error body; (None, an excerpt) for anything else."""
    try:
        data = json.loads(content)
        err = data["error"]
        code = int(err["error_code"])
    except (ValueError, KeyError, TypeError):
        return None, excerpt(content) if content.strip() else "(no body)"
    text = " — ".join(str(err[k]) for k in ("error_string", "error_detail") if err.get(k))
    return code, text


def history_start(today: dt.date) -> dt.date:
    """The first day Direct keeps statistics for: three years back from the current month's start."""
    return dt.date(today.year - HISTORY_YEARS, today.month, 1)

"""Yandex Metrica Logs API: every visit of a counter, as the TSV the Logs API file reader reads.

The flow (https://yandex.ru/dev/metrika/en/logs/practice/quick-start, ../shared/research §2), for each
period of at most :data:`MAX_DAYS` days:

1. ``GET /management/v1/counter/{id}/logrequests/evaluate?date1&date2&fields&source=visits`` — can
   the counter prepare this log now? ``possible: false`` with ``max_possible_day_quantity`` N splits the
   period into N-day parts; N = 0 means the counter's 10 GB of prepared logs is full (old requests
   never cleaned) and nothing can be asked until they are;
2. ``POST …/logrequests?date1&date2&fields&source&attribution`` — the parameters in the **query
   string**, the body empty; the answer's ``log_request.request_id``;
3. ``GET …/logrequest/{id}`` until ``status`` is ``processed`` (``created`` and ``awaiting_retry`` wait:
   first :attr:`Timing.poll_first` s, doubling to :attr:`Timing.poll_cap`); ``canceled``,
   ``processing_failed``, ``cleaned_by_user`` and ``cleaned_automatically_as_too_old`` end it with an
   error (the official script polls those for ever);
4. ``GET …/logrequest/{id}/part/{n}/download`` for every part (numbered from 0); each part starts
   with the line of field names, checked to be the fields asked for, and only the first is kept;
5. ``POST …/logrequest/{id}/clean`` — **always**, also after a failure (a request not yet prepared is
   cancelled instead), so the counter's storage quota is not left full by kassa.

Faults: 429 (the Russian quota page) and 420 (the English one) are quota answers: wait with jittered
back-off and ask again, within the deadline; 5xx, an HTML page instead of JSON, timeouts and dropped
connections (also mid-download) are retried :attr:`Timing.attempts` times; 401/403 name the connection
that needs re-authorising. Errors are read from the documented body ``{"errors": [{"error_type",
"message"}], "code", "message"}``; anything else is quoted as an excerpt, the token scrubbed.

The rows are not checked here: the joined TSV goes to :mod:`kassa.sources.metrica_logs`, the reader a
downloaded file goes through, so a malformed line (an embedded tab) is refused with its line number —
reported, never silently dropped. ``ym:s:dateTime`` is in the counter's time zone: once per sync the
counter's settings (``GET /management/v1/counter/{id}`` -> ``counter.time_zone_name``, e.g.
``Asia/Yekaterinburg``) tell which, and :attr:`Client.time_zone` hands it to the reader, which moves every
visit into the business's time zone before it is validated (a visit at 00:30 in Yekaterinburg is 22:30 of
the day before in Moscow).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

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

BASE_URL = "https://api-metrika.yandex.net"
NAME = "Yandex Metrica"
SOURCE = "visits"
MAX_DAYS = 365  # one log request covers at most a year
HISTORY_DAYS = 365  # a first sync asks for a year back
# What kassa.sources.metrica_logs reads (the lastsign variants: Metrica's default attribution).
FIELDS = (
    "ym:s:visitID",
    "ym:s:clientID",
    "ym:s:dateTime",
    "ym:s:lastsignUTMSource",
    "ym:s:lastsignUTMMedium",
    "ym:s:lastsignUTMCampaign",
    "ym:s:lastsignUTMContent",
    "ym:s:lastsignUTMTerm",
    "ym:s:referer",
    "ym:s:startURL",
    "ym:s:lastsignTrafficSource",
    "ym:s:lastsignDirectClickOrder",
)
WAITING = ("created", "awaiting_retry")
FAILED = {
    "canceled": "the log request was cancelled (status canceled)",
    "processing_failed": "Metrica could not prepare the log (status processing_failed); sync again later",
    "cleaned_by_user": "the log was cleaned before it was downloaded (status cleaned_by_user)",
    "cleaned_automatically_as_too_old": "the log was cleaned as too old before it was downloaded "
    "(status cleaned_automatically_as_too_old)",
}


@dataclass(frozen=True)
class Timing:
    """Waiting rules (seconds); tests shrink them."""

    deadline: float = 3600.0  # one sync, every log request, poll and wait included
    poll_first: float = 1.0  # first wait for a log being prepared, doubled up to poll_cap
    poll_cap: float = 30.0
    quota_wait: float = 10.0  # first wait after 429/420, then backed off
    backoff: float = 2.0
    backoff_cap: float = 60.0
    attempts: int = 4
    timeout: float = 300.0
    rate: tuple[int, float] = (10, 1.0)  # Logs API: 10 requests per second per IP (quotas page)


@dataclass(frozen=True)
class Account:
    connection: str
    token: str = field(repr=False)
    counter: str = ""
    base_url: str = BASE_URL
    attribution: str = "LASTSIGN"


def _api_error(content: bytes) -> tuple[str | None, str]:
    """(the first ``errors[].error_type``, its message) of a JSON error body; (None, an excerpt) otherwise."""
    try:
        data = json.loads(content)
        first = data["errors"][0]
        kind = str(first["error_type"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None, excerpt(content) if content.strip() else "(no body)"
    return kind, str(first.get("message") or data.get("message") or "")


def _days(since: dt.date, until: dt.date) -> int:
    return (until - since).days + 1


def chunks(since: dt.date, until: dt.date, days: int) -> list[tuple[dt.date, dt.date]]:
    """``since..until`` in consecutive parts of at most ``days`` days."""
    out, start = [], since
    while start <= until:
        end = min(until, start + dt.timedelta(days=days - 1))
        out.append((start, end))
        start = end + dt.timedelta(days=1)
    return out


class Client:
    """Fetches the visits log of one counter; ``stats`` counts what it did."""

    def __init__(
        self,
        account: Account,
        timing: Timing | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not account.counter.isdigit():
            said = m.Said(
                m.WHERE,
                service=NAME,
                name=repr(account.connection),
                request="--counter",
                problem=m.Said(m.NOT_A_COUNTER, counter=repr(account.counter)),
            )
            error = ServiceError(str(said))
            error.said = said  # type: ignore[attr-defined]
            raise error
        self.account = account
        self.timing = timing or Timing()
        self.clock, self._sleep = clock, sleep
        self.rng = rng or random.Random()
        self.limit = RateLimit(*self.timing.rate, clock=clock, sleep=sleep)
        self.stats = Counts()
        self.cleaned: list[int] = []  # request ids cleaned or cancelled (tests: the quota is not left full)
        self._status: dict[int, str] = {}  # the last status seen of each log request
        self.time_zone: str | None = None  # the counter's, as its settings name it (after logs())
        self._http: httpx.Client | None = None
        self._retry = self._policy()

    # -- messages ------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        token = self.account.token
        return text.replace(token, "***") if token else text

    def error(self, request: str, problem: str) -> ServiceError:
        return m.service_error(NAME, self.account.connection, request, problem, self._scrub)

    def _policy(self, deadline: float | None = None, attempts: int | None = None) -> Retry:
        t = self.timing
        return Retry(
            attempts=attempts or t.attempts,
            backoff=t.backoff,
            cap=t.backoff_cap,
            wait_base=t.quota_wait,
            waits_use_attempts=False,  # a quota refills in its own time: the deadline bounds the wait
            deadline=deadline,
            deadline_hint=m.Said(m.LATER),
            limit=self.limit,
            clock=self.clock,
            sleep=self._sleep,
            rng=self.rng,
            counts=self.stats,
        )

    # -- one request ---------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        base = f"{self.account.base_url.rstrip('/')}/management/v1/counter/{self.account.counter}"
        return f"{base}/{path}" if path else base

    def _faults(self, request: str, resp: httpx.Response) -> Verdict:
        """What a non-200 answer means (module docstring)."""
        status = resp.status_code
        kind, text = _api_error(resp.content)
        problem = f"HTTP {status}" + (f", {kind}: {text}" if kind else f" {text}")
        if status in (420, 429) or (kind or "").startswith("quota_"):
            return wait(m.Said(m.QUOTA, service="Metrica", problem=problem))
        if status in (401, 403):
            return fail(
                self.error(
                    request,
                    m.Said(
                        m.REAUTH_METRICA,
                        problem=problem,
                        name=repr(self.account.connection),
                        connection=self.account.connection,
                        counter=self.account.counter,
                    ),
                )
            )
        if status == 400 and "too complicated" in text.lower():
            return wait(f"Metrica asks for a smaller request ({problem})")
        if status >= 500:
            return retry(problem)
        return fail(self.error(request, problem))

    def _json(self, method: str, path: str, params: dict[str, str], what: str, read: Any) -> Any:
        """``method path?params`` answered with JSON; ``read(data)`` -> a Verdict on it."""
        url = self._url(path)
        request = f"{method} {url} ({what})"
        http = self._http
        assert http is not None

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code != 200:
                return self._faults(request, resp)
            try:
                data = json.loads(resp.content)
            except ValueError:  # an HTML page from a proxy with 200: retried as a fault
                return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
            verdict: Verdict = read(data, request)
            return verdict

        def do() -> httpx.Response:
            return http.request(method, url, params=params, headers=self._headers())

        return self._retry.send(do, judge, lambda p: self.error(request, p), timeout=self.timing.timeout)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"OAuth {self.account.token}"}

    def _params(self, since: dt.date, until: dt.date) -> dict[str, str]:
        return {
            "date1": since.isoformat(),
            "date2": until.isoformat(),
            "fields": ",".join(FIELDS),
            "source": SOURCE,
        }

    def _log_request(self, data: Any, request: str) -> dict[str, Any]:
        lr = data.get("log_request") if isinstance(data, dict) else None
        if not isinstance(lr, dict) or "request_id" not in lr:
            raise self.error(
                request, f"the answer has no log_request.request_id: {excerpt(json.dumps(data))}"
            )
        return lr

    # -- the flow ------------------------------------------------------------------------------------
    def logs(self, since: dt.date, until: dt.date) -> bytes:
        """The visits of ``since..until`` as one TSV: the field names, then every part's rows."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        self._retry = self._policy(self.timing.deadline)
        self._retry.start()
        lines: list[str] = ["\t".join(FIELDS)]
        with httpx.Client(timeout=self.timing.timeout, headers={"User-Agent": USER_AGENT}) as http:
            self._http = http
            try:
                self.time_zone = self._counter_time_zone()
                for first, last in chunks(since, until, MAX_DAYS):
                    for a, b in self._possible(first, last):
                        lines.extend(self._one(a, b))
            finally:
                self._http = None
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _counter_time_zone(self) -> str | None:
        """The counter's time zone (``counter.time_zone_name`` of its settings); None if not said."""

        def read(data: Any, request: str) -> Verdict:
            counter = data.get("counter") if isinstance(data, dict) else None
            if not isinstance(counter, dict):
                return fail(self.error(request, f"the answer has no counter: {excerpt(json.dumps(data))}"))
            name = counter.get("time_zone_name")
            if not name:  # not said: the reader takes the business's zone, as for an imported file
                return done(None)
            try:
                zoneinfo.ZoneInfo(str(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                return fail(self.error(request, f"unknown time zone {str(name)!r} in counter.time_zone_name"))
            return done(str(name))

        zone: str | None = self._json("GET", "", {}, "the counter's time zone", read)
        return zone

    def _possible(self, since: dt.date, until: dt.date) -> list[tuple[dt.date, dt.date]]:
        """The parts of ``since..until`` the counter can prepare now (evaluate, split as it says)."""

        def read(data: Any, request: str) -> Verdict:
            ev = data.get("log_request_evaluation") if isinstance(data, dict) else None
            if not isinstance(ev, dict) or "possible" not in ev:
                return fail(self.error(request, f"no log_request_evaluation: {excerpt(json.dumps(data))}"))
            return done((bool(ev["possible"]), int(ev.get("max_possible_day_quantity") or 0)))

        possible, max_days = self._json(
            "GET", "logrequests/evaluate", self._params(since, until), f"evaluate {since}..{until}", read
        )
        if possible:
            return [(since, until)]
        if max_days <= 0:
            raise self.error(
                f"GET {self._url('logrequests/evaluate')} ({since}..{until})",
                "Metrica cannot prepare any log now (max_possible_day_quantity 0): the counter's storage "
                "of prepared logs (10 GB) is full. Clean old log requests in Metrica (kassa cleans its "
                "own after every sync) or wait, then sync again",
            )
        if max_days >= _days(since, until):  # "not possible" yet the whole period fits: do not loop
            raise self.error(
                f"GET {self._url('logrequests/evaluate')} ({since}..{until})",
                f"Metrica says the period is not possible but allows {max_days} days; sync again later",
            )
        self.stats.splits += 1
        return [p for a, b in chunks(since, until, max_days) for p in self._possible(a, b)]

    def _one(self, since: dt.date, until: dt.date) -> list[str]:
        """Create, wait for, download and clean one log request; its data lines."""

        def created(data: Any, request: str) -> Verdict:
            return done(self._log_request(data, request))

        params = self._params(since, until) | {"attribution": self.account.attribution}
        lr = self._json("POST", "logrequests", params, f"create the log {since}..{until}", created)
        rid = int(lr["request_id"])
        self._status[rid] = str(lr.get("status") or "created")
        try:
            rows: list[str] = []
            for n in self._processed(rid):
                rows.extend(self._download(rid, n))
            return rows
        finally:
            self._clean_up(rid, self._status[rid])

    def _processed(self, rid: int) -> list[int]:
        """Poll the request until it is processed; its part numbers."""
        polls = 0

        def read(data: Any, request: str) -> Verdict:
            nonlocal polls
            lr = self._log_request(data, request)
            status = self._status[rid] = str(lr.get("status"))
            if status == "processed":
                parts = lr.get("parts") or []
                try:
                    return done(sorted(int(p["part_number"]) for p in parts))
                except (TypeError, KeyError, ValueError):
                    return fail(self.error(request, f"unreadable parts: {excerpt(json.dumps(parts))}"))
            if status in WAITING:
                polls += 1
                seconds = min(self.timing.poll_cap, self.timing.poll_first * 2 ** (polls - 1))
                return poll(seconds, m.Said(m.LOG_NOT_READY, status=status))
            why = FAILED.get(status, f"unknown status {status!r}")
            return fail(self.error(request, why))

        # The first status check comes after one wait: a new request is never ready at once.
        self._retry.pause(
            self.timing.poll_first, "the log is being prepared", lambda p: self.error(f"log request {rid}", p)
        )
        parts: list[int] = self._json("GET", f"logrequest/{rid}", {}, f"status of log request {rid}", read)
        return parts

    def _download(self, rid: int, part: int) -> list[str]:
        url = self._url(f"logrequest/{rid}/part/{part}/download")
        request = f"GET {url}"
        http = self._http
        assert http is not None
        columns = "\t".join(FIELDS)

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code != 200:
                return self._faults(request, resp)
            try:
                text = resp.content.decode("utf-8")
            except UnicodeDecodeError:
                return fail(self.error(request, f"the part is not UTF-8 text: {excerpt(resp.content)}"))
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if not lines or lines[0].rstrip("\r") != columns:
                got = excerpt(lines[0]) if lines else "an empty body"
                if text.lstrip().startswith("<"):  # an HTML page from a proxy: a fault, not the log
                    return retry(f"HTTP 200 but an HTML page: {excerpt(text)}")
                return fail(
                    self.error(
                        request,
                        f"the part is not the log asked for: expected the field line {columns!r}, got {got}",
                    )
                )
            return done(lines[1:])

        def do() -> httpx.Response:
            return http.get(url, headers=self._headers())

        rows: list[str] = self._retry.send(
            do, judge, lambda p: self.error(request, p), timeout=self.timing.timeout
        )
        return rows

    def _clean_up(self, rid: int, status: str) -> None:
        """Clean a processed request, cancel an unprepared one: so the counter's quota is not left full.

        Its own short retries and no deadline: it runs after a failure too, when the sync's deadline may
        be spent. A clean-up that fails does not hide the sync's own outcome (the log is cleaned
        automatically as too old in the end).
        """
        action = "cancel" if status in WAITING else "clean"
        url = self._url(f"logrequest/{rid}/{action}")
        request = f"POST {url}"
        policy = self._policy(attempts=2)
        http = self._http
        assert http is not None

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code == 200:
                return done(None)
            if action == "cancel" and resp.status_code == 400:
                # Prepared meanwhile (cancel is only for unprepared requests): clean it instead.
                return fail(_Prepared())
            return self._faults(request, resp)

        try:
            policy.send(
                lambda: http.post(url, headers=self._headers()),
                judge,
                lambda p: self.error(request, p),
                timeout=self.timing.timeout,
            )
        except _Prepared:
            self._clean_up(rid, "processed")
            return
        except ServiceError:
            return
        self.cleaned.append(rid)


class _Prepared(Exception):
    pass


def history_start(today: dt.date) -> dt.date:
    """The first day a first sync asks for: a year back (one log request's longest period)."""
    return today - dt.timedelta(days=HISTORY_DAYS)

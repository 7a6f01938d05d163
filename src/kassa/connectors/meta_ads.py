"""Meta (Facebook, Instagram) Marketing API: daily campaign Insights through an async report run, as the
JSON the Meta Ads file reader reads.

The flow (https://developers.facebook.com/docs/marketing-api/insights, ../shared/research §6.2):

1. ``POST {base}/{API_VERSION}/act_{account}/insights`` with ``level=campaign``, ``time_increment=1``
   (one row per day), ``time_range={"since","until"}`` and :data:`FIELDS` -> ``{"report_run_id"}``;
2. ``GET /{report_run_id}`` until ``async_status`` is ``Job Completed`` — **not** until
   ``async_percent_completion`` is 100, which Meta reports while the job is still running; ``Job
   Failed``/``Job Skipped`` end it with an error; waits double from :attr:`Timing.poll_first` up to
   :attr:`Timing.poll_cap`, within the deadline;
3. ``GET /{report_run_id}/insights?limit=500`` and every ``paging.next`` until there is none. A
   ``next`` URL carries the access token in its query (Meta puts it there); kassa removes it and sends
   the token in the ``Authorization`` header only, and follows only a ``next`` on the API's own host.

The pages are handed, as a list, to :mod:`kassa.sources.meta_ads` (every number a JSON string; spend
in the account's currency; a row per day).

Errors ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``: codes 4, 17, 613 and
80000–80014 (rate limits of the app, the user, the ad account, business use cases) wait with jittered
back-off; "Please reduce the amount of data you're asking for" (code 1, HTTP 500, or code 100 with
subcode 1487534, the data-per-call limit) splits the period in two and asks for each half (down to one
day), as Direct does on a persistent 5xx; other 1/2 and HTTP 5xx retry; 190 (token expired or revoked) and 10/200-299 (permissions) name the
connection that needs re-authorising.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Counts, Retry, Verdict, done, excerpt, fail, poll, retry, wait
from kassa.connectors.pacing import Clock, Sleep
from kassa.errors import ServiceError

BASE_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
NAME = "Meta Ads"
FIELDS = "campaign_id,campaign_name,impressions,reach,clicks,inline_link_clicks,spend,account_currency"
HISTORY_DAYS = 37 * 30  # Insights keep 37 months
RATE_CODES = {4, 17, 613} | set(range(80000, 80015))


@dataclass(frozen=True)
class Account:
    connection: str
    account: str  # digits, without act_
    token: str = field(repr=False)
    base_url: str = BASE_URL


@dataclass(frozen=True)
class Timing:
    deadline: float = 3600.0
    poll_first: float = 2.0
    poll_cap: float = 60.0
    backoff: float = 2.0
    backoff_cap: float = 120.0
    quota_wait: float = 30.0  # Meta's rate limits refill over minutes
    attempts: int = 4
    timeout: float = 120.0


def account_id(text: str) -> str:
    """``act_123`` or ``123`` -> ``123``."""
    return text.strip().removeprefix("act_")


TOO_MUCH = "reduce the amount of data"  # in the message of code 1 (Meta's best-practices page)
TOO_MUCH_SUBCODE = 1487534  # code 100: the data-per-call limit (rate-limiting / error-codes pages)


class _TooMuchData(Exception):
    """Meta asks for less data in one call: the period is split."""

    def __init__(self, error: ServiceError) -> None:
        self.error = error


def _too_much(content: bytes) -> bool:
    try:
        err = json.loads(content)["error"]
        code, subcode = int(err["code"]), err.get("error_subcode")
    except (ValueError, KeyError, TypeError):
        return False
    return (code == 1 and TOO_MUCH in str(err.get("message") or "").lower()) or (
        code == 100 and str(subcode) == str(TOO_MUCH_SUBCODE)
    )


def _error(content: bytes) -> tuple[int | None, str]:
    try:
        err = json.loads(content)["error"]
        return int(err["code"]), " — ".join(
            str(x)
            for x in (err.get("message"), err.get("error_subcode") and f"subcode {err['error_subcode']}")
            if x
        )
    except (ValueError, KeyError, TypeError):
        return None, excerpt(content) if content.strip() else "(no body)"


class Client:
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
        self.stats = Counts()
        self.root = f"{account.base_url.rstrip('/')}/{API_VERSION}"
        self._retry = self._policy()

    def error(self, request: str, problem: str) -> ServiceError:
        token = self.account.token
        return m.service_error(
            NAME, self.account.connection, request, problem, lambda t: t.replace(token, "***") if token else t
        )

    def _policy(self) -> Retry:
        t = self.timing
        return Retry(
            attempts=t.attempts, backoff=t.backoff, cap=t.backoff_cap, wait_base=t.quota_wait,
            waits_use_attempts=False, deadline=t.deadline,
            deadline_hint=m.Said(m.LATER),
            clock=self.clock, sleep=self._sleep, rng=self.rng, counts=self.stats,
        )  # fmt: skip

    def _faults(self, request: str, resp: httpx.Response) -> Verdict:
        code, text = _error(resp.content)
        problem = f"HTTP {resp.status_code}" + (f", error {code}: {text}" if code is not None else f" {text}")
        if code in RATE_CODES or resp.status_code == 429:
            return wait(m.Said(m.RATE_LIMIT, problem=problem))
        if _too_much(resp.content):  # asking again for the same period cannot help: split it
            return fail(_TooMuchData(self.error(request, problem)))
        if code == 190 or code == 10 or (code is not None and 200 <= code <= 299) or resp.status_code == 401:
            return fail(
                self.error(
                    request,
                    m.Said(
                        m.REAUTH_META,
                        problem=problem,
                        name=repr(self.account.connection),
                        connection=self.account.connection,
                        account=self.account.account,
                    ),
                )
            )
        if resp.status_code >= 500 or code in (1, 2):
            return retry(problem)
        return fail(self.error(request, problem))

    def _call(
        self, http: httpx.Client, method: str, url: str, params: dict[str, str], what: str, read: Any
    ) -> Any:
        request = f"{method} {url} ({what})"
        headers = {"Authorization": f"Bearer {self.account.token}"}

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code != 200:
                return self._faults(request, resp)
            try:
                data = json.loads(resp.content)
            except ValueError:
                return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
            if not isinstance(data, dict):
                return fail(self.error(request, f"expected a JSON object, got {excerpt(resp.content)}"))
            verdict: Verdict = read(data, request)
            return verdict

        return self._retry.send(
            lambda: http.request(method, url, params=params, headers=headers), judge,
            lambda p: self.error(request, p), timeout=self.timing.timeout,
        )  # fmt: skip

    def insights(self, since: dt.date, until: dt.date) -> bytes:
        """Every page of the daily campaign Insights of ``since..until``, as one JSON list of pages."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        self._retry = self._policy()
        self._retry.start()  # one deadline for the whole period, its halves included
        with httpx.Client(timeout=self.timing.timeout, headers={"User-Agent": USER_AGENT}) as http:
            pages = self._period(http, since, until)
        return json.dumps(pages, ensure_ascii=False, indent=1).encode("utf-8")

    def _period(self, http: httpx.Client, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
        """The pages of ``since..until``; halves of it when Meta asks for less data (module docstring)."""
        try:
            return self._one(http, since, until)
        except _TooMuchData as exc:
            if since == until:
                raise exc.error from None
            self.stats.splits += 1
            middle = since + (until - since) // 2
            return self._period(http, since, middle) + self._period(
                http, middle + dt.timedelta(days=1), until
            )

    def _one(self, http: httpx.Client, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
        """One report run of ``since..until``: start, wait until completed, read every page."""
        params = {"level": "campaign", "time_increment": "1", "fields": FIELDS,
                  "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()})}  # fmt: skip
        polls = 0

        def started(data: dict[str, Any], request: str) -> Verdict:
            rid = data.get("report_run_id")
            return (
                done(str(rid))
                if rid
                else fail(self.error(request, f"no report_run_id: {excerpt(json.dumps(data))}"))
            )

        def status(data: dict[str, Any], request: str) -> Verdict:
            nonlocal polls
            state = str(data.get("async_status"))
            if state == "Job Completed":
                return done(None)
            if state in ("Job Failed", "Job Skipped"):
                why = data.get("error_message") or data.get("error_user_msg") or ""
                return fail(
                    self.error(request, f"the report run ended with {state!r}" + (f": {why}" if why else ""))
                )
            polls += 1
            seconds = min(self.timing.poll_cap, self.timing.poll_first * 2 ** (polls - 1))
            pct = data.get("async_percent_completion")
            return poll(seconds, m.Said(m.RUN_NOT_READY, state=state, pct=pct))

        def page(data: dict[str, Any], request: str) -> Verdict:
            if not isinstance(data.get("data"), list):
                return fail(self.error(request, f'a page without a "data" list: {excerpt(json.dumps(data))}'))
            return done(data)

        pages: list[dict[str, Any]] = []
        run = self._call(http, "POST", f"{self.root}/act_{self.account.account}/insights", params,
                         f"start the report {since}..{until}", started)  # fmt: skip
        self._call(http, "GET", f"{self.root}/{run}", {}, f"status of report run {run}", status)
        url, query = f"{self.root}/{run}/insights", {"limit": "500"}
        host = urlsplit(self.root).netloc
        while True:
            got = self._call(http, "GET", url, query, f"results of report run {run}", page)
            pages.append({"data": got["data"]})
            nxt = (got.get("paging") or {}).get("next")
            if not nxt:
                break
            parts = urlsplit(str(nxt))
            if parts.netloc != host:
                raise self.error(
                    f"GET {url}", f"paging.next points at another host ({parts.netloc}); not followed"
                )
            # The token goes in the header only: never in a URL that logs and proxies keep.
            query = {k: v for k, v in parse_qsl(parts.query) if k != "access_token"}
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return pages


def history_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=HISTORY_DAYS)

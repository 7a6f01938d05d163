"""VK Ads (ads.vk.com) API v2: daily statistics of every campaign (``ad_plan``), as the JSON the VK Ads
file reader reads.

**Tokens** (https://ads.vk.com/en/doc/api/info/Authorization, ../shared/research §5.1): the connection
holds the app's ``client_id`` and its ``client_secret`` (the secret); kassa mints an access token with
``POST /api/v2/oauth2/token.json`` (form body ``grant_type=client_credentials&client_id&client_secret``)
and keeps the pair (access token, refresh token, when it expires) in the secrets file. ``expires_in``
arrives as a string ("86400") and is read as a number of seconds. A token due to expire within
:data:`EARLY` seconds, or refused with 401 mid-sync, is refreshed (``grant_type=refresh_token``: a
refresh does not count towards VK's cap of five active tokens per app and user, minting does) and the
new pair saved at once, atomically, through the ``save`` hook — so a sync killed later still leaves the
new pair. A refresh that is refused names the connection that needs re-authorising (``kassa connect
vk-ads … again`` mints a fresh pair); a mint refused over the token cap says how to free a slot.

**Statistics** (§5.2): the campaign ids from ``GET /api/v2/ad_plans.json`` (``limit``/``offset`` paging),
then ``GET /api/v2/statistics/ad_plans/day.json?id=…&date_from&date_to&metrics=base`` in windows of at
most :data:`MAX_DAYS` days and :data:`MAX_IDS` ids (the documented caps). The answers' ``items`` are
joined into one ``{"items": […]}`` for :mod:`kassa.sources.vk_ads`, which checks every row (``spent`` a
decimal string, in the account's currency).

Faults: 429 waits (jittered back-off), 5xx, HTML pages, timeouts and dropped connections are retried,
through the one loop of :mod:`kassa.connectors.http`; at most :data:`RATE` requests a second are sent,
and the ``X-RateLimit-*-Remaining`` headers VK sends with every answer are heeded (none left this
second: wait a second; none this hour or day: stop, saying so). No secret (client secret, access or refresh token) appears in a message.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Counts, Retry, Verdict, done, excerpt, fail, retry, wait
from kassa.connectors.oauth import Tokens
from kassa.connectors.pacing import Clock, RateLimit, Sleep
from kassa.errors import ServiceError

BASE_URL = "https://ads.vk.com"
NAME = "VK Ads"
MAX_DAYS = 92
MAX_IDS = 200
PAGE = 250  # ad_plans.json page size
EARLY = 300.0  # refresh a token this many seconds before it expires
RATE = (5, 1.0)
HISTORY_DAYS = 365  # advertiser statistics go back about a year


@dataclass(frozen=True)
class Account:
    connection: str
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = BASE_URL


@dataclass(frozen=True)
class Timing:
    deadline: float = 1800.0
    backoff: float = 2.0
    backoff_cap: float = 60.0
    quota_wait: float = 5.0
    attempts: int = 4
    timeout: float = 120.0


def windows(since: dt.date, until: dt.date, days: int = MAX_DAYS) -> list[tuple[dt.date, dt.date]]:
    out, start = [], since
    while start <= until:
        end = min(until, start + dt.timedelta(days=days - 1))
        out.append((start, end))
        start = end + dt.timedelta(days=1)
    return out


class _Expired(Exception):
    """A 401 on an API call: refresh the token and ask again."""


class Client:
    """Statistics of one VK Ads account; ``tokens`` is the pair in use, ``save`` keeps a new one."""

    def __init__(
        self,
        account: Account,
        tokens: Tokens | None,
        save: Callable[[Tokens], None],
        timing: Timing | None = None,
        *,
        clock: Clock = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.account = account
        self.tokens = tokens
        self.save = save
        self.timing = timing or Timing()
        self.clock, self.wall, self._sleep = clock, wall, sleep
        self.rng = rng or random.Random()
        self.stats = Counts()
        self.refreshed = 0
        self.minted = 0
        # Every secret this client has held: an old token echoed after a refresh is scrubbed too.
        self._secrets = {account.client_secret}
        if tokens:
            self._secrets |= {tokens.access_token, tokens.refresh_token}
        self._retry = self._policy()
        self._http: httpx.Client | None = None

    # -- messages ------------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            if s:
                text = text.replace(s, "***")
        return text

    def error(self, request: str, problem: str) -> ServiceError:
        return m.service_error(NAME, self.account.connection, request, problem, self._scrub)

    def _reauthorise(self, request: str, problem: str) -> ServiceError:
        c = self.account.connection
        said = m.Said(
            m.REAUTH_VK, problem=problem, name=repr(c), connection=c, client_id=self.account.client_id
        )
        return self.error(request, said)

    def _policy(self) -> Retry:
        t = self.timing
        return Retry(
            attempts=t.attempts,
            backoff=t.backoff,
            cap=t.backoff_cap,
            wait_base=t.quota_wait,
            waits_use_attempts=False,
            deadline=t.deadline,
            deadline_hint=m.Said(m.LATER),
            limit=RateLimit(*RATE, clock=self.clock, sleep=self._sleep),
            clock=self.clock,
            sleep=self._sleep,
            rng=self.rng,
            counts=self.stats,
        )

    def _send(
        self, request: str, do: Callable[[], httpx.Response], judge: Callable[[httpx.Response], Verdict]
    ) -> Any:
        return self._retry.send(do, judge, lambda p: self.error(request, p), timeout=self.timing.timeout)

    # -- tokens --------------------------------------------------------------------------------------
    def _token_call(self, form: dict[str, str], what: str) -> Tokens:
        url = f"{self.account.base_url.rstrip('/')}/api/v2/oauth2/token.json"
        request = f"POST {url} ({what})"
        http = self._http
        assert http is not None

        def judge(resp: httpx.Response) -> Verdict:
            data = _json(resp.content)
            if resp.status_code == 200 and isinstance(data.get("access_token"), str):
                try:
                    expires_in = float(str(data.get("expires_in") or 0))  # a string in VK's own example
                except ValueError:
                    return fail(
                        self.error(
                            request, f"expires_in is not a number: {excerpt(str(data.get('expires_in')))}"
                        )
                    )
                return done(
                    Tokens(
                        data["access_token"], str(data.get("refresh_token") or ""), self.wall() + expires_in
                    )
                )
            if resp.status_code == 429:
                return wait(f"HTTP 429 {_problem(resp)}")
            if resp.status_code >= 500 or (resp.status_code == 200 and not data):
                return retry(f"HTTP {resp.status_code} {_problem(resp)}")
            return fail(_Refused(f"HTTP {resp.status_code} {_problem(resp)}"))

        def do() -> httpx.Response:
            return http.post(url, data=form)

        try:
            tokens: Tokens = self._send(request, do, judge)
        except _Refused as exc:
            text = str(exc)
            if form["grant_type"] == "client_credentials" and (
                "limit" in text.lower() or "too many" in text.lower()
            ):
                raise self.error(
                    request,
                    f"VK Ads refused a new token ({text}): an app may hold at most 5 active tokens per user. "
                    "Delete the old ones (POST /api/v2/oauth2/token/delete.json with the client id and "
                    "secret, or in VK Ads → Settings → API) and sync again; kassa keeps and refreshes one",
                ) from None
            raise self._reauthorise(request, f"the {what} was refused ({text})") from None
        self.tokens = tokens
        self._secrets |= {tokens.access_token, tokens.refresh_token}
        self.save(tokens)  # at once: VK has already retired the old pair
        return tokens

    def _mint(self) -> None:
        self.minted += 1
        self._token_call(
            {"grant_type": "client_credentials", "client_id": self.account.client_id,
             "client_secret": self.account.client_secret},
            "new token",
        )  # fmt: skip

    def _refresh(self) -> None:
        assert self.tokens is not None
        if not self.tokens.refresh_token:
            raise self._reauthorise("token refresh", "the stored token expired and has no refresh token")
        self.refreshed += 1
        self._token_call(
            {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token,
             "client_id": self.account.client_id, "client_secret": self.account.client_secret},
            "token refresh",
        )  # fmt: skip

    def _ensure_token(self) -> str:
        if self.tokens is None:
            self._mint()
        elif self.tokens.expires_at and self.tokens.expires_at - EARLY <= self.wall():
            self._refresh()
        assert self.tokens is not None
        return self.tokens.access_token

    # -- API calls -----------------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, str], what: str) -> Any:
        """``GET path?params`` with the access token; a 401 refreshes the token once and asks again."""
        url = f"{self.account.base_url.rstrip('/')}/api/v2/{path}"
        request = f"GET {url} ({what})"
        http = self._http
        assert http is not None

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code == 200:
                try:
                    data = json.loads(resp.content)
                except ValueError:
                    return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
                self._heed_limits(resp)
                return done(data)
            if resp.status_code == 401:
                return fail(_Expired())
            if resp.status_code == 403:
                return fail(self._reauthorise(request, f"access refused (HTTP 403 {_problem(resp)})"))
            if resp.status_code == 429:
                return wait(m.Said(m.TOO_MANY, problem=f"HTTP 429 {_problem(resp)}"))
            if resp.status_code >= 500:
                return retry(f"HTTP {resp.status_code} {_problem(resp)}")
            return fail(self.error(request, f"HTTP {resp.status_code} {_problem(resp)}"))

        for attempt in (1, 2):
            token = self._ensure_token()
            try:
                return self._send(
                    request,
                    lambda token=token: http.get(  # type: ignore[misc]
                        url, params=params, headers={"Authorization": f"Bearer {token}"}
                    ),
                    judge,
                )
            except _Expired:
                if attempt == 2:
                    raise self._reauthorise(
                        request, "the token was refused right after a refresh (HTTP 401)"
                    ) from None
                self._refresh()
        raise AssertionError("unreachable")

    def _heed_limits(self, resp: httpx.Response) -> None:
        """VK says on every answer how many requests remain (``X-RateLimit-RPS-Remaining`` and the hourly
        and daily ones): with none left this second, the next request waits a second instead of
        drawing a 429; with none left this hour or day, the sync stops with a clear message."""
        for window, seconds in (("Daily", None), ("Hourly", None), ("RPS", 1.0)):
            left = resp.headers.get(f"X-RateLimit-{window}-Remaining")
            if left is None or not left.strip().lstrip("-").isdigit() or int(left) > 0:
                continue
            if seconds is None:
                raise self.error(
                    "GET",
                    f"VK Ads allows no more requests this {'day' if window == 'Daily' else 'hour'} "
                    f"(X-RateLimit-{window}-Remaining: {left}); sync again later",
                )
            self.stats.waited += seconds
            self._sleep(seconds)
            return

    def campaigns(self) -> list[int]:
        """Every campaign (ad_plan) id of the account, page by page."""
        ids: list[int] = []
        offset = 0
        while True:
            page = self._get(
                "ad_plans.json", {"fields": "id", "limit": str(PAGE), "offset": str(offset)}, "campaigns"
            )
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise self.error(
                    "GET ad_plans.json", f'the answer has no "items" list: {excerpt(json.dumps(page))}'
                )
            try:
                ids.extend(int(i["id"]) for i in items)
            except (TypeError, KeyError, ValueError):
                raise self.error(
                    "GET ad_plans.json", f"an item without a numeric id: {excerpt(json.dumps(items))}"
                ) from None
            offset += len(items)
            if not items or offset >= int(page.get("count") or 0):
                return ids

    def statistics(self, since: dt.date, until: dt.date) -> bytes:
        """Daily statistics of every campaign over ``since..until``, as one ``{"items": […]}`` JSON."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        self._retry = self._policy()
        self._retry.start()
        items: list[Any] = []
        with httpx.Client(timeout=self.timing.timeout, headers={"User-Agent": USER_AGENT}) as http:
            self._http = http
            try:
                ids = self.campaigns()
                for i in range(0, len(ids), MAX_IDS):
                    batch = ",".join(str(x) for x in ids[i : i + MAX_IDS])
                    for a, b in windows(since, until):
                        params = {
                            "id": batch,
                            "date_from": a.isoformat(),
                            "date_to": b.isoformat(),
                            "metrics": "base",
                        }
                        answer = self._get("statistics/ad_plans/day.json", params, f"statistics {a}..{b}")
                        got = answer.get("items") if isinstance(answer, dict) else None
                        if not isinstance(got, list):
                            raise self.error(
                                f"GET statistics/ad_plans/day.json ({a}..{b})",
                                f'the answer has no "items" list: {excerpt(json.dumps(answer))}',
                            )
                        items.extend(got)
            finally:
                self._http = None
        return json.dumps({"items": items}, ensure_ascii=False, indent=1).encode("utf-8")


class _Refused(Exception):
    pass


def _json(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _problem(resp: httpx.Response) -> str:
    data = _json(resp.content)
    err = data.get("error")
    if isinstance(err, dict):
        return " — ".join(str(err[k]) for k in ("code", "message") if err.get(k)) or excerpt(resp.content)
    if isinstance(err, str):
        return " — ".join(x for x in (err, str(data.get("error_description") or "")) if x)
    return excerpt(resp.content) if resp.content.strip() else "(no body)"


def history_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=HISTORY_DAYS)

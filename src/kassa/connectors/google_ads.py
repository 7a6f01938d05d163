"""Google Ads API (REST): daily campaign statistics with ``googleAds:searchStream``, as the JSON the Google
Ads file reader reads.

Request (https://developers.google.com/google-ads/api/rest/common/search, ../shared/research §6.1):
``POST {base}/{API_VERSION}/customers/{customer id}/googleAds:searchStream`` with the GAQL query
:data:`QUERY` in a JSON body and the headers ``Authorization: Bearer <access token>``,
``developer-token`` and, through a manager account, ``login-customer-id`` (digits only; without it a
manager's token gets ``USER_PERMISSION_DENIED``). The answer is a **JSON array** of batches
(``[{"results": [...], "fieldMask", "requestId"}, …]``), int64 values such as ``costMicros`` as
strings; the array is handed whole to :mod:`kassa.sources.google_ads`, which converts micros exactly.

Tokens: the connection's secret holds the developer token, the OAuth client secret and the refresh
token (one JSON object, docs/connections.md); the access token (an hour's life) is obtained from
``POST https://oauth2.googleapis.com/token`` (``grant_type=refresh_token``), kept with its expiry
through the ``save`` hook, reused while valid and refreshed before expiry or after a 401. A refresh
refused (``invalid_grant``: revoked, or a test app's refresh token past its week) names the connection
that needs re-authorising.

Faults: 429 ``RESOURCE_EXHAUSTED`` waits ``retryDelay`` when the error gives one (else jittered
back-off); 5xx, HTML pages, timeouts and dropped connections are retried; an error body may itself
be array-wrapped (``[{"error": …}]``), and both shapes are read.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Counts, Retry, Verdict, done, excerpt, fail, retry, wait
from kassa.connectors.oauth import Tokens
from kassa.connectors.pacing import Clock, Sleep
from kassa.errors import ServiceError

BASE_URL = "https://googleads.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"
API_VERSION = "v21"
NAME = "Google Ads"
EARLY = 120.0
HISTORY_DAYS = 365 * 3
QUERY = (
    "SELECT segments.date, campaign.id, campaign.name, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros, customer.currency_code FROM campaign "
    "WHERE segments.date BETWEEN '{since}' AND '{until}'"
)


@dataclass(frozen=True)
class Secret:
    """What the connection's secret holds: one JSON object with these three keys."""

    developer_token: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)

    @classmethod
    def parse(cls, text: str, connection: str) -> Secret:
        try:
            data = json.loads(text)
            return cls(str(data["developer_token"]), str(data["client_secret"]), str(data["refresh_token"]))
        except (ValueError, KeyError, TypeError):
            raise ServiceError(
                f"{NAME} (connection {connection!r}): the secret is not a JSON object with developer_token, "
                "client_secret and refresh_token (docs/connections.md)"
            ) from None


@dataclass(frozen=True)
class Account:
    connection: str
    customer_id: str
    client_id: str
    secret: Secret = field(repr=False)
    login_customer_id: str | None = None
    base_url: str = BASE_URL
    token_url: str = TOKEN_URL


@dataclass(frozen=True)
class Timing:
    deadline: float = 1800.0
    backoff: float = 2.0
    backoff_cap: float = 60.0
    quota_wait: float = 10.0
    attempts: int = 4
    timeout: float = 300.0


class _Expired(Exception):
    pass


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _error(content: bytes) -> tuple[str, str, float | None]:
    """(status, message, retry delay in seconds) of a Google error body, array-wrapped or not."""
    data = _json(content)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return "", excerpt(content) if content.strip() else "(no body)", None
    message = str(err.get("message") or "")
    delay = None
    for d in err.get("details") or []:
        for e in (d.get("errors") or []) if isinstance(d, dict) else []:
            message = str(e.get("message") or message)
            raw = ((e.get("details") or {}).get("quotaErrorDetails") or {}).get("retryDelay")
            m = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(raw or ""))
            if m:
                delay = float(m[1])
    return str(err.get("status") or ""), message, delay


class Client:
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
        self.account, self.tokens, self.save = account, tokens, save
        self.timing = timing or Timing()
        self.clock, self.wall, self._sleep = clock, wall, sleep
        self.rng = rng or random.Random()
        self.stats = Counts()
        self.refreshed = 0
        s = account.secret
        self._secrets = {s.developer_token, s.client_secret, s.refresh_token}
        if tokens:
            self._secrets.add(tokens.access_token)
        self._retry = self._policy()

    def error(self, request: str, problem: str) -> ServiceError:
        def scrub(text: str) -> str:
            for s in sorted(self._secrets, key=len, reverse=True):
                if s:
                    text = text.replace(s, "***")
            return text

        return m.service_error(NAME, self.account.connection, request, problem, scrub)

    def _reauthorise(self, request: str, problem: str) -> ServiceError:
        c = self.account.connection
        return self.error(request, m.Said(m.REAUTH_GOOGLE, problem=problem, name=repr(c), connection=c))

    def _policy(self) -> Retry:
        t = self.timing
        return Retry(
            attempts=t.attempts, backoff=t.backoff, cap=t.backoff_cap, wait_base=t.quota_wait,
            waits_use_attempts=False, deadline=t.deadline,
            deadline_hint=m.Said(m.LATER),
            clock=self.clock, sleep=self._sleep, rng=self.rng, counts=self.stats,
        )  # fmt: skip

    def _refresh(self, http: httpx.Client) -> str:
        request = f"POST {self.account.token_url} (token refresh)"
        form = {"grant_type": "refresh_token", "refresh_token": self.account.secret.refresh_token,
                "client_id": self.account.client_id, "client_secret": self.account.secret.client_secret}  # fmt: skip

        def judge(resp: httpx.Response) -> Verdict:
            data = _json(resp.content)
            if (
                resp.status_code == 200
                and isinstance(data, dict)
                and isinstance(data.get("access_token"), str)
            ):
                try:
                    expires = float(str(data.get("expires_in") or 3600))
                except ValueError:
                    expires = 3600.0
                return done(Tokens(data["access_token"], "", self.wall() + expires))
            if resp.status_code >= 500 or resp.status_code == 429:
                return retry(f"HTTP {resp.status_code} {excerpt(resp.content)}")
            what = data.get("error") if isinstance(data, dict) else None
            return fail(
                self._reauthorise(
                    request,
                    f"the token refresh was refused (HTTP {resp.status_code} {what or excerpt(resp.content)})",
                )
            )

        self.refreshed += 1
        tokens: Tokens = self._retry.send(
            lambda: http.post(self.account.token_url, data=form), judge, lambda p: self.error(request, p),
            timeout=self.timing.timeout,
        )  # fmt: skip
        self.tokens = tokens
        self._secrets.add(tokens.access_token)
        self.save(tokens)
        return tokens.access_token

    def statistics(self, since: dt.date, until: dt.date) -> bytes:
        """The searchStream answer (a JSON array of batches) for ``since..until``."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        self._retry = self._policy()
        self._retry.start()
        a = self.account
        url = f"{a.base_url.rstrip('/')}/{API_VERSION}/customers/{a.customer_id}/googleAds:searchStream"
        request = f"POST {url} ({since}..{until})"
        body = {"query": QUERY.format(since=since.isoformat(), until=until.isoformat())}

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code == 200:
                data = _json(resp.content)
                if isinstance(data, list) and all(isinstance(b, dict) for b in data):
                    if data and "error" in data[0]:  # a stream that failed part-way
                        return fail(self.error(request, _error(resp.content)[1]))
                    return done(data)
                if data is None:
                    return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
                return fail(
                    self.error(request, f"expected a JSON array of batches, got {excerpt(resp.content)}")
                )
            status, message, delay = _error(resp.content)
            problem = f"HTTP {resp.status_code}" + (f" {status}: {message}" if status else f" {message}")
            if resp.status_code == 401:
                return fail(_Expired())
            if resp.status_code == 429 or status == "RESOURCE_EXHAUSTED":
                return wait(m.Said(m.QUOTA, service="Google Ads", problem=problem), delay)
            if resp.status_code == 403:
                refused = f"access refused ({problem})"
                if "login-customer-id" in message or "manager" in message.lower():
                    return fail(self.error(request, m.Said(m.NEEDS_MANAGER, problem=refused)))
                return fail(self.error(request, refused))
            if resp.status_code >= 500:
                return retry(problem)
            return fail(self.error(request, problem))

        batches = self._authorised(url, body, request, judge, idempotent=True)
        return json.dumps(batches, ensure_ascii=False, indent=1).encode("utf-8")

    def _authorised(
        self,
        url: str,
        body: Any,
        request: str,
        judge: Callable[[httpx.Response], Verdict],
        *,
        idempotent: bool,
    ) -> Any:
        """POST ``body`` with a valid access token (refreshed before expiry, and once after a 401)."""
        a = self.account
        self._retry.idempotent = idempotent
        with httpx.Client(timeout=self.timing.timeout, headers={"User-Agent": USER_AGENT}) as http:
            for attempt in (1, 2):
                token = self.tokens.access_token if self.tokens else ""
                if not token or (self.tokens and self.tokens.expires_at - EARLY <= self.wall()):
                    token = self._refresh(http)
                headers = {"Authorization": f"Bearer {token}", "developer-token": a.secret.developer_token}
                if a.login_customer_id:
                    headers["login-customer-id"] = a.login_customer_id
                try:
                    return self._retry.send(
                        lambda headers=headers: http.post(url, json=body, headers=headers),  # type: ignore[misc]
                        judge,
                        lambda p: self.error(request, p),
                        timeout=self.timing.timeout,
                    )
                except _Expired:
                    if attempt == 2:
                        raise self._reauthorise(
                            request, "the access token was refused right after a refresh (HTTP 401)"
                        ) from None
                    self.tokens = None
                    continue
        raise AssertionError("unreachable")

    def upload_click_conversions(self, conversions: list[dict[str, Any]]) -> dict[str, Any]:
        """``POST customers/{id}:uploadClickConversions`` with ``partialFailure: true`` (Google requires it);
        the answer (``results`` in the order sent, empty for a refused row; ``partialFailureError``).

        Not retried after a timeout (it may have counted): ``orderId`` keeps a second send from counting
        twice (Google's click-conversion dedup), and kassa's log sends only what is new.
        """
        self._retry = self._policy()
        self._retry.start()
        a = self.account
        url = f"{a.base_url.rstrip('/')}/{API_VERSION}/customers/{a.customer_id}:uploadClickConversions"
        request = f"POST {url} ({len(conversions)} conversions)"
        body = {"conversions": conversions, "partialFailure": True}

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code == 200:
                data = _json(resp.content)
                if isinstance(data, dict):
                    return done(data)
                return retry(f"HTTP 200 but not a JSON object: {excerpt(resp.content)}")
            status, message, delay = _error(resp.content)
            problem = f"HTTP {resp.status_code}" + (f" {status}: {message}" if status else f" {message}")
            if resp.status_code == 401:
                return fail(_Expired())
            if resp.status_code == 429 or status == "RESOURCE_EXHAUSTED":
                return wait(m.Said(m.QUOTA, service="Google Ads", problem=problem), delay)
            if resp.status_code >= 500:
                return retry(problem)
            return fail(self.error(request, problem))

        answer: dict[str, Any] = self._authorised(url, body, request, judge, idempotent=False)
        return answer


def digits(customer_id: str) -> str:
    """``123-456-7890`` -> ``1234567890`` (the API takes ids without hyphens)."""
    return customer_id.replace("-", "").strip()


def history_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=HISTORY_DAYS)

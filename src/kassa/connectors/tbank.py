"""T-Bank (ex-Tinkoff) Business, T-API: an account's statement, page by page, as the operations the
1C statement reader loads (:mod:`kassa.connectors.statement`).

The protocol (../shared/research/api-protocols.md §8.1, https://developer.tbank.ru/docs/api/get-api-v-1-statement):
``GET {base}/api/v1/statement?accountNumber=<20 digits>&from=<ISO 8601 UTC>&to=…&limit=…[&cursor=…]``
with ``Authorization: Bearer <token>`` (a T-Business API token with the "accounts and statements"
scope). When not every operation fits, the answer carries ``nextCursor``: ask again with
``cursor=<nextCursor>`` until there is none. ``from``/``to`` are the Moscow midnights bounding the days
asked for (a Russian bank's statement day), sent in UTC. T-Bank keeps statements since June 2023.

Operation fields read (the names of the OpenAPI schema as far as §8.1 could confirm them; §9 lists
them as open): ``operationId``, ``operationDate`` (the day credited/debited, taken in Moscow time),
``typeOfOperation`` ``Credit``/``Debit``, ``accountAmount`` (else ``operationAmount``), ``documentNumber``,
``documentDate`` (else the operation's day), ``payPurpose``, and ``counterParty`` ``{name, inn, kpp,
account, bankBic}``.

Faults: 429 waits the ``Retry-After`` seconds (else backs off; T-Bank allows 20 requests a second,
which :data:`RATE` keeps to); 5xx, a dropped connection and an answer that is not JSON are retried;
401/403 name the connection to re-authorise; a page repeating a cursor already followed is refused
(it would loop for ever).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Counts, Retry, Verdict, done, excerpt, fail, retry, wait
from kassa.connectors.pacing import Clock, RateLimit, Sleep
from kassa.connectors.statement import Operation, amount, is_account, loads
from kassa.errors import ServiceError

BASE_URL = "https://business.tbank.ru/openapi"
NAME = "T-Bank"
FIRST_DAY = dt.date(2023, 6, 1)  # the statement API has nothing earlier
PAGE = 1000
RATE = (20, 1.0)  # requests per seconds
MOSCOW = ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class Account:
    connection: str
    account: str  # our account, 20 digits
    token: str = field(repr=False)
    base_url: str = BASE_URL


@dataclass(frozen=True)
class Timing:
    deadline: float = 1800.0
    backoff: float = 1.0
    backoff_cap: float = 60.0
    attempts: int = 4
    timeout: float = 60.0


def utc_midnight(day: dt.date) -> str:
    at = dt.datetime.combine(day, dt.time(), MOSCOW).astimezone(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def moscow_day(text: str) -> dt.date | None:
    try:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return (at.astimezone(MOSCOW) if at.tzinfo else at).date()


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

    def error(self, request: str, problem: str) -> ServiceError:
        token = self.account.token
        return m.service_error(
            NAME, self.account.connection, request, problem, lambda t: t.replace(token, "***") if token else t
        )

    def _policy(self) -> Retry:
        t = self.timing
        return Retry(
            attempts=t.attempts, backoff=t.backoff, cap=t.backoff_cap, waits_use_attempts=False,
            deadline=t.deadline, deadline_hint=m.Said(m.LATER),
            limit=RateLimit(*RATE, clock=self.clock, sleep=self._sleep),
            clock=self.clock, sleep=self._sleep, rng=self.rng, counts=self.stats,
        )  # fmt: skip

    def _judge(self, request: str, resp: httpx.Response) -> Verdict:
        problem = f"HTTP {resp.status_code} {excerpt(resp.content) if resp.content.strip() else '(no body)'}"
        if resp.status_code == 429:
            after = resp.headers.get("retry-after", "")
            return wait(m.Said(m.TOO_MANY, problem=problem), float(after) if after.isdigit() else None)
        if resp.status_code in (401, 403):
            return fail(self.error(request, m.Said(m.REAUTH_BANK, problem=problem, service="tbank",
                                                   name=repr(self.account.connection),
                                                   connection=self.account.connection,
                                                   account=self.account.account)))  # fmt: skip
        if resp.status_code >= 500:
            return retry(problem)
        if resp.status_code != 200:
            return fail(self.error(request, problem))
        try:
            data = loads(resp.content)
        except ValueError:
            return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
        if not isinstance(data, dict) or not isinstance(data.get("operations", []), list):
            return fail(
                self.error(
                    request, f'expected an object with an "operations" list, got {excerpt(resp.content)}'
                )
            )
        return done(data)

    def operations(self, since: dt.date, until: dt.date) -> list[Operation]:
        """Every operation of our account credited or debited on ``since..until`` (Moscow days)."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        policy = self._policy()
        policy.start()
        url = f"{self.account.base_url.rstrip('/')}/api/v1/statement"
        params = {"accountNumber": self.account.account, "from": utc_midnight(since),
                  "to": utc_midnight(until + dt.timedelta(days=1)), "limit": str(PAGE)}  # fmt: skip
        headers = {"Authorization": f"Bearer {self.account.token}", "User-Agent": USER_AGENT}
        out: list[Operation] = []
        followed: set[str] = set()
        with httpx.Client(timeout=self.timing.timeout) as http:
            while True:
                request = f"GET {url} ({since}..{until}" + (
                    f", cursor {params['cursor']})" if "cursor" in params else ")"
                )
                data = self._page(http, policy, url, dict(params), headers, request)
                out += [self._operation(request, op, i) for i, op in enumerate(data.get("operations") or [])]
                cursor = data.get("nextCursor")
                if not cursor:
                    return out
                if str(cursor) in followed:
                    raise self.error(
                        request, f"nextCursor {str(cursor)!r} was already followed; the pages loop"
                    )
                followed.add(str(cursor))
                params["cursor"] = str(cursor)

    def _page(
        self, http: httpx.Client, policy: Retry, url: str, query: dict[str, str], headers: dict[str, str],
        request: str,
    ) -> dict[str, Any]:  # fmt: skip
        page: dict[str, Any] = policy.send(
            lambda: http.get(url, params=query, headers=headers),
            lambda r: self._judge(request, r),
            lambda p: self.error(request, p),
            timeout=self.timing.timeout,
        )
        return page

    def _operation(self, request: str, op: Any, index: int) -> Operation:
        if not isinstance(op, dict):
            raise self.error(request, f"operations[{index}] is not an object")
        who = f"operation {op.get('operationId') or f'#{index}'}"

        def bad(name: str, why: str) -> ServiceError:
            return self.error(request, f"{who}: {name} {excerpt(str(op.get(name)))} {why}")

        kind = op.get("typeOfOperation")
        if kind not in ("Credit", "Debit"):
            raise bad("typeOfOperation", "is neither Credit nor Debit")
        day = moscow_day(str(op.get("operationDate") or ""))
        if day is None:
            raise bad("operationDate", "is not an ISO 8601 date and time")
        key = "accountAmount" if op.get("accountAmount") is not None else "operationAmount"
        money = amount(op.get(key))
        if money is None:
            raise bad(key, "is not a positive amount in whole kopecks")
        date = day
        if op.get("documentDate"):
            doc_day = moscow_day(str(op["documentDate"]))
            if doc_day is None:
                raise bad("documentDate", "is not an ISO 8601 date")
            date = doc_day
        them = op.get("counterParty") or {}
        if not isinstance(them, dict):
            raise bad("counterParty", "is not an object")
        return Operation(
            incoming=kind == "Credit", day=day, date=date, number=str(op.get("documentNumber") or ""),
            amount=money, purpose=str(op.get("payPurpose") or ""), name=str(them.get("name") or ""),
            inn=str(them.get("inn") or ""), kpp=str(them.get("kpp") or ""),
            account=str(them.get("account") or ""), bic=str(them.get("bankBic") or ""),
        )  # fmt: skip


def check_account(text: str) -> str:
    """``--account`` of a T-Bank connection: our 20-digit account (spaces allowed)."""
    account = text.replace(" ", "")
    if not is_account(account):
        raise ValueError("the account's 20 digits, e.g. --account 40702810010000012345")
    return account


def history_start(today: dt.date) -> dt.date:
    return max(FIRST_DAY, today - dt.timedelta(days=3 * 365))

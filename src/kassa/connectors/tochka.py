"""Tochka Open Banking: an account's statement, built by the bank on request, as the operations the 1C
statement reader loads (:mod:`kassa.connectors.statement`).

The flow (../shared/research/api-protocols.md §8.2, https://developers.tochka.com/docs/tochka-api/opisanie-metodov/vypiski):

1. ``POST {base}/open-banking/v1.0/statements`` with ``{"Data": {"Statement": {"accountId":
   "<account>/<BIC>", "startDateTime": "YYYY-MM-DD", "endDateTime": "YYYY-MM-DD"}}}`` ->
   ``Data.Statement.statementId``;
2. ``GET {base}/open-banking/v1.0/accounts/{accountId}/statements/{statementId}`` until
   ``Data.Statement[0].status`` is ``Ready`` (``Created``/``Processing``: waits from
   :attr:`Timing.poll_first`, doubling up to :attr:`Timing.poll_cap`, within the deadline — a
   statement that stays ``Processing`` fails the sync saying so, and the next sync asks again);
3. the ``Ready`` answer holds the operations, ``Data.Statement[0].Transaction[]``.

Tochka deletes a statement 24 hours after it was built: a 404 while waiting for it starts it once
more (then fails). ``Authorization: Bearer <token>`` (an OAuth access token with the ``ReadStatements``
permission, or the JWT key issued in the internet bank); 401/403 name the connection to re-authorise;
429 waits ``Retry-After`` (else backs off); 5xx and answers that are not JSON are retried.

Transaction fields read: ``creditDebitIndicator`` ``Credit``/``Debit``, ``Amount.amount`` (a JSON
float, read from its text: :func:`kassa.connectors.statement.loads`), ``documentProcessDate`` (the day
credited/debited), ``documentNumber``, ``documentDate`` (else that day; not confirmed by §8.2),
``description`` (the purpose) and the counterparty — for money in the debtor, for money out the
creditor: ``DebtorParty``/``CreditorParty`` ``{inn, kpp, name}``, ``…Account.identification``,
``…Agent.identification`` (the BIC).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Counts, Retry, Verdict, done, excerpt, fail, poll, retry, wait
from kassa.connectors.pacing import Clock, Sleep
from kassa.connectors.statement import Operation, amount, loads
from kassa.errors import ServiceError

BASE_URL = "https://enter.tochka.com/uapi"
NAME = "Tochka"
HISTORY_DAYS = 365  # a first sync's statement: the last year
ACCOUNT_ID = re.compile(r"^(\d{20})/(\d{9})$")


@dataclass(frozen=True)
class Account:
    connection: str
    account_id: str  # "<20 digits>/<BIC>", as Tochka names an account
    token: str = field(repr=False)
    base_url: str = BASE_URL

    @property
    def number(self) -> str:
        return self.account_id.split("/")[0]


@dataclass(frozen=True)
class Timing:
    deadline: float = 600.0
    poll_first: float = 3.0
    poll_cap: float = 30.0
    backoff: float = 1.0
    backoff_cap: float = 60.0
    attempts: int = 4
    timeout: float = 60.0
    restarts: int = 1  # statements started again after Tochka deleted one (404) while waiting


class _Gone(Exception):
    """The statement is not there any more (deleted after 24 hours): start it again."""

    def __init__(self, error: ServiceError) -> None:
        self.error = error


def _day(text: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


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
        self.root = f"{account.base_url.rstrip('/')}/open-banking/v1.0"

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
            clock=self.clock, sleep=self._sleep, rng=self.rng, counts=self.stats,
        )  # fmt: skip

    def _faults(self, request: str, resp: httpx.Response, gone: bool) -> Verdict:
        problem = f"HTTP {resp.status_code} {excerpt(resp.content) if resp.content.strip() else '(no body)'}"
        if resp.status_code == 429:
            after = resp.headers.get("retry-after", "")
            return wait(m.Said(m.TOO_MANY, problem=problem), float(after) if after.isdigit() else None)
        if resp.status_code in (401, 403):
            return fail(self.error(request, m.Said(m.REAUTH_BANK, problem=problem, service="tochka",
                                                   name=repr(self.account.connection),
                                                   connection=self.account.connection,
                                                   account=self.account.account_id)))  # fmt: skip
        if resp.status_code == 404 and gone:
            return fail(_Gone(self.error(request, problem + " (the statement was deleted)")))
        if resp.status_code >= 500:
            return retry(problem)
        return fail(self.error(request, problem))

    def _call(self, http: httpx.Client, policy: Retry, method: str, url: str, what: str,
              body: dict[str, Any] | None, read: Any, gone: bool = False) -> Any:  # fmt: skip
        request = f"{method} {url} ({what})"
        headers = {"Authorization": f"Bearer {self.account.token}", "User-Agent": USER_AGENT}
        content = None if body is None else json.dumps(body).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"

        def judge(resp: httpx.Response) -> Verdict:
            if resp.status_code != 200:
                return self._faults(request, resp, gone)
            try:
                data = loads(resp.content)
            except ValueError:
                return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
            inner = data.get("Data") if isinstance(data, dict) else None
            statement = inner.get("Statement") if isinstance(inner, dict) else None
            if statement is None:
                return fail(self.error(request, f"no Data.Statement in {excerpt(resp.content)}"))
            verdict: Verdict = read(statement, request)
            return verdict

        return policy.send(
            lambda: http.request(method, url, content=content, headers=headers), judge,
            lambda p: self.error(request, p), timeout=self.timing.timeout,
        )  # fmt: skip

    def operations(self, since: dt.date, until: dt.date) -> list[Operation]:
        """Every operation of the account credited or debited on ``since..until``."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        policy = self._policy()
        policy.start()
        with httpx.Client(timeout=self.timing.timeout) as http:
            for attempt in range(self.timing.restarts + 1):
                try:
                    return self._one(http, policy, since, until)
                except _Gone as exc:
                    if attempt == self.timing.restarts:
                        raise exc.error from None
        raise AssertionError("unreachable")

    def _one(self, http: httpx.Client, policy: Retry, since: dt.date, until: dt.date) -> list[Operation]:
        polls = 0

        def started(st: Any, request: str) -> Verdict:
            sid = st.get("statementId") if isinstance(st, dict) else None
            return done(str(sid)) if sid else fail(self.error(request, f"no statementId: {excerpt(str(st))}"))

        def ready(st: Any, request: str) -> Verdict:
            nonlocal polls
            first = st[0] if isinstance(st, list) and st and isinstance(st[0], dict) else None
            if first is None:
                return fail(self.error(request, "Data.Statement is not a list of statements"))
            state = str(first.get("status"))
            if state == "Ready":
                return done(first)
            if state in ("Created", "Processing"):
                polls += 1
                seconds = min(self.timing.poll_cap, self.timing.poll_first * 2 ** (polls - 1))
                return poll(seconds, m.Said(m.STATEMENT_NOT_READY, state=state))
            return fail(self.error(request, f"the statement's status is {state!r}"))

        body = {"Data": {"Statement": {"accountId": self.account.account_id,
                                       "startDateTime": since.isoformat(), "endDateTime": until.isoformat()}}}  # fmt: skip
        sid = self._call(http, policy, "POST", f"{self.root}/statements", f"start the statement {since}..{until}",
                         body, started)  # fmt: skip
        url = f"{self.root}/accounts/{self.account.account_id}/statements/{sid}"
        request = f"GET {url}"
        got = self._call(http, policy, "GET", url, f"statement {sid}", None, ready, gone=True)
        found = got.get("Transaction") or []
        if not isinstance(found, list):
            raise self.error(request, "Transaction is not a list")
        return [self._operation(request, t, i) for i, t in enumerate(found)]

    def _operation(self, request: str, t: Any, index: int) -> Operation:
        if not isinstance(t, dict):
            raise self.error(request, f"Transaction[{index}] is not an object")
        who = f"transaction {t.get('transactionId') or f'#{index}'}"

        def bad(name: str, value: Any, why: str) -> ServiceError:
            return self.error(request, f"{who}: {name} {excerpt(str(value))} {why}")

        kind = t.get("creditDebitIndicator")
        if kind not in ("Credit", "Debit"):
            raise bad("creditDebitIndicator", kind, "is neither Credit nor Debit")
        day = _day(t.get("documentProcessDate"))
        if day is None:
            raise bad("documentProcessDate", t.get("documentProcessDate"), "is not a date YYYY-MM-DD")
        given = (t.get("Amount") or {}).get("amount") if isinstance(t.get("Amount"), dict) else None
        money = amount(given)
        if money is None:
            raise bad("Amount.amount", given, "is not a positive amount in whole kopecks")
        date = _day(t["documentDate"]) if t.get("documentDate") else day
        if date is None:
            raise bad("documentDate", t.get("documentDate"), "is not a date YYYY-MM-DD")
        side = "Debtor" if kind == "Credit" else "Creditor"
        party, acct, agent = (t.get(f"{side}{k}") or {} for k in ("Party", "Account", "Agent"))
        if not all(isinstance(x, dict) for x in (party, acct, agent)):
            raise bad(f"{side}Party", party, "is not an object")
        return Operation(
            incoming=kind == "Credit", day=day, date=date, number=str(t.get("documentNumber") or ""),
            amount=money, purpose=str(t.get("description") or ""), name=str(party.get("name") or ""),
            inn=str(party.get("inn") or ""), kpp=str(party.get("kpp") or ""),
            account=str(acct.get("identification") or ""), bic=str(agent.get("identification") or ""),
        )  # fmt: skip


def check_account(text: str) -> str:
    """``--account`` of a Tochka connection: ``<20 digits>/<BIC>``, as Tochka names the account."""
    account_id = text.replace(" ", "")
    if not ACCOUNT_ID.match(account_id):
        raise ValueError("the account and the bank's BIC, e.g. --account 40702810010000012345/044525104")
    return account_id


def history_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=HISTORY_DAYS)

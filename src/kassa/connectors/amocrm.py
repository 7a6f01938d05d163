"""amoCRM API v4 (Kommo serves the same API): the leads updated over some days, with their contacts'
phones and e-mails and the account's pipelines, as the API v4 JSON the amoCRM file reader reads
(:mod:`kassa.sources.amocrm`) — so a sync loads exactly what importing the same JSON as a file loads.

**Tokens** (../shared/research/api-protocols.md §3.1): either a long-lived token (``--token-stdin``;
no refresh exists for it, and the official SDK refuses to try), or OAuth 2.0: ``kassa connect amocrm
--client-id … --client-secret-stdin --auth-code … --redirect-uri …`` exchanges the authorization code
at ``POST {account}/oauth2/access_token`` (a JSON body, ``grant_type=authorization_code``) for an
access token (24 h) and a refresh token (3 months, **single-use**: every refresh returns a new one and
retires the old). The pair lives in the secrets file beside the warehouse; a token due to expire
within :data:`EARLY` seconds, or refused with 401 mid-sync, is refreshed.

Why the refresh holds a lock and re-reads the pair (§3.5, the refresh-token race): two syncs of one
connection at once (cron and the dashboard's button) would both send the same refresh token; amoCRM
honours the first and answers the second 401 "Token has been revoked" — and the connection needs a
person to re-authorise it. So the refresh runs under the secrets file's lock (the ``keeper``'s
``lock``), re-reads the saved pair after taking it, and when another sync has already refreshed, takes
that pair instead of sending a retired token; the new pair is saved before the lock is let go. A
refresh amoCRM refuses names the connection to re-authorise.

**Leads** (§3.2): ``GET /api/v4/leads?limit=250&with=contacts&filter[updated_at][from]=<unix>&
filter[updated_at][to]=<unix>&order[updated_at]=asc``, then each ``_links.next.href`` until there is
none. The days are Moscow days (a Russian account's; the look-back overlap covers an account set to
another zone). HTTP 204 with no body is "no leads", not an error (§3.5). A lead met twice (pages shift
while leads are being edited) is kept once, in its latest state. A ``next`` link to another host than
the account's is refused: the token is never sent elsewhere.

**Contacts**: ``with=contacts`` gives each lead its contacts' ids (and ``is_main``); their phones and
e-mails come from ``GET /api/v4/contacts?filter[id][]=…`` (:data:`IDS` ids a request) and are put into
the lead's ``_embedded.contacts[].custom_fields_values`` — the ``PHONE`` and ``EMAIL`` fields only,
where the file reader finds them and hashes them as for a file. The UTM and Metrica ClientID fields
(``tracking_data``, §3.2) are the lead's own custom fields and pass as they came.

**Pipelines** (§3.3): ``GET /api/v4/leads/pipelines`` names every status. Statuses 142 (won) and 143
(lost) need nothing; the user's stage mapping (``--mapping stages.yaml``, the one a file import takes)
may name stages by name, as the UI export shows them: :func:`reader_mapping` adds each status id under
the rule of its name, so the same mapping works for the API's ids.

**Faults** (§3.4, §3.5): at most :data:`RATE` requests a second (amoCRM's 7 per integration); 429
(whose body is not JSON) backs off and asks again, as do 5xx and a dropped connection; the HTML page
an amoCRM account shows when it is blocked (instead of JSON) stops the sync with an error naming the
service, the request and what came; 401 refreshes once (OAuth) or names the connection to re-authorise
(a long-lived token). No secret (client secret, access or refresh token, code) appears in a message.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx2 as httpx

from kassa.connectors import messages as m
from kassa.connectors.http import USER_AGENT, Counts, Retry, Verdict, done, excerpt, fail, retry, wait
from kassa.connectors.oauth import Tokens
from kassa.connectors.pacing import Clock, RateLimit, Sleep
from kassa.errors import ServiceError
from kassa.sources.crm_mapping import CrmMapping

NAME = "amoCRM"
PAGE = 250  # the most leads a page holds (§3.2)
IDS = 100  # contact ids per request: keeps the URL short (filter[id][]=… repeated)
RATE = (7, 1.0)  # requests per seconds, per integration (§3.4)
EARLY = 300.0  # refresh a token this many seconds before it expires
FIRST_DAY = dt.date(2012, 1, 1)  # before amoCRM's API v4 existed: a first sync reads every lead
MOSCOW = ZoneInfo("Europe/Moscow")
CONTACT_FIELDS = ("PHONE", "EMAIL")
_HOST = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Account:
    """One amoCRM account as a connection reaches it. ``client_id`` empty: a long-lived ``token``."""

    connection: str
    base_url: str  # https://shop.amocrm.ru (or --base-url): the API and the token endpoint
    subdomain: str = ""  # shop.amocrm.ru, as given at connect (for messages)
    client_id: str = ""
    client_secret: str = field(repr=False, default="")
    redirect_uri: str = ""
    token: str = field(repr=False, default="")  # a long-lived token

    @property
    def oauth(self) -> bool:
        return bool(self.client_id)


@dataclass(frozen=True)
class Keeper:
    """Where the OAuth pair is kept: ``load`` the saved pair, ``save`` a new one, ``lock`` the file."""

    load: Callable[[], Tokens | None]
    save: Callable[[Tokens], None]
    lock: Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class Timing:
    deadline: float = 1800.0
    backoff: float = 1.0
    backoff_cap: float = 60.0
    attempts: int = 4
    timeout: float = 30.0


def account_host(text: str) -> str:
    """``--subdomain`` as a host: ``shop`` → ``shop.amocrm.ru``; ``shop.kommo.com`` stays as given."""
    host = text.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if "." not in host:
        host = f"{host}.amocrm.ru"
    first = host.split(".", 1)[0]
    if not _HOST.match(first) or not host.endswith((".amocrm.ru", ".amocrm.com", ".kommo.com")):
        raise ValueError("the account's subdomain, e.g. --subdomain shop (for shop.amocrm.ru)")
    return host


def moscow_midnight(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), MOSCOW).timestamp())


class _Expired(Exception):
    """A 401 on an API call: refresh the token (OAuth) and ask again."""


class _Refused(Exception):
    """The token endpoint refused the request (a 4xx)."""


class Client:
    """Leads of one amoCRM account; for OAuth, ``keeper`` keeps the pair (module docstring)."""

    def __init__(
        self,
        account: Account,
        keeper: Keeper | None = None,
        timing: Timing | None = None,
        *,
        clock: Clock = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.account = account
        self.keeper = keeper
        self.timing = timing or Timing()
        self.clock, self.wall, self._sleep = clock, wall, sleep
        self.rng = rng or random.Random()
        self.stats = Counts()
        self.refreshed = 0
        self.tokens = keeper.load() if keeper and account.oauth else None
        # Every secret this client has held: a token echoed in an answer is scrubbed from messages.
        self._secrets = {account.client_secret, account.token}
        if self.tokens:
            self._secrets |= {self.tokens.access_token, self.tokens.refresh_token}
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
        c, a = self.account.connection, self.account
        if a.oauth:
            said = m.Said(m.REAUTH_AMO, problem=problem, name=repr(c), connection=c,
                          subdomain=a.subdomain or "…", client_id=a.client_id)  # fmt: skip
        else:
            said = m.Said(m.REAUTH_AMO_TOKEN, problem=problem, name=repr(c), connection=c,
                          subdomain=a.subdomain or "…")  # fmt: skip
        return self.error(request, said)

    def _policy(self) -> Retry:
        t = self.timing
        return Retry(
            attempts=t.attempts, backoff=t.backoff, cap=t.backoff_cap, waits_use_attempts=False,
            deadline=t.deadline, deadline_hint=m.Said(m.LATER),
            limit=RateLimit(*RATE, clock=self.clock, sleep=self._sleep),
            clock=self.clock, sleep=self._sleep, rng=self.rng, counts=self.stats,
        )  # fmt: skip

    def _session(self) -> AbstractContextManager[httpx.Client]:
        return httpx.Client(timeout=self.timing.timeout, headers={"User-Agent": USER_AGENT})

    # -- tokens --------------------------------------------------------------------------------------
    def _token_call(self, body: dict[str, str], what: str) -> Tokens:
        url = f"{self.account.base_url.rstrip('/')}/oauth2/access_token"
        request = f"POST {url} ({what})"
        http = self._http
        assert http is not None

        def judge(resp: httpx.Response) -> Verdict:
            data = _json(resp.content)
            if resp.status_code == 200 and isinstance(data.get("access_token"), str):
                try:
                    expires_in = float(data.get("expires_in") or 0)
                except (TypeError, ValueError):
                    return fail(self.error(request, f"expires_in is not a number: {excerpt(str(data))}"))
                return done(
                    Tokens(
                        data["access_token"], str(data.get("refresh_token") or ""), self.wall() + expires_in
                    )
                )
            if resp.status_code == 429:
                return wait(m.Said(m.TOO_MANY, problem=_problem(resp)))
            if resp.status_code >= 500 or resp.status_code == 200:
                return retry(_problem(resp))
            return fail(_Refused(_problem(resp)))

        try:
            tokens: Tokens = self._retry.send(
                lambda: http.post(url, json=body), judge, lambda p: self.error(request, p),
                timeout=self.timing.timeout,
            )  # fmt: skip
        except _Refused as exc:
            raise self._reauthorise(request, m.Said(m.AMO_REFUSED, what=what, problem=str(exc))) from None
        self._secrets |= {tokens.access_token, tokens.refresh_token}
        return tokens

    def exchange(self, code: str) -> Tokens:
        """The pair for an authorization code (``kassa connect``), saved through the keeper."""
        self._secrets.add(code)
        a = self.account
        with self._session() as http:
            self._http = http
            try:
                tokens = self._token_call(
                    {"client_id": a.client_id, "client_secret": a.client_secret,
                     "grant_type": "authorization_code", "code": code, "redirect_uri": a.redirect_uri},
                    "authorization code",
                )  # fmt: skip
            finally:
                self._http = None
        self.tokens = tokens
        if self.keeper is not None:
            self.keeper.save(tokens)
        return tokens

    def _refresh(self, stale: Tokens) -> None:
        """Replace ``stale`` by a new pair, under the lock, unless another sync already did (docstring)."""
        assert self.keeper is not None
        with self.keeper.lock():
            saved = self.keeper.load()
            if saved is not None and saved.refresh_token != stale.refresh_token:
                self.tokens = saved  # refreshed meanwhile by another sync: its pair is the live one
                self._secrets |= {saved.access_token, saved.refresh_token}
                return
            if not stale.refresh_token:
                raise self._reauthorise("token refresh", "the stored pair has no refresh token")
            a = self.account
            self.refreshed += 1
            tokens = self._token_call(
                {"client_id": a.client_id, "client_secret": a.client_secret, "grant_type": "refresh_token",
                 "refresh_token": stale.refresh_token, "redirect_uri": a.redirect_uri},
                "token refresh",
            )  # fmt: skip
            self.keeper.save(tokens)  # at once, still locked: amoCRM has already retired the old pair
            self.tokens = tokens

    def _access_token(self) -> str:
        if not self.account.oauth:
            return self.account.token
        if self.tokens is None:
            raise self._reauthorise("token", "no token pair is saved for it")
        if self.tokens.expires_at and self.tokens.expires_at - EARLY <= self.wall():
            self._refresh(self.tokens)
        assert self.tokens is not None
        return self.tokens.access_token

    # -- API calls -----------------------------------------------------------------------------------
    def _get(self, url: str, params: list[tuple[str, str]] | None, what: str) -> dict[str, Any] | None:
        """``GET url`` (JSON object) with the access token; None for 204 (nothing); 401 refreshes once."""
        request = f"GET {url} ({what})"
        http = self._http
        assert http is not None

        def judge(resp: httpx.Response) -> Verdict:
            status = resp.status_code
            if status == 204:
                return done(None)  # "no rows" (§3.2), with no body to parse
            if status == 429:  # its body is not JSON (§3.4): the status says it all
                after = resp.headers.get("retry-after", "").strip()
                return wait(
                    m.Said(m.TOO_MANY, problem=_problem(resp)), float(after) if after.isdigit() else None
                )
            if status >= 500:
                return retry(_problem(resp))
            if _is_html(resp):  # an account blocked (or unpaid) shows a page instead of JSON (§3.4)
                return fail(self.error(request, m.Said(m.AMO_BLOCKED, status=str(status),
                                                       excerpt=excerpt(_page_text(resp.content)))))  # fmt: skip
            if status == 401:
                return fail(_Expired(_problem(resp)))
            if status != 200:
                return fail(self.error(request, _problem(resp)))
            try:
                data = json.loads(resp.content)
            except ValueError:
                return retry(f"HTTP 200 but not JSON: {excerpt(resp.content)}")
            if not isinstance(data, dict):
                return fail(self.error(request, f"expected a JSON object, got {excerpt(resp.content)}"))
            return done(data)

        for attempt in (1, 2):
            token = self._access_token()
            try:
                answer: dict[str, Any] | None = self._retry.send(
                    lambda token=token: http.get(  # type: ignore[misc]
                        url,
                        params=None if params is None else tuple(params),
                        headers={"Authorization": f"Bearer {token}"},
                    ),
                    judge,
                    lambda p: self.error(request, p),
                    timeout=self.timing.timeout,
                )
                return answer
            except _Expired as exc:
                if not self.account.oauth:
                    raise self._reauthorise(request, f"the token was refused ({exc})") from None
                if attempt == 2:
                    raise self._reauthorise(
                        request, f"the token was refused right after a refresh ({exc})"
                    ) from None
                assert self.tokens is not None
                self._refresh(self.tokens)
        raise AssertionError("unreachable")

    def _pages(
        self, path: str, params: list[tuple[str, str]], what: str, key: str
    ) -> Iterator[tuple[str, list[Any]]]:
        """(request, the ``_embedded[key]`` list) of every page, following ``_links.next``."""
        base = self.account.base_url.rstrip("/")
        url: str = f"{base}{path}"
        query: list[tuple[str, str]] | None = params
        followed: set[str] = set()
        while True:
            request = f"GET {url} ({what})"
            page = self._get(url, query, what)
            if page is None:
                return
            embedded = page.get("_embedded")
            items = embedded.get(key) if isinstance(embedded, dict) else None
            if not isinstance(items, list):
                raise self.error(
                    request, f"the answer has no list _embedded.{key}: {excerpt(json.dumps(page))}"
                )
            yield request, items
            links = page.get("_links")
            nxt = links.get("next") if isinstance(links, dict) else None
            href = nxt.get("href") if isinstance(nxt, dict) else None
            if not href:
                return
            if not isinstance(href, str) or urlsplit(href).netloc != urlsplit(base).netloc:
                raise self.error(
                    request, f"_links.next.href {excerpt(str(href))} is not on the account's host; refused"
                )
            if href in followed:
                raise self.error(
                    request, f"_links.next.href {excerpt(href)} was already followed; the pages loop"
                )
            followed.add(href)
            url, query = href, None  # the link carries the whole query

    def statuses(self) -> dict[str, str]:
        """Every status of every pipeline: ``{status_id: name}`` (§3.3)."""
        out: dict[str, str] = {}
        for request, pipelines in self._pages("/api/v4/leads/pipelines", [], "pipelines", "pipelines"):
            for p in pipelines:
                embedded = p.get("_embedded") if isinstance(p, dict) else None
                found = embedded.get("statuses") if isinstance(embedded, dict) else None
                if not isinstance(found, list):
                    raise self.error(request, f"pipeline {excerpt(str(p.get('id') if isinstance(p, dict) else p))} "
                                              "has no list _embedded.statuses")  # fmt: skip
                for s in found:
                    if isinstance(s, dict) and s.get("id") is not None:
                        out[str(s["id"])] = str(s.get("name") or "")
        return out

    def leads(self, since: dt.date, until: dt.date) -> list[dict[str, Any]]:
        """Every lead updated on ``since..until`` (Moscow days), once each, in its latest state."""
        params = [("limit", str(PAGE)), ("with", "contacts"),
                  ("filter[updated_at][from]", str(moscow_midnight(since))),
                  ("filter[updated_at][to]", str(moscow_midnight(until + dt.timedelta(days=1)) - 1)),
                  ("order[updated_at]", "asc")]  # fmt: skip
        latest: dict[str, dict[str, Any]] = {}
        order: list[str] = []
        for request, leads in self._pages("/api/v4/leads", params, f"leads {since}..{until}", "leads"):
            for i, lead in enumerate(leads):
                if not isinstance(lead, dict) or lead.get("id") is None:
                    raise self.error(
                        request, f"_embedded.leads[{i}] is not a lead with an id: {excerpt(str(lead))}"
                    )
                key = str(lead["id"])
                if key not in latest:
                    order.append(key)
                elif _number(lead.get("updated_at")) < _number(latest[key].get("updated_at")):
                    continue
                latest[key] = lead
        return [latest[k] for k in order]

    def contacts(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The contacts of ``ids``: ``{id: contact}`` (:data:`IDS` ids a request)."""
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), IDS):
            chunk = ids[i : i + IDS]
            params = [("limit", str(PAGE)), *(("filter[id][]", c) for c in chunk)]
            for _request, found in self._pages(
                "/api/v4/contacts", params, f"{len(chunk)} contact(s)", "contacts"
            ):
                for c in found:
                    if isinstance(c, dict) and c.get("id") is not None:
                        out[str(c["id"])] = c
        return out

    def export(self, since: dt.date, until: dt.date) -> tuple[bytes, dict[str, str]]:
        """The leads updated on ``since..until`` as one API v4 page for the file reader, with their
        contacts' phones and e-mails; and the account's statuses (``{id: name}``)."""
        if since > until:
            raise ValueError(f"since {since} is after until {until}")
        self._retry = self._policy()
        self._retry.start()
        with self._session() as http:
            self._http = http
            try:
                statuses = self.statuses()
                leads = self.leads(since, until)
                wanted = sorted({cid for lead in leads for cid in _contact_ids(lead)}, key=_id_order)
                found = self.contacts(wanted) if wanted else {}
            finally:
                self._http = None
        for lead in leads:
            _with_contacts(lead, found)
        # One line: the reader then names a lead by its position among the leads (1 = the first), not by
        # a line of a file the user never sees.
        page = {"_embedded": {"leads": leads}}
        return json.dumps(page, ensure_ascii=False).encode("utf-8"), statuses


def _contact_ids(lead: dict[str, Any]) -> list[str]:
    embedded = lead.get("_embedded")
    contacts = embedded.get("contacts") if isinstance(embedded, dict) else None
    if not isinstance(contacts, list):
        return []
    return [str(c["id"]) for c in contacts if isinstance(c, dict) and c.get("id") is not None]


def _with_contacts(lead: dict[str, Any], found: dict[str, dict[str, Any]]) -> None:
    """The lead's embedded contacts with their PHONE and EMAIL fields (only: the rest is not needed)."""
    embedded = lead.get("_embedded")
    contacts = embedded.get("contacts") if isinstance(embedded, dict) else None
    if not isinstance(contacts, list):
        return
    out = []
    for c in contacts:
        if not isinstance(c, dict) or c.get("id") is None:
            continue
        full = found.get(str(c["id"])) or {}
        fields = full.get("custom_fields_values")
        fields = fields if isinstance(fields, list) else []  # null when the contact has none
        kept = [
            f
            for f in fields
            if isinstance(f, dict) and str(f.get("field_code") or "").upper() in CONTACT_FIELDS
        ]
        out.append({"id": c["id"], "is_main": c.get("is_main") is True, "custom_fields_values": kept})
    assert isinstance(embedded, dict)
    embedded["contacts"] = out


def reader_mapping(mapping: CrmMapping, statuses: dict[str, str]) -> dict[str, Any]:
    """The stage mapping for the reader: the user's, plus each status id under the rule of its name
    when the mapping names the stage but not its id (the UI export shows names, the API ids)."""
    out = mapping.model_dump(exclude_none=True)
    stages: dict[str, Any] = out.setdefault("stages", {})
    for status_id, name in statuses.items():
        if mapping.stage(status_id) is None and name and (rule := mapping.stage(name)) is not None:
            stages[status_id] = rule.model_dump(exclude_none=True)
    return out


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def _id_order(v: str) -> tuple[int, str]:
    return (int(v), v) if v.isdigit() else (0, v)


def _json(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_html(resp: httpx.Response) -> bool:
    head = resp.content.lstrip()[:200].lower()
    return "html" in resp.headers.get("content-type", "").lower() or head.startswith((b"<!doctype", b"<html"))


def _page_text(content: bytes) -> str:
    """An HTML page's words (its title and text), for a message."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", content.decode("utf-8", "replace"))
    return re.sub(r"<[^>]+>", " ", text)


def _problem(resp: httpx.Response) -> str:
    """``HTTP 401 Unauthorized — Token has been revoked`` from a problem+json body, else an excerpt."""
    data = _json(resp.content)
    said = [str(data[k]) for k in ("title", "detail", "hint") if data.get(k)]
    if said:
        return f"HTTP {resp.status_code} {' — '.join(said)}"
    body = excerpt(resp.content) if resp.content.strip() else "(no body)"
    return f"HTTP {resp.status_code} {body}"


def history_start(today: dt.date) -> dt.date:
    return FIRST_DAY

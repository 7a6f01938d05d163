"""``kassa sync``: fetch what is new from a connection and load it as one import batch.

Which days: ``--since``/``--until`` when given; otherwise from the connection's cursor (the last day
synced) minus its look-back window (platforms revise recent days: Direct's statistics change for days
after clicks are found invalid), to yesterday in the business's time zone (today is still being
counted). A first sync goes back as far as the service keeps statistics (Direct: three years from the
current month).

How it loads: the service's answer is handed to the **same reader** a file export goes through (for
Direct, the Reports API TSV reader, with the options the request fixed: money in micros, VAT as
requested; for a bank, the 1C statement reader, the operations written as a 1C statement by
connectors/statement.py; for amoCRM, the leads as API v4 JSON with the stage mapping made to fit the
account's status ids, whose reader makes a leads and a deals table, loaded together in one transaction
as importing the file loads them), so a synced report loads exactly as the same report imported from a file. A row the reader
refuses fails the sync (the next one asks again); warnings pass as in an import. Then the rows go in
as one batch in one transaction (:meth:`Warehouse.load_fetched`): recognised by the SHA-256 of the rows
(the same days synced again change nothing), replacing the channel's rows of the days they cover (so
revised days replace old ones), undone by ``kassa imports undo``. The cursor moves only after the
batch is committed; a cursor left behind (a sync killed in between) only makes the next sync re-read
days it already has, which changes nothing.

A running ``kassa serve`` holds the warehouse: the fetch happens in the command, and only the load is
handed to the server (:mod:`kassa.store.handoff`, job ``sync``), so the dashboard is never blocked while
a report is being built.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml

from kassa.connectors import (
    amocrm,
    google_ads,
    meta_ads,
    statement,
    tbank,
    tochka,
    vk_ads,
    yandex_direct,
    yandex_metrica,
)
from kassa.connectors.http import Counts
from kassa.errors import ImportFailed, KassaError, RowError
from kassa.settings import Settings
from kassa.store.connections import Connection, Connections

if TYPE_CHECKING:
    from kassa.store.warehouse import FileReport, Warehouse

FORMAT = {"yandex-direct": "yandex_direct", "yandex-metrica": "metrica_logs", "vk-ads": "vk_ads",
          "google-ads": "google_ads", "meta-ads": "meta_ads", "tbank": "bank_1c",
          "tochka": "bank_1c", "amocrm": "amocrm"}  # fmt: skip
SUFFIX = {"yandex-direct": ".tsv", "yandex-metrica": ".tsv", "vk-ads": ".json", "google-ads": ".json",
          "meta-ads": ".json", "tbank": ".txt", "tochka": ".txt", "amocrm": ".json"}  # fmt: skip
# The banks' statements are staged as 1CClientBankExchange text for the 1C reader (connectors/statement.py).
BANKS = ("tbank", "tochka")
HISTORY = {  # a first sync's first day, as far back as the service allows
    "yandex-direct": yandex_direct.history_start,
    "yandex-metrica": yandex_metrica.history_start,
    "vk-ads": vk_ads.history_start,
    "google-ads": google_ads.history_start,
    "meta-ads": meta_ads.history_start,
    "tbank": tbank.history_start,
    "tochka": tochka.history_start,
    "amocrm": amocrm.history_start,
}


@dataclass
class SyncOutcome:
    connection: str
    service: str
    since: dt.date | None = None
    until: dt.date | None = None
    requests: int = 0
    polls: int = 0
    retries: int = 0
    splits: int = 0
    seconds: float = 0.0
    batch: FileReport | None = None  # the first of ``batches``
    batches: list[FileReport] = field(default_factory=list)  # amoCRM: leads and deals, one transaction
    warnings: list[RowError] = field(default_factory=list)
    error: str | None = None  # English (the --json summary, the connection's last outcome)
    said: str | None = None  # the same error as a connectors.messages.Said, to show it in Russian too

    def to_json(self) -> dict[str, Any]:
        b = self.batch
        return {
            "connection": self.connection,
            "service": self.service,
            "ok": self.error is None,
            "error": self.error,
            "days": None if self.since is None else f"{self.since}..{self.until}",
            "rows": {x.kind: x.rows_loaded for x in self.batches},
            "rows_replaced": sum(x.rows_replaced for x in self.batches),
            "batch_id": b.batch_id if b else None,
            "batch_ids": [x.batch_id or x.already_imported_as for x in self.batches],
            "already_imported_as": b.already_imported_as if b else None,
            "requests": self.requests,
            "polls": self.polls,
            "retries": self.retries,
            "splits": self.splits,
            "seconds": round(self.seconds, 3),
            "warnings": [str(w) for w in self.warnings],
        }


def today_in(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def plan(
    conn: Connection, since: dt.date | None, until: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The days one sync asks for (module docstring)."""
    last = until or today - dt.timedelta(days=1)
    if since is None:
        cursor = conn.cursor
        if cursor is None:
            since = HISTORY[conn.service](today)
        else:
            since = min(cursor, last) - dt.timedelta(days=conn.look_back - 1)
    if since > last:
        raise KassaError(f"connection {conn.name!r}: --since {since} is after --until {last}")
    return since, last


def origin(conn: Connection, since: dt.date, until: dt.date) -> str:
    """The batch's "file" in `kassa imports`: the connection, whose account, which days (no slash)."""
    who = [conn.spec.title]
    if conn.options.get("subdomain"):
        who.append(str(conn.options["subdomain"]))
    if conn.options.get("client_login"):
        who.append(str(conn.options["client_login"]))
    if conn.options.get("counter"):
        who.append(f"counter {conn.options['counter']}")
    if conn.options.get("customer_id"):
        who.append(f"customer {conn.options['customer_id']}")
    elif conn.options.get("account"):
        who.append(
            str(conn.options["account"]) if conn.service in BANKS else f"act_{conn.options['account']}"
        )
    elif conn.options.get("client_id"):
        who.append(f"app {conn.options['client_id']}")
    if conn.base_url:
        who.append(urlsplit(conn.base_url).netloc)
    return f"{conn.name} ({', '.join(who)}) {since}..{until}"


def _reader_options(conn: Connection, told: dict[str, Any] | None = None) -> dict[str, Any]:
    """The facts the request fixed, for the reader (the same options a file import takes); ``told``:
    what the service said about the account during the fetch (Metrica: the counter's time zone)."""
    if conn.service in ("yandex-metrica", "amocrm"):
        return dict(told or {})  # the log says the rest; amoCRM: the stage mapping (fetch_amocrm)
    if conn.service in BANKS:
        return {}  # the 1C statement says it all (currency from the account's digits)
    if conn.service in (
        "vk-ads",
        "google-ads",
        "meta-ads",
    ):  # money as the reader reads it; VAT as it assumes
        return {"currency": conn.options["currency"]} if conn.options.get("currency") else {}
    opts: dict[str, Any] = {"money_in_micros": True, "include_vat": bool(conn.options.get("include_vat"))}
    for key in ("currency", "campaign"):
        if conn.options.get(key):
            opts[key] = conn.options[key]
    return opts


def fetch(
    conn: Connection,
    token: str,
    since: dt.date,
    until: dt.date,
    *,
    timing: Any = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stats: Counts | None = None,
    conns: Connections | None = None,
) -> tuple[bytes, Counts, dict[str, Any]]:
    """The service's answer for ``since..until``, its counts and what it told of the account for the
    reader (:func:`_reader_options`); ``stats`` (if given) is counted into, also when the fetch fails. ``timing``: the connector's own :class:`Timing` (tests); ``deadline`` replaces its
    deadline (``kassa sync --deadline``); ``conns`` keeps the token pairs of OAuth services."""
    if conn.service == "amocrm":
        assert conns is not None, "amoCRM keeps its token pair in the connections' secrets file"
        return fetch_amocrm(conn, token, since, until, conns, timing=timing, deadline=deadline,
                            sleep=sleep, stats=stats)  # fmt: skip
    if conn.service == "tbank":
        tt = timing or tbank.Timing()
        if deadline is not None:
            tt = dataclasses.replace(tt, deadline=deadline)
        own = str(conn.options.get("account") or "")
        bank = tbank.Client(
            tbank.Account(conn.name, own, token, conn.base_url or tbank.BASE_URL), tt, sleep=sleep
        )
        if stats is not None:
            bank.stats = stats
        return statement.exchange_text(own, since, until, bank.operations(since, until)), bank.stats, {}
    if conn.service == "tochka":
        tk = timing or tochka.Timing()
        if deadline is not None:
            tk = dataclasses.replace(tk, deadline=deadline)
        account_id = str(conn.options.get("account") or "")
        tclient = tochka.Client(
            tochka.Account(conn.name, account_id, token, conn.base_url or tochka.BASE_URL), tk, sleep=sleep
        )
        if stats is not None:
            tclient.stats = stats
        got = tclient.operations(since, until)
        own = tclient.account.number
        return statement.exchange_text(own, since, until, got), tclient.stats, {}
    client: yandex_direct.Client | yandex_metrica.Client | vk_ads.Client | google_ads.Client | meta_ads.Client
    if conn.service == "meta-ads":
        tm = timing or meta_ads.Timing()
        if deadline is not None:
            tm = dataclasses.replace(tm, deadline=deadline)
        act = str(conn.options.get("account") or "")
        client = meta_ads.Client(
            meta_ads.Account(conn.name, act, token, conn.base_url or meta_ads.BASE_URL), tm, sleep=sleep
        )
        if stats is not None:
            client.stats = stats
        return client.insights(since, until), client.stats, {}
    if conn.service == "google-ads":
        assert conns is not None, "Google Ads keeps its access token in the connections' secrets file"
        tg = timing or google_ads.Timing()
        if deadline is not None:
            tg = dataclasses.replace(tg, deadline=deadline)
        keep = conns
        client = google_ads.Client(
            google_ads.Account(
                connection=conn.name,
                customer_id=str(conn.options.get("customer_id") or ""),
                client_id=str(conn.options.get("client_id") or ""),
                secret=google_ads.Secret.parse(token, conn.name),
                login_customer_id=conn.options.get("login_customer_id") or None,
                base_url=conn.base_url or google_ads.BASE_URL,
                # A local server or proxy given with --base-url answers the token endpoint too.
                token_url=f"{conn.base_url.rstrip('/')}/token" if conn.base_url else google_ads.TOKEN_URL,
            ),
            google_ads.Tokens.from_json(keep.oauth(conn.name)),
            lambda pair: keep.save_oauth(conn.name, pair.to_json()),
            tg,
            sleep=sleep,
        )
        if stats is not None:
            client.stats = stats
        return client.statistics(since, until), client.stats, {}
    if conn.service == "vk-ads":
        assert conns is not None, "VK Ads keeps its token pair in the connections' secrets file"
        tv = timing or vk_ads.Timing()
        if deadline is not None:
            tv = dataclasses.replace(tv, deadline=deadline)
        store = conns
        client = vk_ads.Client(
            vk_ads.Account(
                connection=conn.name,
                client_id=str(conn.options.get("client_id") or ""),
                client_secret=token,
                base_url=conn.base_url or vk_ads.BASE_URL,
            ),
            vk_ads.Tokens.from_json(store.oauth(conn.name)),
            lambda pair: store.save_oauth(conn.name, pair.to_json()),
            tv,
            sleep=sleep,
        )
        if stats is not None:
            client.stats = stats
        return client.statistics(since, until), client.stats, {}
    if conn.service == "yandex-metrica":
        t = timing or yandex_metrica.Timing()
        if deadline is not None:
            t = dataclasses.replace(t, deadline=deadline)
        client = yandex_metrica.Client(
            yandex_metrica.Account(
                connection=conn.name,
                token=token,
                counter=str(conn.options.get("counter") or ""),
                base_url=conn.base_url or yandex_metrica.BASE_URL,
            ),
            t,
            sleep=sleep,
        )
        if stats is not None:
            client.stats = stats
        body = client.logs(since, until)
        return body, client.stats, ({"counter_timezone": client.time_zone} if client.time_zone else {})
    account = yandex_direct.Account(
        connection=conn.name,
        token=token,
        client_login=conn.options.get("client_login") or None,
        base_url=conn.base_url or yandex_direct.BASE_URL,
        include_vat=bool(conn.options.get("include_vat")),
        language=str(conn.options.get("language") or "en"),
    )
    td = timing or yandex_direct.Timing()
    if deadline is not None:
        td = dataclasses.replace(td, deadline=deadline)
    client = yandex_direct.Client(account, td, sleep=sleep)
    if stats is not None:
        client.stats = stats
    return client.report(since, until), client.stats, {}


def amocrm_account(conn: Connection, secret: str) -> amocrm.Account:
    """The account of an amoCRM connection; ``secret`` is its client secret (OAuth) or its long-lived token."""
    host = str(conn.options.get("subdomain") or "")
    client_id = str(conn.options.get("client_id") or "")
    return amocrm.Account(
        connection=conn.name, base_url=conn.base_url or f"https://{host}", subdomain=host,
        client_id=client_id, client_secret=secret if client_id else "",
        redirect_uri=str(conn.options.get("redirect_uri") or ""), token="" if client_id else secret,
    )  # fmt: skip


def amocrm_keeper(conns: Connections, name: str) -> amocrm.Keeper:
    """The connection's OAuth pair in the secrets file, refreshed under its lock (connectors/amocrm.py)."""
    return amocrm.Keeper(
        load=lambda: amocrm.Tokens.from_json(conns.oauth(name)),
        save=lambda pair: conns.save_oauth(name, pair.to_json()),
        lock=conns.locked,
    )


def fetch_amocrm(
    conn: Connection,
    token: str,
    since: dt.date,
    until: dt.date,
    conns: Connections,
    *,
    timing: Any = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    stats: Counts | None = None,
) -> tuple[bytes, Counts, dict[str, Any]]:
    """amoCRM's leads as API v4 JSON for the amoCRM reader, and the reader's stage mapping: the
    connection's ``--mapping`` with each status id under the rule of its name (amocrm.reader_mapping)."""
    from kassa.sources.crm_mapping import load_crm_mapping

    ta = timing or amocrm.Timing()
    if deadline is not None:
        ta = dataclasses.replace(ta, deadline=deadline)
    mapping = load_crm_mapping(Path(conn.options["mapping"]) if conn.options.get("mapping") else None)
    client = amocrm.Client(amocrm_account(conn, token), amocrm_keeper(conns, conn.name), ta, sleep=sleep)
    if stats is not None:
        client.stats = stats
    body, statuses = client.export(since, until)
    return body, client.stats, amocrm.reader_mapping(mapping, statuses)


def stage(
    conn: Connection, body: bytes, folder: Path, told: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """The answer and the reader's options as files in ``folder`` (a private temporary folder)."""
    report = folder / f"{conn.name}{SUFFIX[conn.service]}"
    report.write_bytes(body)
    options = folder / f"{conn.name}.options.yaml"
    options.write_text(yaml.safe_dump(_reader_options(conn, told)), encoding="utf-8")
    return report, options


def load_report(
    wh: Warehouse, report: Path, options: Path, fmt: str, origin: str
) -> FileReport | list[FileReport]:
    """Read a staged answer with the format's reader and load it as one batch named ``origin``; its
    warnings come back in ``errors``. Also the server's side of a handed-over sync. A reader that makes
    several tables of the answer (amoCRM: leads and deals) loads a batch of each, in one transaction,
    as importing the file does: then the list of them."""

    def named(text: str) -> str:  # errors name the connection's request, not a temporary file
        return text.replace(str(report), origin)

    try:
        _, results = wh.read_file(report, format=fmt, mapping=options)
        if not results:
            raise ImportFailed(f"{origin}: the {fmt} reader made no table of the answer")
        # A streaming reader (Metrica's log) validates as it is read: its refusals come here.
        tables = [(r.kind, r.rows if not hasattr(r.rows, "read_all") else r.rows.read_all()) for r in results]
    except KassaError as exc:
        errors = [dataclasses.replace(e, file=origin) for e in getattr(exc, "errors", [])]
        raise ImportFailed(named(str(exc).splitlines()[0]), errors) from None
    errors = [[dataclasses.replace(e, file=origin) for e in r.errors] for r in results]
    refused = [e for errs in errors for e in errs if not e.row_kept]
    if refused:
        raise ImportFailed(
            f"{origin}: {len(refused)} refused value(s) in the answer; nothing was loaded", refused
        )
    batches = wh.load_fetched_all(origin, fmt, tables)
    for batch, res, errs in zip(batches, results, errors, strict=True):
        batch.errors = errs
        batch.rows_read = res.rows_read
    return batches[0] if len(batches) == 1 else batches


Loader = Callable[[Path, Path, str, str], "FileReport | list[FileReport]"]
"""(staged answer, options, format, origin) -> the batch (or batches: :func:`load_report`): into an
open warehouse, or handed over."""


def sync_one(
    conns: Connections,
    conn: Connection,
    load: Loader,
    *,
    since: dt.date | None,
    until: dt.date | None,
    today: dt.date,
    timing: Any = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncOutcome:
    """Fetch, check and load one connection; an error is kept in the outcome (the others still run)."""
    out = SyncOutcome(conn.name, conn.service)
    started = time.monotonic()
    stats = Counts()
    try:
        out.since, out.until = plan(conn, since, until, today)
        token = conns.token(conn)
        body, _, told = fetch(
            conn,
            token,
            out.since,
            out.until,
            timing=timing,
            deadline=deadline,
            sleep=sleep,
            stats=stats,
            conns=conns,
        )
        with tempfile.TemporaryDirectory(prefix="kassa-sync-") as tmp:
            report, options = stage(conn, body, Path(tmp), told)
            loaded = load(report, options, FORMAT[conn.service], origin(conn, out.since, out.until))
        out.batches = loaded if isinstance(loaded, list) else [loaded]
        out.batch = out.batches[0]
        out.warnings = [w for b in out.batches for w in b.errors]
    except KassaError as exc:
        out.error = str(exc)
        out.said = getattr(exc, "said", None)
    out.requests, out.polls, out.retries, out.splits = (
        stats.requests,
        stats.polls,
        stats.retries,
        stats.splits,
    )
    out.seconds = time.monotonic() - started
    conns.record(
        conn.name,
        through=out.until if out.error is None else None,
        outcome={
            "at": dt.datetime.now().isoformat(timespec="seconds"),
            "ok": out.error is None,
            "days": None if out.since is None else f"{out.since}..{out.until}",
            "batch_id": (out.batch.batch_id or out.batch.already_imported_as) if out.batch else None,
            "error": out.error,
        },
    )
    return out

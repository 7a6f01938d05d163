"""What each dashboard page shows, as data: the JSON twin of every page (``kassa.web.app`` renders it).

:class:`Dashboard` holds the one open warehouse (the server is its single writer), a lock that serialises
every use of its DuckDB connection, the users, sessions and the login limiter. Numbers come only from
:func:`kassa.metrics.compute`, :func:`kassa.report.model.build_report`, :func:`kassa.kpi.score`,
:func:`kassa.diagnose.run` and :func:`kassa.attribution.money.attributed_money`, so a page shows exactly
what the command line prints for the same period.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import Request

from kassa.attribution import model_names
from kassa.attribution.money import attributed_money
from kassa.diagnose import run as run_diagnosis
from kassa.diagnose.funnel import STAGE, STAGES, relative_change
from kassa.diagnose.text import responsible_label, stage_label
from kassa.errors import ConfigError, ImportFailed, KassaError, RowError
from kassa.i18n import LANGS, Translator
from kassa.kpi import EXAMPLES, Contract, Scorecard, example_path, lint, parse_contract
from kassa.kpi import score as score_contract
from kassa.kpi.saved import ContractFolder
from kassa.link.quality import match_quality
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import compute, months_between, sources
from kassa.period import Period, add_months
from kassa.report import charts as report_charts
from kassa.report.model import (
    ACTIVITY_COLUMNS,
    FUNNEL_COLUMNS,
    ReportData,
    build_report,
    funnel_section,
    trend_period,
)
from kassa.schema import KINDS
from kassa.settings import Settings
from kassa.sources.registry import SOURCES
from kassa.store import Warehouse
from kassa.web.security import (
    LOCAL_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Sessions,
    password_stamp,
    same_token,
)
from kassa.web.uploads import DEFAULT_MAX_BYTES, UploadOutcome, uploaded_name
from kassa.web.users import User, UserStore

_ = Translator("web")
log = logging.getLogger("kassa.web")
WARM_MONTHS = 13  # a year and the month before it: every month the period picker usually goes to

# The overview's cards: money in, money out, and what each sale and each ruble of cost returned.
OVERVIEW_METRICS = ("payments", "revenue", "marketing_cost", "romi", "cost_per_sale")
LOCAL_USER = User("local", "owner")  # no users file: the server listens on loopback only (kassa serve)

# The Funnel page: each count followed by the conversion into the next (kassa.diagnose.funnel.STAGES).
FUNNEL_STEPS = (
    "visits",
    "visit_to_lead",
    "leads",
    "lead_to_qualified",
    "qualified_leads",
    "qualified_to_sale",
    "sales",
    "average_check",
    "revenue",
)
STEP_OWNER = {s.rate: s.responsible for s in STAGES}
TOTAL_ROW = "__total__"
# Table -> the date column whose range tells how far the data reaches (the Data page's coverage).
COVERAGE = (
    ("spend", "date"),
    ("activities", "date"),
    ("visits", "ts"),
    ("leads", "created_at"),
    ("deals", "created_at"),
    ("payments", "paid_at"),
)
BATCH_KEYS = (
    "batch_id",
    "file",
    "format",
    "kind",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_replaced",
    "period_start",
    "period_end",
    "loaded_at",
    "undone_at",
)
# Channels page, under an attribution model: what the model credits and what follows (catalog names).
MODEL_COLUMNS = ("leads", "sales", "revenue", "cpl", "cost_per_sale", "romi")
NEW_CONTRACT = """name: Marketing, monthly
scope:
  channels: [yandex_direct]
period: month
kpis:
  - metric: qualified_leads
    target: 100
    weight: 0.5
  - metric: revenue
    target: 1000000
    weight: 0.5
bonus:
  base: 50000
  gate:
    metric: romi
    min: 0
"""


class Forbidden(Exception):
    pass


class NotFound(Exception):
    pass


class Dashboard:
    """State of one running dashboard: the warehouse, its lock, users, sessions, the login limiter."""

    def __init__(self, db_path: Path, settings: Settings | None, users_required: bool) -> None:
        self.db_path = Path(db_path)
        self.wh = Warehouse.open(self.db_path, settings=settings or Settings(), read_only=False, create=False)
        self.lock = threading.Lock()
        self.users = UserStore.for_db(self.db_path)
        self.users_required = users_required
        self.sessions = Sessions(self.users.secret())
        self.limiter = LoginLimiter()
        self.max_upload_bytes = DEFAULT_MAX_BYTES
        self.closed = False
        self.warmed = 0  # overview pages the warm-up built since the server started
        self._waiting = 0  # visitors waiting for the lock (the warm-up lets them go first)
        self._waiting_lock = threading.Lock()
        self.generation = 0  # counts the writes (imports, undos) since the server started

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.wh.close()

    @property
    def login_required(self) -> bool:
        # A user added while the server runs closes the anonymous door at once.
        return self.users_required or self.users.has_users()

    def session_of(self, request: Request) -> tuple[User, str] | None:
        if not self.login_required:
            # No logins, yet forms still carry a token: another site open in the same browser must not be
            # able to post an upload to 127.0.0.1. The token is a cookie of its own, set on first visit.
            token = request.cookies.get(LOCAL_CSRF_COOKIE)
            if not token:
                token = request.state.new_local_csrf = secrets.token_urlsafe(24)
            return LOCAL_USER, token
        data = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        user = self.users.get(str(data["u"])) if data else None
        if user is None or data is None or not same_token(str(data.get("s", "")), self.stamp(user)):
            return None  # no session, a removed user, or one whose password or role changed since login
        return user, str(data["csrf"])

    @staticmethod
    def stamp(user: User) -> str:
        return password_stamp(user.password_hash, user.role + "," + ",".join(user.scope))

    def locked(self, fn: Callable[[Warehouse], Any]) -> Any:
        """Run ``fn`` on the warehouse under the lock, for a visitor: the background warm-up lets visitors
        waiting for the lock go first (a plain lock would hand it back to the warm-up at once)."""
        with self._waiting_lock:
            self._waiting += 1
        try:
            self.lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            return fn(self.wh)
        finally:
            self.lock.release()

    def _after_visitors(self, fn: Callable[[Warehouse], Any]) -> Any:
        """Run ``fn`` under the lock once no visitor is waiting for it (the warm-up's turn)."""
        while True:
            while self._waiting and not self.closed:
                time.sleep(0.01)
            with self.lock:
                if not self._waiting or self.closed:
                    if self.closed:
                        raise RuntimeError("the dashboard was closed")
                    return fn(self.wh)

    # -- data of the pages (the JSON twins) ---------------------------------------------------------------
    def default_period(self) -> str:
        """The month of the latest spend, lead or deal; the previous calendar month on an empty warehouse."""

        def latest(wh: Warehouse) -> dt.date | None:
            dates = []
            for table, col in (("spend", "date"), ("leads", "created_at"), ("deals", "created_at")):
                v = wh.table(table)[col].max().execute()
                if v is not None and v == v:
                    dates.append(v.date() if isinstance(v, dt.datetime) else v)
            return max(dates) if dates else None

        d = self.locked(lambda wh: wh.memo(("web.default_period",), lambda: latest(wh)))
        if d is None:
            d = dt.date.today().replace(day=1) - dt.timedelta(days=1)
        return f"{d:%Y-%m}"

    def overview(self, user: User, period: Period, lang: str, *, background: bool = False) -> dict[str, Any]:
        """Money in and out of ``period`` and the previous period, the headline lines and the trend chart.

        ``change = current / previous − 1`` (``None`` when the previous value is 0 or missing). Kept per
        (period, language, channels seen) until the next write: the warehouse forgets its memos on every
        import or undo, so a page never shows numbers older than the data.
        """
        scope = user.channel_filter
        key = ("web.overview", period.label, lang, tuple(scope) if scope is not None else None)
        kept = self.wh.memo_get(key)  # a page already built needs no lock: a dict lookup
        if kept is not None:
            return dict(kept)
        run = self._after_visitors if background else self.locked
        return dict(run(lambda wh: wh.memo(key, lambda: self._overview(user, period, lang))))

    def warm(self, months: int = WARM_MONTHS, langs: tuple[str, ...] = LANGS) -> int:
        """Build the overviews of the latest ``months`` months before anyone asks, newest first.

        ``kassa serve`` runs this in a background thread at start-up and after every import or undo (which
        make the warehouse forget its memos), so switching between months opens pages already built. Each
        page takes the lock on its own and only when no visitor waits for it, so a visitor waits at most for
        one page being built; a write in the meantime stops the run (its pages would be stale). Returns how
        many pages were built.
        """
        generation = self.generation
        latest = Period.parse(self.default_period())
        built = 0
        for back in range(months):
            period = Period(add_months(latest.start, -back), add_months(latest.start, 1 - back))
            for lang in langs:
                if self.generation != generation or self.closed:
                    return built
                self.overview(LOCAL_USER, period, lang, background=True)
                built += 1
                self.warmed += 1
        return built

    def warm_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self._warm_quietly, name="kassa-warm", daemon=True)
        thread.start()
        return thread

    def _warm_quietly(self) -> None:
        try:
            self.warm()
        except Exception:  # closed while warming, or an empty warehouse: pages are then built on demand
            log.debug("warming the overviews stopped", exc_info=True)

    def _overview(self, user: User, period: Period, lang: str) -> dict[str, Any]:
        scope = user.channel_filter
        where = {"channel": scope} if scope is not None else None
        prev = period.previous()

        def build(wh: Warehouse) -> dict[str, Any]:
            cur = compute(wh, list(OVERVIEW_METRICS), None, period, where=where, with_total=False)
            old = compute(wh, list(OVERVIEW_METRICS), None, prev, where=where, with_total=False)
            c = cur.frame.to_dicts()[0] if cur.frame.height else {}
            o = old.frame.to_dicts()[0] if old.frame.height else {}
            report = (
                build_report(wh, period, lang, only=("money_vs_activity",))
                if user.can("see_totals")
                else None
            )
            months = None if report is not None else scoped_months(wh, period, where)
            return {"c": c, "o": o, "report": report, "months": months, "warnings": cur.warnings}

        got = build(self.wh)  # the caller holds the lock
        cards = []
        for name in OVERVIEW_METRICS:
            m = CATALOG[name]
            now, before = got["c"].get(name), got["o"].get(name)
            # A change against zero or a negative base (ROMI −1 → 3.5) has no meaning as a percentage.
            chg = None if now is None or before is None or before <= 0 else now / before - 1
            cards.append(
                {
                    "name": name,
                    "label": m.label(lang),
                    "tier": m.tier.value,
                    "unit": m.unit,
                    "better": m.better,
                    "value": now,
                    "previous": before,
                    "change": chg,
                }
            )
        headline: list[dict[str, str]] = []
        charts: list[dict[str, Any]] = []
        report = got["report"]
        if report is not None:
            for block in report.section("headline").blocks:
                headline += [{"text": line.text, "tone": line.tone} for line in getattr(block, "items", [])]
            charts = [
                {"key": c.key, "title": c.title, "caption": c.caption, "spec": c.spec}
                for c in report.section("money_vs_activity").charts()
                if c.key == "money_vs_activity"
            ]
        elif got["months"]:
            # The report's chart, drawn from the scoped channels only.
            present = [n for n in report_charts.TREND_METRICS if any(r.get(n) for r in got["months"])]
            charts = [
                {
                    "key": "money_vs_activity",
                    "title": _("Money vs activity", lang),
                    "caption": _(
                        "Index = the month's value / the value of the first month with any × 100.", lang
                    ),
                    "spec": report_charts.money_vs_activity_chart(
                        got["months"], present, lang=lang, currency=self.wh.settings.currency
                    ),
                }
            ]
        return {
            "page": "overview",
            "period": period.label,
            "previous_period": prev.label,
            "lang": lang,
            "currency": self.wh.settings.currency,
            "scope": scope,
            "cards": cards,
            "headline": headline,
            "charts": charts,
            "warnings": got["warnings"],
        }

    # -- funnel: stage by stage, the break marked ----------------------------------------------------------
    def funnel(self, user: User, period: Period, lang: str) -> dict[str, Any]:
        """Counts and the conversion of each step per channel, against the previous period, with the steps
        where the diagnosis found a significant break marked and who answers for them.

        The steps and their owners are :data:`kassa.diagnose.funnel.STAGES`; a break is a ``funnel_break``
        finding of :func:`kassa.diagnose.run` (same tests, same Benjamini–Hochberg correction as
        ``kassa diagnose``). An agency sees its channels' rows and their breaks only: a company-wide or a
        manager's break describes every channel.
        """
        scope = user.channel_filter
        where = {"channel": scope} if scope is not None else None
        currency = self.wh.settings.currency
        names = list(FUNNEL_STEPS)
        prev = period.previous()

        def build(wh: Warehouse) -> dict[str, Any]:
            # Every metric: the steps here, and the report's funnel chart below from the same table.
            cur = compute(wh, None, "channel", period, where=where)
            old = compute(wh, names, "channel", prev, where=where)
            diagnosis = wh.memo(
                ("web.funnel_breaks", period.label, lang),
                lambda: run_diagnosis(wh, period, lang=lang, kinds=["funnel_break"]),
            )
            return {"cur": cur, "old": old, "diagnosis": diagnosis}

        got = self.locked(build)
        before = {str(r["channel"]): r for r in got["old"].frame.to_dicts()}
        breaks: dict[str, dict[str, dict[str, Any]]] = {}
        findings = []
        for f in got["diagnosis"].findings:
            channel = f.channel if f.dimension in ("channel", "campaign") else None
            if scope is not None and (channel is None or channel not in scope):
                continue
            item = {
                "dimension": f.dimension,
                "value": f.value,
                "channel": channel,
                "stage": f.stage,
                "stage_label": stage_label(f.stage, lang),
                "responsible": f.responsible,
                "responsible_label": responsible_label(f.responsible, lang),
                "significant": f.significant,
                "message": f.message,
                "q_value": _no_nan(f.q_value),
            }
            findings.append(item)
            # A break in one campaign marks its channel's cell (the message names the campaign); a manager's
            # break is listed but marks no channel: it runs across them.
            if f.significant and f.dimension in ("company", "channel", "campaign") and f.stage in STAGE:
                row = TOTAL_ROW if f.dimension == "company" else str(channel)
                breaks.setdefault(row, {}).setdefault(STAGE[f.stage].rate, item)

        def with_change(r: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for n in names:
                now, was = _no_nan(r.get(n)), _no_nan((old or {}).get(n))
                out[n] = {"value": now, "previous": was, "change": relative_change(was, now)}
            return out

        rows: list[dict[str, Any]] = [
            {"channel": str(r["channel"]), "steps": with_change(r, before.get(str(r["channel"])))}
            for r in got["cur"].frame.to_dicts()
        ]
        rows.sort(key=lambda r: -(r["steps"]["revenue"]["value"] or 0.0))
        total = None
        if got["cur"].total:
            total = {"channel": TOTAL_ROW, "steps": with_change(got["cur"].total, got["old"].total)}
        section = funnel_section(got["cur"], lang, currency)
        return {
            "page": "funnel",
            "period": period.label,
            "previous_period": prev.label,
            "lang": lang,
            "currency": currency,
            "scope": scope,
            "columns": [_column(n, lang) | {"owner": STEP_OWNER.get(n)} for n in names],
            "owners": {n: responsible_label(who, lang) for n, who in STEP_OWNER.items()},
            "rows": rows,
            "total": total,
            "breaks": breaks,
            "findings": findings,
            "tests": got["diagnosis"].tests,
            "charts": [
                {"key": c.key, "title": c.title, "caption": c.caption, "spec": c.spec}
                for c in section.charts()
            ],
            "warnings": got["cur"].warnings,
        }

    # -- data: imports, coverage, uploads ---------------------------------------------------------------------
    def data(self, user: User, period: Period, lang: str) -> dict[str, Any]:
        """The import batches (newest first, as ``kassa imports``), the dates each table covers, the last load
        per source format, and the match quality of the period (as ``kassa money``). Not for an agency:
        file names and row counts describe every channel's data."""
        if not user.can("see_totals"):
            raise Forbidden()

        def build(wh: Warehouse) -> dict[str, Any]:
            coverage = []
            for table, col in COVERAGE:
                t = wh.table(table)
                row = (
                    t.aggregate(rows=t.count(), first=t[col].min(), last=t[col].max())
                    .to_pyarrow()
                    .to_pylist()
                )
                coverage.append({"table": table, **{k: _iso(v) for k, v in row[0].items()}})
            quality = match_quality(sources(wh, wh.settings).chain, period)
            return {"batches": wh.batches(), "coverage": coverage, "quality": quality.to_json()}

        got = self.locked(build)
        rows = [{k: _iso(v) for k, v in b.items() if k in BATCH_KEYS} for b in reversed(got["batches"])]
        for r in rows:
            r["file"] = uploaded_name(Path(str(r["file"])).name)
        last: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:  # newest first: the first live batch of a source and table is its last load
            key = (str(r["format"]), str(r["kind"]))
            if r["undone_at"] is None and key not in last:
                last[key] = {k: r[k] for k in ("format", "kind", "loaded_at", "file", "period_end")}
        return {
            "page": "data",
            "lang": lang,
            "period": period.label,
            "batches": rows,
            "coverage": got["coverage"],
            "last_loads": [last[k] for k in sorted(last)],
            "quality": got["quality"],
            "can_upload": user.can("upload"),
            "max_upload_mb": self.max_upload_bytes / 1024 / 1024,
            "formats": sorted(SOURCES),
            "kinds": sorted(KINDS),
        }

    def import_upload(
        self,
        path: Path,
        fmt: str | None,
        kind: str | None,
        skip_refused: bool,
        lang: str = "en",
        mapping: Path | None = None,
    ) -> UploadOutcome:
        """Import a received upload in one transaction; strict unless ``skip_refused``. A refused or repeated
        upload is deleted again (nothing of it stays, in the warehouse or beside it)."""
        shown = uploaded_name(path.name)
        try:
            report = self.locked(
                lambda wh: wh.import_files(
                    [path], format=fmt or None, kind=kind or None, mapping=mapping, strict=not skip_refused
                )
            )
        except ImportFailed as exc:
            _forget_files(path, mapping)
            refused = len({(e.file, e.line) for e in exc.errors if not e.row_kept})
            head = (
                _(
                    "{n} row(s) with refused values; nothing was imported. Correct them, or tick "
                    "“load the valid rows” to import the rest.",
                    lang,
                    n=refused,
                )
                if exc.errors
                else str(exc).splitlines()[0].replace(str(path), shown)
            )
            return UploadOutcome(shown, False, head, errors=_named(exc.errors, shown), status=422)
        except KassaError as exc:
            _forget_files(path, mapping)
            text = str(exc).replace(str(path), shown)
            if mapping is not None:
                text = text.replace(str(mapping), uploaded_name(mapping.name))
            return UploadOutcome(shown, False, text, status=422)
        self.generation += 1
        batches = [
            {
                "batch_id": f.batch_id,
                "kind": f.kind,
                "format": f.format,
                "rows_read": f.rows_read,
                "rows_loaded": f.rows_loaded,
                "rows_rejected": f.rows_rejected,
                "rows_replaced": f.rows_replaced,
                "already_imported_as": f.already_imported_as,
            }
            for f in report.files
        ]
        if all(f.already_imported_as is not None for f in report.files):
            _forget_files(path, mapping)
            first = report.files[0].already_imported_as if report.files else None
            message = _("already imported as batch {n}; nothing changed", lang, n=first)
            return UploadOutcome(shown, True, message, batches)
        loaded = sum(f.rows_loaded for f in report.files)
        message = _("{n} row(s) loaded", lang, n=loaded)
        return UploadOutcome(shown, True, message, batches, errors=_named(report.errors, shown))

    def undo(self, batch_id: int) -> dict[str, int]:
        result = dict(self.locked(lambda wh: wh.undo(batch_id)))
        self.generation += 1
        return result

    # -- KPI contracts ----------------------------------------------------------------------------------------
    def visible_contract(self, user: User, contract: Contract) -> bool:
        """An agency sees a contract only when every channel it covers is one of the agency's channels."""
        scope = user.channel_filter
        if scope is None:
            return True
        return bool(contract.scope.channels) and set(contract.scope.channels or ()) <= set(scope)

    def kpi(self, user: User, period: Period, lang: str) -> dict[str, Any]:
        """Every saved contract scored on ``period`` (as ``kassa kpi score``), with its lint warnings; saved
        files that no longer validate are listed with their errors instead of being skipped silently."""
        folder = ContractFolder.for_db(self.db_path)
        contracts: list[dict[str, Any]] = []
        broken: list[dict[str, Any]] = []
        for slug in folder.slugs():
            try:
                saved = folder.read(slug)
            except ConfigError as exc:
                if user.can("see_totals"):
                    broken.append({"slug": slug, "error": str(exc), "problems": _problems(exc)})
                continue
            if not self.visible_contract(user, saved.contract):
                continue
            contract = saved.contract
            with self.lock:
                card = score_contract(self.wh, contract, period)
            warnings = self.lint_messages(contract, lang, period, card)
            contracts.append({"slug": slug, **_card_json(card, lang), "lint": warnings})
        return {
            "page": "kpi",
            "period": period.label,
            "lang": lang,
            "currency": self.wh.settings.currency,
            "scope": user.channel_filter,
            "contracts": contracts,
            "broken": broken,
            "can_edit": user.can("edit_contracts"),
            "examples": list(EXAMPLES),
        }

    @staticmethod
    def lint_messages(
        contract: Contract, lang: str, period: Period | None = None, card: Scorecard | None = None
    ) -> list[str]:
        """What ``kassa kpi lint`` says of the contract (and, scored, what its scorecard warns of)."""
        found = [*lint(contract, period), *(card.warnings if card else [])]
        return list(dict.fromkeys(w.message(lang) for w in found))

    @staticmethod
    def parse_contract(text: str) -> Contract:
        return parse_contract(text, source="contract.yaml")

    @staticmethod
    def kpi_examples() -> list[str]:
        return list(EXAMPLES)

    def contract_text(self, user: User, slug: str | None, example: str | None) -> tuple[str, str | None]:
        """(YAML text, slug) for the editor: a saved contract, a shipped example, or an empty skeleton."""
        if slug:
            saved = ContractFolder.for_db(self.db_path).read(slug)
            if not self.visible_contract(user, saved.contract):
                raise NotFound(slug)
            return saved.text, slug
        if example:
            return example_path(example).read_text(encoding="utf-8"), None
        return NEW_CONTRACT, None

    def save_contract(self, text: str, replaces: str | None) -> str:
        return ContractFolder.for_db(self.db_path).save(text, replaces=replaces or None).slug

    def delete_contract(self, slug: str) -> bool:
        return ContractFolder.for_db(self.db_path).delete(slug)

    # -- exports ----------------------------------------------------------------------------------------------
    def report(self, user: User, period: Period, lang: str) -> ReportData:
        """The month-end report of ``period`` as ``kassa report`` builds it, with every saved contract scored
        beside it. Not for an agency: the report is the company's."""
        if not user.can("see_totals"):
            raise Forbidden()
        folder = ContractFolder.for_db(self.db_path)
        contracts = []
        for slug in folder.slugs():
            try:
                contracts.append(folder.read(slug).contract)
            except ConfigError:
                continue  # the KPI page lists it with its errors
        return self.locked(lambda wh: build_report(wh, period, lang, contracts=contracts))

    def channels_csv(self, user: User, period: Period, lang: str, channel: str | None = None) -> str:
        """The Channels page's rows as CSV (plain numbers, catalog names as headers), scoped like the page."""
        data = self.channels(user, period, lang, channel)
        keys = [
            *data["by"],
            *(c["key"] for c in data["funnel_columns"]),
            *(c["key"] for c in data["activity_columns"]),
        ]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(keys)
        for r in data["rows"]:
            writer.writerow(["" if r.get(k) is None else r.get(k) for k in keys])
        return out.getvalue()

    # -- channels and campaigns ---------------------------------------------------------------------------------
    def channels(
        self, user: User, period: Period, lang: str, channel: str | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """The money trail per channel, or per campaign of one ``channel``; activity in its own columns.

        With ``model`` (any of :func:`kassa.attribution.model_names`), leads, sales and revenue are also
        shared out by that attribution model (:func:`kassa.attribution.money.attributed_money`) and shown
        beside the metric layer's own one-channel-per-lead numbers, with CPL, CAC and ROMI under the model.
        """
        scope = user.channel_filter
        if channel is not None and scope is not None and channel not in scope:
            raise NotFound(channel)
        if model is not None and model not in model_names():
            raise KassaError(
                _(
                    "Unknown attribution model {name}; use one of {models}.",
                    lang,
                    name=model,
                    models=", ".join(model_names()),
                )
            )
        chosen = [channel] if channel is not None else scope
        where = {"channel": chosen} if chosen is not None else None
        by = ["channel", "campaign"] if channel is not None else ["channel"]

        def build(wh: Warehouse) -> tuple[Any, Any]:
            table = compute(wh, None, by, period, where=where)
            credited = None
            if model is not None:
                credited = wh.memo(
                    ("web.attributed", period.label, model, channel is not None),
                    lambda: attributed_money(wh, period, model, by="campaign" if channel else "channel"),
                )
            return table, credited

        table, credited = self.locked(build)
        rows = [
            {k: r.get(k) for k in [*by, *FUNNEL_COLUMNS, *ACTIVITY_COLUMNS]} for r in table.to_json()["rows"]
        ]
        rows.sort(
            key=lambda r: (-(r.get("revenue") or 0.0), -(r.get("marketing_cost") or 0.0), str(r[by[-1]]))
        )
        total = table.to_json()["total"]
        model_total = None
        if credited is not None:
            found = {tuple(str(r[k]) for k in by): r for r in credited.to_dicts()}
            for r in rows:
                got = found.get(tuple(str(r[k]) for k in by), {})
                r["model"] = {k: _no_nan(got.get(k)) for k in MODEL_COLUMNS}
            shown = [r["model"] for r in rows]
            cost = sum(float(r.get("marketing_cost") or 0.0) for r in rows)
            sums = {k: sum(float(m[k] or 0.0) for m in shown) for k in ("leads", "sales", "revenue")}
            model_total = {
                **sums,
                "marketing_cost": cost,
                "cpl": cost / sums["leads"] if sums["leads"] and cost else None,
                "cost_per_sale": cost / sums["sales"] if sums["sales"] and cost else None,
                "roas": sums["revenue"] / cost if cost else None,
                "romi": (sums["revenue"] - cost) / cost if cost else None,
            }
        return {
            "page": "channel" if channel else "channels",
            "period": period.label,
            "lang": lang,
            "channel": channel,
            "currency": self.wh.settings.currency,
            "scope": scope,
            "by": by,
            "model": model,
            "models": model_names(),
            "funnel_columns": [_column(n, lang) for n in FUNNEL_COLUMNS],
            "activity_columns": [_column(n, lang) for n in ACTIVITY_COLUMNS],
            "model_columns": [_column(k, lang) for k in MODEL_COLUMNS],
            "rows": rows,
            "total": {k: total.get(k) for k in [*FUNNEL_COLUMNS, *ACTIVITY_COLUMNS]} if total else None,
            "model_total": model_total,
            "warnings": table.warnings,
        }


def _column(name: str, lang: str) -> dict[str, Any]:
    m = CATALOG[name]
    return {"key": name, "label": m.label(lang), "tier": m.tier.value, "unit": m.unit}


def _iso(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _forget_files(*paths: Path | None) -> None:
    """A refused or repeated upload (and its mapping) leaves nothing behind."""
    for p in paths:
        if p is not None:
            p.unlink(missing_ok=True)


def _named(errors: list[RowError], name: str) -> list[RowError]:
    """Row errors naming the file as the user sent it, not as it was saved."""
    return [replace(e, file=name) for e in errors]


def _problems(exc: ConfigError) -> list[dict[str, Any]]:
    return [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems]


def _card_json(card: Scorecard, lang: str) -> dict[str, Any]:
    """A scorecard with its texts in ``lang`` (the JSON of ``kassa kpi score`` carries both languages)."""
    data = card.to_json()
    for row in data["kpis"]:
        row["label"], row["explanation"] = row["label"][lang], row["explanation"][lang]
    bonus = data["bonus"]
    if bonus is not None:
        bonus["explanation"] = bonus["explanation"][lang] if bonus["explanation"] else ""
        if bonus["gate"] is not None:
            bonus["gate"]["label"] = bonus["gate"]["label"][lang]
            bonus["gate"]["explanation"] = bonus["gate"]["explanation"][lang]
    data.pop("warnings")
    data["facts"] = {k: _no_nan(v) for k, v in data["facts"].items()}
    return data


def _no_nan(v: Any) -> Any:
    """NaN and infinity leave the dashboard as "no value" (JSON ``null``), as everywhere in kassa."""
    return None if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))) else v


def scoped_months(wh: Warehouse, period: Period, where: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """Trend measures per month of the report's window, for the channels in ``where`` only.

    Months with no row count as zeros; months before the first with any value are dropped, as in the report.
    """
    window = trend_period(period)
    table = compute(wh, list(report_charts.TREND_METRICS), "month", window, where=where, with_total=False)
    found = {str(r["month"]): r for r in table.frame.to_dicts()}
    months = months_between(window.start, add_months(window.end, -1))
    names = report_charts.TREND_METRICS
    active = [m for m in months if any(found.get(m, {}).get(n) for n in names)]
    shown = months[months.index(active[0]) :] if active else []
    return [{"month": m, **{n: found.get(m, {}).get(n) or 0 for n in names}} for m in shown]

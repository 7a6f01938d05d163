"""One function computes any set of catalog metrics for any grouping and period.

What each base measure sums, from which rows and by which date, is declared in
:mod:`kassa.metrics.catalog` (docs/metrics.md has the same rules in plain words); this module builds
those rows from the stitched warehouse:

* ``spend``, ``activities``, ``visits``: the canonical tables with channel, campaign and source/medium;
* ``leads``: with ``has_deal`` (a deal was opened for the lead, which proves it was real);
* ``won_deals``: deals with status ``won``, credited to the lead's channel and campaign, with what the
  bank confirms for them (``paid``, ``outstanding``: payments matched by kassa.link.payments);
* ``payments``: every payment, credited to the deal it was matched to (``unknown`` when unmatched).

A row counts when its date (the catalog's ``Rows.date``) is in the period. Cohort view
(``view="cohort"``): rows that have a ``cohort_date`` (the date of the lead they came from) count when
that is in the period, optionally only within ``settle_days`` of it; the others (spend, activity,
visits, leads) stay those of the period, so CPL and CAC are per cohort. Money columns are converted into
the business currency where the rows carry a currency.

Every transform is an Ibis expression over the warehouse (it compiles for DuckDB, Spark, ClickHouse…);
only the final, small grouped table is pulled into memory as a Polars frame.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import polars as pl

from kassa.errors import KassaError
from kassa.link.channels import NOT_SET, campaign_source_medium
from kassa.link.customer_deals import with_customers
from kassa.link.money_trail import MoneyTrail
from kassa.link.payments import deal_payments
from kassa.metrics.catalog import CATALOG, base_metrics, derived, get_metric, visible_metrics
from kassa.metrics.customer_rows import cohort_deals, data_through
from kassa.metrics.estimated import cut_rows, cut_warnings
from kassa.metrics.formula import POLARS, Algebra, evaluate
from kassa.metrics.incomplete import left_out_warnings
from kassa.metrics.metric import Measure, Metric, Rows
from kassa.metrics.payback import cohort_cells, paybacks
from kassa.metrics.table import PARTIAL_METRICS, MetricTable, View
from kassa.period import Period
from kassa.settings import Settings
from kassa.store.compiled import fetch, materialize

if TYPE_CHECKING:
    from kassa.store import Warehouse

# Rows whose counts stay when their money has no exchange rate. A deal or payment without one stays out
# of the counts too (sales, payments), as attribution leaves it out of its journeys, so a model's
# conversions still add up to the metrics' sales; its money is shown as left out all the same.
KEEP_WITHOUT_RATE = frozenset({"spend", "activities"})
DIMENSIONS = ("channel", "campaign", "source_medium", "month", "manager")


def _measure(m: Metric) -> Measure:
    assert m.measure is not None, m.name
    return m.measure


# The base measures, in catalog order, and those that keep "no value" when nothing reported them.
BASE_MEASURES: tuple[str, ...] = tuple(m.name for m in base_metrics())
NULLABLE_MEASURES = frozenset(m.name for m in base_metrics() if _measure(m).nullable)


def _safe_div(a: Any, b: Any) -> Any:
    if isinstance(b, int | float):
        return None if b == 0 else a / b
    return a.cast("float64") / b.cast("float64").nullif(0)


# LTV's count of customers whose horizon is open rides along with it (MetricTable.partial).
OPEN = "cohort_open_customers"

# Catalog formulas and row filters over Ibis columns.
IBIS = Algebra(divide=_safe_div, choose=ibis.ifelse, missing=lambda v: v.isnull())


def vat_rate_expr(day: ir.DateValue, settings: Settings) -> ir.FloatingValue:
    rates = settings.vat_rates
    if not rates:
        return ibis.literal(0.0)
    branches = [(day >= r.since, ibis.literal(r.rate)) for r in reversed(rates)]
    return ibis.cases(*branches, else_=ibis.literal(0.0))


def cost_as_shown(
    cost: ir.FloatingValue, vat_included: ir.BooleanValue, day: ir.DateValue, settings: Settings
) -> ir.FloatingValue:
    """Cost net of VAT, or gross when the settings ask reports to include VAT."""
    rate = vat_rate_expr(day, settings)
    net = ibis.ifelse(vat_included.fill_null(False), cost / (1 + rate), cost)
    return net * (1 + rate) if settings.costs_include_vat else net


def _in_period(col: ir.Value, period: Period) -> ir.BooleanValue:
    if col.type().is_date():
        return (col >= period.start) & (col < period.end)
    return (col >= period.start_ts()) & (col < period.end_ts())


def _month(col: ir.Value) -> ir.StringValue:
    return col.strftime("%Y-%m")


class BaseTables:
    """The canonical tables with channel, campaign and source/medium attached.

    Built once per open warehouse and settings (:func:`base_tables`): the money trail is stitched into
    temporary tables of the engine, and so are the few visit columns the metrics read, so every
    later query is a small scan instead of re-deriving every link (and Ibis compiles a short query).
    The SQL of each of those tables is compiled once per process (:mod:`kassa.store.compiled`).
    """

    def __init__(self, wh: Warehouse, settings: Settings) -> None:
        self.settings = settings
        # One stitching for metrics, `kassa money` and journeys (docs/linking.md).
        self.chain = MoneyTrail(wh, settings, materialize=True)
        self.shape = self.chain.shape
        tag = hashlib.sha256(repr(self.shape).encode()).hexdigest()[:16]
        self._temporary: list[str] = []
        self._wh = wh

        def keep(step: str, build: Callable[[], ir.Table]) -> ir.Table:
            name = f"kassa_metrics_{tag}_{step}"
            self._temporary.append(name)
            return materialize(wh, name, ("base_tables", step, self.shape), build)

        try:
            self.activities = wh.table("activities")
            self.visits = keep(
                "visits", lambda: self.chain.visits.select("ts", "channel", "campaign", "source_medium")
            )
            self.leads = self.chain.leads
            self.deals = self.chain.deal_status
            self.payments = self.chain.payments
            sm = keep("source_medium", lambda: campaign_source_medium(self.visits))
            s = wh.table("spend")
            j = s.left_join(sm, [s.channel == sm.sm_channel, s.campaign == sm.sm_campaign])
            self.spend = j.select(*s.columns, source_medium=j.sm.fill_null(NOT_SET))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self._temporary:
            self._wh.drop_temporary(self._temporary.pop())
        self.chain.release()


def base_tables(wh: Warehouse, settings: Settings) -> BaseTables:
    """The stitched tables the metrics read, shared by every query on this open warehouse."""
    return wh.memo(("metrics.base_tables", settings.model_dump_json()), lambda: BaseTables(wh, settings))


def _leads(t: BaseTables, view: View, settle_days: int | None) -> ir.Table:
    has_deal = t.deals.select(hd_lead=t.deals.lead_id).distinct()
    j = t.leads.left_join(has_deal, t.leads.lead_id == has_deal.hd_lead)
    return j.mutate(has_deal=j.hd_lead.notnull()).drop("hd_lead")


def _won_deals(t: BaseTables, view: View, settle_days: int | None) -> ir.Table:
    deals = t.deals
    if view == "cohort" and settle_days is not None:
        # What the bank confirmed within settle_days of the lead, as the cohort counts its outcomes.
        deals = deal_payments(
            t.chain.deals, t.payments, t.chain.rules.tolerance, paid_within_days=settle_days
        )
        deals = with_customers(deals, t.chain.deal_customers)
    return deals.filter(deals.status == "won")


def _cohort_deals(t: BaseTables, view: View, settle_days: int | None) -> ir.Table:
    won = t.deals.filter(t.deals.status == "won")
    through = data_through(t.leads, t.deals, t.payments)
    return cohort_deals(won, t.settings.customer_horizon_months, through)


@dataclass(frozen=True)
class _RowSet:
    """How the compute layer builds one catalog :class:`Rows` set from the stitched tables."""

    read: Callable[[BaseTables, View, int | None], ir.Table]
    noun: str  # what the warning about amounts without an exchange rate counts


_ROW_SETS: dict[str, _RowSet] = {
    "spend": _RowSet(lambda t, view, settle: t.spend, "spend row(s)"),
    "activities": _RowSet(lambda t, view, settle: t.activities, "activity row(s)"),
    "visits": _RowSet(lambda t, view, settle: t.visits, "visit(s)"),
    "leads": _RowSet(_leads, "lead(s)"),
    "won_deals": _RowSet(_won_deals, "won deal(s)"),
    "payments": _RowSet(lambda t, view, settle: t.payments, "payment(s)"),
    "cohort_deals": _RowSet(_cohort_deals, "won deal(s) of the cohort"),
}


def _measures_by_rows() -> dict[Rows, list[Metric]]:
    out: dict[Rows, list[Metric]] = {}
    for m in base_metrics():
        out.setdefault(_measure(m).rows, []).append(m)
    return out


def _value(t: ir.Table, m: Measure, settings: Settings, keys: dict[str, ir.Value] | None = None) -> ir.Value:
    """One row's contribution to a base measure (``keys``: the row's group, for a distinct count)."""
    value: ir.Value = ibis.literal(1) if m.column is None else t[m.column]
    if m.net_of_vat:
        value = cost_as_shown(value, t.vat_included, t[m.rows.date], settings)
    holds = ibis.literal(True) if m.where is None else evaluate(m.where, {c: t[c] for c in t.columns}, IBIS)
    if m.distinct is not None:
        # The first row of each value in its group counts 1, the rest 0: a count of distinct values
        # that still sums like every other measure.
        group = [*(keys or {}).values(), t[m.distinct], holds]
        first = ibis.row_number().over(group_by=group, order_by=[t[m.distinct]]) == 0
        return ibis.ifelse(holds & first, 1, 0)
    if m.where is not None:
        value = ibis.ifelse(holds, value, 0)
    return value


def _summed(t: ir.Table, by: list[str]) -> ir.Table:
    """Every base measure summed per group; "nothing counted" is 0 except for the nullable ones."""
    aggs = {m: t[m].sum() for m in BASE_MEASURES}
    grouped = t.group_by(by).aggregate(**aggs) if by else t.aggregate(**aggs)
    return grouped.mutate(
        **{m: grouped[m].fill_null(0.0) for m in BASE_MEASURES if m not in NULLABLE_MEASURES}
    )


def in_business_currency(
    t: ir.Table, amounts: list[str], day: ir.Value, fx: ir.Table, currency: str
) -> tuple[ir.Table, ir.Table]:
    """Convert ``amounts`` into the business currency with the month's rate from ``fx_rates``.

    Returns (converted rows, rows that could not be converted: another currency without a rate).
    """
    rates = fx.select(fx_month=fx.month, fx_currency=fx.currency, fx_rate=fx.rate)
    month = day.truncate("M").cast("date")
    j = t.left_join(rates, [t.currency == rates.fx_currency, month == rates.fx_month])
    rate = ibis.ifelse(j.currency == currency, ibis.literal(1.0), j.fx_rate)
    converted = j.mutate(**{a: j[a] * rate for a in amounts}, __rate=rate)
    ok = converted.filter(converted["__rate"].notnull()).select(*t.columns)
    # The rows left out keep their amounts in their own currency (what the warnings and "≥" show).
    missing = j.filter(rate.isnull()).select(*t.columns)
    return ok, missing


def _part(t: ir.Table, keys: dict[str, ir.Value], measures: dict[str, ir.Value]) -> ir.Table:
    cols: dict[str, ir.Value] = {k: v.cast("string") for k, v in keys.items()}
    for name in BASE_MEASURES:
        cols[name] = measures[name].cast("float64") if name in measures else ibis.null("float64")
    return t.select(**cols)


def _keys(t: ir.Table, by: list[str], date_col: ir.Value) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    for d in by:
        if d == "month":
            out[d] = _month(date_col)
        elif d in t.columns:
            col = t[d]
            out[d] = ibis.ifelse(
                col.isnull() | (col.cast("string").strip() == ""), ibis.literal(NOT_SET), col.cast("string")
            )
        else:
            out[d] = ibis.literal(NOT_SET)
    return out


def _apply_where(t: ir.Table, where: dict[str, list[str]] | None) -> ir.Table:
    for dim, values in (where or {}).items():
        # A dimension the table does not have matches none of its rows.
        t = t.filter(t[dim].isin(values)) if dim in t.columns else t.filter(ibis.literal(False))
    return t


def _shape(
    st: Settings,
    by: list[str],
    period: Period,
    view: View,
    settle_days: int | None,
    where: dict[str, list[str]] | None,
) -> tuple[Any, ...]:
    """Everything the base-measure query is built from besides the rows (the key of its compiled SQL)."""
    where_key = tuple((dim, tuple(values)) for dim, values in (where or {}).items())
    return (st.model_dump_json(), tuple(by), period, view, settle_days, where_key)


def _measure_queries(
    wh: Warehouse,
    by: list[str],
    period: Period,
    *,
    view: View,
    settle_days: int | None,
    where: dict[str, list[str]] | None,
    settings: Settings,
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """(the grouped base measures, one row per amount left out for want of an exchange rate, the
    cohort's months per group: :func:`kassa.metrics.payback.cohort_cells` of LTV's very rows)."""
    st = settings
    src = base_tables(wh, st)
    cur = st.currency
    fx = wh.table("fx_rates")
    parts: list[ir.Table] = []
    foreign: list[ir.Table] = []
    cells: ir.Table | None = None
    for rows, metrics in _measures_by_rows().items():
        t = _ROW_SETS[rows.name].read(src, view, settle_days)
        date = rows.cohort_date if view == "cohort" and rows.cohort_date else rows.date
        t = _apply_where(t.filter(_in_period(t[date], period)), where)
        if view == "cohort" and rows.cohort_date and settle_days is not None:
            t = t.filter(t[rows.date] <= t[rows.cohort_date] + ibis.interval(days=settle_days))
        money = [_measure(m).column for m in metrics if m.unit == "money"]
        amounts = [c for c in dict.fromkeys(money) if c is not None]
        if amounts and "currency" in t.columns:
            # Converted at the rate of the month the money moved, whatever the view.
            t, no_rate = in_business_currency(t, amounts, t[rows.money_date or rows.date], fx, cur)
            foreign.extend(_left_out(no_rate, by, date, rows.name, metrics, st))
            if rows.name in KEEP_WITHOUT_RATE:
                # Spend rows stay (their clicks and impressions count); only their money waits for a
                # rate, and the table says so (MetricTable.incomplete) instead of counting it as 0.
                zero = {a: ibis.literal(0.0, type=t[a].type()) for a in amounts}
                t = ibis.union(t, no_rate.mutate(**zero), distinct=False)
        keys = _keys(t, by, t[date])
        if rows.name == "cohort_deals":
            cells = cohort_cells(t, keys)
        parts.append(_part(t, keys, {m.name: _value(t, _measure(m), st, keys) for m in metrics}))
    left = ibis.union(*foreign, distinct=False)
    left = left.group_by([*by, "what", "currency", "metric"]).aggregate(
        n=ibis._.count(), amount=ibis._.amount.sum()
    )
    assert cells is not None, "the catalog declares no cohort rows"
    return _summed(ibis.union(*parts, distinct=False), by), left, cells


def _left_out(
    t: ir.Table, by: list[str], date: str, rows: str, metrics: list[Metric], st: Settings
) -> list[ir.Table]:
    """One row per row without a rate and money measure: its group, currency and the amount (in that
    currency, counted as the measure counts it: net of VAT where the measure is)."""
    keys = {k: v.cast("string") for k, v in _keys(t, by, t[date]).items()}
    noun = ibis.literal(_ROW_SETS[rows].noun)
    return [
        t.select(
            **keys,
            what=noun,
            currency=t.currency.upper(),
            metric=ibis.literal(m.name),
            amount=_value(t, _measure(m), st).cast("float64"),
        )
        for m in metrics
        if m.unit == "money" and _measure(m).column is not None
    ]


class _Queries:
    """The base-measure queries of one shape, built only if some compiled SQL of that shape is missing."""

    def __init__(self, wh: Warehouse, by: list[str], period: Period, **opts: Any) -> None:
        # Kept SQL reads the stitched temporary tables by name, so they must exist on this warehouse
        # even when nothing is built here.
        base_tables(wh, opts["settings"])
        self._args = (wh, by, period)
        self._opts = opts
        self._built: tuple[ir.Table, ir.Table, ir.Table] | None = None

    def _get(self) -> tuple[ir.Table, ir.Table, ir.Table]:
        if self._built is None:
            self._built = _measure_queries(*self._args, **self._opts)
        return self._built

    def measures(self) -> ir.Table:
        return self._get()[0]

    def left_out(self) -> ir.Table:
        return self._get()[1]

    def cells(self) -> ir.Table:
        return self._get()[2]

    def cut(self) -> ir.Table:
        """Spread spend rows the groups' dates cut (:func:`kassa.metrics.estimated.cut_rows`)."""
        wh, by, period = self._args
        spend = base_tables(wh, self._opts["settings"]).spend
        t = _apply_where(spend.filter(_in_period(spend.date, period)), self._opts["where"])
        return cut_rows(t, lambda t: _keys(t, by, t.date), by, period)


def _left_out_frame(wh: Warehouse, shape: tuple[Any, ...], queries: _Queries) -> pl.DataFrame:
    # One query for every check: amounts in another currency without a rate, per group and measure.
    return fetch(wh, ("metrics.left_out", shape), queries.left_out)


def _base_queries(
    wh: Warehouse,
    by: list[str],
    period: Period,
    view: View,
    settle_days: int | None,
    where: dict[str, list[str]] | None,
    settings: Settings | None,
) -> tuple[_Queries, tuple[Any, ...], list[str]]:
    """The base-measure queries of one shape, the shape, and the warnings about rows left out."""
    st = settings or wh.settings
    shape = _shape(st, by, period, view, settle_days, where)
    queries = _Queries(wh, by, period, view=view, settle_days=settle_days, where=where, settings=st)
    return queries, shape, left_out_warnings(_left_out_frame(wh, shape, queries), st.currency)


def base_measures(
    wh: Warehouse,
    by: list[str],
    period: Period,
    *,
    view: View = "calendar",
    settle_days: int | None = None,
    where: dict[str, list[str]] | None = None,
    settings: Settings | None = None,
) -> tuple[ir.Table, list[str]]:
    """The grouped base measures as one lazy Ibis table, plus warnings about excluded rows."""
    queries, _shape_, warnings = _base_queries(wh, by, period, view, settle_days, where, settings)
    return queries.measures(), warnings


def base_measures_frame(
    wh: Warehouse,
    by: list[str],
    period: Period,
    *,
    view: View = "calendar",
    settle_days: int | None = None,
    where: dict[str, list[str]] | None = None,
    settings: Settings | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """:func:`base_measures` in memory, through SQL compiled once per shape and process."""
    queries, shape, warnings = _base_queries(wh, by, period, view, settle_days, where, settings)
    return fetch(wh, ("metrics.base", shape), queries.measures), warnings


def derive(table: ir.Table, names: list[str]) -> ir.Table:
    """Add derived metrics (in dependency order) to a table of base measures."""
    cols = {c: table[c] for c in table.columns}
    return table.select(**derived(names, cols, IBIS, finish=lambda v: v.cast("float64")))


def sum_measures(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """A frame of base measures summed to the groups ``by``, in memory, as the warehouse sums them: a
    measure with no value in any row of a group has no value (SQL's SUM), not 0."""
    measures = [c for c in frame.columns if c in BASE_MEASURES]
    sums = [pl.when(pl.col(m).count() > 0).then(pl.col(m).sum()).alias(m) for m in measures]
    if not by:
        return frame.select(sums)
    return frame.group_by(by, maintain_order=True).agg(sums)


def derive_frame(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """:func:`derive` on a frame in memory (the same catalog formulas, the same "no value" rules)."""
    cols = {c: pl.col(c) for c in frame.columns}
    values = derived(names, cols, POLARS, finish=lambda v: v.cast(pl.Float64))
    return frame.with_columns(**{n: v for n, v in values.items() if n not in frame.columns})


def _counts_as_int(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    counts = [n for n in names if CATALOG[n].unit == "count"]
    return frame.with_columns([pl.col(n).round(0).cast(pl.Int64) for n in counts])


def compute(
    wh: Warehouse,
    metrics: list[str] | None = None,
    by: list[str] | str | None = None,
    period: Period | str | None = None,
    *,
    view: View = "calendar",
    settle_days: int | None = None,
    where: dict[str, list[str]] | None = None,
    with_total: bool = True,
    settings: Settings | None = None,
) -> MetricTable:
    """Compute catalog metrics grouped by ``by`` for ``period``.

    Parameters
    ----------
    wh : Warehouse
        An open warehouse (read-only is enough).
    metrics : list of metric names, optional
        Default: every visible metric of the catalog.
    by : list of ``channel``, ``campaign``, ``source_medium``, ``month``, ``manager``
        ``campaign`` implies ``channel`` (campaign names repeat across platforms).
    period : Period or text like ``2026-10``
    view : ``calendar`` (default) or ``cohort``
    where : dimension -> allowed values, e.g. ``{"channel": ["yandex_direct"]}``

    Examples
    --------
    >>> t = compute(wh, ["cpl", "romi"], by="channel", period="2026-10")  # doctest: +SKIP
    """
    if period is None:
        raise KassaError("a period is required (e.g. 2026-10)")
    p = Period.parse(period) if isinstance(period, str) else period
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    keys = list(by or [])
    for d in keys:
        if d not in DIMENSIONS:
            raise KassaError(f"cannot group by {d!r}; choose from {', '.join(DIMENSIONS)}")
    if "campaign" in keys and "channel" not in keys:
        keys.insert(keys.index("campaign"), "channel")
    if view not in ("calendar", "cohort"):
        raise KassaError(f"unknown view {view!r}; use calendar or cohort")
    names = [get_metric(m).name for m in metrics] if metrics else [m.name for m in visible_metrics()]
    st = settings or wh.settings
    shape = _shape(st, keys, p, view, settle_days, where)
    queries = _Queries(wh, keys, p, view=view, settle_days=settle_days, where=where, settings=st)
    left = _left_out_frame(wh, shape, queries)
    cut = fetch(wh, ("metrics.cut", shape), queries.cut)
    wanted = tuple(names)
    total: dict[str, Any] = {}
    # Payback is counted from the cohort's months after the query (kassa.metrics.payback), not derived.
    covers = [n for n in names if CATALOG[n].cover is not None]
    formulas = [n for n in names if n not in covers]
    # LTV wants to know whether a horizon is still open, payback its cost and cohort: those ride along
    # and are taken off below.
    extra = [OPEN] if set(PARTIAL_METRICS) & set(names) and OPEN not in names else []
    extra += [d for n in covers for d in CATALOG[n].depends_on if d not in names and d not in extra]
    if not (with_total and keys):
        frame = fetch(
            wh,
            ("metrics", shape, wanted, tuple(extra)),
            lambda: derive(queries.measures(), names).select(*keys, *formulas, *extra),
        )
        frame = _counts_as_int(frame, formulas)
        if with_total:
            total = frame.to_dicts()[0] if frame.height else {}
    else:
        # Every base measure is a sum, so the total is the sum of the groups' base measures: one query
        # over the warehouse, kept in a temporary table, and the total recomputed (never summed ratios).
        name = f"kassa_groups_{hashlib.sha256(repr(shape).encode()).hexdigest()[:16]}"
        groups = materialize(wh, name, ("metrics.groups", shape), queries.measures)
        try:
            frame = fetch(
                wh,
                ("metrics", shape, wanted, name, tuple(extra)),
                lambda: derive(groups, names).select(*keys, *formulas, *extra),
            )
            frame = _counts_as_int(frame, formulas)
            rows = fetch(
                wh,
                ("metrics.total", shape, wanted, name, tuple(extra)),
                lambda: derive(_summed(groups, []), names).select(*formulas, *extra),
            )
            rows = _counts_as_int(rows, formulas)
            total = rows.to_dicts()[0] if rows.height else {}
        finally:
            wh.drop_temporary(name)
    not_yet: dict[tuple[Any, ...], set[str]] = {}
    if covers:
        cells = fetch(wh, ("metrics.cover", shape), queries.cells)
        for n in covers:
            cover = CATALOG[n].cover
            assert cover is not None
            months, whole, paid = paybacks(frame, total, cells, keys, cover.cost)
            frame = frame.with_columns(pl.Series(n, months, dtype=pl.Int64))
            if total:
                total[n] = whole
            for key, ok in paid.items():
                if ok is False:
                    not_yet.setdefault(key, set()).add(n)
        frame = frame.select(*keys, *names, *extra)
        total = {n: total[n] for n in [*names, *extra] if n in total}
    horizon_open: dict[tuple[Any, ...], int] = {}
    if OPEN in extra:
        horizon_open = {tuple(r[k] for k in keys): int(r[OPEN] or 0) for r in frame.iter_rows(named=True)}
        horizon_open[("total",)] = int(total.get(OPEN, 0) or 0)
    for n in extra:
        total.pop(n, None)
    frame = frame.drop(extra)
    if keys:
        frame = frame.sort(keys)
    return MetricTable(
        frame=frame,
        metrics=[CATALOG[n] for n in names],
        by=keys,
        period=p,
        view=view,
        total=total,
        warnings=left_out_warnings(left, st.currency) + cut_warnings(cut),
        left_out=left,
        cut=cut,
        horizon_open=horizon_open,
        paid_back_not_yet=not_yet,
    )


def months_between(first: dt.date, last: dt.date) -> list[str]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out

"""One function computes any set of catalog metrics for any grouping and period.

How each base measure is counted (docs/metrics.md has the same rules in plain words):

================  =============  ===========================================================
measure           table          calendar view: counted when …
================  =============  ===========================================================
cost, impressions spend          its ``date`` is in the period
clicks, reach
activity_cost,    activities     its ``date`` is in the period
posts
visits            visits         its ``ts`` is in the period
leads,            leads          created in the period; qualified = status ``qualified`` or a
qualified_leads                  deal was opened for it (a deal proves the lead was real)
sales, revenue,   deals          status ``won`` and ``closed_at`` in the period, credited to the
gross_profit                     lead's channel and campaign
paid_revenue,     deals +        the same deals: what the bank confirms for them (payments matched
unpaid_won        payments       by kassa.link.payments, whenever paid) and what is still unpaid
unknown_source_   leads          leads of the period whose channel is ``unknown``
leads
payments          payments       ``paid_at`` in the period
================  =============  ===========================================================

Cohort view (``view="cohort"``): leads created in the period, and what *they* became whenever it
happened (optionally within ``settle_days`` of the lead): their qualification, deals won, revenue and
payments. Spend, activity and visits stay those of the period, so CPL and CAC are per cohort.

Every transform is an Ibis expression over the warehouse (it compiles for DuckDB, Spark, ClickHouse…);
only the final, small grouped table is pulled into memory as a Polars frame.
"""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import polars as pl

from kassa.errors import KassaError
from kassa.link.chain import Chain
from kassa.link.channels import UNKNOWN
from kassa.link.payments import deal_payments
from kassa.link.stitch import NOT_SET, campaign_source_medium
from kassa.metrics.catalog import CATALOG, Metric, evaluate, get_metric, visible_metrics, with_dependencies
from kassa.period import Period
from kassa.settings import Settings

View = Literal["calendar", "cohort"]
DIMENSIONS = ("channel", "campaign", "source_medium", "month", "manager")

# Base measures, in the order they are aggregated; romi's internal helper is derived from two of them.
BASE_MEASURES = (
    "cost",
    "impressions",
    "clicks",
    "reach",
    "activity_cost",
    "posts",
    "visits",
    "leads",
    "qualified_leads",
    "sales",
    "revenue",
    "gross_profit",
    "margin_missing",
    "payments",
    "paid_revenue",
    "unpaid_won",
    "unknown_source_leads",
)
# Measures that keep "no value" when nothing reported them (a margin of 0 is not "no margin data").
_NULLABLE = {"gross_profit", "reach"}


@dataclass
class MetricTable:
    """Metrics per group for one period: a Polars frame plus what it means."""

    frame: pl.DataFrame
    metrics: list[Metric]
    by: list[str]
    period: Period
    view: View
    total: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        return self.frame.to_dicts()

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "view": self.view,
            "by": self.by,
            "metrics": [
                {
                    "name": m.name,
                    "tier": m.tier.value,
                    "unit": m.unit,
                    "better": m.better,
                    "label": m.label_en,
                }
                for m in self.metrics
            ],
            "rows": [_jsonable(r) for r in self.frame.to_dicts()],
            "total": _jsonable(self.total),
            "warnings": self.warnings,
        }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, float) and v != v:  # NaN never leaves kassa: it is "no value"
            v = None
        out[k] = v
    return out


def _safe_div(a: Any, b: Any) -> Any:
    if isinstance(b, int | float):
        return None if b == 0 else a / b
    return a.cast("float64") / b.cast("float64").nullif(0)


# A price per unit — CPC, CPM, CPL, cost per qualified lead, CAC — of a channel nobody paid for is not 0:
# it is undefined ("—"). SEO's leads did not cost nothing; their cost is simply not booked as marketing.
COSTS = ("cost", "marketing_cost")


def cost_per_unit(m: Metric) -> bool:
    """Whether ``m`` is a cost divided by something: a money formula ``cost… / x`` (CPM: ``cost * 1000 / x``)."""
    if m.unit != "money" or m.formula is None:
        return False
    top = ast.parse(m.formula, mode="eval").body
    if not (isinstance(top, ast.BinOp) and isinstance(top.op, ast.Div)):
        return False
    return any(isinstance(n, ast.Name) and n.id in COSTS for n in ast.walk(top.left))


def _cost_div(a: Any, b: Any) -> Any:
    """Division for a cost per unit: no cost, no price (``None``), like a division by zero."""
    if isinstance(a, int | float):
        return None if a == 0 else _safe_div(a, b)
    return _safe_div(a.nullif(0), b)


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


def _in_period(col: ir.Value, period: Period, is_date: bool) -> ir.BooleanValue:
    if is_date:
        return (col >= period.start) & (col < period.end)
    return (col >= period.start_ts()) & (col < period.end_ts())


def _month(col: ir.Value) -> ir.StringValue:
    return col.strftime("%Y-%m")


class _Sources:
    """The canonical tables with channel, campaign and source/medium attached.

    Built once per open warehouse and settings (:func:`sources`): the money trail is stitched into
    temporary tables of the engine, and so are the few visit columns the metrics read, so every
    later query is a small scan instead of re-deriving every link (and Ibis compiles a short query).
    """

    def __init__(self, wh: Any, settings: Settings, chain: Chain | None = None) -> None:
        self.settings = settings
        self._own_chain = chain is None
        # One stitching for metrics, `kassa money` and journeys (docs/linking.md).
        self.chain = chain or Chain(wh, settings, materialize=True)
        self._temporary: list[str] = []
        self._backend = wh.ibis
        try:
            self.activities = wh.table("activities")
            self.visits = self._keep(self.chain.visits.select("ts", "channel", "campaign", "source_medium"))
            self.leads = self.chain.leads
            self.deals = self.chain.deal_status
            self.payments = self.chain.payments
            sm = self._keep(campaign_source_medium(self.visits))
            s = wh.table("spend")
            j = s.left_join(sm, [s.channel == sm.sm_channel, s.campaign == sm.sm_campaign])
            self.spend = j.select(*s.columns, source_medium=j.sm.fill_null(NOT_SET))
        except BaseException:
            self.release()
            raise

    def _keep(self, t: ir.Table) -> ir.Table:
        name = f"kassa_metrics_{uuid.uuid4().hex}"
        self._temporary.append(name)
        return self._backend.create_table(name, t, temp=True)

    def release(self) -> None:
        while self._temporary:
            self._backend.drop_table(self._temporary.pop(), force=True)
        if self._own_chain:
            self.chain.release()


def sources(wh: Any, settings: Settings, chain: Chain | None = None) -> _Sources:
    """The stitched tables the metrics read, shared by every query on this open warehouse."""
    if chain is not None:
        return _Sources(wh, settings, chain)
    return wh.memo(("metrics.sources", settings.model_dump_json()), lambda: _Sources(wh, settings))


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
    missing = converted.filter(converted["__rate"].isnull()).select(*t.columns)
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


def base_measures(
    wh: Any,
    by: list[str],
    period: Period,
    *,
    view: View = "calendar",
    settle_days: int | None = None,
    where: dict[str, list[str]] | None = None,
    settings: Settings | None = None,
    chain: Chain | None = None,
) -> tuple[ir.Table, list[str]]:
    """The grouped base measures as one lazy Ibis table, plus warnings about excluded rows.

    ``chain`` is the stitching to read (default: a lazy :class:`kassa.link.chain.Chain`).
    """
    st = settings or wh.settings
    src = sources(wh, st, chain)
    cur = st.currency
    warnings: list[str] = []
    parts: list[ir.Table] = []

    spend = _apply_where(src.spend.filter(_in_period(src.spend.date, period, True)), where)
    fx = wh.table("fx_rates")
    spend, no_rate = in_business_currency(spend, ["cost"], spend.date, fx, cur)
    foreign: list[ir.Table] = [no_rate.select(what=ibis.literal("spend row(s)"))]
    parts.append(
        _part(
            spend,
            _keys(spend, by, spend.date),
            {
                "cost": cost_as_shown(spend.cost, spend.vat_included, spend.date, st),
                "impressions": spend.impressions,
                "clicks": spend.clicks,
                "reach": spend.reach,
            },
        )
    )

    act = _apply_where(src.activities.filter(_in_period(src.activities.date, period, True)), where)
    parts.append(_part(act, _keys(act, by, act.date), {"activity_cost": act.cost, "posts": act["count"]}))

    visits = _apply_where(src.visits.filter(_in_period(src.visits.ts, period, False)), where)
    parts.append(_part(visits, _keys(visits, by, visits.ts), {"visits": ibis.literal(1)}))

    leads = _apply_where(src.leads.filter(_in_period(src.leads.created_at, period, False)), where)
    has_deal = src.deals.select(hd_lead=src.deals.lead_id).distinct()
    leads = leads.left_join(has_deal, leads.lead_id == has_deal.hd_lead)
    qualified = (leads.status == "qualified") | leads.hd_lead.notnull()
    parts.append(
        _part(
            leads,
            _keys(leads, by, leads.created_at),
            {
                "leads": ibis.literal(1),
                "qualified_leads": qualified.cast("int64"),
                "unknown_source_leads": (leads.channel == UNKNOWN).cast("int64"),
            },
        )
    )

    all_deals = src.deals
    if view == "cohort" and settle_days is not None:
        all_deals = deal_payments(
            src.chain.deals, src.payments, src.chain.rules.tolerance, paid_within_days=settle_days
        )
    deals = _apply_where(all_deals.filter(all_deals.status == "won"), where)
    payments = _apply_where(src.payments, where)
    if view == "calendar":
        deals = deals.filter(_in_period(deals.closed_at, period, False))
        deal_date, pay_date = "closed_at", "paid_at"
        payments = payments.filter(_in_period(payments.paid_at, period, False))
    else:
        deals = deals.filter(_in_period(deals.lead_created_at, period, False))
        payments = payments.filter(_in_period(payments.lead_created_at, period, False))
        if settle_days is not None:
            deals = deals.filter(deals.closed_at <= deals.lead_created_at + ibis.interval(days=settle_days))
            payments = payments.filter(
                payments.paid_at <= payments.lead_created_at + ibis.interval(days=settle_days)
            )
        deal_date = pay_date = "lead_created_at"
    deals, no_rate = in_business_currency(
        deals, ["amount", "gross_profit", "paid", "outstanding"], deals.closed_at, fx, cur
    )
    foreign.append(no_rate.select(what=ibis.literal("won deal(s)")))
    parts.append(
        _part(
            deals,
            _keys(deals, by, deals[deal_date]),
            {
                "sales": ibis.literal(1),
                "revenue": deals.amount,
                "gross_profit": deals.gross_profit,
                "margin_missing": deals.gross_profit.isnull().cast("int64"),
                "paid_revenue": deals.paid,
                "unpaid_won": deals.outstanding,
            },
        )
    )
    payments, no_rate = in_business_currency(payments, ["amount"], payments.paid_at, fx, cur)
    foreign.append(no_rate.select(what=ibis.literal("payment(s)")))
    # One query for all three checks: amounts in another currency are left out, and people are told so.
    counts = (
        ibis.union(*foreign, distinct=False)
        .group_by("what")
        .aggregate(n=ibis._.count())
        .to_pyarrow()
        .to_pylist()
    )
    for row in sorted(counts, key=lambda r: r["what"]):
        warnings.append(
            f"{row['n']} {row['what']} in a currency other than {cur} without an exchange rate for their month were left out (load fx_rates)"
        )
    parts.append(_part(payments, _keys(payments, by, payments[pay_date]), {"payments": payments.amount}))

    union = ibis.union(*parts, distinct=False)
    aggs = {m: union[m].sum() for m in BASE_MEASURES}
    grouped = union.group_by(by).aggregate(**aggs) if by else union.aggregate(**aggs)
    filled = {m: grouped[m].fill_null(0.0) for m in BASE_MEASURES if m not in _NULLABLE}
    return grouped.mutate(**filled), warnings


def derive(table: ir.Table, names: list[str]) -> ir.Table:
    """Add derived metrics (in dependency order) to a table of base measures."""
    cols: dict[str, Any] = {c: table[c] for c in table.columns}
    cols["romi_base"] = ibis.ifelse(
        (table.margin_missing == 0) & (table.sales > 0) & table.gross_profit.notnull(),
        table.gross_profit,
        table.revenue,
    )
    for n in with_dependencies(names):
        m = CATALOG[n]
        if m.formula is not None and n not in cols:
            divide = _cost_div if cost_per_unit(m) else _safe_div
            cols[n] = evaluate(m.formula, cols, divide).cast("float64")
    return table.select(**{k: v for k, v in cols.items()})


def _counts_as_int(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    counts = [n for n in names if CATALOG[n].unit == "count"]
    return frame.with_columns([pl.col(n).round(0).cast(pl.Int64) for n in counts])


def compute(
    wh: Any,
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
    opts: dict[str, Any] = {"view": view, "settle_days": settle_days, "where": where, "settings": settings}
    table, warnings = base_measures(wh, keys, p, **opts)
    total: dict[str, Any] = {}
    if not (with_total and keys):
        frame = _counts_as_int(derive(table, names).select(*keys, *names).to_polars(), names)
        if with_total:
            total = frame.to_dicts()[0] if frame.height else {}
    else:
        # Every base measure is a sum, so the total is the sum of the groups' base measures: one query
        # over the warehouse, kept in a temporary table, and the total recomputed (never summed ratios).
        name = f"kassa_groups_{uuid.uuid4().hex}"
        groups = wh.ibis.create_table(name, table, temp=True)
        try:
            frame = _counts_as_int(derive(groups, names).select(*keys, *names).to_polars(), names)
            summed = groups.aggregate(**{m: groups[m].sum() for m in BASE_MEASURES})
            filled = summed.mutate(
                **{m: summed[m].fill_null(0.0) for m in BASE_MEASURES if m not in _NULLABLE}
            )
            rows = _counts_as_int(derive(filled, names).select(*names).to_polars(), names).to_dicts()
            total = rows[0] if rows else {}
        finally:
            wh.ibis.drop_table(name, force=True)
    if keys:
        frame = frame.sort(keys)
    return MetricTable(
        frame=frame,
        metrics=[CATALOG[n] for n in names],
        by=keys,
        period=p,
        view=view,
        total=total,
        warnings=warnings,
    )


def months_between(first: dt.date, last: dt.date) -> list[str]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out

"""The plan, backwards: a revenue target for a month turned into the funnel it needs, per channel.

For each channel the rates of the N months before the period (catalog metrics, pooled over the window:
``average_check``, ``qualified_to_sale``, ``lead_to_qualified``, ``visit_to_lead``,
``cost_per_qualified_lead``) run the funnel upwards from the channel's part of the target::

    sales           = revenue / average_check
    qualified_leads = sales / qualified_to_sale
    leads           = qualified_leads / lead_to_qualified
    visits          = leads / visit_to_lead
    budget          = qualified_leads * cost_per_qualified_lead

*The split.* The target is split over channels in proportion to each channel's revenue over the
window: a channel that brought 70 % of the window's revenue is asked for 70 % of the target. Channels
that brought none are asked for nothing (they are listed, so nobody wonders where they went).

*The range.* The plan is recomputed with each month's own rates (a rate the channel had no value for in
that month, or 0 — no sales that month — is the window's); ``low`` and ``high`` are the smallest and
largest of those N plans and the window's own, figure by figure. The total's range adds up the
channels' lows and highs: every channel at its least (most) favourable month at once.

*The shortfall.* Each planned figure is compared with the most the channel ever delivered in one
calendar month before the period (spend for the budget); where the plan needs more, the shortfall is
the difference, and the revenue the channel reaches at its best month's volumes is the target scaled by
the tightest of those ratios (every figure is proportional to the revenue, at the plan's rates).

Everything is counted by :func:`kassa.metrics.compute.compute` (one query by channel and month) and
derived by the catalog's formulas (:func:`~kassa.metrics.compute.derive_frame`): nothing is re-counted.
docs/plan.md has the same rules with a worked example.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from kassa.errors import KassaError
from kassa.i18n import Translator
from kassa.metrics.compute import compute, derive_frame, months_between, sum_measures
from kassa.period import YEARS, Period, add_months

if TYPE_CHECKING:
    from kassa.store import Warehouse

_ = Translator("kpi")

# The catalog rates the funnel runs on, upwards from revenue.
RATES = (
    "average_check",
    "qualified_to_sale",
    "lead_to_qualified",
    "visit_to_lead",
    "cost_per_qualified_lead",
)
# What the plan asks for, and the catalog metric a channel's record of it is.
FIGURES = ("sales", "qualified_leads", "leads", "visits", "budget")
RECORD_METRIC = {f: ("marketing_cost" if f == "budget" else f) for f in FIGURES}
# The base measures the rates and records are derived from (marketing_cost = cost + activity_cost).
BASE = ("revenue", "sales", "qualified_leads", "leads", "visits", "cost", "activity_cost")
DEFAULT_MONTHS = 3
ALL = "__all__"  # the key of the whole business when the plan is not by channel

Rates = Mapping[str, float | None]


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _usable(v: Any) -> float | None:
    """A rate as the funnel uses it: a finite number above 0, else no value."""
    if v is None or not isinstance(v, int | float) or math.isnan(v) or math.isinf(v) or v <= 0:
        return None
    return float(v)


def funnel(revenue: float, rates: Rates) -> dict[str, float | None]:
    """The figures ``revenue`` needs at ``rates``: no value where a rate on the way has none."""
    sales = _div(revenue, rates.get("average_check"))
    qualified = _div(sales, rates.get("qualified_to_sale"))
    leads = _div(qualified, rates.get("lead_to_qualified"))
    visits = _div(leads, rates.get("visit_to_lead"))
    cpql = rates.get("cost_per_qualified_lead")
    budget = None if qualified is None or cpql is None else qualified * cpql
    return {"sales": sales, "qualified_leads": qualified, "leads": leads, "visits": visits, "budget": budget}


def revenue_of(figures: Mapping[str, float | None], rates: Rates) -> float | None:
    """The funnel forwards: the revenue ``figures``' qualified leads bring at ``rates`` (the round trip)."""
    q, q2s, check = figures.get("qualified_leads"), rates.get("qualified_to_sale"), rates.get("average_check")
    return None if q is None or q2s is None or check is None else q * q2s * check


@dataclass(frozen=True)
class Figure:
    """One planned figure with its range (``low`` ≤ ``plan`` ≤ ``high``); all None when a rate is missing."""

    plan: float | None
    low: float | None
    high: float | None

    def to_json(self) -> dict[str, float | None]:
        return {"plan": self.plan, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Record:
    """The most a channel delivered of a figure in one month before the period, and that month."""

    value: float
    month: str


@dataclass(frozen=True)
class Shortfall:
    """A figure the plan needs more of than the channel ever delivered: ``short`` = plan − record."""

    figure: str
    plan: float
    record: float
    month: str | None  # None: the channel never delivered any

    @property
    def short(self) -> float:
        return self.plan - self.record

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "plan": self.plan,
            "record": self.record,
            "month": self.month,
            "short": self.short,
        }


@dataclass
class ChannelPlan:
    """One channel's part of the plan (``channel`` None: the whole business)."""

    channel: str | None
    share: float
    revenue: float
    rates: dict[str, float | None]
    monthly_rates: dict[str, dict[str, float | None]]
    figures: dict[str, Figure]
    records: dict[str, Record | None]
    shortfalls: list[Shortfall]

    @property
    def reachable(self) -> float:
        """The revenue the channel reaches at its best month's volumes (the plan's rates held)."""
        scale = min((s.record / s.plan for s in self.shortfalls if s.plan > 0), default=1.0)
        return self.revenue * min(scale, 1.0)

    def planned(self) -> dict[str, float | None]:
        return {f: self.figures[f].plan for f in FIGURES}

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "share": self.share,
            "revenue": self.revenue,
            "rates": self.rates,
            "monthly_rates": self.monthly_rates,
            "figures": {f: self.figures[f].to_json() for f in FIGURES},
            "records": {
                f: (None if r is None else {"value": r.value, "month": r.month})
                for f, r in self.records.items()
            },
            "shortfalls": [s.to_json() for s in self.shortfalls],
            "reachable_revenue": self.reachable,
            "revenue_short": self.revenue - self.reachable,
        }


@dataclass
class Plan:
    """A revenue target for ``period`` turned into the funnel it needs (see the module's docstring)."""

    period: Period
    target: float
    by_channel: bool
    window: Period
    channels: list[ChannelPlan]
    scope: list[str] | None = None
    left_out: list[str] = field(default_factory=list)  # channels with no revenue in the window
    warnings: list[str] = field(default_factory=list)

    @property
    def months(self) -> int:
        return self.window.months

    def total(self) -> dict[str, Figure]:
        """Each figure summed over the channels (a channel without it adds nothing), lows and highs too."""
        out = {}
        for f in FIGURES:
            parts = [c.figures[f] for c in self.channels if c.figures[f].plan is not None]
            if not parts:
                out[f] = Figure(None, None, None)
                continue
            out[f] = Figure(
                math.fsum(p.plan or 0.0 for p in parts),
                math.fsum(p.low or 0.0 for p in parts),
                math.fsum(p.high or 0.0 for p in parts),
            )
        return out

    @property
    def reachable(self) -> float:
        return math.fsum(c.reachable for c in self.channels)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "target": self.target,
            "by": "channel" if self.by_channel else None,
            "months": self.months,
            "window": self.window.label,
            "split": "revenue share over the window",
            "scope": self.scope,
            "channels": [c.to_json() for c in self.channels],
            "total": {f: v.to_json() for f, v in self.total().items()},
            "reachable_revenue": self.reachable,
            "revenue_short": self.target - self.reachable,
            "left_out": self.left_out,
            "warnings": self.warnings,
        }


def _rows_by_key(frame: pl.DataFrame, key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in frame.to_dicts():
        out.setdefault(r[key], []).append(r)
    return out


def _records(history: list[dict[str, Any]]) -> dict[str, Record | None]:
    out: dict[str, Record | None] = {}
    for f, metric in RECORD_METRIC.items():
        best = max((r for r in history if r.get(metric) is not None), key=lambda r: r[metric], default=None)
        out[f] = Record(float(best[metric]), best["month"]) if best and best[metric] > 0 else None
    return out


def _figures(revenue: float, pooled: Rates, months: list[Rates]) -> dict[str, Figure]:
    plan = funnel(revenue, pooled)
    scenarios = [plan] + [funnel(revenue, {r: m.get(r) or pooled.get(r) for r in RATES}) for m in months]
    out = {}
    for f in FIGURES:
        if plan[f] is None:
            out[f] = Figure(None, None, None)
            continue
        seen = [v for s in scenarios if (v := s[f]) is not None]
        out[f] = Figure(plan[f], min(seen), max(seen))
    return out


def _shortfalls(figures: Mapping[str, Figure], records: Mapping[str, Record | None]) -> list[Shortfall]:
    out = []
    for f in FIGURES:
        need = figures[f].plan
        if need is None or need <= 0:
            continue
        rec = records[f]
        if rec is None:
            out.append(Shortfall(f, need, 0.0, None))
        elif need > rec.value * (1 + 1e-9):  # equal is delivered, not short (float noise aside)
            out.append(Shortfall(f, need, rec.value, rec.month))
    return out


def make_plan(
    wh: Warehouse,
    target: float,
    period: Period | str,
    *,
    by_channel: bool = True,
    months: int = DEFAULT_MONTHS,
    scope: list[str] | None = None,
) -> Plan:
    """Plan ``target`` of revenue for ``period`` (one month) from the ``months`` months before it.

    ``scope``: only these channels (an agency's); the target is then theirs alone.
    """
    p = Period.parse(period) if isinstance(period, str) else period
    if not (p.is_whole_months and p.months == 1):
        raise KassaError(f"plan period {p.label}: a plan is for one calendar month, e.g. 2026-12")
    if not (isinstance(target, int | float) and math.isfinite(target) and target > 0):
        raise KassaError(f"revenue target {target!r}: give a positive amount, e.g. --revenue 6000000")
    if not 1 <= months <= 36:
        raise KassaError(f"--months {months}: plan from 1 to 36 months before the period")
    window = Period(add_months(p.start, -months), p.start)
    where = {"channel": list(scope)} if scope is not None else None
    # One query: the base measures by channel and month, over everything before the period (the records).
    history = Period(dt.date(YEARS[0], 1, 1), p.start)
    table = compute(wh, list(BASE), ["channel", "month"], history, where=where, with_total=False)
    frame = table.frame
    key = "channel"
    if not by_channel:
        frame = sum_measures(frame, ["month"]).with_columns(pl.lit(ALL).alias("channel"))
    frame = derive_frame(frame, [*RATES, "marketing_cost"])
    window_months = months_between(window.start, add_months(window.end, -1))
    in_window = frame.filter(pl.col("month").is_in(window_months))
    pooled = derive_frame(sum_measures(in_window, [key]), [*RATES, "marketing_cost"])
    revenue = {r[key]: float(r["revenue"] or 0) for r in pooled.to_dicts()}
    earned = math.fsum(v for v in revenue.values() if v > 0)
    if earned <= 0:
        whose = f" of channels {', '.join(scope)}" if scope is not None else ""
        raise KassaError(
            f"no revenue{whose} in {window.label}: nothing to plan {p.label} from "
            "(import the months before it, or plan from more months with --months)"
        )
    by_key = _rows_by_key(frame, key)
    monthly = _rows_by_key(in_window, key)
    channels = []
    for r in sorted(pooled.to_dicts(), key=lambda r: (-(r["revenue"] or 0), str(r[key]))):
        if (r["revenue"] or 0) <= 0:
            continue
        share = float(r["revenue"]) / earned
        part = target * share
        rates = {n: _usable(r[n]) for n in RATES}
        per_month = {m["month"]: {n: _usable(m[n]) for n in RATES} for m in monthly.get(r[key], [])}
        figures = _figures(part, rates, list(per_month.values()))
        records = _records(by_key.get(r[key], []))
        channels.append(
            ChannelPlan(
                channel=None if r[key] == ALL else r[key],
                share=share,
                revenue=part,
                rates=rates,
                monthly_rates=dict(sorted(per_month.items())),
                figures=figures,
                records=records,
                shortfalls=_shortfalls(figures, records),
            )
        )
    left_out = sorted(str(k) for k, v in revenue.items() if v <= 0 and k != ALL)
    # A window month with no rows at all (data starting mid-window) would pass for a quiet month unsaid.
    empty = [m for m in window_months if m not in set(in_window["month"].to_list())]
    warnings = list(table.warnings)
    if empty:
        warnings.append(
            f"no data in {', '.join(empty)}: the rates rest on the other months of {window.label}"
        )
    return Plan(p, float(target), by_channel, window, channels, scope, left_out, warnings)


# -- the draft contract -----------------------------------------------------------------------------------
# Weights and the qualified-lead floor/cap of the shipped outcome contract (kpi/examples/pays_for_money.yaml).
DRAFT_WEIGHTS = {"qualified_leads": 0.4, "cost_per_qualified_lead": 0.2, "revenue": 0.4}


def draft_contract(plan: Plan, *, bonus_base: float = 0.0, command: str | None = None) -> str:
    """A KPI contract on outcomes whose targets are the plan's: its qualified leads (rounded up: a lead is
    whole), its cost per qualified lead (the planned budget over the planned qualified leads), its revenue;
    no bonus unless marketing earns its cost back (gate: ROMI ≥ 0). Validated before it is returned."""
    import yaml

    from kassa.kpi.contract import parse_contract

    total = plan.total()
    qualified, budget = total["qualified_leads"].plan, total["budget"].plan
    kpis: list[dict[str, Any]] = []
    if qualified:
        kpis.append(
            {"metric": "qualified_leads", "target": math.ceil(qualified - 1e-9), "floor": 0.7, "cap": 1.2}
        )
        if budget:
            kpis.append({"metric": "cost_per_qualified_lead", "target": round(budget / qualified)})
    kpis.append({"metric": "revenue", "target": round(plan.target)})
    weights = {k["metric"]: DRAFT_WEIGHTS[k["metric"]] for k in kpis}
    scale = math.fsum(weights.values())
    for k in kpis:  # the weights of the KPIs kept, rescaled to sum to 1
        k["weight"] = round(weights[k["metric"]] / scale, 4)
    kpis[-1]["weight"] = round(1 - math.fsum(k["weight"] for k in kpis[:-1]), 4)
    doc: dict[str, Any] = {
        "name": f"Plan {plan.period.label}: revenue {round(plan.target)}",
        "notes": (
            f"Draft from the plan of {plan.period.label} (revenue target {round(plan.target)}), "
            f"rates of {plan.window.label}. Review the weights and the bonus base before signing."
        ),
    }
    if plan.scope is not None:
        doc["scope"] = {"channels": list(plan.scope)}
    doc |= {
        "view": "calendar",
        "period": "month",
        "kpis": [{n: k[n] for n in ("metric", "target", "weight", "floor", "cap") if n in k} for k in kpis],
        "bonus": {"base": bonus_base, "gate": {"metric": "romi", "min": 0.0}},
    }
    head = "# KPI contract draft" + (f" from `{command}`" if command else "") + ": targets from the plan.\n"
    text = head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    parse_contract(text, source="draft contract")  # a draft kassa cannot read back is never written
    return text


# -- in words ---------------------------------------------------------------------------------------------
def figure_label(figure: str, lang: str) -> str:
    """A planned figure's name: the catalog's label, the budget's own."""
    from kassa.metrics.catalog import CATALOG

    return _("Budget", lang) if figure == "budget" else CATALOG[figure].label(lang)


def show_figure(figure: str, v: float | None, lang: str, currency: str) -> str:
    """A planned figure as a table shows it: money in whole units, a count rounded up (a lead is whole)."""
    from kassa.i18n import fmt_money, fmt_number

    if figure == "budget":
        return fmt_money(v, currency, lang)
    return fmt_number(None if v is None else math.ceil(v - 1e-9), lang)


def shortfall_lines(plan: Plan, lang: str, currency: str) -> list[str]:
    """Each figure a channel is asked for beyond its best month, and what the plan reaches at best months."""
    from kassa.i18n import fmt_money
    from kassa.names import channel_name

    out = []
    for c in plan.channels:
        who = channel_name(c.channel, lang) if c.channel is not None else _("The business", lang)
        for s in c.shortfalls:
            args = {
                "who": who,
                "figure": figure_label(s.figure, lang),
                "plan": show_figure(s.figure, s.plan, lang, currency),
                "short": show_figure(s.figure, s.short, lang, currency),
            }
            if s.month is None:
                out.append(
                    _("{who} — {figure}: the plan needs {plan}; it has never delivered any.", lang, **args)
                )
            else:
                record = show_figure(s.figure, s.record, lang, currency)
                out.append(
                    _(
                        "{who} — {figure}: the plan needs {plan}, its best month gave {record} ({month}): "
                        "{short} short.",
                        lang,
                        record=record,
                        month=s.month,
                        **args,
                    )
                )
    if any(c.shortfalls for c in plan.channels):
        money = {
            "reach": fmt_money(plan.reachable, currency, lang),
            "target": fmt_money(plan.target, currency, lang),
            "short": fmt_money(plan.target - plan.reachable, currency, lang),
        }
        if plan.by_channel:
            text = _(
                "At their best months' volumes the channels bring {reach} of the {target}: {short} short.",
                lang,
                **money,
            )
        else:
            text = _(
                "At its best months' volumes the business brings {reach} of the {target}: {short} short.",
                lang,
                **money,
            )
        out.append(text)
    else:
        out.append(_("No channel is asked for more than it has delivered in its best month.", lang))
    return out

"""Contract lint: what a demanding owner would object to before signing a KPI contract.

Each rule is registered by a code (:data:`RULES`) and returns warnings that say what is wrong and what
to pay for instead, citing the metric catalog (name, label, tier) — the catalog decides what is
activity, intermediate or outcome, never a list in this module. docs/kpi.md explains every code.

=========================  ==================================================================
code                       fires when
=========================  ==================================================================
activity_weight            a KPI's weight sits on an activity-tier metric (posts, clicks, CTR…)
pays_for_spending          a money metric without a direction (spend) is scored as "more is better"
leads_without_quality      leads are rewarded and no KPI checks their quality or money
no_outcome                 no KPI is an outcome metric (money)
cost_without_volume        cheaper-is-better KPIs without any volume KPI (cheap CPL with 2 leads)
percent_as_whole_number    a percent metric's target or gate bound above 1 (``ctr: 5`` meaning 5 %?)
period_mismatch            the scored period is not one contract period (a month vs quarterly targets)
gate_on_activity           the bonus gate is an activity metric
no_money_gate              a bonus without a gate, or gated on a metric that is not money
cap_below_one              a cap below 1: beating the target still counts less than its weight
cohort_unsettled           cohort view without ``settle_days``: the score keeps changing after payout
=========================  ==================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kassa.i18n import LANGS, Translator, fmt_number, fmt_percent
from kassa.kpi.contract import Contract, Kpi
from kassa.metrics.catalog import Metric, Tier, get_metric, with_dependencies
from kassa.period import Period, add_months
from kassa.registry import Registry

_ = Translator("kpi")

Text = dict[str, str]


def both(render: Callable[[str], str]) -> Text:
    """The same message rendered in every language kassa speaks: ``{"en": …, "ru": …}``."""
    return {lang: render(lang) for lang in LANGS}


def tier_name(tier: Tier, lang: str) -> str:
    names = {
        Tier.ACTIVITY: _("activity", lang),
        Tier.INTERMEDIATE: _("intermediate", lang),
        Tier.OUTCOME: _("outcome", lang),
    }
    return names[tier]


def cite(name: str, lang: str) -> str:
    """A metric as the catalog declares it: ``revenue (Revenue, outcome)``."""
    m = get_metric(name)
    return f"{m.name} ({m.label(lang)}, {tier_name(m.tier, lang)})"


@dataclass(frozen=True)
class LintWarning:
    """One objection to a contract: what is wrong (``text``) and what to pay for instead (``advice``)."""

    code: str
    text: Text
    advice: Text
    where: str | None = None  # file:line of the field, when the contract came from a file
    metric: str | None = None

    def message(self, lang: str = "en") -> str:
        return f"{self.text[lang]} {self.advice[lang]}".strip()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "where": self.where,
            "metric": self.metric,
            "text": self.text,
            "advice": self.advice,
        }


Rule = Callable[[Contract, Period | None], list[LintWarning]]
RULES: Registry[Rule] = Registry("lint code")
"""Lint rules by code (``@RULES.register(name=code)``), in the order of this module."""


def _kpi_where(contract: Contract, i: int) -> str | None:
    return contract.where_is(f"kpis[{i}]")


def _is_money_outcome(m: Metric) -> bool:
    # marketing_cost is outcome-tier bookkeeping, not something earned: a direction is what makes it a result.
    return m.tier == Tier.OUTCOME and m.better != "neutral"


def _closure(k: Kpi) -> set[str]:
    return set(with_dependencies([k.metric]))


def _activity_warning(k: Kpi, where: str | None) -> LintWarning:
    # A cheaper-is-better activity metric (CPC, CPM) is a cost: pay for the cost of what matters instead.
    a, b = (
        ("cost_per_qualified_lead", "cost_per_sale")
        if k.catalog.better == "lower"
        else ("qualified_leads", "revenue")
    )
    return LintWarning(
        "activity_weight",
        both(
            lambda lang: _(
                "{share} of the score pays for {metric}: turning the wheel, not arriving.",
                lang,
                share=fmt_percent(k.weight, lang, 0),
                metric=cite(k.metric, lang),
            )
        ),
        both(
            lambda lang: _(
                "Pay for what it should lead to instead: {a} or {b}.", lang, a=cite(a, lang), b=cite(b, lang)
            )
        ),
        where,
        k.metric,
    )


@RULES.register(name="activity_weight")
def _activity_weight(contract: Contract, period: Period | None) -> list[LintWarning]:
    return [
        _activity_warning(k, _kpi_where(contract, i))
        for i, k in enumerate(contract.kpis)
        if k.catalog.tier == Tier.ACTIVITY
    ]


def _spending_warning(k: Kpi, where: str | None) -> LintWarning:
    return LintWarning(
        "pays_for_spending",
        both(
            lambda lang: _(
                "{metric} is scored as a quota (more is better): the more budget is spent, the higher "
                "the score.",
                lang,
                metric=cite(k.metric, lang),
            )
        ),
        both(
            lambda lang: _(
                "Pay for the return on spend instead: {a} or {b}; if the target is a budget limit, write "
                "better: lower.",
                lang,
                a=cite("romi", lang),
                b=cite("cost_per_sale", lang),
            )
        ),
        where,
        k.metric,
    )


@RULES.register(name="pays_for_spending")
def _pays_for_spending(contract: Contract, period: Period | None) -> list[LintWarning]:
    return [
        _spending_warning(k, _kpi_where(contract, i))
        for i, k in enumerate(contract.kpis)
        if k.catalog.unit == "money" and k.catalog.better == "neutral" and k.direction == "higher"
    ]


@RULES.register(name="leads_without_quality")
def _leads_without_quality(contract: Contract, period: Period | None) -> list[LintWarning]:
    # A lead metric counts leads but not whether they were real (its formula never reaches qualified_leads).
    lead_kpis = [
        k
        for k in contract.kpis
        if "leads" in _closure(k) and "qualified_leads" not in _closure(k) and k.catalog.tier != Tier.OUTCOME
    ]
    guarded = any("qualified_leads" in _closure(k) or _is_money_outcome(k.catalog) for k in contract.kpis)
    if not lead_kpis or guarded:
        return []
    names = ", ".join(k.metric for k in lead_kpis)
    first = contract.kpis.index(lead_kpis[0])
    return [
        LintWarning(
            "leads_without_quality",
            both(
                lambda lang: _(
                    "Leads are rewarded ({metrics}) but no KPI checks their quality or money: junk leads "
                    "score as well as buyers.",
                    lang,
                    metrics=names,
                )
            ),
            both(
                lambda lang: _(
                    "Add {a}, {b} or {c}.",
                    lang,
                    a=cite("qualified_leads", lang),
                    b=cite("lead_to_qualified", lang),
                    c=cite("revenue", lang),
                )
            ),
            _kpi_where(contract, first),
            lead_kpis[0].metric,
        )
    ]


@RULES.register(name="no_outcome")
def _no_outcome(contract: Contract, period: Period | None) -> list[LintWarning]:
    if any(_is_money_outcome(k.catalog) for k in contract.kpis):
        return []
    return [
        LintWarning(
            "no_outcome",
            both(
                lambda lang: _("No KPI is money: the contract can be met in full while revenue falls.", lang)
            ),
            both(
                lambda lang: _(
                    "Put weight on {a}, {b} or {c}.",
                    lang,
                    a=cite("revenue", lang),
                    b=cite("sales", lang),
                    c=cite("romi", lang),
                )
            ),
            contract.where_is("kpis"),
            None,
        )
    ]


@RULES.register(name="cost_without_volume")
def _cost_without_volume(contract: Contract, period: Period | None) -> list[LintWarning]:
    cheap = [k for k in contract.kpis if k.direction == "lower"]
    volume = [k for k in contract.kpis if k.direction == "higher" and k.catalog.unit in ("count", "money")]
    if not cheap or volume:
        return []
    names = ", ".join(k.metric for k in cheap)
    return [
        LintWarning(
            "cost_without_volume",
            both(
                lambda lang: _(
                    "{metrics} reward being cheap and nothing rewards volume: a cheap lead price with two "
                    "leads scores in full.",
                    lang,
                    metrics=names,
                )
            ),
            both(
                lambda lang: _(
                    "Add a volume next to it: {a} or {b}.",
                    lang,
                    a=cite("qualified_leads", lang),
                    b=cite("revenue", lang),
                )
            ),
            _kpi_where(contract, contract.kpis.index(cheap[0])),
            cheap[0].metric,
        )
    ]


def _percent_warning(metric: str, value: float, where: str | None) -> LintWarning:
    return LintWarning(
        "percent_as_whole_number",
        both(
            lambda lang: _(
                "{metric}: {value} means {shown}; kassa keeps percent metrics as fractions.",
                lang,
                metric=cite(metric, lang),
                value=f"{value:g}",
                shown=fmt_percent(value, lang, 0),
            )
        ),
        both(
            lambda lang: _(
                "If you meant {value} %, write {fraction}.",
                lang,
                value=f"{value:g}",
                fraction=f"{value / 100:g}",
            )
        ),
        where,
        metric,
    )


@RULES.register(name="percent_as_whole_number")
def _percent_as_whole_number(contract: Contract, period: Period | None) -> list[LintWarning]:
    out = [
        _percent_warning(k.metric, k.target, contract.where_is(f"kpis[{i}].target"))
        for i, k in enumerate(contract.kpis)
        if k.catalog.unit == "percent" and k.target > 1
    ]
    gate = contract.bonus.gate if contract.bonus else None
    if gate is not None and gate.catalog.unit == "percent":
        for bound in ("min", "max"):
            v = getattr(gate, bound)
            if v is not None and abs(v) > 1:
                out.append(_percent_warning(gate.metric, v, contract.where_is(f"bonus.gate.{bound}")))
    return out


def _contract_period(contract: Contract, lang: str) -> str:
    return _("quarter", lang) if contract.period == "quarter" else _("month", lang)


@RULES.register(name="period_mismatch")
def _period_mismatch(contract: Contract, period: Period | None) -> list[LintWarning]:
    if period is None or (period.is_whole_months and period.months == contract.months):
        return []

    def span(lang: str) -> str:
        if period.is_whole_months:
            return _("{n} month(s)", lang, n=period.months)
        return _("{n} day(s)", lang, n=(period.end - period.start).days)

    # The example is the contract period that ends with the scored period's last month.
    last = Period.month_of(period.end - dt.timedelta(days=1)).start
    first = add_months(last, 1 - contract.months)
    example = Period(first, add_months(last, 1)).label
    return [
        LintWarning(
            "period_mismatch",
            both(
                lambda lang: _(
                    "Targets are per {unit} but {period} covers {span}: fact and target are not for "
                    "the same time.",
                    lang,
                    unit=_contract_period(contract, lang),
                    period=period.label,
                    span=span(lang),
                )
            ),
            both(
                lambda lang: _(
                    "Score one {unit}, e.g. {example}, or write the targets for the period you score.",
                    lang,
                    unit=_contract_period(contract, lang),
                    example=example,
                )
            ),
            contract.where_is("period") or contract.where_is("kpis"),
            None,
        )
    ]


@RULES.register(name="gate_on_activity")
def _gate_on_activity(contract: Contract, period: Period | None) -> list[LintWarning]:
    gate = contract.bonus.gate if contract.bonus else None
    if gate is None or gate.catalog.tier != Tier.ACTIVITY:
        return []
    return [
        LintWarning(
            "gate_on_activity",
            both(
                lambda lang: _(
                    "The bonus is unlocked by {metric}: an activity metric opens the till.",
                    lang,
                    metric=cite(gate.metric, lang),
                )
            ),
            both(
                lambda lang: _(
                    "Gate on money instead: {a} with min: 0 (no bonus while marketing loses money).",
                    lang,
                    a=cite("romi", lang),
                )
            ),
            contract.where_is("bonus.gate"),
            gate.metric,
        )
    ]


@RULES.register(name="no_money_gate")
def _no_money_gate(contract: Contract, period: Period | None) -> list[LintWarning]:
    bonus = contract.bonus
    if bonus is None or bonus.base == 0:
        return []
    gate = bonus.gate
    advice = both(
        lambda lang: _(
            "Gate on money instead: {a} with min: 0 (no bonus while marketing loses money).",
            lang,
            a=cite("romi", lang),
        )
    )
    if gate is None:
        return [
            LintWarning(
                "no_money_gate",
                both(
                    lambda lang: _("The bonus has no gate: it is paid even when marketing loses money.", lang)
                ),
                advice,
                contract.where_is("bonus"),
                None,
            )
        ]
    if gate.catalog.tier == Tier.INTERMEDIATE:
        return [
            LintWarning(
                "no_money_gate",
                both(
                    lambda lang: _(
                        "The bonus is gated on {metric}, which is not money.",
                        lang,
                        metric=cite(gate.metric, lang),
                    )
                ),
                advice,
                contract.where_is("bonus.gate"),
                gate.metric,
            )
        ]
    return []


def _cap_warning(k: Kpi, where: str | None) -> LintWarning:
    return LintWarning(
        "cap_below_one",
        both(
            lambda lang: _(
                "{metric} has cap {cap}: even beating the target counts only {share} of its weight.",
                lang,
                metric=cite(k.metric, lang),
                cap=fmt_number(k.cap, lang, 2),
                share=fmt_percent(k.cap, lang, 0),
            )
        ),
        both(
            lambda lang: _(
                "Set the cap at 1 or above (default 1.5); lower the weight to make a KPI matter less.", lang
            )
        ),
        where,
        k.metric,
    )


@RULES.register(name="cap_below_one")
def _cap_below_one(contract: Contract, period: Period | None) -> list[LintWarning]:
    return [
        _cap_warning(k, contract.where_is(f"kpis[{i}].cap")) for i, k in enumerate(contract.kpis) if k.cap < 1
    ]


@RULES.register(name="cohort_unsettled")
def _cohort_unsettled(contract: Contract, period: Period | None) -> list[LintWarning]:
    if contract.view != "cohort" or contract.settle_days is not None:
        return []
    return [
        LintWarning(
            "cohort_unsettled",
            both(
                lambda lang: _(
                    "Cohort view without settle_days: a month's score keeps growing as its leads buy later, "
                    "so it depends on the day you score it.",
                    lang,
                )
            ),
            both(
                lambda lang: _(
                    "Add settle_days (e.g. 45, your usual sales cycle): {a} then counts the sales made within "
                    "that many days of the lead, and the score is final after that.",
                    lang,
                    a=cite("revenue", lang),
                )
            ),
            contract.where_is("view"),
            None,
        )
    ]


def lint(contract: Contract, period: Period | str | None = None) -> list[LintWarning]:
    """Every objection to ``contract``, in the order of :data:`RULES`.

    Parameters
    ----------
    contract : Contract
    period : Period or text, optional
        The period the contract will be scored for; only then is ``period_mismatch`` checked.

    Examples
    --------
    >>> from kassa.kpi.contract import load_contract, example_path
    >>> sorted({w.code for w in lint(load_contract(example_path("pays_for_money")))})
    []
    """
    p = Period.parse(period) if isinstance(period, str) else period
    return [w for check in RULES.values() for w in check(contract, p)]

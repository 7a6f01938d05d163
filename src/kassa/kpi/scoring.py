"""Scoring a KPI contract: plan vs fact, attainment, score and bonus — every number reproducible by hand.

The rules (docs/kpi.md has a worked example):

* attainment of a KPI: ``a = fact / target`` when higher is better, ``a = target / fact`` when lower
  is better (the catalog's ``Metric.better``; a neutral metric is a quota, more is better, unless the
  contract says ``better: lower``). A lower-is-better fact of exactly 0 (nothing spent per unit) has
  no finite ratio and counts as the cap;
* effective attainment: ``0`` if ``a < floor``, else ``min(a, cap)`` (defaults: floor 0, cap 1.5);
* a KPI whose fact has no value (e.g. cost per sale with no sales) counts 0, and says why;
* score ``S = Σ weight_i × effective_i`` (weights sum to 1, so meeting every target exactly gives 1);
* bonus ``B = base × S``, or 0 when the gate fails or the gate metric has no value.

:func:`score_facts` is pure (facts in, scorecard out); :func:`score` gets the facts from the warehouse
with :func:`kassa.metrics.compute` (``by=[]``, the contract's scope, view and settle days) and adds
warnings about the data (an empty scope, an unsettled cohort, a period that is not one contract period).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kassa.i18n import Translator, fmt_money, fmt_number, fmt_percent, fmt_value
from kassa.kpi.contract import Contract, Direction, Gate, Kpi
from kassa.kpi.lint import RULES as LINT_RULES
from kassa.kpi.lint import LintWarning, Text, both, tier_name
from kassa.metrics.catalog import CATALOG, Tier, get_metric, with_dependencies
from kassa.metrics.compute import compute
from kassa.period import Period

if TYPE_CHECKING:
    from kassa.store import Warehouse

_ = Translator("kpi")

# Outcome statuses of one KPI line, as the JSON and the report show them.
SCORED, CAPPED, BELOW_FLOOR, NO_VALUE, ZERO_COST = "scored", "capped", "below_floor", "no_value", "zero_cost"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))


def show(value: Any, unit: str, lang: str, currency: str) -> str:
    """A fact or target as people read it; small percents keep two decimals (CTR 0.55 %, not 0.5 %)."""
    if unit == "percent" and not _missing(value) and abs(value) < 0.01:
        return fmt_percent(value, lang, 2)
    return fmt_value(value, unit, lang, currency)


def attainment(fact: float | None, target: float, better: Direction) -> float | None:
    """Raw attainment: ``fact / target`` (higher is better) or ``target / fact`` (lower is better).

    ``None`` when there is no fact, or when a lower-is-better fact is 0 (no finite ratio).

    >>> attainment(130, 120, "higher")
    1.0833333333333333
    >>> attainment(3000, 3500, "lower")
    1.1666666666666667
    """
    if _missing(fact):
        return None
    assert fact is not None
    if better == "higher":
        return fact / target
    return None if fact == 0 else target / fact


def effective(raw: float, floor: float, cap: float) -> float:
    """``0`` below the floor, else capped: ``0 if raw < floor else min(raw, cap)``."""
    return 0.0 if raw < floor else min(raw, cap)


@dataclass(frozen=True)
class KpiResult:
    """One scored line of the contract."""

    metric: str
    label: Text
    tier: str
    unit: str
    better: Direction
    target: float
    fact: float | None
    attainment_raw: float | None
    attainment: float  # effective: after floor and cap
    weight: float
    floor: float
    cap: float
    contribution: float  # weight × attainment
    status: str
    explanation: Text

    def explain(self, lang: str = "en") -> str:
        return self.explanation[lang]

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "tier": self.tier,
            "unit": self.unit,
            "better": self.better,
            "target": self.target,
            "fact": self.fact,
            "attainment_raw": self.attainment_raw,
            "attainment": self.attainment,
            "weight": self.weight,
            "floor": self.floor,
            "cap": self.cap,
            "contribution": self.contribution,
            "status": self.status,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class GateResult:
    metric: str
    label: Text
    min: float | None
    max: float | None
    fact: float | None
    passed: bool
    explanation: Text

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "min": self.min,
            "max": self.max,
            "fact": self.fact,
            "passed": self.passed,
            "explanation": self.explanation,
        }


@dataclass
class Scorecard:
    """A contract scored for one period: per-KPI rows, the score, the gate and the bonus."""

    contract: Contract
    period: Period
    rows: list[KpiResult]
    score: float
    bonus_base: float | None
    bonus: float | None  # None when the contract has no bonus section
    gate: GateResult | None
    bonus_explanation: Text | None
    facts: dict[str, Any]
    currency: str = "RUB"
    warnings: list[LintWarning] = field(default_factory=list)

    @property
    def bonus_share(self) -> float | None:
        """Bonus as a share of its base (``score`` when the gate passed, else 0)."""
        if self.bonus is None or not self.bonus_base:
            return None
        return self.bonus / self.bonus_base

    def to_json(self) -> dict[str, Any]:
        c = self.contract
        return {
            "contract": c.name,
            "source": c.source,
            "period": self.period.label,
            "contract_period": c.period,
            "view": c.view,
            "settle_days": c.settle_days,
            "scope": {"channels": c.scope.channels, "campaigns": c.scope.campaigns},
            "currency": self.currency,
            "kpis": [r.to_json() for r in self.rows],
            "score": self.score,
            "bonus": None
            if self.bonus is None
            else {
                "base": self.bonus_base,
                "amount": self.bonus,
                "explanation": self.bonus_explanation,
                "gate": None if self.gate is None else self.gate.to_json(),
            },
            "facts": {k: (None if _missing(v) else v) for k, v in self.facts.items()},
            "warnings": [w.to_json() for w in self.warnings],
        }


def _why_no_value(metric: str, facts: Mapping[str, Any], period: Period, lang: str) -> str:
    """Why a metric has no value: the inputs of its formula that are 0 or missing, when known."""
    m = CATALOG[metric]
    if m.formula is None:
        if metric not in facts:
            return _("no fact was given", lang)
        return _("nothing in scope reported it in {period}", lang, period=period.label)
    zero = [d for d in m.depends_on if d in facts and (_missing(facts[d]) or facts[d] == 0)]
    if not zero:
        return _("{formula} has no value in {period}", lang, formula=m.formula, period=period.label)
    inputs = ", ".join(f"{d} = {'—' if _missing(facts[d]) else fmt_number(facts[d], lang)}" for d in zero)
    return _(
        "{formula}, and {inputs} in {period}", lang, formula=m.formula, inputs=inputs, period=period.label
    )


def _score_kpi(k: Kpi, facts: Mapping[str, Any], period: Period, currency: str) -> KpiResult:
    m = k.catalog
    given: Any = facts.get(k.metric)
    fact = None if _missing(given) else float(given)
    better = k.direction
    raw = attainment(fact, k.target, better)

    def v(x: float | None, lang: str) -> str:
        return show(x, m.unit, lang, currency)

    def pct(x: float, lang: str) -> str:
        return fmt_percent(x, lang, 1)

    def tail(lang: str, eff: float) -> str:
        return _(
            "× weight {weight} = {contribution}",
            lang,
            weight=fmt_number(k.weight, lang, 2),
            contribution=fmt_number(k.weight * eff, lang, 3),
        )

    def head(lang: str) -> str:
        # "fact / target" or "target / fact": the division that gives the attainment, in the reader's words.
        ratio = _("fact / target", lang) if better == "higher" else _("target / fact (lower is better)", lang)
        return _(
            "{label}: fact {fact}, target {target}; {ratio}",
            lang,
            label=m.label(lang),
            fact=v(fact, lang),
            target=v(k.target, lang),
            ratio=ratio,
        )

    if fact is None:
        eff, status = 0.0, NO_VALUE
        text = both(
            lambda lang: _(
                "{label}: no value ({why}), counts 0.",
                lang,
                label=m.label(lang),
                why=_why_no_value(k.metric, facts, period, lang),
            )
        )
    elif raw is None:  # lower is better and the fact is 0: nothing could be cheaper
        eff, status = k.cap, ZERO_COST
        text = both(
            lambda lang: _(
                "{label}: fact {fact}, target {target}; nothing was spent per unit, so it counts "
                "the cap {cap} {tail}.",
                lang,
                label=m.label(lang),
                fact=v(fact, lang),
                target=v(k.target, lang),
                cap=pct(k.cap, lang),
                tail=tail(lang, k.cap),
            )
        )
    elif raw < k.floor:
        eff, status = 0.0, BELOW_FLOOR
        text = both(
            lambda lang: _(
                "{head} = {raw}, below the floor {floor}, counts 0.",
                lang,
                head=head(lang),
                raw=pct(raw, lang),
                floor=pct(k.floor, lang),
            )
        )
    elif raw > k.cap:
        eff, status = k.cap, CAPPED
        text = both(
            lambda lang: _(
                "{head} = {raw}, capped at {cap} {tail}.",
                lang,
                head=head(lang),
                raw=pct(raw, lang),
                cap=pct(k.cap, lang),
                tail=tail(lang, k.cap),
            )
        )
    else:
        eff, status = raw, SCORED
        text = both(
            lambda lang: _(
                "{head} = {raw} {tail}.", lang, head=head(lang), raw=pct(raw, lang), tail=tail(lang, raw)
            )
        )
    return KpiResult(
        metric=k.metric,
        label=both(m.label),
        tier=m.tier.value,
        unit=m.unit,
        better=better,
        target=k.target,
        fact=fact,
        attainment_raw=raw,
        attainment=eff,
        weight=k.weight,
        floor=k.floor,
        cap=k.cap,
        contribution=k.weight * eff,
        status=status,
        explanation=text,
    )


def _bounds(gate: Gate, unit: str, lang: str, currency: str) -> str:
    parts = []
    if gate.min is not None:
        parts.append(f"≥ {show(gate.min, unit, lang, currency)}")
    if gate.max is not None:
        parts.append(f"≤ {show(gate.max, unit, lang, currency)}")
    return _(" and ", lang).join(parts)


def _score_gate(gate: Gate, facts: Mapping[str, Any], period: Period, currency: str) -> GateResult:
    m = gate.catalog
    given: Any = facts.get(gate.metric)
    fact = None if _missing(given) else float(given)
    passed = gate.passes(fact)

    def need(lang: str) -> str:
        return _bounds(gate, m.unit, lang, currency)

    if fact is None:
        text = both(
            lambda lang: _(
                "Gate failed: {label} has no value ({why}); it must be {need}.",
                lang,
                label=m.label(lang),
                why=_why_no_value(gate.metric, facts, period, lang),
                need=need(lang),
            )
        )
    elif passed:
        text = both(
            lambda lang: _(
                "Gate passed: {label} is {fact}, it must be {need}.",
                lang,
                label=m.label(lang),
                fact=show(fact, m.unit, lang, currency),
                need=need(lang),
            )
        )
    else:
        text = both(
            lambda lang: _(
                "Gate failed: {label} is {fact}, it must be {need}.",
                lang,
                label=m.label(lang),
                fact=show(fact, m.unit, lang, currency),
                need=need(lang),
            )
        )
    return GateResult(gate.metric, both(m.label), gate.min, gate.max, fact, passed, text)


def score_facts(
    contract: Contract,
    facts: Mapping[str, Any],
    period: Period | str,
    *,
    currency: str = "RUB",
) -> Scorecard:
    """Score ``contract`` on given facts (metric name -> value or ``None``); no warehouse involved.

    Parameters
    ----------
    contract : Contract
    facts : mapping of metric name to its value for the period and scope
        Missing names and ``None``/NaN count as "no value". Inputs of formulas (``marketing_cost``,
        ``qualified_leads``…) may be included: they let a "no value" say which one was 0.
    period : Period or text
        Only labels the explanations here; :func:`score` uses it to get the facts.
    currency : str
        For money in the explanations.

    Returns
    -------
    Scorecard
        ``score = Σ weight × effective attainment``; ``bonus = base × score`` or 0 when the gate fails.

    Examples
    --------
    >>> from kassa.kpi.contract import parse_contract
    >>> c = parse_contract("name: x\\nkpis: [{metric: revenue, target: 100, weight: 1}]\\nbonus: {base: 1000}")
    >>> card = score_facts(c, {"revenue": 80}, "2026-10")
    >>> card.score, card.bonus
    (0.8, 800.0)
    """
    p = Period.parse(period) if isinstance(period, str) else period
    rows = [_score_kpi(k, facts, p, currency) for k in contract.kpis]
    total = math.fsum(r.contribution for r in rows)
    bonus = contract.bonus
    gate = _score_gate(bonus.gate, facts, p, currency) if bonus and bonus.gate else None
    amount: float | None = None
    explanation: Text | None = None
    if bonus is not None:
        base = bonus.base
        if gate is not None and not gate.passed:
            amount = 0.0
            explanation = both(
                lambda lang: _("Bonus {amount}: the gate failed.", lang, amount=fmt_money(0, currency, lang))
            )
        else:
            amount = base * total
            explanation = both(
                lambda lang: _(
                    "Bonus = base {base} × score {score} = {amount}.",
                    lang,
                    base=fmt_money(base, currency, lang),
                    score=fmt_number(total, lang, 3),
                    amount=fmt_money(base * total, currency, lang),
                )
            )
    return Scorecard(
        contract=contract,
        period=p,
        rows=rows,
        score=total,
        bonus_base=bonus.base if bonus else None,
        bonus=amount,
        gate=gate,
        bonus_explanation=explanation,
        facts=dict(facts),
        currency=currency,
    )


# Measures that show a scope matched anything at all; computed with the facts, in the same query.
SCOPE_PROBE = ("marketing_cost", "impressions", "posts", "visits", "leads", "sales", "payments")


def _empty_scope(
    contract: Contract,
    wh: Warehouse,
    total: Mapping[str, Any],
    p: Period,
    visible: Sequence[str] | None,
) -> list[LintWarning]:
    """A scope that matched nothing is almost always a misspelt channel or campaign: say which exist.

    The names it offers come only from ``visible`` (the channels the reader may see; ``None``: all), and a
    misspelt campaign is looked for in the contract's own channels: the hint of an agency's contract must
    not list the other channels of the company (issue 14).
    """
    if contract.scope.is_everything or any(total.get(n) for n in SCOPE_PROBE):
        return []
    dim = "campaign" if contract.scope.campaigns else "channel"
    channels = list(visible) if visible is not None else None
    if dim == "campaign" and contract.scope.channels:
        own = contract.scope.channels
        channels = [c for c in own if channels is None or c in channels]
    where = None if channels is None else {"channel": channels}
    known = (
        compute(wh, ["visits"], dim, p, where=where, with_total=False).frame[dim].unique().sort().to_list()
        if channels != []
        else []
    )
    scope = ", ".join((contract.scope.channels or []) + (contract.scope.campaigns or []))
    return [
        LintWarning(
            "empty_scope",
            both(
                lambda lang: _(
                    "Nothing in scope ({scope}) in {period}: no spend, visits, leads, sales or payments.",
                    lang,
                    scope=scope,
                    period=p.label,
                )
            ),
            both(
                lambda lang: _(
                    "Check the names; {period} has: {known}.",
                    lang,
                    period=p.label,
                    known=", ".join(map(str, known)) or "—",
                )
            ),
            contract.where_is("scope"),
            None,
        )
    ]


def _unsettled(contract: Contract, p: Period, today: dt.date) -> list[LintWarning]:
    if contract.view != "cohort" or contract.settle_days is None:
        return []
    # The last lead of the period has settle_days to buy; until then the score can still grow.
    final = p.end + dt.timedelta(days=contract.settle_days)
    if today >= final:
        return []
    return [
        LintWarning(
            "cohort_provisional",
            both(
                lambda lang: _(
                    "The cohort of {period} is still settling: sales within {days} days of a lead count, so "
                    "this score is provisional until {date}.",
                    lang,
                    period=p.label,
                    days=contract.settle_days,
                    date=final.isoformat(),
                )
            ),
            both(
                lambda lang: _(
                    "Score it again on {date} before paying the bonus.", lang, date=final.isoformat()
                )
            ),
            contract.where_is("settle_days"),
            None,
        )
    ]


def score(
    wh: Warehouse,
    contract: Contract,
    period: Period | str,
    *,
    today: dt.date | None = None,
    visible: Sequence[str] | None = None,
) -> Scorecard:
    """Score ``contract`` for ``period`` on the warehouse's facts.

    Facts are the total of ``compute(wh, metrics, by=[], period, view=contract.view,
    settle_days=contract.settle_days, where=contract.scope.where())`` for the contract's metrics and the
    inputs of their formulas.

    Parameters
    ----------
    wh : Warehouse
        An open warehouse (read-only is enough).
    contract : Contract
    period : Period or text such as ``2026-10``
    today : date, optional
        For "the cohort is still settling" (default: today's date).
    visible : channels, optional
        The channels the reader may see (an agency's): the hint of an empty scope names nothing else.

    Examples
    --------
    >>> card = score(wh, load_contract("agency.yaml"), "2026-10")  # doctest: +SKIP
    >>> card.score, card.bonus  # doctest: +SKIP
    """
    p = Period.parse(period) if isinstance(period, str) else period
    names = with_dependencies(contract.metrics())
    # With by=[] the frame's single row *is* the total; asking for .total too would run every query twice.
    table = compute(
        wh,
        list(dict.fromkeys([*names, *SCOPE_PROBE])),
        [],
        p,
        view=contract.view,
        settle_days=contract.settle_days,
        where=contract.scope.where(),
        with_total=False,
    )
    total = table.frame.row(0, named=True) if table.frame.height else {}
    facts = {n: total.get(n) for n in names if not get_metric(n).hidden}
    card = score_facts(contract, facts, p, currency=wh.settings.currency)
    card.warnings.extend(LINT_RULES["period_mismatch"](contract, p))
    card.warnings.extend(_unsettled(contract, p, today or dt.date.today()))
    card.warnings.extend(_empty_scope(contract, wh, total, p, visible))
    # The metric layer's own warnings (amounts in other currencies left out) are English only.
    card.warnings.extend(
        LintWarning("data", {"en": w, "ru": w}, {"en": "", "ru": ""}) for w in table.warnings
    )
    return card


def tier_label(tier: str, lang: str) -> str:
    """The tier of a scored row in the reader's language."""
    return tier_name(Tier(tier), lang)

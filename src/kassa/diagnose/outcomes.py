"""Shared by the activity rules: which activity metrics turned green, and did the results follow?"""

from __future__ import annotations

from dataclasses import dataclass, field

from kassa.diagnose.comparison import Comparison, Node
from kassa.diagnose.findings import Evidence
from kassa.diagnose.funnel import (
    DROP,
    IMPROVED,
    RESULT_STAGES,
    RESULTS,
    STAGES,
    activity_efficiency,
    activity_volume,
    looks_better,
)
from kassa.diagnose.rule import Candidate, Component, Rule
from kassa.diagnose.significance import ALPHA
from kassa.diagnose.text import change
from kassa.metrics import relative_change
from kassa.metrics.catalog import CATALOG, Metric


def improved(cmp: Comparison, node: Node, metrics: list[Metric], threshold: float = IMPROVED) -> list[str]:
    """Names of the metrics that moved the way an activity report celebrates by at least ``threshold``."""
    out = []
    for m in metrics:
        rel = relative_change(*cmp.pair(node, m.name))
        if rel is not None and looks_better(m, rel) and (abs(rel) >= threshold):
            out.append(m.name)
    return out


def green_efficiency(cmp: Comparison, node: Node) -> list[str]:
    return improved(cmp, node, activity_efficiency())


def grown_volume(cmp: Comparison, node: Node, threshold: float = IMPROVED) -> list[str]:
    return improved(cmp, node, activity_volume(), threshold)


def biggest_rise(cmp: Comparison, node: Node, names: list[str]) -> str | None:
    """The volume that grew most: what results are measured "per" (ties: catalog order)."""
    best: tuple[float, str] | None = None
    for n in names:
        rel = relative_change(*cmp.pair(node, n))
        if rel is not None and (best is None or rel > best[0]):
            best = (rel, n)
    return None if best is None else best[1]


@dataclass
class ResultsCheck:
    """Did the results (qualified leads, sales, revenue) follow the activity?

    ``components`` are the tests showing they fell behind by at least ``DROP``: a result's own fall per
    day (conditional Poisson test; compound-Poisson z-test for revenue) or its fall per unit of the grown
    activity volume (``exposure``: qualified leads per click, sales per post…; conditional Poisson test). ``any_improved`` is true
    when a result itself rose by at least ``IMPROVED`` — then the activity did bring something.
    """

    components: list[Component] = field(default_factory=list)
    any_improved: bool = False
    exposure: str | None = None


def results_behind(cmp: Comparison, node: Node, exposure: str | None) -> ResultsCheck:
    check = ResultsCheck(exposure=exposure)
    for r in RESULTS:
        before, after = cmp.pair(node, r)
        rel = relative_change(before, after)
        key, res = cmp.revenue_test(node) if CATALOG[r].unit == "money" else cmp.count_test(node, r)
        # 4 sales -> 5 is not "sales grew": a rise counts only when its own test tells it from noise.
        if rel is not None and rel >= IMPROVED and res.p_value <= ALPHA:
            check.any_improved = True
        if rel is not None and rel <= -DROP and res.test != "none":
            check.components.append(Component(key, RESULT_STAGES[r]))
        if exposure is None or CATALOG[r].unit == "money":
            continue
        key, res = cmp.per_test(node, r, exposure)
        eb, ea = cmp.pair(node, exposure)
        per = relative_change(
            None if not eb or before is None else before / eb, None if not ea or after is None else after / ea
        )
        if per is not None and per <= -DROP and res.test != "none":
            check.components.append(Component(key, RESULT_STAGES[r]))
    return check


def choose_stage(cmp: Comparison, cand: Candidate, explained: set[str]) -> None:
    """Name the funnel step where the results were lost: the step whose rate fell by at least ``DROP``
    with the smallest p-value (p ≤ α), skipping steps a company-wide finding explains; else "activity"."""
    best: tuple[float, str] | None = None
    for stage in STAGES:
        if stage.name in explained:
            continue
        rel = relative_change(*cmp.pair(cand.node, stage.rate))
        if rel is None or rel > -DROP:
            continue
        if stage.name == "average_check":
            _key, res = cmp.check_test(cand.node)
        else:
            _key, res = cmp.rate_test(cand.node, stage.numerator, stage.denominator)
        if res.p_value <= ALPHA and (best is None or res.p_value < best[0]):
            best = (res.p_value, stage.name)
    if best is not None:
        cand.stage = best[1]
        cand.responsible = next(s.responsible for s in STAGES if s.name == best[1])


def metric_evidence(
    cmp: Comparison, node: Node, metric: str, lang: str, test: tuple[str, float] | None = None
) -> Evidence:
    m = CATALOG[metric]
    before, after = cmp.pair(node, metric)
    return Evidence(
        metric=metric,
        label=m.label(lang),
        tier=m.tier.value,
        unit=m.unit,
        before=before,
        after=after,
        change=relative_change(before, after),
        test=None if test is None else test[0],
        p_value=None if test is None else test[1],
    )


def result_test(cmp: Comparison, node: Node, metric: str) -> tuple[str, float]:
    _key, res = cmp.revenue_test(node) if CATALOG[metric].unit == "money" else cmp.count_test(node, metric)
    return res.test, res.p_value


def activity_phrase(cmp: Comparison, node: Node, names: list[str], lang: str) -> str:
    """ "reach ×2, CTR +20%, CPC −15%": every green efficiency metric and the volume that grew most,
    in catalog order."""
    efficiency = {m.name for m in activity_efficiency()}
    shown = [n for n in names if n in efficiency]
    volume = biggest_rise(cmp, node, [n for n in names if n not in efficiency])
    if volume is not None:
        shown.append(volume)
    order = list(CATALOG)
    return ", ".join(
        change(n, *cmp.pair(node, n), lang, cmp.currency) for n in sorted(shown, key=order.index)
    )


def results_phrase(cmp: Comparison, node: Node, lang: str) -> str:
    """ "qualified leads −40%, sales flat, revenue flat": each result with "(within noise)" when untested."""
    parts = []
    for r in RESULTS:
        _test, p = result_test(cmp, node, r)
        parts.append(change(r, *cmp.pair(node, r), lang, cmp.currency, p_value=p))
    return ", ".join(parts)


def activity_evidence(cmp: Comparison, cand: Candidate, names: list[str], lang: str) -> list[Evidence]:
    """Evidence of the activity rules: the green activity metrics, the results, ROMI, the broken step."""
    ev = [metric_evidence(cmp, cand.node, n, lang) for n in names]
    ev += [metric_evidence(cmp, cand.node, r, lang, result_test(cmp, cand.node, r)) for r in RESULTS]
    ev.append(metric_evidence(cmp, cand.node, "romi", lang))
    exposure = cand.info.get("exposure")
    if exposure:
        for r in RESULTS:
            if CATALOG[r].unit == "money":
                continue
            _key, res = cmp.per_test(cand.node, r, exposure)
            eb, ea = cmp.pair(cand.node, exposure)
            rb, ra = cmp.pair(cand.node, r)
            b = rb / eb if eb and rb is not None else None
            a = ra / ea if ea and ra is not None else None
            ev.append(
                Evidence(
                    f"{r}_per_{exposure}",
                    f"{CATALOG[r].label(lang)} / {CATALOG[exposure].label(lang)}",
                    "intermediate",
                    "ratio",
                    b,
                    a,
                    relative_change(b, a),
                    res.test,
                    res.p_value,
                )
            )
    stage = next((s for s in STAGES if s.name == cand.stage), None)
    if stage is not None:
        test = (
            cmp.check_test(cand.node)[1]
            if stage.name == "average_check"
            else cmp.rate_test(cand.node, stage.numerator, stage.denominator)[1]
        )
        ev.append(metric_evidence(cmp, cand.node, stage.rate, lang, (test.test, test.p_value)))
    return ev


class ActivityRule(Rule):
    """What the activity-led rules (illusion, vanity) share: weighed by money spent, and the step
    where the chain broke chosen after significance is settled."""

    def weight(self, group: str, node: Node, cmp: Comparison) -> float:
        a, b = cmp.pair(node, "marketing_cost")
        return (a or 0.0) + (b or 0.0)

    def settle(
        self, cand: Candidate, cmp: Comparison, explained: set[str], alpha: float = ALPHA
    ) -> Candidate | None:
        settled = super().settle(cand, cmp, explained, alpha)
        if settled is not None:
            choose_stage(cmp, settled, explained)
        return settled

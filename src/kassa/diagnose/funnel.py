"""The funnel as diagnosis sees it: its steps, who owns each, and which metrics count as results.

What the metric catalog already knows (tier, unit, which direction is better, formula) is read from it;
this module adds only what the catalog cannot know: the order of the steps and who answers for each.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

from kassa.metrics.catalog import CATALOG, Metric, Tier

Responsible = Literal["marketing", "sales", "product_price", "unknown"]
RESPONSIBLE: tuple[Responsible, ...] = ("marketing", "sales", "product_price", "unknown")

IMPROVED = 0.10
"""A metric "improved" when it moved at least 10 % in its better direction (the report turns green)."""

DROP = 0.20
"""A rate or a result "fell" when it dropped at least 20 %: smaller moves are not worth a finding even
when significant on large counts."""

BROAD = 2 / 3
"""A drop is company-wide (or channel-wide) when the parts showing it hold at least ⅔ of the volume."""


@dataclass(frozen=True)
class Stage:
    """One step of the money trail: ``rate`` = ``numerator`` / ``denominator`` (catalog metrics)."""

    name: str
    rate: str
    numerator: str
    denominator: str
    responsible: Responsible
    by_manager: bool = False  # sales steps are sliced by manager before channel


def ratio_parts(metric: Metric) -> tuple[str, str]:
    """Numerator and denominator names of a catalog ratio like ``leads / visits``.

    Read from the catalog's formula so that the diagnosis tests exactly what the catalog shows.
    """
    if metric.formula is None:
        raise ValueError(f"{metric.name} is measured, not a ratio")
    node = ast.parse(metric.formula, mode="eval").body
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
        raise ValueError(f"{metric.name}: {metric.formula!r} is not a ratio")
    num = [n.id for n in ast.walk(node.left) if isinstance(n, ast.Name)]
    den = [n.id for n in ast.walk(node.right) if isinstance(n, ast.Name)]
    if len(num) != 1 or len(den) != 1:
        raise ValueError(f"{metric.name}: {metric.formula!r} is not a ratio of two metrics")
    return num[0], den[0]


def _stage(name: str, rate: str, responsible: Responsible, by_manager: bool = False) -> Stage:
    num, den = ratio_parts(CATALOG[rate])
    return Stage(name, rate, num, den, responsible, by_manager)


# Who answers for each step (the article: "if nobody buys, ask the sales team, the price or the product").
STAGES: tuple[Stage, ...] = (
    _stage("visit_to_lead", "visit_to_lead", "marketing"),  # the site, the offer, the traffic
    _stage("lead_to_qualified", "lead_to_qualified", "marketing"),  # lead quality
    _stage("qualified_to_sale", "qualified_to_sale", "sales", by_manager=True),  # how sales handles leads
    _stage("average_check", "average_check", "product_price"),  # price, discounts, product mix
)
STAGE = {s.name: s for s in STAGES}
ACTIVITY_STAGE = "activity"  # the activity itself does not turn into results (no single step to blame)

# Results an owner counts, in funnel order: the first step sales confirms, then deals and money.
# Each is a count or money the catalog says is "better higher"; the module test checks that.
RESULTS: tuple[str, ...] = ("qualified_leads", "sales", "revenue")
# Which steps a result depends on: a company-wide break of such a step explains a channel's fall.
RESULT_STAGES: dict[str, tuple[str, ...]] = {
    "qualified_leads": ("visit_to_lead", "lead_to_qualified"),
    "sales": ("visit_to_lead", "lead_to_qualified", "qualified_to_sale"),
    "revenue": ("visit_to_lead", "lead_to_qualified", "qualified_to_sale", "average_check"),
}


def activity_efficiency() -> list[Metric]:
    """Activity metrics with a better direction (CTR up, CPC and CPM down): what makes a report green."""
    return [m for m in CATALOG.values() if m.tier == Tier.ACTIVITY and not m.hidden and m.better != "neutral"]


def activity_volume() -> list[Metric]:
    """Activity counts without a better direction (impressions, reach, clicks, posts): "more" is what
    activity reports celebrate, though the catalog rightly refuses to call it better."""
    return [
        m
        for m in CATALOG.values()
        if m.tier == Tier.ACTIVITY and not m.hidden and m.better == "neutral" and m.unit == "count"
    ]


def looks_better(metric: Metric, change: float | None) -> bool:
    """Did an activity metric move the way an activity report celebrates, by at least ``IMPROVED``?"""
    if change is None:
        return False
    if metric.better == "lower":
        return change <= -IMPROVED
    # "higher" metrics, and volume counts ("neutral"), look better when they grow.
    return change >= IMPROVED

"""The plan on the demo company: a past month's revenue planned at that month's own rates gives back that
month's funnel, channel by channel, and the draft contract of a real-sized plan lints clean."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.conftest import DemoCompany

from kassa.kpi import lint, parse_contract
from kassa.kpi.plan import RATES, draft_contract, make_plan, revenue_of
from kassa.metrics.compute import compute

FIGURE_FACT = {
    "sales": "sales",
    "qualified_leads": "qualified_leads",
    "leads": "leads",
    "visits": "visits",
    "budget": "marketing_cost",
}


def test_octobers_revenue_at_octobers_rates_is_octobers_funnel(
    demo_company: Callable[[bool], DemoCompany],
) -> None:
    wh = demo_company(True).open()
    try:
        october = compute(wh, ["revenue", *FIGURE_FACT.values(), *RATES], "channel", "2026-10")
        actual = {r["channel"]: r for r in october.rows() if (r["revenue"] or 0) > 0}
        # --months 1 before November is October alone: its rates, its channels' shares of its revenue.
        plan = make_plan(wh, october.total["revenue"], "2026-11", months=1)
        assert plan.window.label == "2026-10"
        assert {c.channel for c in plan.channels} == set(actual)
        for c in plan.channels:
            fact = actual[c.channel]
            assert c.revenue == pytest.approx(fact["revenue"])
            for figure, metric in FIGURE_FACT.items():
                want = fact[metric] if fact[metric] else None  # an organic channel's budget has no value
                assert c.figures[figure].plan == pytest.approx(want), (c.channel, figure)
            assert revenue_of(c.planned(), {r: fact[r] for r in RATES}) == pytest.approx(fact["revenue"])
            # October itself is in the history: the plan asks no more than a month already delivered.
            assert c.shortfalls == [], (c.channel, c.shortfalls)
        # From the three months before, the funnel at the plan's own rates still gives the target back.
        ahead = make_plan(wh, 6_000_000, "2026-11")
        assert sum(revenue_of(c.planned(), c.rates) or 0 for c in ahead.channels) == pytest.approx(6_000_000)
        assert lint(parse_contract(draft_contract(ahead)), "2026-11") == []
    finally:
        wh.close()

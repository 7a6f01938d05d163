"""Scoring on hand-computed facts: no warehouse, every expected number worked out in a comment."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.kpi import attainment, effective, parse_contract, score_facts

ISSUE = """
name: "Agency Pedal — Yandex Direct"
scope: {channels: [yandex_direct]}
kpis:
  - {metric: qualified_leads, target: 120, weight: 0.4, floor: 0.7, cap: 1.2}
  - {metric: cost_per_qualified_lead, target: 3500, weight: 0.2}
  - {metric: revenue, target: 2500000, weight: 0.4}
bonus: {base: 60000, gate: {metric: romi, min: 0.0}}
"""


@pytest.fixture
def issue():
    return parse_contract(ISSUE)


def facts(**kw: float | None) -> dict[str, float | None]:
    base: dict[str, float | None] = {
        "qualified_leads": 130,
        "cost_per_qualified_lead": 3000,
        "revenue": 2_000_000,
        "romi": 0.5,
        "marketing_cost": 390_000,
    }
    base.update(kw)
    return base


def test_issue_example_by_hand(issue):
    card = score_facts(issue, facts(), "2026-10")
    # qualified leads 130 / 120 = 1.08333 (between floor 0.7 and cap 1.2) × 0.4 = 0.43333
    # cost per qualified lead, lower is better: 3 500 / 3 000 = 1.16667 × 0.2 = 0.23333
    # revenue 2 000 000 / 2 500 000 = 0.8 × 0.4 = 0.32
    # score 0.43333 + 0.23333 + 0.32 = 0.98667; ROMI 0.5 >= 0 -> bonus 60 000 × 0.98667 = 59 200
    raw = [r.attainment_raw for r in card.rows]
    assert raw == pytest.approx([130 / 120, 3500 / 3000, 0.8])
    assert [r.contribution for r in card.rows] == pytest.approx([0.4 * 130 / 120, 0.2 * 3500 / 3000, 0.32])
    assert card.score == pytest.approx(0.986667, abs=1e-6)
    assert card.gate is not None and card.gate.passed
    assert card.bonus == pytest.approx(59_200)
    assert card.bonus_share == pytest.approx(card.score)
    assert [r.status for r in card.rows] == ["scored", "scored", "scored"]


def test_explanations_show_the_arithmetic(issue):
    card = score_facts(issue, facts(), "2026-10")
    assert card.rows[0].explain("en") == (
        "Qualified leads: fact 130, target 120; fact / target = 108.3% × weight 0.40 = 0.433."
    )
    assert card.rows[1].explain("en") == (
        "Cost per qualified lead: fact RUB\xa03,000, target RUB\xa03,500; target / fact (lower is better) = 116.7% "
        "× weight 0.20 = 0.233."
    )
    assert (
        card.rows[0]
        .explain("ru")
        .startswith("Квалифицированные лиды: факт 130, цель 120; факт / цель = 108,3")
    )
    assert (
        card.gate is not None
        and card.gate.explanation["en"] == "Gate passed: ROMI is 0.50, it must be ≥ 0.00."
    )
    assert card.bonus_explanation is not None
    assert card.bonus_explanation["en"] == "Bonus = base RUB\xa060,000 × score 0.987 = RUB\xa059,200."
    assert card.bonus_explanation["ru"] == "Бонус = база 60\xa0000\xa0₽ × оценка 0,987 = 59\xa0200\xa0₽."


def test_below_the_floor_counts_zero(issue):
    # 80 / 120 = 0.667 < floor 0.7 -> 0; score 0 + 0.23333 + 0.32 = 0.55333; bonus 60 000 × 0.55333 = 33 200
    card = score_facts(issue, facts(qualified_leads=80), "2026-10")
    row = card.rows[0]
    assert row.attainment_raw == pytest.approx(2 / 3) and row.attainment == 0 and row.status == "below_floor"
    assert row.explain("en").endswith("= 66.7%, below the floor 70.0%, counts 0.")
    assert card.score == pytest.approx(0.553333, abs=1e-6) and card.bonus == pytest.approx(33_200)


def test_exactly_at_the_floor_counts(issue):
    # 84 / 120 = 0.7, not below the floor 0.7 -> counts 0.7 × 0.4 = 0.28
    card = score_facts(issue, facts(qualified_leads=84), "2026-10")
    assert card.rows[0].attainment == pytest.approx(0.7) and card.rows[0].status == "scored"


def test_cap(issue):
    # 180 / 120 = 1.5 > cap 1.2 -> 1.2 × 0.4 = 0.48; revenue 4 000 000 / 2 500 000 = 1.6 > default cap 1.5 -> 0.6
    card = score_facts(issue, facts(qualified_leads=180, revenue=4_000_000), "2026-10")
    assert card.rows[0].attainment == pytest.approx(1.2) and card.rows[0].status == "capped"
    assert card.rows[2].attainment == pytest.approx(1.5) and card.rows[2].contribution == pytest.approx(0.6)
    assert card.rows[0].explain("en").endswith("= 150.0%, capped at 120.0% × weight 0.40 = 0.480.")
    # 0.48 + 0.23333 + 0.6 = 1.31333: beating every target pays more than the base
    assert card.score == pytest.approx(1.313333, abs=1e-6) and card.bonus == pytest.approx(78_800)


def test_lower_is_better_worse_than_target(issue):
    # 3 500 / 7 000 = 0.5 × 0.2 = 0.1
    card = score_facts(issue, facts(cost_per_qualified_lead=7000), "2026-10")
    assert card.rows[1].attainment == pytest.approx(0.5) and card.rows[1].better == "lower"


def test_gate_fails(issue):
    card = score_facts(issue, facts(romi=-0.2), "2026-10")
    assert card.score == pytest.approx(0.986667, abs=1e-6)  # the score is still shown
    assert card.gate is not None and not card.gate.passed and card.bonus == 0
    assert card.gate.explanation["en"] == "Gate failed: ROMI is -0.20, it must be ≥ 0.00."
    assert card.bonus_explanation == {
        "en": "Bonus RUB\xa00: the gate failed.",
        "ru": "Бонус 0\xa0₽: условие не выполнено.",
    }


def test_gate_metric_without_value_fails_and_says_why(issue):
    # ROMI = (romi_base - marketing_cost) / marketing_cost has no value when marketing cost is 0
    card = score_facts(issue, facts(romi=None, marketing_cost=0), "2026-10")
    assert card.gate is not None and not card.gate.passed and card.gate.fact is None and card.bonus == 0
    assert (
        "ROMI has no value (" in card.gate.explanation["en"]
        and "marketing_cost = 0 in 2026-10" in card.gate.explanation["en"]
    )


def test_gate_with_max():
    c = parse_contract(
        "name: x\nkpis: [{metric: revenue, target: 100, weight: 1}]\nbonus: {base: 1000, gate: {metric: drr, max: 0.3}}"
    )
    assert score_facts(c, {"revenue": 100, "drr": 0.25}, "2026-10").bonus == pytest.approx(1000)
    assert score_facts(c, {"revenue": 100, "drr": 0.35}, "2026-10").bonus == 0
    assert score_facts(c, {"revenue": 100, "drr": 0.30}, "2026-10").bonus == pytest.approx(
        1000
    )  # bound included


def test_missing_fact_scores_zero_and_says_why(issue):
    # no qualified leads -> cost per qualified lead = marketing_cost / 0 has no value -> 0;
    # qualified leads 0 / 120 = 0 < floor -> 0; revenue 0.8 × 0.4 = 0.32 is the whole score
    card = score_facts(issue, facts(qualified_leads=0, cost_per_qualified_lead=None), "2026-10")
    row = card.rows[1]
    assert (
        row.fact is None and row.attainment_raw is None and row.attainment == 0 and row.status == "no_value"
    )
    assert row.explain("en") == (
        "Cost per qualified lead: no value (marketing_cost / qualified_leads, and qualified_leads = 0 in 2026-10), counts 0."
    )
    assert row.explain("ru").startswith("Цена квал. лида: нет значения (")
    assert card.score == pytest.approx(0.32)


def test_fact_absent_from_the_facts_counts_zero(issue):
    card = score_facts(issue, {"qualified_leads": 120, "romi": 1}, "2026-10")
    # 1.0 × 0.4; cost per qualified lead and revenue absent -> 0
    assert card.score == pytest.approx(0.4)
    assert card.rows[2].explain("en") == "Revenue: no value (no fact was given), counts 0."
    assert (
        card.rows[1].explain("en")
        == "Cost per qualified lead: no value (marketing_cost / qualified_leads has no value in 2026-10), counts 0."
    )


def test_nan_is_no_value(issue):
    card = score_facts(issue, facts(revenue=float("nan")), "2026-10")
    assert card.rows[2].status == "no_value" and card.rows[2].fact is None
    assert json.loads(json.dumps(card.to_json(), allow_nan=False))["facts"]["revenue"] is None


def test_zero_cost_counts_the_cap():
    # CPL 0 (leads cost nothing): target / 0 has no finite value; nothing can be cheaper, so it counts the cap 1.5
    c = parse_contract(
        "name: x\nkpis: [{metric: cpl, target: 500, weight: 0.5}, {metric: leads, target: 10, weight: 0.5}]"
    )
    card = score_facts(c, {"cpl": 0, "leads": 10}, "2026-10")
    assert card.rows[0].status == "zero_cost" and card.rows[0].attainment == 1.5
    assert card.score == pytest.approx(0.5 * 1.5 + 0.5 * 1.0)


def test_neutral_metric_as_quota_and_as_budget_limit():
    c = parse_contract(
        "name: x\nkpis: [{metric: posts, target: 20, weight: 0.5}, {metric: cost, target: 100000, weight: 0.5, better: lower}]"
    )
    # posts 31 / 20 = 1.55 -> cap 1.5 × 0.5 = 0.75; spend under the limit: 100 000 / 80 000 = 1.25 × 0.5 = 0.625
    card = score_facts(c, {"posts": 31, "cost": 80_000}, "2026-10")
    assert card.score == pytest.approx(1.375)
    assert (
        card.bonus is None
        and card.gate is None
        and card.bonus_explanation is None
        and card.bonus_share is None
    )


def test_meeting_every_target_exactly_pays_the_base(issue):
    card = score_facts(
        issue, facts(qualified_leads=120, cost_per_qualified_lead=3500, revenue=2_500_000), "2026-10"
    )
    assert card.score == pytest.approx(1.0) and card.bonus == pytest.approx(60_000)


def test_json_is_complete_and_plain(issue):
    data = json.loads(json.dumps(score_facts(issue, facts(), "2026-10").to_json(), allow_nan=False))
    assert data["period"] == "2026-10" and data["scope"] == {"channels": ["yandex_direct"], "campaigns": None}
    assert data["kpis"][0]["metric"] == "qualified_leads" and data["kpis"][0]["tier"] == "intermediate"
    assert data["kpis"][0]["label"] == {"en": "Qualified leads", "ru": "Квалифицированные лиды"}
    assert data["bonus"]["amount"] == pytest.approx(59_200) and data["bonus"]["gate"]["passed"] is True
    assert set(data["kpis"][1]["explanation"]) == {"en", "ru"}


def test_attainment_rules():
    assert attainment(130, 120, "higher") == pytest.approx(130 / 120)
    assert attainment(3000, 3500, "lower") == pytest.approx(3500 / 3000)
    assert attainment(None, 10, "higher") is None and attainment(0, 10, "lower") is None
    assert attainment(-5, 10, "higher") == -0.5 and effective(-0.5, 0, 1.5) == 0  # a negative fact counts 0
    assert effective(0.69, 0.7, 1.2) == 0 and effective(0.7, 0.7, 1.2) == 0.7 and effective(2, 0, 1.2) == 1.2


@given(
    fact=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    more=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    target=st.floats(min_value=1e-3, max_value=1e9),
    floor=st.floats(min_value=0, max_value=1),
    cap=st.floats(min_value=1, max_value=3),
)
def test_effective_attainment_is_bounded_and_monotone(fact, more, target, floor, cap):
    # Higher is better: more fact never scores less, and the effective attainment stays within [0, cap].
    a = effective(attainment(fact, target, "higher") or 0.0, floor, cap)
    b = effective(attainment(fact + more, target, "higher") or 0.0, floor, cap)
    assert 0 <= a <= cap and a <= b
    # Lower is better: a cheaper positive fact never scores less.
    if fact > 0:
        dear = effective(attainment(fact + more, target, "lower") or 0.0, floor, cap)
        cheap = effective(attainment(fact, target, "lower") or 0.0, floor, cap)
        assert 0 <= dear <= cheap <= cap

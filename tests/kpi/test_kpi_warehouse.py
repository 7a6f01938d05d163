"""Scoring on a real warehouse: the tiny company of tests/golden_data.py, October 2026.

Facts by hand (see tests/test_metrics_golden.py for how each is counted):
yandex_direct: visits 3 (v1, v2, yclid v9), qualified leads 2 (L1, L2), marketing cost 12 000,
  cost per qualified lead 12 000 / 2 = 6 000, revenue 90 000 (D1 50 000 + D4 40 000), ROMI 6.5.
campaign ya_search: the same but visits 2 (the yclid visit v9 has no campaign).
campaign vk_retarget: marketing cost 3 000, no sales -> revenue 0, ROMI (0 - 3 000) / 3 000 = -1.
channel direct: no marketing cost -> ROMI 0 / 0 has no value.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tests.golden_data import FILES

from kassa.kpi import parse_contract, score

KPIS = """
kpis:
  - {metric: visits, target: 2, weight: 0.2}
  - {metric: cost_per_qualified_lead, target: 3000, weight: 0.4}
  - {metric: revenue, target: 60000, weight: 0.4, cap: 1.2}
bonus: {base: 10000, gate: {metric: romi, min: 0}}
"""


@pytest.fixture
def golden(make_warehouse):
    return make_warehouse(FILES)


def contract(scope: str, extra: str = ""):
    return parse_contract(f"name: t\nscope: {scope}\n{extra}{KPIS}")


def test_scope_by_channel(golden):
    before = golden.fingerprint()
    card = score(golden, contract("{channels: [yandex_direct]}"), "2026-10")
    # visits 3 / 2 = 1.5 (cap 1.5) × 0.2 = 0.3; CPQL 3 000 / 6 000 = 0.5 × 0.4 = 0.2;
    # revenue 90 000 / 60 000 = 1.5 -> cap 1.2 × 0.4 = 0.48. Score 0.98; ROMI 6.5 >= 0 -> bonus 9 800.
    assert [r.fact for r in card.rows] == [3, 6000, 90000]
    assert card.score == pytest.approx(0.98) and card.bonus == pytest.approx(9800)
    assert card.facts["romi"] == pytest.approx(6.5) and card.facts["marketing_cost"] == 12000
    assert card.warnings == []
    assert golden.fingerprint() == before  # scoring only reads


def test_scope_by_campaign(golden):
    card = score(golden, contract("{campaigns: [ya_search]}"), "2026-10")
    # visits 2 / 2 = 1.0 × 0.2 = 0.2; then as above 0.2 + 0.48 -> score 0.88, bonus 8 800
    assert card.rows[0].fact == 2 and card.score == pytest.approx(0.88) and card.bonus == pytest.approx(8800)


def test_gate_fails_on_a_losing_campaign(golden):
    card = score(golden, contract("{campaigns: [vk_retarget]}"), "2026-10")
    # visits 1 / 2 = 0.5 × 0.2 = 0.1; CPQL 3 000 / 3 000 = 1 × 0.4 = 0.4; revenue 0 -> 0. Score 0.5, ROMI -1 < 0 -> 0
    assert card.score == pytest.approx(0.5)
    assert card.gate is not None and card.gate.fact == pytest.approx(-1) and card.bonus == 0


def test_gate_without_value_on_a_free_channel(golden):
    card = score(golden, contract("{channels: [direct]}"), "2026-10")
    assert card.gate is not None and card.gate.fact is None and card.bonus == 0
    # and the reason is the input that was 0, read from the warehouse
    assert "marketing_cost = 0 in 2026-10" in card.gate.explanation["en"]
    assert card.rows[1].status == "no_value" and "qualified_leads = 0" in card.rows[1].explain("en")


def test_cohort_view_with_settle_days(golden):
    c = contract("{channels: [yandex_direct]}", "view: cohort\nsettle_days: 14\n")
    card = score(golden, c, "2026-10", today=dt.date(2026, 12, 1))
    # cohort of October leads: only D1 (50 000) was won within 14 days; 50 000 / 60 000 = 0.8333 × 0.4
    assert card.rows[2].fact == 50000 and card.rows[2].contribution == pytest.approx(0.4 * 50000 / 60000)
    assert card.warnings == []
    early = score(golden, c, "2026-10", today=dt.date(2026, 11, 5))
    (w,) = early.warnings
    # the last October lead may buy until 2026-11-01 + 14 days
    assert w.code == "cohort_provisional" and "provisional until 2026-11-15" in w.text["en"]


def test_misspelt_scope_is_reported_with_the_names_that_exist(golden):
    card = score(golden, contract("{channels: [yandex]}"), "2026-10")
    (w,) = card.warnings
    assert w.code == "empty_scope" and card.score == 0
    assert (
        w.advice["en"]
        == "Check the names; 2026-10 has: direct, seo, telegram, unknown, vk_ads, yandex_direct."
    )


def test_the_names_offered_come_only_from_what_the_reader_may_see(golden):
    # A misspelt campaign is looked for in the contract's channels: vk_ads has vk_retarget, nothing else.
    misspelt = contract("{channels: [vk_ads], campaigns: [vk_retarget_sitee]}")
    (w,) = score(golden, misspelt, "2026-10").warnings
    assert w.advice["en"] == "Check the names; 2026-10 has: vk_retarget."
    # A reader who sees vk_ads only (an agency) is offered vk_ads's names, not the company's.
    (w,) = score(golden, contract("{channels: [vk_adds]}"), "2026-10", visible=["vk_ads"]).warnings
    assert w.advice["en"] == "Check the names; 2026-10 has: vk_ads."
    (w,) = score(golden, contract("{channels: [vk_ads]}"), "2026-09", visible=["vk_ads"]).warnings
    assert w.advice["en"] == "Check the names; 2026-09 has: —."  # vk_ads had nothing in September


def test_a_scope_with_data_but_no_revenue_is_not_called_empty(golden):
    # vk_ads spent 3 000 and had a lead in October, but sold nothing: revenue 0 is a fact, not a typo
    card = score(
        golden,
        parse_contract(
            "name: t\nscope: {channels: [vk_ads]}\nkpis: [{metric: revenue, target: 1, weight: 1}]"
        ),
        "2026-10",
    )
    assert card.rows[0].fact == 0 and card.warnings == [] and set(card.facts) == {"revenue"}


def test_quarterly_targets_scored_for_a_month_are_flagged(golden):
    card = score(golden, contract("{channels: [yandex_direct]}", "period: quarter\n"), "2026-10")
    assert [w.code for w in card.warnings] == ["period_mismatch"]
    assert card.to_json()["warnings"][0]["code"] == "period_mismatch"

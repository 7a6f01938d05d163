"""Lint: the article's contract is objected to line by line; the outcome contract is clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kassa.kpi import RULES, example_path, lint, load_contract, parse_contract
from kassa.metrics.catalog import CATALOG, Tier

ROOT = Path(__file__).resolve().parents[2]


def codes(text: str, period: str | None = None) -> list[str]:
    return [w.code for w in lint(parse_contract(text), period)]


def test_the_article_contract_is_flagged():
    c = load_contract(example_path("pays_for_activity"))
    warnings = lint(c, "2026-10")
    assert [w.code for w in warnings] == [
        "activity_weight",
        "activity_weight",
        "activity_weight",
        "activity_weight",
        "no_outcome",
        "gate_on_activity",
    ]
    # Each activity line is named with the catalog's label and tier, at its line in the file.
    first = warnings[0]
    assert (
        first.text["en"]
        == "25% of the score pays for posts (Publications, activity): turning the wheel, not arriving."
    )
    assert first.advice["en"] == (
        "Pay for what it should lead to instead: qualified_leads (Qualified leads, intermediate) or revenue (Revenue, outcome)."
    )
    assert first.where is not None and first.where.endswith("pays_for_activity.yaml:13")
    # CPC is a cost: the advice is the cost of what matters.
    cpc = warnings[3]
    assert (
        cpc.metric == "cpc"
        and "cost_per_qualified_lead (Cost per qualified lead, intermediate)" in cpc.advice["en"]
    )


def test_the_outcome_contract_is_clean():
    assert lint(load_contract(example_path("pays_for_money")), "2026-10") == []


def test_activity_is_decided_by_the_catalog_tier():
    activity = [m.name for m in CATALOG.values() if m.tier == Tier.ACTIVITY and not m.hidden]
    for name in activity:
        assert "activity_weight" in codes(
            f"name: x\nkpis: [{{metric: {name}, target: 1, weight: 0.5}}, "
            "{metric: revenue, target: 1, weight: 0.5}]"
        ), name
    assert "activity_weight" not in codes("name: x\nkpis: [{metric: visits, target: 1, weight: 1}]")


def test_paying_for_spend():
    assert "pays_for_spending" in codes(
        "name: x\nkpis: [{metric: marketing_cost, target: 100000, weight: 1}]"
    )
    # a budget limit is not paying for spend
    assert "pays_for_spending" not in codes(
        "name: x\nkpis: [{metric: marketing_cost, target: 1, weight: 1, better: lower}]"
    )


def test_leads_without_quality_or_money():
    text = (
        "name: x\nkpis: [{metric: leads, target: 100, weight: 0.6}, {metric: cpl, target: 500, weight: 0.4}]"
    )
    ws = [w for w in lint(parse_contract(text)) if w.code == "leads_without_quality"]
    assert len(ws) == 1 and ws[0].text["en"].startswith(
        "Leads are rewarded (leads, cpl) but no KPI checks their quality"
    )
    assert "qualified_leads (Qualified leads, intermediate)" in ws[0].advice["en"]
    with_quality = "name: x\nkpis: [{metric: leads, target: 100, weight: 0.6}, {metric: lead_to_qualified, target: 0.5, weight: 0.4}]"
    assert "leads_without_quality" not in codes(with_quality)
    with_money = "name: x\nkpis: [{metric: leads, target: 100, weight: 0.6}, {metric: revenue, target: 9, weight: 0.4}]"
    assert "leads_without_quality" not in codes(with_money)


def test_no_outcome():
    assert "no_outcome" in codes("name: x\nkpis: [{metric: qualified_leads, target: 100, weight: 1}]")
    # marketing cost is outcome-tier bookkeeping, not money earned
    assert "no_outcome" in codes(
        "name: x\nkpis: [{metric: qualified_leads, target: 1, weight: 0.5}, "
        "{metric: marketing_cost, target: 1, weight: 0.5, better: lower}]"
    )
    assert "no_outcome" not in codes("name: x\nkpis: [{metric: payments, target: 100, weight: 1}]")


def test_cheap_without_volume():
    # two leads at a cheap price would score in full
    assert codes(
        "name: x\nkpis: [{metric: cost_per_sale, target: 9000, weight: 1}]\nbonus: {base: 1, gate: {metric: romi, min: 0}}"
    ) == ["cost_without_volume"]
    assert "cost_without_volume" not in codes(
        "name: x\nkpis: [{metric: cost_per_sale, target: 9000, weight: 0.5}, {metric: sales, target: 10, weight: 0.5}]"
    )


def test_percent_written_as_a_whole_number():
    ws = lint(
        parse_contract(
            "name: x\nkpis: [{metric: ctr, target: 5, weight: 0.5}, {metric: revenue, target: 1, weight: 0.5}]\n"
            "bonus: {base: 1, gate: {metric: lead_to_qualified, min: 30}}"
        )
    )
    pct = [w for w in ws if w.code == "percent_as_whole_number"]
    assert [w.metric for w in pct] == ["ctr", "lead_to_qualified"]
    assert pct[0].text["en"] == "ctr (CTR, activity): 5 means 500%; kassa keeps percent metrics as fractions."
    assert pct[0].advice["en"] == "If you meant 5 %, write 0.05."
    assert pct[1].advice["en"] == "If you meant 30 %, write 0.3."
    assert "percent_as_whole_number" not in codes(
        "name: x\nkpis: [{metric: lead_to_qualified, target: 0.6, weight: 1}]"
    )


def test_period_mismatch():
    quarterly = "name: x\nperiod: quarter\nkpis: [{metric: revenue, target: 9000000, weight: 1}]"
    ws = [w for w in lint(parse_contract(quarterly), "2026-10") if w.code == "period_mismatch"]
    assert len(ws) == 1
    assert (
        ws[0].text["en"]
        == "Targets are per quarter but 2026-10 covers 1 month(s): fact and target are not for the same time."
    )
    assert (
        ws[0].advice["en"]
        == "Score one quarter, e.g. 2026-08..2026-10, or write the targets for the period you score."
    )
    assert ws[0].text["ru"].startswith("Цели указаны за квартал, а период 2026-10")
    assert "period_mismatch" not in codes(quarterly, "2026-08..2026-10")
    assert "period_mismatch" not in codes(quarterly)  # no period given: nothing to compare
    monthly = "name: x\nkpis: [{metric: revenue, target: 1, weight: 1}]"
    half = [w for w in lint(parse_contract(monthly), "2026-10-01..2026-10-15") if w.code == "period_mismatch"]
    assert "covers 15 day(s)" in half[0].text["en"] and "e.g. 2026-10," in half[0].advice["en"]


def test_gates():
    base = "name: x\nkpis: [{metric: revenue, target: 1, weight: 1}]\n"
    assert codes(base + "bonus: {base: 1000}") == ["no_money_gate"]
    assert codes(base + "bonus: {base: 1000, gate: {metric: qualified_leads, min: 10}}") == ["no_money_gate"]
    assert codes(base + "bonus: {base: 1000, gate: {metric: clicks, min: 10}}") == ["gate_on_activity"]
    assert codes(base + "bonus: {base: 1000, gate: {metric: romi, min: 0}}") == []
    assert codes(base + "bonus: {base: 0}") == []  # nothing to pay, nothing to guard
    assert codes(base) == []


def test_cap_below_one_points_at_the_cap_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "name: x\nkpis:\n  - metric: revenue\n    target: 1\n    weight: 1\n    cap: 0.9\n", encoding="utf-8"
    )
    (w,) = lint(load_contract(p))
    assert w.code == "cap_below_one" and w.where == f"{p}:6"
    assert (
        w.text["en"]
        == "revenue (Revenue, outcome) has cap 0.90: even beating the target counts only 90% of its weight."
    )


def test_cohort_without_settle_days():
    assert codes("name: x\nview: cohort\nkpis: [{metric: revenue, target: 1, weight: 1}]") == [
        "cohort_unsettled"
    ]
    assert (
        codes("name: x\nview: cohort\nsettle_days: 45\nkpis: [{metric: revenue, target: 1, weight: 1}]") == []
    )


ALL_BAD = """
name: everything wrong
view: cohort
period: quarter
kpis:
  - {metric: clicks, target: 5000, weight: 0.3}
  - {metric: ctr, target: 5, weight: 0.2}
  - {metric: cost, target: 100000, weight: 0.2, cap: 0.8}
  - {metric: leads, target: 100, weight: 0.3}
bonus: {base: 60000, gate: {metric: ctr, min: 0.01}}
"""


def test_every_rule_can_fire_and_speaks_both_languages():
    ws = lint(parse_contract(ALL_BAD), "2026-10")
    seen = {w.code for w in ws} | {
        w.code
        for w in lint(
            parse_contract("name: x\nkpis: [{metric: cpl, target: 1, weight: 1}]\nbonus: {base: 1}")
        )
    }
    assert seen == set(RULES)
    for w in ws:
        assert w.text["ru"] != w.text["en"] and re.search("[а-яё]", w.text["ru"] + w.advice["ru"]), w.code
        assert w.message("ru").startswith(w.text["ru"])


def test_advice_always_cites_a_metric_that_is_not_activity():
    for w in lint(parse_contract(ALL_BAD), "2026-10"):
        if w.code in ("percent_as_whole_number", "period_mismatch", "cap_below_one"):
            continue  # advice about how the contract is written, not what it pays for
        cited = re.findall(r"(\w+) \(", w.advice["en"])
        assert any(c in CATALOG and CATALOG[c].tier != Tier.ACTIVITY for c in cited), (w.code, w.advice["en"])


@pytest.mark.parametrize("code", [*RULES, "empty_scope", "cohort_provisional"])
def test_every_warning_is_documented(code):
    assert f"`{code}`" in (ROOT / "docs" / "kpi.md").read_text(encoding="utf-8")

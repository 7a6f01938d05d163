"""Every catalog metric on a tiny company, computed by hand (tests/golden_data.py).

Hand computation, calendar view, October 2026:

yandex_direct: spend rows 10-01 (12 200 incl. 22 % VAT -> 10 000 net) and 10-02 (2 000 net) -> cost 12 000;
  impressions 2 000 + 1 000 = 3 000; clicks 120; reach 1 200; CTR 120/3 000 = 0.04; CPC 12 000/120 = 100;
  CPM 12 000*1000/3 000 = 4 000. Visits v1, v2, v9 (yclid) = 3. Leads L1 (own UTM) and L2 (no UTM ->
  c1's last non-direct visit v1, not the later direct v6) = 2; both qualified (L1 status, L2 has deal D2).
  Sales won in October: D1 (L1) 50 000 and D4 (L7, a September lead) 40 000 -> 2 sales, revenue 90 000;
  gross profit 20 000 but D4 has none, so ROMI uses revenue: (90 000 - 12 000)/12 000 = 6.5;
  ROAS 90 000/12 000 = 7.5; DRR 12 000/90 000; payments P1 50 000 + P2 20 000 = 70 000.
vk_ads: cost 3 000, 5 000 impressions, 50 clicks -> CTR 0.01, CPC 60, CPM 600; 1 visit, 1 lead (L3, junk but
  a deal D5 was opened -> qualified); no sales -> revenue 0, CAC none, ROMI (0-3 000)/3 000 = -1, DRR none.
telegram: posts 4 + 6 = 10 (the November post is out), activity cost 5 000 = marketing cost; no impressions ->
  CTR/CPC none; 1 visit, 1 lead (L4 via visit v4), qualified; CPL 5 000.
direct: visits v5, v6; lead L5 (only a direct visit); CPL 0/1 = 0; cost per qualified lead 0/0 = none.
seo: visit v8 (referrer google); no lead -> visit_to_lead 0, CPL none.
unknown: lead L6 (client never visited); payment P4 without a deal (7 000); visit_to_lead 1/0 = none.
Total: cost 15 000, marketing cost 20 000, visits 8, leads 6, qualified 4, sales 2, revenue 90 000,
  payments 77 000, ROMI (90 000 - 20 000)/20 000 = 3.5.
"""

from __future__ import annotations

import math

import pytest
from tests.golden_data import FILES

from kassa.metrics import compute
from kassa.metrics.catalog import visible_metrics
from kassa.settings import Settings

EXPECTED_OCT = {
    "yandex_direct": {
        "cost": 12000,
        "activity_cost": 0,
        "marketing_cost": 12000,
        "impressions": 3000,
        "reach": 1200,
        "clicks": 120,
        "ctr": 0.04,
        "cpc": 100,
        "cpm": 4000,
        "posts": 0,
        "visits": 3,
        "leads": 2,
        "visit_to_lead": 2 / 3,
        "cpl": 6000,
        "qualified_leads": 2,
        "cost_per_qualified_lead": 6000,
        "lead_to_qualified": 1.0,
        "qualified_to_sale": 1.0,
        "sales": 2,
        "cost_per_sale": 6000,
        "revenue": 90000,
        "average_check": 45000,
        "payments": 70000,
        "gross_profit": 20000,
        "romi": 6.5,
        "roas": 7.5,
        "drr": 12000 / 90000,
        # Bank-confirmed: D1 paid in full by P1 (50 000), D4 only 20 000 of 40 000 by P2 -> paid 70 000,
        # unpaid 20 000; ROMI on paid (70 000 - 12 000)/12 000; both leads have a source.
        "paid_revenue": 70000,
        "unpaid_won": 20000,
        "romi_paid": 58000 / 12000,
        "unknown_source_share": 0.0,
        # Customers: L1 and L2 share the cookie c1, so D1 (L1, Oct) is customer L1's first purchase and D2
        # (L2, Nov) their repeat; D4 (L7) is customer L7's first. October: 2 new, 0 repeat, CAC 12 000/2.
        # LTV of the two acquired in October over 12 months: D1 + D2 + D4 = 120 000 revenue (D4 has no
        # margin, so revenue, not gross profit) / 2 = 60 000; LTV/CAC 60 000 / 6 000 = 10.
        "new_customers": 2,
        "repeat_customers": 0,
        "new_customer_revenue": 90000,
        "repeat_revenue": 0,
        "repeat_share": 0.0,
        "cac": 6000,
        "ltv": 60000,
        "ltv_to_cac": 10.0,
        # Payback on revenue (D4 has no margin, as LTV): October, month 0, brings D1 + D4 = 90 000 of
        # the cohort's revenue, which covers the 12 000 of marketing cost at once -> 1 month.
        "payback_months": 1,
    },
    "vk_ads": {
        "cost": 3000,
        "marketing_cost": 3000,
        "impressions": 5000,
        "reach": 2500,
        "clicks": 50,
        "ctr": 0.01,
        "cpc": 60,
        "cpm": 600,
        "visits": 1,
        "leads": 1,
        "cpl": 3000,
        "qualified_leads": 1,
        "lead_to_qualified": 1.0,
        "sales": 0,
        "qualified_to_sale": 0.0,
        "cost_per_sale": None,
        "revenue": 0,
        "average_check": None,
        "gross_profit": None,
        "romi": -1.0,
        "roas": 0.0,
        "drr": None,
        "payments": 0,
        "paid_revenue": 0,
        "unpaid_won": 0,
        "romi_paid": -1.0,
        "unknown_source_share": 0.0,
        # No new customer: CAC has no value ("—"), not 0; nor have LTV and LTV/CAC.
        "new_customers": 0,
        "cac": None,
        "ltv": None,
        "ltv_to_cac": None,
        "repeat_share": None,
        "payback_months": None,  # no one acquired: nothing to pay back ("—", not "not yet", not 0)
    },
    "telegram": {
        "cost": 0,
        "activity_cost": 5000,
        "marketing_cost": 5000,
        "posts": 10,
        "impressions": 0,
        "ctr": None,
        "cpc": None,
        "cpm": None,
        "reach": None,
        "visits": 1,
        "leads": 1,
        "cpl": 5000,
        "qualified_leads": 1,
        "sales": 0,
        "romi": -1.0,
    },
    "direct": {
        "visits": 2,
        "leads": 1,
        "cpl": None,  # no marketing cost: a lead of a channel nobody paid for has no price, not 0
        "qualified_leads": 0,
        "cost_per_qualified_lead": None,
        "lead_to_qualified": 0.0,
        "romi": None,
        "roas": None,
        "marketing_cost": 0,
    },
    "seo": {"visits": 1, "leads": 0, "visit_to_lead": 0.0, "cpl": None},
    # P4 names no deal and fits no won deal's amount: a payment, but not paid revenue of any channel.
    "unknown": {
        "visits": 0,
        "leads": 1,
        "visit_to_lead": None,
        "payments": 7000,
        "sales": 0,
        "paid_revenue": 0,
        "romi_paid": None,
        "unknown_source_share": 1.0,
    },
}

EXPECTED_TOTAL = {
    "cost": 15000,
    "activity_cost": 5000,
    "marketing_cost": 20000,
    "visits": 8,
    "leads": 6,
    "qualified_leads": 4,
    "sales": 2,
    "revenue": 90000,
    "payments": 77000,
    "romi": 3.5,
    "cpl": 20000 / 6,
    "cost_per_sale": 10000,
    "impressions": 8000,
    "clicks": 170,
    "posts": 10,
    # paid 70 000 of revenue 90 000; ROMI on paid (70 000 - 20 000)/20 000; L6 is 1 of 6 leads.
    "paid_revenue": 70000,
    "unpaid_won": 20000,
    "romi_paid": 2.5,
    "unknown_source_share": 1 / 6,
    "new_customers": 2,
    "cac": 10000,
    "ltv": 60000,
    "ltv_to_cac": 6.0,
    "payback_months": 1,  # 90 000 of October's cohort revenue covers 20 000
}


def _close(actual: object, expected: object) -> bool:
    if expected is None:
        return actual is None
    return actual is not None and math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture
def golden(golden_wh):
    """The golden company, shared read-only: these tests only compute on it."""
    return golden_wh


def test_every_metric_by_channel_calendar(golden):
    table = compute(golden, None, "channel", "2026-10")
    rows = {r["channel"]: r for r in table.rows()}
    assert set(rows) == set(EXPECTED_OCT)
    for channel, expected in EXPECTED_OCT.items():
        for metric, value in expected.items():
            assert _close(rows[channel][metric], value), (channel, metric, rows[channel][metric], value)


def test_totals_are_recomputed_not_summed(golden):
    table = compute(golden, None, "channel", "2026-10")
    for metric, value in EXPECTED_TOTAL.items():
        assert _close(table.total[metric], value), (metric, table.total[metric], value)


def test_every_visible_metric_has_a_golden_value():
    covered = set().union(*(e.keys() for e in EXPECTED_OCT.values()))
    missing = {m.name for m in visible_metrics()} - covered
    assert not missing, f"metrics without a hand-computed check: {missing}"


def test_cohort_view_follows_the_leads_of_the_period(golden):
    # Cohort October: leads L1..L6. yandex_direct's deals D1 (won Oct) and D2 (won Nov) both count;
    # D4 belongs to a September lead and does not. Revenue 80 000, gross profit 20 000 + 12 000 = 32 000,
    # complete -> ROMI (32 000 - 12 000) / 12 000 = 5/3. Payments of those deals: P1 50 000 + P3 30 000.
    table = compute(
        golden,
        ["sales", "revenue", "gross_profit", "romi", "payments", "leads"],
        "channel",
        "2026-10",
        view="cohort",
    )
    ya = {r["channel"]: r for r in table.rows()}["yandex_direct"]
    assert (
        ya["sales"] == 2
        and ya["revenue"] == 80000
        and ya["gross_profit"] == 32000
        and ya["payments"] == 80000
    )
    assert _close(ya["romi"], 5 / 3)
    # The payment without a deal has no lead, so no cohort.
    assert table.total["payments"] == 80000


def test_romi_base_is_gross_profit_only_when_every_sale_has_one(golden):
    # Calendar October: yandex_direct's D4 has no gross profit -> 1 sale without margin, ROMI on revenue
    # (90 000); vk_ads sold nothing -> revenue 0. Cohort October: D1 and D2 both have one -> 32 000.
    names = ["margin_missing", "romi_base"]
    calendar = {r["channel"]: r for r in compute(golden, names, "channel", "2026-10").rows()}
    assert calendar["yandex_direct"]["margin_missing"] == 1
    assert calendar["yandex_direct"]["romi_base"] == 90000
    assert calendar["vk_ads"]["margin_missing"] == 0 and calendar["vk_ads"]["romi_base"] == 0
    cohort = compute(golden, names, "channel", "2026-10", view="cohort")
    ya = {r["channel"]: r for r in cohort.rows()}["yandex_direct"]
    assert ya["margin_missing"] == 0 and ya["romi_base"] == 32000


def test_cohort_settle_days_cuts_late_outcomes(golden):
    # D2 (lead 10-06, won 11-03) took 28 days: with settle_days=14 only D1 (9 days) counts.
    table = compute(golden, ["sales", "revenue"], "channel", "2026-10", view="cohort", settle_days=14)
    ya = {r["channel"]: r for r in table.rows()}["yandex_direct"]
    assert ya["sales"] == 1 and ya["revenue"] == 50000


def test_by_campaign_implies_channel_and_keeps_not_set(golden):
    table = compute(golden, ["visits", "leads", "cost"], "campaign", "2026-10")
    assert table.by == ["channel", "campaign"]
    rows = {(r["channel"], r["campaign"]): r for r in table.rows()}
    assert rows[("yandex_direct", "ya_search")]["visits"] == 2
    assert rows[("yandex_direct", "ya_search")]["cost"] == 12000
    assert rows[("yandex_direct", "(not set)")]["visits"] == 1  # the yclid visit has no utm_campaign


def test_by_month_splits_a_range(golden):
    table = compute(golden, ["cost", "leads", "sales"], "month", "2026-09..2026-11")
    rows = {r["month"]: r for r in table.rows()}
    assert rows["2026-09"]["cost"] == 5000 and rows["2026-09"]["leads"] == 1
    assert rows["2026-10"]["cost"] == 15000 and rows["2026-10"]["sales"] == 2
    assert rows["2026-11"]["sales"] == 1  # D2


def test_by_manager(golden):
    table = compute(golden, ["leads", "qualified_leads", "sales"], "manager", "2026-10")
    rows = {r["manager"]: r for r in table.rows()}
    assert rows["Anna"]["leads"] == 4 and rows["Boris"]["leads"] == 2
    assert rows["Anna"]["sales"] == 2  # D1 (L1) and D4 (L7), both Anna's leads


def test_where_scopes_a_channel(golden):
    table = compute(
        golden, ["marketing_cost", "leads", "revenue"], [], "2026-10", where={"channel": ["yandex_direct"]}
    )
    assert (
        table.total["marketing_cost"] == 12000
        and table.total["leads"] == 2
        and table.total["revenue"] == 90000
    )


def test_costs_can_be_shown_with_vat(make_warehouse):
    wh = make_warehouse(FILES, settings=Settings(costs_include_vat=True))
    table = compute(wh, ["cost", "cpc"], "channel", "2026-10")
    ya = {r["channel"]: r for r in table.rows()}["yandex_direct"]
    # (10 000 + 2 000) net * 1.22 = 14 640
    assert _close(ya["cost"], 14640) and _close(ya["cpc"], 122)


def test_vat_rate_follows_the_date(make_warehouse):
    # 2025: 20 % (1 200 -> 1 000 net); 2026: 22 % (1 220 -> 1 000 net).
    wh = make_warehouse(
        {
            "spend.csv": """
        date,channel,campaign,impressions,clicks,cost,vat_included
        2025-12-31,yandex_direct,a,1,1,1200,true
        2026-01-01,yandex_direct,a,1,1,1220,true
    """
        }
    )
    dec = compute(wh, ["cost"], [], "2025-12").total["cost"]
    jan = compute(wh, ["cost"], [], "2026-01").total["cost"]
    assert _close(dec, 1000) and _close(jan, 1000)


def test_empty_period_gives_zero_counts_and_no_ratios(golden):
    table = compute(golden, None, "channel", "2024-01")
    assert table.frame.height == 0
    assert table.total["cost"] == 0 and table.total["leads"] == 0
    assert table.total["cpl"] is None and table.total["romi"] is None and table.total["ctr"] is None


def test_foreign_currency_rows_are_left_out_with_a_warning(make_warehouse):
    wh = make_warehouse(
        {
            "spend.csv": """
        date,channel,campaign,impressions,clicks,cost,currency
        2026-10-01,google_ads,g,10,1,100,USD
        2026-10-01,yandex_direct,y,10,1,100,RUB
    """
        }
    )
    table = compute(wh, ["cost"], [], "2026-10")
    assert table.total["cost"] == 100  # the part counted; the USD waits for a rate
    assert table.incomplete()["cost"].without_rate == {"USD": 100.0}
    assert any("in USD (a currency other than RUB)" in w and "kassa fx sync" in w for w in table.warnings)


def test_other_currencies_convert_with_the_months_rate(make_warehouse):
    # 100 USD of spend in October at 90 ₽ -> 9 000 ₽; a 1 000 EUR deal won in October at 100 ₽ -> 100 000 ₽;
    # the September rate (80) must not be used for October rows.
    wh = make_warehouse(
        {
            "spend.csv": """
            date,channel,campaign,impressions,clicks,cost,currency
            2026-10-01,google_ads,g,10,1,100,USD
            2026-10-01,yandex_direct,y,10,1,100,RUB
        """,
            "leads.csv": "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status\nL1,2026-10-01,c,google,cpc,g,new\n",
            "deals.csv": "deal_id,lead_id,created_at,status,closed_at,amount,currency\nD1,L1,2026-10-01,won,2026-10-02,1000,eur\n",
            "fx_rates.csv": "month,currency,rate\n2026-09,USD,80\n2026-10,USD,90\n2026-10,EUR,100\n",
        }
    )
    table = compute(wh, ["cost", "revenue"], [], "2026-10")
    assert table.total["cost"] == 9100 and table.total["revenue"] == 100000 and not table.warnings


def test_bad_exchange_rates_are_refused(make_warehouse, tmp_path):
    from tests.conftest import write_files

    wh = make_warehouse()
    (p,) = write_files(
        tmp_path / "fx", {"fx_rates.csv": "month,currency,rate\n2026-10,USD,0\n10.2026,EUR,100\n"}
    )
    report = wh.import_files([p])
    assert [(e.line, e.column) for e in report.errors] == [(2, "rate"), (3, "month")]

"""Journeys from a real warehouse (the golden company of tests/golden_data.py) and credited money."""

from __future__ import annotations

import pytest
from tests.conftest import write_files
from tests.golden_data import FILES

from kassa.attribution import attribute
from kassa.attribution.journeys import warehouse_paths
from kassa.attribution.money import attributed_money, credited_outcomes
from kassa.metrics.compute import compute
from kassa.settings import Settings
from kassa.store import Warehouse


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """One golden warehouse for the module (these tests only read it)."""
    folder = tmp_path_factory.mktemp("golden")
    wh = Warehouse.open(folder / "w.duckdb", settings=Settings())
    wh.import_files(write_files(folder / "in", FILES), strict=True)
    yield wh
    wh.close()


def rows(table) -> list[tuple]:
    return sorted(
        (tuple(r["path"]), r["conversions"], r["value"], r["nulls"]) for r in table.frame.to_dicts()
    )


def test_lead_journeys_by_hand(golden):
    wh = golden
    # Leads of October 2026 and the client's visits before each (90-day lookback):
    #   L1 c1 10-01 09:30 <- v1 yandex cpc                       value: D1 won 50 000
    #   L2 c1 10-06 09:10 <- v1 yandex, v6 direct (10-06 09:00)   value: D2 won 30 000 (closed in November)
    #   L3 c3 <- v3 vk;  L4 c4 <- v4 telegram;  L5 c5 <- v5 direct;  L6 c99: no visit, no UTM -> unknown
    # Non-converting: c2 (v2 yandex), c7 (v8 google referrer -> seo), c8 (v9 yclid -> yandex_direct)
    assert rows(warehouse_paths(wh, "2026-10", "leads")) == sorted(
        [
            (("yandex_direct",), 1.0, 50000.0, 0.0),
            (("yandex_direct", "direct"), 1.0, 30000.0, 0.0),
            (("vk_ads",), 1.0, 0.0, 0.0),
            (("telegram",), 1.0, 0.0, 0.0),
            (("direct",), 1.0, 0.0, 0.0),
            (("unknown",), 1.0, 0.0, 0.0),
            (("yandex_direct",), 0.0, 0.0, 1.0),
            (("seo",), 0.0, 0.0, 1.0),
            (("yandex_direct",), 0.0, 0.0, 1.0),
        ]
    )


def test_sale_journeys_and_lookback(golden):
    wh = golden
    # Won deals closed in October: D1 (c1, 10-10 12:00) <- v1 yandex, v6 direct; D4 (c6, 10-05) <- v7 yandex (09-30)
    sales = [r for r in rows(warehouse_paths(wh, "2026-10", "sales")) if r[1] > 0]
    assert sales == sorted(
        [(("yandex_direct", "direct"), 1.0, 50000.0, 0.0), (("yandex_direct",), 1.0, 40000.0, 0.0)]
    )
    # A 5-day lookback: v1 (9.1 days before D1's close) drops out, v6 (4.1 days) and v7 (4.5 days) stay
    short = [r for r in rows(warehouse_paths(wh, "2026-10", "sales", lookback_days=5)) if r[1] > 0]
    assert short == sorted([(("direct",), 1.0, 50000.0, 0.0), (("yandex_direct",), 1.0, 40000.0, 0.0)])
    # 3 days: no visit is left; each sale falls back to its lead's own UTM (yandex cpc) -> yandex_direct
    bare = [r for r in rows(warehouse_paths(wh, "2026-10", "sales", lookback_days=3)) if r[1] > 0]
    assert bare == sorted([(("yandex_direct",), 1.0, 50000.0, 0.0), (("yandex_direct",), 1.0, 40000.0, 0.0)])


def test_days_before_each_touch(golden):
    wh = golden
    t = warehouse_paths(wh, "2026-10", "leads")
    days = {
        tuple(r["path"]): r["days_before"]
        for r in t.frame.to_dicts()
        if r["conversions"] and len(r["path"]) == 2
    }
    # L2 at 10-06 09:10: v1 at 10-01 09:00 is 5 days 10 min before; v6 at 09:00 is 10 min before
    assert days[("yandex_direct", "direct")] == pytest.approx([5 + 10 / 1440, 10 / 1440])


def test_every_model_credits_exactly_what_the_metrics_count(golden):
    wh = golden
    total = compute(wh, ["leads", "sales", "revenue"], [], "2026-10").total
    leads = attribute(warehouse_paths(wh, "2026-10", "leads"), "all")
    sales = attribute(warehouse_paths(wh, "2026-10", "sales"), "all")
    for model in leads:
        assert leads[model].credits["conversions"].sum() == pytest.approx(total["leads"]), model  # 6
        assert sales[model].credits["conversions"].sum() == pytest.approx(total["sales"]), model  # 2
        assert sales[model].credits["value"].sum() == pytest.approx(total["revenue"]), model  # 90 000
    got = credited_outcomes(wh, "2026-10", "shapley")
    assert (got["leads"].sum(), got["sales"].sum(), got["revenue"].sum()) == pytest.approx((6, 2, 90000))


def test_cpl_cac_romi_under_linear(golden):
    wh = golden
    money = {r["channel"]: r for r in attributed_money(wh, "2026-10", "linear").to_dicts()}
    y = money["yandex_direct"]
    # cost: 12 200 with VAT 22 % -> 10 000 net, + 2 000 = 12 000
    # linear leads: L1 1 + L2 1/2 = 1.5 -> CPL 8 000; sales: D1 1/2 + D4 1 = 1.5 -> CAC 8 000
    # revenue: 25 000 + 40 000 = 65 000 -> ROAS 65/12 = 5.4167, ROMI (65 000 - 12 000)/12 000 = 4.4167
    assert y["marketing_cost"] == pytest.approx(12000)
    assert (y["leads"], y["cpl"], y["sales"], y["cost_per_sale"]) == pytest.approx((1.5, 8000, 1.5, 8000))
    assert (y["revenue"], y["roas"], y["romi"]) == pytest.approx((65000, 65 / 12, 53 / 12))
    # vk: cost 3 000, one lead (L3), no sale: CAC and ROMI on zero sales are "no value", not infinity
    assert money["vk_ads"]["cpl"] == pytest.approx(3000) and money["vk_ads"]["cost_per_sale"] is None
    assert money["vk_ads"]["romi"] == pytest.approx(-1.0)


def test_by_campaign(golden):
    wh = golden
    got = credited_outcomes(wh, "2026-10", "last_touch", by="campaign")
    assert got.columns[:2] == ["channel", "campaign"]
    by = {(r["channel"], r["campaign"]): r for r in got.to_dicts()}
    # last touch of D4 is v7 (ya_search); of D1 v6 (direct, no campaign)
    assert by[("yandex_direct", "ya_search")]["revenue"] == pytest.approx(40000)
    assert by[("direct", "(not set)")]["revenue"] == pytest.approx(50000)


def test_exclude_direct_on_warehouse_journeys(golden):
    wh = golden
    r = attribute(warehouse_paths(wh, "2026-10", "sales"), "last_touch", exclude_direct=True)["last_touch"]
    # D1's path loses its direct touch: last touch yandex for both sales
    assert r.as_dict("value") == pytest.approx(
        {"direct": 0.0, "seo": 0.0, "telegram": 0.0, "vk_ads": 0.0, "yandex_direct": 90000.0}
    )


@pytest.mark.parametrize("measure", ["leads", "sales", "revenue"])
@pytest.mark.parametrize("by", ["channel", "campaign"])
def test_journeys_compile_for_pyspark(golden, measure, by, monkeypatch):
    # The journeys are plain Ibis (joins, group-bys, no ordered aggregation or window over every
    # touch), so the same expression runs on Spark. pyspark is not installed here: its SQL compiler
    # only needs its one option registered.
    import ibis

    from kassa.attribution.journeys import journey_touches, touch_rows
    from kassa.period import Period

    class SparkOptions(ibis.config.Config):
        treat_nan_as_null: bool = False

    monkeypatch.setattr(ibis.options, "pyspark", SparkOptions())
    sql = ibis.to_sql(
        touch_rows(journey_touches(golden, Period.parse("2026-10"), measure), by), dialect="pyspark"
    )
    assert "`journey_id`" in sql and "UNION ALL" in sql


def test_paid_revenue(golden):
    t = warehouse_paths(golden, "2026-10", "paid_revenue")
    paid = sorted((tuple(r["path"]), r["value"]) for r in t.frame.to_dicts() if r["conversions"])
    # D1 paid 50 000 (P1), D4 paid 20 000 of 40 000 (P2); P4 has no deal and is no deal's money
    assert paid == [(("yandex_direct",), 20000.0), (("yandex_direct", "direct"), 50000.0)]


# One customer on two cookies (same phone on both leads); one deal in dollars, one in euros without a rate.
TWO_DEVICES = {
    "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
        v1,c1,2026-10-01 10:00,yandex,cpc,ya_search
        v2,c2,2026-10-05 10:00,vk,cpc,vk_retarget
        v3,c3,2026-10-25 10:00,,,
    """,
    "leads.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone
        L1,2026-10-02 10:00,c1,yandex,cpc,ya_search,qualified,+79990000001
        L2,2026-10-06 10:00,c2,,,,new,+79990000001
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount,currency
        D1,L2,2026-10-07 10:00,won,2026-10-10 10:00,30000,RUB
        D2,L1,2026-10-03 10:00,won,2026-10-04 10:00,100,USD
        D3,L1,2026-10-03 10:00,won,2026-10-05 10:00,100,EUR
    """,
    "fx_rates.csv": "month,currency,rate\n2026-10,USD,90\n",
}


def test_journeys_merge_a_customers_cookies_and_convert_currencies_as_the_metrics(make_warehouse):
    wh = make_warehouse(TWO_DEVICES)
    # Leads: L1 (10-02) <- v1; L2 (10-06) <- v1 on cookie c1 and v2 on c2, one customer by the phone
    # (the interim per-cookie journeys gave L2 only "vk_ads"). L1's won deals: D2 100 USD x 90 = 9 000;
    # D3 in EUR has no October rate and is left out, as `kassa metrics` leaves it out. L2: D1 30 000.
    # c3 (direct 10-25) never converts: a null, its touch aged to November 1st (6 days 14 hours).
    leads = warehouse_paths(wh, "2026-10", "leads")
    assert rows(leads) == sorted(
        [
            (("yandex_direct",), 1.0, 9000.0, 0.0),
            (("yandex_direct", "vk_ads"), 1.0, 30000.0, 0.0),
            (("direct",), 0.0, 0.0, 1.0),
        ]
    )
    null = [r for r in leads.frame.to_dicts() if r["nulls"]]
    assert null[0]["days_before"] == pytest.approx([6 + 14 / 24])
    # Sales: D2 (10-04) <- v1 9 000; D1 (10-10) <- v1, v2 30 000. Every model's totals = the metrics'.
    sales = warehouse_paths(wh, "2026-10", "sales")
    assert [r for r in rows(sales) if r[1]] == sorted(
        [
            (("yandex_direct",), 1.0, 9000.0, 0.0),
            (("yandex_direct", "vk_ads"), 1.0, 30000.0, 0.0),
        ]
    )
    total = compute(wh, ["leads", "sales", "revenue"], [], "2026-10").total
    assert (total["leads"], total["sales"], total["revenue"]) == pytest.approx((2, 2, 39000))
    for name, r in attribute(sales, "all").items():
        assert (r.credits["conversions"].sum(), r.credits["value"].sum()) == pytest.approx((2, 39000)), name
    # linear: yandex gets D2 whole and half of D1 = 9 000 + 15 000; vk the other 15 000
    assert attribute(sales, "linear")["linear"].as_dict("value") == pytest.approx(
        {"yandex_direct": 24000.0, "vk_ads": 15000.0, "direct": 0.0}
    )

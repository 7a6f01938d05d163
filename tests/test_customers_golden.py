"""Customers on a tiny company worked out by hand (tests/golden_customers.py, horizon 3 months).

Recognition: A1 ~ A2 by phone only (two spellings of one number), C1 ~ C2 by the CRM contact id, and
DB1 ~ DB2 by the payer's INN only (their leads share nothing). Purchases by customer: A: DA1 (Jan 10,
new), DA2 (Jan 25, repeat in the month of acquisition, through vk), DA3 (Apr, past the horizon); B: DB1
(Jan, new), DB2 (Feb, vk, repeat); C: DC1 (Jan, new), DC2 (Mar, repeat); E: DE1 (Mar, new, no margin);
F: DF1 (Feb, vk, new).

January, calendar, per channel (a won deal counts for its own channel):
  yandex_direct: cost 100 000; DA1, DB1, DC1 all new -> 3 new, 0 repeat, revenue 210 000 all new;
    CAC = cost per sale = 100 000 / 3.
  vk_ads: cost 10 000; DA2 only, a repeat -> 0 new customers: CAC "—" (None), not 0, though its cost
    per sale is 10 000 / 1; repeat customers 1, repeat revenue 20 000, repeat share 1.
January cohort (acquired in January, credited to the channel of the first purchase: all yandex_direct),
  months 0..2: A: DA1 100 000/40 000 + DA2 20 000/8 000 (month 0); B: DB1 50 000/20 000 (0),
  DB2 30 000/12 000 (1); C: DC1 60 000/24 000 (0), DC2 40 000/16 000 (2). Every sale has a margin ->
  LTV on gross profit: 120 000 / 3 = 40 000; LTV/CAC = 40 000 / (100 000 / 3) = 1.2. Cumulative gross
  profit 92 000 (month 0) < 100 000 <= 104 000 (month 1) -> payback in 2 months. The data reaches
  April 20, past March: the cohort is complete.
February, vk_ads: cost 6 000; DF1 new, DB2 repeat -> 1 new, 1 repeat, CAC 6 000; cost per sale 3 000;
  repeat share 30 000 / 35 000. Its cohort (F): LTV 1 000 so far (partial: the horizon runs to April's
  end), and 1 000 never covers 6 000 -> payback "not yet".
March, yandex_direct: cost 9 000; DE1 new, DC2 repeat -> CAC 9 000; cohort E: DE1 has no gross profit
  -> LTV on revenue, 70 000, partial; payback 1 month (70 000 >= 9 000).
"""

from __future__ import annotations

import math

import pytest
from tests.golden_customers import FILES

from kassa.link.money_trail import MoneyTrail
from kassa.metrics import compute
from kassa.metrics.customers import customer_table
from kassa.settings import Settings

SETTINGS = Settings(customer_horizon_months=3)


@pytest.fixture
def wh(make_warehouse):
    return make_warehouse(FILES, settings=SETTINGS)


def _close(actual: object, expected: object) -> bool:
    if expected is None:
        return actual is None
    return actual is not None and math.isclose(float(actual), float(expected), rel_tol=1e-9)


def _check(row: dict, expected: dict) -> None:
    for k, v in expected.items():
        assert _close(row[k], v) if not isinstance(v, str | bool) else row[k] == v, (k, row[k], v)


def test_a_customer_is_recognised_by_crm_contact_phone_or_inn(wh):
    with MoneyTrail(wh) as trail:
        leads = {r["lead_id"]: r for r in trail.leads.to_pyarrow().to_pylist()}
        deals = {r["deal_id"]: r for r in trail.deal_status.to_pyarrow().to_pylist()}
    assert (leads["A1"]["customer_id"], leads["A2"]["customer_id"]) == ("A1", "A1")
    assert leads["A2"]["customer_method"] == "phone" and leads["A2"]["customer_confidence"] == 0.9
    assert leads["C2"]["customer_id"] == "C1" and leads["C2"]["customer_method"] == "crm_contact"
    # B1 and B2 share nothing a lead carries: apart as leads, one customer once the bank saw one INN.
    assert leads["B2"]["customer_id"] == "B2" and leads["B2"]["customer_method"] == "own"
    assert deals["DB2"]["customer_id"] == "B1"
    assert (deals["DB2"]["customer_method"], deals["DB2"]["customer_confidence"]) == ("inn", 0.8)
    assert deals["DA2"]["customer_method"] == "phone" and deals["DC2"]["customer_method"] == "crm_contact"
    assert deals["DE1"]["customer_method"] == "own" and deals["DE1"]["customer_confidence"] == 1.0
    numbers = {d: (r["customer_id"], r["purchase_number"], r["is_new"]) for d, r in deals.items()}
    assert numbers == {
        "DA1": ("A1", 1, True),
        "DA2": ("A1", 2, False),
        "DA3": ("A1", 3, False),
        "DB1": ("B1", 1, True),
        "DB2": ("B1", 2, False),
        "DC1": ("C1", 1, True),
        "DC2": ("C1", 2, False),
        "DE1": ("E1", 1, True),
        "DF1": ("F1", 1, True),
    }
    # The acquisition channel is the first purchase's, whichever channel the repeat came through.
    assert deals["DB2"]["channel"] == "vk_ads" and deals["DB2"]["acquisition_channel"] == "yandex_direct"


def test_new_and_repeat_metrics_come_from_the_catalog(wh):
    names = [
        "sales",
        "cost_per_sale",
        "new_customers",
        "repeat_customers",
        "new_customer_revenue",
        "repeat_revenue",
        "repeat_share",
        "cac",
    ]
    jan = {r["channel"]: r for r in compute(wh, names, "channel", "2026-01").rows()}
    _check(
        jan["yandex_direct"],
        {"sales": 3, "new_customers": 3, "repeat_customers": 0, "new_customer_revenue": 210000,
         "repeat_revenue": 0, "repeat_share": 0.0, "cac": 100000 / 3, "cost_per_sale": 100000 / 3},
    )  # fmt: skip
    # The repeat deal in the month of acquisition is a sale, not a new customer: CAC "—", not 0.
    _check(
        jan["vk_ads"],
        {"sales": 1, "new_customers": 0, "repeat_customers": 1, "repeat_revenue": 20000,
         "repeat_share": 1.0, "cac": None, "cost_per_sale": 10000},
    )  # fmt: skip
    feb = {r["channel"]: r for r in compute(wh, names, "channel", "2026-02").rows()}
    _check(
        feb["vk_ads"],
        {"new_customers": 1, "repeat_customers": 1, "cac": 6000, "cost_per_sale": 3000,
         "repeat_share": 30000 / 35000},
    )  # fmt: skip
    # The `cac` the user types is the real CAC now, not an alias of cost per sale.
    total = compute(wh, ["cac", "cost_per_sale"], [], "2026-01").total
    assert _close(total["cac"], 110000 / 3) and _close(total["cost_per_sale"], 110000 / 4)


def test_ltv_ltv_to_cac_and_payback(wh):
    jan = {r["channel"]: r for r in customer_table(wh, "2026-01", ["channel"]).rows}
    _check(
        jan["yandex_direct"],
        {"ltv": 40000, "ltv_to_cac": 1.2, "ltv_basis": "gross_profit", "ltv_partial": False,
         "payback_months": 2, "paid_back": True},
    )  # fmt: skip
    # No one acquired: nothing to be worth or to pay back — "—", not 0.
    _check(jan["vk_ads"], {"ltv": None, "ltv_to_cac": None, "payback_months": None, "paid_back": None})
    feb = {r["channel"]: r for r in customer_table(wh, "2026-02", ["channel"]).rows}
    _check(
        feb["vk_ads"],
        {"ltv": 1000, "ltv_to_cac": 1000 / 6000, "ltv_partial": True, "payback_months": None,
         "paid_back": False},
    )  # fmt: skip
    mar = {r["channel"]: r for r in customer_table(wh, "2026-03", ["channel"]).rows}
    _check(
        mar["yandex_direct"],
        {"cac": 9000, "ltv": 70000, "ltv_basis": "revenue", "ltv_partial": True, "payback_months": 1},
    )  # fmt: skip


def test_payback_in_the_catalog_by_channel_campaign_and_month(wh):
    # By channel, January (as kassa customers above): yandex_direct 2 months; vk_ads acquired no one
    # -> "—": no value and no "not yet" mark. The total: 110 000 of cost against the January cohort's
    # cumulative gross profit 92 000, 104 000, 120 000 -> 3 months.
    jan = compute(wh, ["payback_months"], "channel", "2026-01")
    rows = {r["channel"]: r for r in jan.rows()}
    assert rows["yandex_direct"]["payback_months"] == 2 and rows["vk_ads"]["payback_months"] is None
    assert jan.not_yet(rows["vk_ads"]) == set() and jan.total["payback_months"] == 3
    # By campaign, February: vk's cohort (F) has 1 000 of gross profit against 6 000 -> "not yet".
    feb = compute(wh, ["payback_months"], "campaign", "2026-02")
    (vk,) = [r for r in feb.rows() if r["campaign"] == "vk"]
    assert vk["payback_months"] is None and feb.not_yet(vk) == {"payback_months"}
    as_json = {r["campaign"]: r for r in feb.to_json()["rows"]}["vk"]
    assert as_json["payback_months"] is None and as_json["not_yet"] == ["payback_months"]
    # By month, January … March: a month's cohort against that month's cost. January 110 000 -> 3
    # months (above); February 6 000 vs F's 1 000 -> not yet; March 9 000 vs E's revenue 70 000 (no
    # margin) -> 1. The total: 125 000 against all five customers on revenue (E has no margin), month 0
    # 230 000 + 5 000 + 70 000 -> 1 month.
    q1 = compute(wh, ["payback_months", "cac"], "month", "2026-01..2026-03")
    months = {r["month"]: r["payback_months"] for r in q1.rows()}
    assert months == {"2026-01": 3, "2026-02": None, "2026-03": 1}
    assert [r["month"] for r in q1.rows() if q1.not_yet(r)] == ["2026-02"]
    assert q1.total["payback_months"] == 1 and q1.not_yet() == set()
    # kassa customers reads the very same numbers.
    same = {r["channel"]: r for r in customer_table(wh, "2026-02", ["channel"]).rows}["vk_ads"]
    assert same["payback_months"] is None and same["paid_back"] is False


def test_payback_not_yet_in_the_terminal(wh):
    from kassa.report.terminal import money_and_activity

    feb = compute(wh, ["payback_months"], "channel", "2026-02")
    for lang, text in (("en", "not yet"), ("ru", "ещё нет")):
        (grid,) = [
            g
            for g in money_and_activity(feb, lang=lang)
            if any(c.name == "payback_months" for c in g.columns)
        ]
        # February's one channel, vk_ads: not paid back — never 0, never "—".
        assert [r["payback_months"] for r in grid.rows] == [text] and grid.total is not None
        assert grid.total["payback_months"] == text


def test_ltv_in_the_catalog_is_the_same(wh):
    rows = {r["channel"]: r for r in compute(wh, ["ltv", "ltv_to_cac"], "channel", "2026-01").rows()}
    assert _close(rows["yandex_direct"]["ltv"], 40000) and _close(rows["yandex_direct"]["ltv_to_cac"], 1.2)


def test_the_horizon_cuts_purchases_and_can_be_set(make_warehouse):
    # With a 4-month horizon DA3 (April, month 3 of A) counts: LTV (120 000 + 4 000) / 3.
    wh = make_warehouse(FILES, settings=Settings(customer_horizon_months=4))
    rows = {r["channel"]: r for r in compute(wh, ["ltv"], "channel", "2026-01").rows()}
    assert _close(rows["yandex_direct"]["ltv"], 124000 / 3)


def test_cohort_triangle(wh):
    table = customer_table(wh, "2026-01..2026-03", ["channel"])
    cells = {
        (r["channel"], r["cohort"], r["months_since"]): (r["customers"], r["revenue"], r["gross_profit"])
        for r in table.triangle.to_dicts()
    }
    assert cells == {
        ("yandex_direct", "2026-01", 0): (3, 230000, 92000),
        ("yandex_direct", "2026-01", 1): (1, 30000, 12000),
        ("yandex_direct", "2026-01", 2): (1, 40000, 16000),
        ("vk_ads", "2026-02", 0): (1, 5000, 1000),
        ("yandex_direct", "2026-03", 0): (1, 70000, None),  # no margin known: no gross profit, not 0
    }
    cohorts = {(c["channel"], c["cohort"]): c for c in table.cohorts()}
    assert table.data_through == "2026-04-20"
    # January's three months are over; February's run to April's end; March has seen two of three.
    assert (
        cohorts[("yandex_direct", "2026-01")]["partial"],
        cohorts[("yandex_direct", "2026-01")]["acquired"],
    ) == (False, 3)
    assert cohorts[("vk_ads", "2026-02")]["partial"] is True
    assert cohorts[("yandex_direct", "2026-03")]["observed_months"] == 2


def test_customer_rows_and_measures_compile_for_spark(wh, monkeypatch):
    # Plain Ibis, no raw SQL: the cohort rows (a scalar subquery for the last date of the data, windows,
    # month arithmetic) and the grouped base measures compile for Spark SQL too.
    import ibis

    from kassa.metrics.compute import base_measures, base_tables
    from kassa.metrics.customer_rows import cohort_deals, data_through
    from kassa.period import Period

    class SparkOptions(ibis.config.Config):
        treat_nan_as_null: bool = False

    monkeypatch.setattr(ibis.options, "pyspark", SparkOptions())  # what its compiler reads
    t = base_tables(wh, SETTINGS)
    rows = cohort_deals(
        t.deals.filter(t.deals.status == "won"), 3, data_through(t.leads, t.deals, t.payments)
    )
    measures, _ = base_measures(wh, ["channel"], Period.parse("2026-01"), settings=SETTINGS)
    assert "months_since" in ibis.to_sql(rows, dialect="pyspark")
    assert "cohort_open_customers" in ibis.to_sql(measures, dialect="pyspark")
    # Payback's months per group (kassa.metrics.payback): the same rows, grouped, for Spark too.
    from kassa.metrics.compute import _Queries

    queries = _Queries(
        wh, ["month"], Period.parse("2026-01..2026-03"), view="calendar", settle_days=None, where=None,
        settings=SETTINGS,
    )  # fmt: skip
    assert "months_since" in ibis.to_sql(queries.cells(), dialect="pyspark")

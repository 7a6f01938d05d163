"""Journeys: touches before each conversion, non-converting paths, and the ChannelAttribution layout."""

from __future__ import annotations

import datetime as dt
import math

import ibis

from kassa.link.journeys import TOUCH_COLUMNS, journey_paths, journey_touches
from kassa.link.money_trail import MoneyTrail
from kassa.period import Period


def test_sale_paths_by_hand(money_chain: MoneyTrail) -> None:
    paths = {
        r["path"]: r for r in journey_paths(journey_touches(money_chain, "sale")).to_pyarrow().to_pylist()
    }
    # Customer A1 (cookie c1: v1 yandex 10-01, v2 vk 10-03): D1 50 000 and D9 7 000.
    # Customer A4 (cookie c4 of A5: v6 telegram 09-20): D5 10 000, D15 5 500, D4 40 000, D6 15 000.
    # Customer A8 (c9 through A8's click id: v7 yandex): D8 8 000, D16 2 500.
    # Customer A2 (c2: v3 google, v4 direct): D2 30 000, D12 6 000, D17 4 000. Customer A3 (c3: v5 direct): D3, D13.
    # Customer A6 has no visit: D7 and D14 take the lead's own channel vk_ads; A9's June vk visit never
    # converted: a null on "vk_ads". D18 (2025, lead A10 of unknown source): "unknown".
    expected = {
        "yandex_direct > vk_ads": (2, 57000, 0),
        "telegram": (4, 70500, 0),
        "yandex_direct": (2, 10500, 0),
        "google_ads > direct": (3, 40000, 0),
        "direct": (2, 26000, 0),
        "vk_ads": (2, 22245.67, 1),
        "unknown": (1, 1000, 0),
    }
    assert set(paths) == set(expected)
    for path, (conv, value, nulls) in expected.items():
        r = paths[path]
        assert (r["conversions"], r["nulls"]) == (conv, nulls), path
        assert math.isclose(r["value"], value, abs_tol=1e-6), path


def test_touch_rows_for_one_lead(money_chain: MoneyTrail) -> None:
    t = journey_touches(money_chain, "lead")
    rows = t.filter(t.conversion_id == "A1").order_by("touch_order").to_pyarrow().to_pylist()
    assert list(rows[0]) == list(TOUCH_COLUMNS)
    assert [(r["touch_order"], r["visit_id"], r["channel"], r["campaign"]) for r in rows] == [
        (1, "v1", "yandex_direct", "ya_search"),
        (2, "v2", "vk_ads", "vk_retarget"),
    ]
    assert all(r["customer_id"] == "A1" and r["converted"] and r["value"] == 0 for r in rows)


def test_a_conversion_without_visits_keeps_its_lead_channel(money_chain: MoneyTrail) -> None:
    t = journey_touches(money_chain, "lead")
    rows = t.filter(t.conversion_id.isin(["A6", "A7"])).order_by("conversion_id").to_pyarrow().to_pylist()
    assert [(r["conversion_id"], r["touch_kind"], r["channel"], r["visit_id"]) for r in rows] == [
        ("A6", "lead", "vk_ads", None),
        ("A7", "lead", "unknown", None),
    ]


def test_period_keeps_conversions_in_it_and_paid_value(money_chain: MoneyTrail) -> None:
    sep = journey_paths(journey_touches(money_chain, "sale", value="paid", period=Period.parse("2026-09")))
    rows = sep.to_pyarrow().to_pylist()
    # September sales: D5 (paid 10 000) and D15 (paid 5 500 in October), both on "telegram"; A9's null
    # path ends in June, outside September.
    assert rows == [{"path": "telegram", "conversions": 2, "value": 15500.0, "nulls": 0}]


def test_long_paths_keep_the_last_touches_and_repeats_can_collapse(make_warehouse) -> None:
    rows = ["visit_id,client_id,ts,utm_source,utm_medium,utm_campaign"]
    sources = ["yandex", "yandex", "vk", "google", "vk"]
    for i, s in enumerate(sources):
        rows.append(f"v{i},c1,2026-10-0{i + 1} 10:00,{s},cpc,x")
    wh = make_warehouse(
        {
            "visits.csv": "\n".join(rows) + "\n",
            "leads.csv": """
            lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
            L1,2026-10-09 10:00,c1,,,,new
        """,
        }
    )
    with MoneyTrail(wh, materialize=True) as chain:
        touches = journey_touches(chain, "lead")
        full = journey_paths(touches).to_pyarrow().to_pylist()
        short = journey_paths(touches, max_touches=3).to_pyarrow().to_pylist()
        collapsed = journey_paths(touches, collapse_repeats=True).to_pyarrow().to_pylist()
    assert full[0]["path"] == "yandex_direct > yandex_direct > vk_ads > google_ads > vk_ads"
    assert short[0]["path"] == "… > vk_ads > google_ads > vk_ads"
    assert collapsed[0]["path"] == "yandex_direct > vk_ads > google_ads > vk_ads"
    assert full[0]["conversions"] == 1 and full[0]["nulls"] == 0


# Two cookies of one customer (one phone), a visitor who converts next month, one who never does.
TWO_DEVICES = {
    "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
        v1,c1,2026-10-01 10:00,yandex,cpc,ya_search
        v2,c2,2026-10-05 10:00,vk,cpc,vk_retarget
        v3,c3,2026-10-20 10:00,google,cpc,g_search
        v4,c4,2026-10-25 10:00,,,
    """,
    "leads.csv": """
        lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone
        L1,2026-10-02 10:00,c1,yandex,cpc,ya_search,qualified,+79990000001
        L2,2026-10-06 10:00,c2,,,,new,+79990000001
        L3,2026-11-02 10:00,c3,google,cpc,g_search,new,
    """,
    "deals.csv": """
        deal_id,lead_id,created_at,status,closed_at,amount
        D1,L2,2026-10-07 10:00,won,2026-10-10 10:00,30000
        D2,L1,2026-10-03 10:00,lost,2026-10-04 10:00,9000
    """,
}


def test_cookies_of_one_customer_share_a_journey_and_leads_carry_their_deals(make_warehouse) -> None:
    wh = make_warehouse(TWO_DEVICES)
    with MoneyTrail(wh, materialize=True) as chain:
        t = journey_touches(chain, "lead", value="revenue")
        rows = t.filter(t.converted).order_by("conversion_id", "touch_order").to_pyarrow().to_pylist()
        plain = (
            journey_touches(chain, "lead")
            .filter(ibis._.conversion_id == "L2")
            .value.max()
            .to_pyarrow()
            .as_py()
        )
    got = [(r["conversion_id"], r["customer_id"], r["visit_id"], r["value"]) for r in rows]
    # L1 and L2 share the phone: one customer "L1" with cookies c1 and c2, so L2's path holds v1 (c1)
    # before v2 (c2). L2's value is its won deal D1 (30 000); L1's lost D2 counts nothing. L3: v3.
    assert got == [
        ("L1", "L1", "v1", 0.0),
        ("L2", "L1", "v1", 30000.0),
        ("L2", "L1", "v2", 30000.0),
        ("L3", "L3", "v3", 0.0),
    ]
    assert plain == 0.0  # without value a lead is worth nothing, as before


def test_a_period_takes_journeys_as_they_stood_at_its_end(make_warehouse) -> None:
    wh = make_warehouse(TWO_DEVICES)
    with MoneyTrail(wh, materialize=True) as chain:
        october = journey_touches(chain, "sale", period=Period.parse("2026-10"))
        oct_rows = october.order_by("journey_id", "touch_order").to_pyarrow().to_pylist()
        everything = journey_touches(chain, "sale").filter(~ibis._.converted).to_pyarrow().to_pylist()
    got = [(r["journey_id"], r["visit_id"], r["converted"], r["end_ts"]) for r in oct_rows]
    # D1 closes 10-10 on the customer of c1+c2 (v1, v2). At October's end c3 has not converted yet
    # (L3 is 11-02): a non-converting journey ending at the period's end, like never-converting c4.
    # (Its id names the customer c3 becomes, L3: a name only, not knowledge of November.)
    assert got == [
        ("D1", "v1", True, dt.datetime(2026, 10, 10, 10)),
        ("D1", "v2", True, dt.datetime(2026, 10, 10, 10)),
        ("null:L3", "v3", False, dt.datetime(2026, 11, 1)),
        ("null:client:c4", "v4", False, dt.datetime(2026, 11, 1)),
    ]
    # Over all time L3 never buys either, and the journeys end at their last touch.
    assert sorted((r["journey_id"], r["end_ts"]) for r in everything) == [
        ("null:L3", dt.datetime(2026, 10, 20, 10)),
        ("null:client:c4", dt.datetime(2026, 10, 25, 10)),
    ]


def test_a_deals_override_replaces_the_chain_deals(make_warehouse) -> None:
    wh = make_warehouse(TWO_DEVICES)
    with MoneyTrail(wh, materialize=True) as chain:
        d = chain.deal_status
        halved = d.mutate(amount=d.amount / 2)
        t = journey_touches(chain, "sale", deals=halved)
        values = t.filter(t.converted).value.to_pyarrow().to_pylist()
    assert values == [15000.0, 15000.0]  # D1's two touches, 30 000 / 2

"""Visit → lead, each rule on the money-trail company (tests/link/money_data.py) and on small cases."""

from __future__ import annotations

from typing import Any

import pytest

from kassa.link.customers import lead_customers
from kassa.link.visit_lead import link_leads

# lead -> (method, visit, channel, campaign, customer); worked out in tests/link/money_data.py
EXPECTED = {
    "A1": ("click_id", "v1", "yandex_direct", "ya_search", "A1"),  # click id beats the later vk visit v2
    "A2": ("client_id", "v3", "google_ads", "g_search", "A2"),  # a marketing visit beats the lead's own UTM
    "A3": ("client_id", "v5", "direct", "(not set)", "A3"),  # only a direct visit: direct
    "A4": ("contact", "v6", "telegram", "tg_post", "A4"),  # no cookie: the same phone's other cookie c4
    "A5": ("client_id", "v6", "telegram", "tg_post", "A4"),  # shares A4's phone: one customer "A4"
    "A6": ("lead_utm", None, "vk_ads", "vk_leadform", "A6"),  # no visit: its own UTM fields
    "A7": ("none", None, "unknown", "(not set)", "A7"),  # nothing: unknown, never direct
    "A8": ("click_id", "v7", "yandex_direct", "(not set)", "A8"),  # click id across cookies, any case
    "A9": ("none", None, "unknown", "(not set)", "A9"),  # its only visit is 122 days old (> 90)
    "A10": ("none", None, "unknown", "(not set)", "A10"),
}


@pytest.mark.parametrize("lead", sorted(EXPECTED))
def test_each_lead_is_linked_by_the_strongest_evidence(linked: dict[str, Any], lead: str) -> None:
    r = linked["leads"][lead]
    assert (r["link_method"], r["link_visit_id"], r["channel"], r["campaign"], r["customer_id"]) == EXPECTED[
        lead
    ]


def test_visits_belong_to_customers_through_cookies_and_click_ids(linked: dict[str, Any]) -> None:
    customer = {v: r["customer_id"] for v, r in linked["visits"].items()}
    # c1 -> A1; c4 -> A4 (via A5's phone); c9 carries A8's click id; c7 is A9's cookie.
    assert customer == {
        "v1": "A1",
        "v2": "A1",
        "v3": "A2",
        "v4": "A2",
        "v5": "A3",
        "v6": "A4",
        "v7": "A8",
        "v8": "A9",
    }


def test_a_lead_with_visits_only_after_it_is_not_credited_to_them(make_warehouse) -> None:
    wh = make_warehouse(
        {
            "visits.csv": """
            visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
            late,c1,2026-10-02 10:00,yandex,cpc,after
        """,
            "leads.csv": """
            lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
            L1,2026-10-01 10:00,c1,,,,new
        """,
        }
    )
    row = link_leads(wh.table("leads"), wh.table("visits"), wh.settings).to_pyarrow().to_pylist()[0]
    assert (row["link_method"], row["channel"]) == ("none", "unknown")


@pytest.mark.parametrize(("days", "expected"), [(89, ("none", "unknown")), (90, ("client_id", "vk_ads"))])
def test_lookback_window_is_inclusive(make_warehouse, days: int, expected: tuple[str, str]) -> None:
    # The visit is exactly 90 days before the lead: in a 90-day window, out of an 89-day one.
    wh = make_warehouse(
        {
            "visits.csv": """
            visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
            v,c1,2026-07-03 10:00,vk,cpc,summer
        """,
            "leads.csv": """
            lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
            L1,2026-10-01 10:00,c1,,,,new
        """,
        }
    )
    row = (
        link_leads(wh.table("leads"), wh.table("visits"), wh.settings, lookback_days=days)
        .to_pyarrow()
        .to_pylist()[0]
    )
    assert (row["link_method"], row["channel"]) == expected


def test_customers_merge_chains_of_shared_identifiers(make_warehouse) -> None:
    # L1 -cookie- L2 -phone- L3 -e-mail- L4: one customer; L5 shares nothing.
    wh = make_warehouse(
        {
            "leads.csv": """
            lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,phone,email
            L4,2026-10-04,,,,,new,,d@example.com
            L3,2026-10-03,,,,,new,+7 900 000-00-01,D@example.com
            L2,2026-10-02,c1,,,,new,+7 900 000-00-01,
            L1,2026-10-01,c1,,,,new,,
            L5,2026-10-05,c2,,,,new,+7 900 000-00-02,e@example.com
        """,
        }
    )
    rows = lead_customers(wh.table("leads")).to_pyarrow().to_pylist()
    assert {r["lead_id"]: r["customer_id"] for r in rows} == {
        "L1": "L1",
        "L2": "L1",
        "L3": "L1",
        "L4": "L1",
        "L5": "L5",
    }

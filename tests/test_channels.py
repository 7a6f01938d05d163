"""Channel rules on utm_source / utm_medium / click ids / referrer, and how a lead finds its channel."""

from __future__ import annotations

import pytest
from tests.golden_data import FILES

from kassa.link.channels import visits_with_channel
from kassa.link.money_trail import MoneyTrail
from kassa.settings import ChannelRule, Settings

CASES = [
    # (utm_source, utm_medium, referrer, click_id, expected channel)
    ("yandex", "cpc", "", "", "yandex_direct"),
    ("Yandex", "CPC", "", "", "yandex_direct"),
    ("ya", "ppc", "", "", "yandex_direct"),
    ("", "", "", "yclid:9876", "yandex_direct"),
    ("vk", "cpc", "", "", "vk_ads"),
    ("vkontakte", "cpm", "", "", "vk_ads"),
    ("google", "cpc", "", "", "google_ads"),
    ("", "", "", "gclid:abc", "google_ads"),
    ("facebook", "paid", "", "", "meta_ads"),
    ("google", "organic", "", "", "seo"),
    ("yandex", "organic", "", "", "seo"),
    ("", "", "https://yandex.ru/search/?text=x", "", "seo"),
    ("telegram", "social", "", "", "telegram"),
    ("tg", "post", "", "", "telegram"),
    ("", "", "https://t.me/shop_channel", "", "telegram"),
    ("newsletter", "email", "", "", "email"),
    ("partner", "referral", "", "", "referral"),
    ("", "", "https://blog.example.com/review", "", "referral"),
    ("", "", "", "", "direct"),
    ("partner_x", "banner", "", "", "partner_x"),
]


@pytest.fixture
def classified(make_warehouse):
    rows = ["visit_id,client_id,ts,utm_source,utm_medium,utm_campaign,referrer,click_id"]
    for i, (s, m, r, c, _) in enumerate(CASES):
        rows.append(f"v{i},c{i},2026-10-01 10:00,{s},{m},,{r},{c}")
    wh = make_warehouse({"visits.csv": "\n".join(rows) + "\n"})
    out = (
        visits_with_channel(wh.table("visits"), wh.settings)
        .select("visit_id", "channel")
        .to_pyarrow()
        .to_pylist()
    )
    return {r["visit_id"]: r["channel"] for r in out}


@pytest.mark.parametrize(
    "i", range(len(CASES)), ids=[f"{c[0] or '-'}/{c[1] or '-'}/{c[2] or c[3] or '-'}" for c in CASES]
)
def test_default_rules(classified, i):
    assert classified[f"v{i}"] == CASES[i][4]


def test_rules_are_configurable_and_first_match_wins(make_warehouse):
    settings = Settings(
        channel_rules=[
            ChannelRule(channel="avito", source=["avito"]),
            ChannelRule(channel="paid_other", medium=["cpc"]),
            ChannelRule(channel="direct", source=[""], medium=[""]),
        ]
    )
    wh = make_warehouse(
        {
            "visits.csv": """
        visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
        a,c,2026-10-01,avito,cpc,x
        b,c,2026-10-01,yandex,cpc,x
        c,c,2026-10-01,,,
    """
        },
        settings=settings,
    )
    out = (
        visits_with_channel(wh.table("visits"), settings)
        .select("visit_id", "channel")
        .to_pyarrow()
        .to_pylist()
    )
    assert {r["visit_id"]: r["channel"] for r in out} == {"a": "avito", "b": "paid_other", "c": "direct"}


def test_lead_channel_own_utm_then_last_marketing_visit_then_direct_then_unknown(make_warehouse):
    wh = make_warehouse(FILES)
    leads = MoneyTrail(wh).leads
    got = {
        r["lead_id"]: (r["channel"], r["campaign"], r["link_method"]) for r in leads.to_pyarrow().to_pylist()
    }
    assert got["L1"] == ("yandex_direct", "ya_search", "client_id")
    # c1 came from Yandex (v1), then typed the address (v6) and left a lead: the marketing touch wins.
    assert got["L2"] == ("yandex_direct", "ya_search", "client_id")
    assert got["L4"] == ("telegram", "tg_channel", "client_id")
    assert got["L5"] == ("direct", "(not set)", "client_id")
    # No visit at all: unknown, never silently direct.
    assert got["L6"] == ("unknown", "(not set)", "none")


def test_visits_after_the_lead_or_beyond_the_lookback_do_not_count(make_warehouse):
    wh = make_warehouse(
        {
            "visits.csv": """
            visit_id,client_id,ts,utm_source,utm_medium,utm_campaign
            old,c1,2026-06-01 10:00,vk,cpc,summer
            late,c1,2026-10-02 10:00,yandex,cpc,after
        """,
            "leads.csv": """
            lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
            L1,2026-10-01 10:00,c1,,,,new
        """,
        }
    )
    leads = MoneyTrail(wh, lookback_days=90).leads
    assert leads.to_pyarrow().to_pylist()[0]["channel"] == "unknown"
    leads = MoneyTrail(wh, lookback_days=200).leads
    assert leads.to_pyarrow().to_pylist()[0]["channel"] == "vk_ads"

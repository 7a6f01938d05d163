"""Small companies for the plan's tests, written out from a table of monthly counts per channel.

Each month of a channel is (visits, leads, qualified leads, sales, amount of each sale, ad spend): the
generator writes that many visits and leads (UTM-tagged, so each is the channel's), marks the first
``qualified`` leads qualified, opens a won deal closed in the same month for the first ``sales`` of them,
and books the spend on the 1st. Every figure the plan reads is therefore the table's number.
"""

from __future__ import annotations

UTM = {"yandex_direct": ("yandex", "cpc", "ya_search"), "vk_ads": ("vk", "cpc", "vk_retarget")}

# The golden plan (tests/kpi/test_plan.py works out every figure from these by hand): June is history only
# (records), July-September is the window of a plan for October.
GOLDEN = {
    "yandex_direct": {
        "2026-06": (50, 25, 12, 3, 10000, 20000),
        "2026-07": (20, 10, 5, 2, 10000, 10000),
        "2026-08": (40, 20, 8, 4, 12000, 16000),
        "2026-09": (30, 10, 5, 2, 8000, 15000),
    },
    "vk_ads": {
        "2026-07": (10, 5, 2, 1, 6000, 4000),
        "2026-08": (10, 4, 2, 1, 6000, 5000),
        "2026-09": (20, 6, 4, 2, 12000, 6000),
    },
}

# A company whose rates never change while October's volumes are 1.5 times the months before: planning
# October's actual revenue from July-September must give October's actual funnel (the round trip).
STEADY = {
    "yandex_direct": {
        "2026-07": (40, 20, 10, 4, 10000, 20000),
        "2026-08": (40, 20, 10, 4, 10000, 20000),
        "2026-09": (40, 20, 10, 4, 10000, 20000),
        "2026-10": (60, 30, 15, 6, 10000, 30000),
    },
    "vk_ads": {
        "2026-07": (20, 10, 4, 2, 5000, 8000),
        "2026-08": (20, 10, 4, 2, 5000, 8000),
        "2026-09": (20, 10, 4, 2, 5000, 8000),
        "2026-10": (30, 15, 6, 3, 5000, 12000),
    },
}


def company(months: dict[str, dict[str, tuple[int, int, int, int, int, int]]]) -> dict[str, str]:
    """The CSV files of a company with these monthly counts."""
    spend = ["date,channel,campaign,impressions,clicks,cost"]
    visits = ["visit_id,client_id,ts,utm_source,utm_medium,utm_campaign"]
    leads = ["lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager"]
    deals = ["deal_id,lead_id,created_at,status,closed_at,amount"]
    for channel, rows in months.items():
        source, medium, campaign = UTM[channel]
        for month, (n_visits, n_leads, qualified, sales, amount, cost) in rows.items():
            tag = f"{channel[:2]}{month.replace('-', '')}"
            spend.append(f"{month}-01,{channel},{campaign},{n_visits * 10},{n_visits},{cost}")
            for i in range(n_visits):
                visits.append(
                    f"v{tag}_{i},c{tag}_v{i},{month}-{1 + i % 27:02d} 10:00,{source},{medium},{campaign}"
                )
            for i in range(n_leads):
                status = "qualified" if i < qualified else "new"
                leads.append(
                    f"L{tag}_{i},{month}-{1 + i % 20:02d} 11:00,c{tag}_l{i},{source},{medium},{campaign},{status},Anna"
                )
                if i < sales:
                    day = 2 + i % 20
                    deals.append(
                        f"D{tag}_{i},L{tag}_{i},{month}-{day:02d} 09:00,won,{month}-{day:02d} 18:00,{amount}"
                    )
    return {
        "spend.csv": "\n".join(spend) + "\n",
        "visits.csv": "\n".join(visits) + "\n",
        "leads.csv": "\n".join(leads) + "\n",
        "deals.csv": "\n".join(deals) + "\n",
    }

"""Small synthetic companies as canonical CSV text: one line per channel/campaign/month says how many of
everything there were, and the builder writes the rows (visits, leads, deals…) that add up to it.

Every count in a test is therefore the number written in its spec, so the hand computations in the
tests' comments start from those numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# utm_source / utm_medium that the default channel rules classify as each channel.
UTM = {
    "yandex_direct": ("yandex", "cpc"),
    "vk_ads": ("vk", "cpc"),
    "telegram": ("telegram", "social"),
    "google_ads": ("google", "cpc"),
    "email": ("newsletter", "email"),
}


@dataclass
class Cell:
    """One channel/campaign in one month.

    ``qualified`` of the ``leads`` are qualified, the rest junk; leads go to ``managers`` in turn;
    ``sales`` maps a manager to how many of *their* qualified leads were won this month (an int: the
    first qualified leads whatever their manager), each for ``amount`` (or the amounts in ``amounts``).
    ``response_minutes`` maps a manager to minutes until the first answer of their leads.
    """

    month: str
    channel: str
    campaign: str
    impressions: int = 0
    clicks: int = 0
    cost: float = 0.0
    reach: int | None = None
    posts: int = 0
    visits: int = 0
    leads: int = 0
    qualified: int = 0
    sales: int | dict[str, int] = 0
    amount: float = 10_000.0
    amounts: list[float] | None = None
    managers: tuple[str, ...] = ("Anna",)
    response_minutes: dict[str, int] = field(default_factory=dict)


def _day(month: str, i: int) -> dt.datetime:
    # Spread events over days 1..20 at 10:00, so a deal closed a few days later stays in the month.
    y, m = (int(x) for x in month.split("-"))
    return dt.datetime(y, m, 1 + i % 20, 10, 0)


def company(cells: list[Cell]) -> dict[str, str]:
    """The canonical CSV files of the cells, ready for ``make_warehouse``."""
    spend = ["date,channel,campaign,impressions,clicks,cost,reach"]
    activities = ["date,channel,kind,count,cost"]
    visits = ["visit_id,client_id,ts,utm_source,utm_medium,utm_campaign"]
    leads = [
        "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager,first_response_at"
    ]
    deals = ["deal_id,lead_id,created_at,status,closed_at,amount"]
    for c in cells:
        tag = f"{c.month}-{c.channel}-{c.campaign}"
        src, med = UTM[c.channel]
        if c.impressions or c.clicks or c.cost:
            reach = "" if c.reach is None else str(c.reach)
            spend.append(f"{c.month}-15,{c.channel},{c.campaign},{c.impressions},{c.clicks},{c.cost},{reach}")
        if c.posts:
            activities.append(f"{c.month}-10,{c.channel},post,{c.posts},0")
        for i in range(c.visits):
            visits.append(
                f"v-{tag}-{i},c-{tag}-{i},{_day(c.month, i):%Y-%m-%d %H:%M},{src},{med},{c.campaign}"
            )
        qualified: list[tuple[str, str, dt.datetime]] = []
        for i in range(c.leads):
            manager = c.managers[i % len(c.managers)]
            created = _day(c.month, i) + dt.timedelta(minutes=30)
            status = "qualified" if i < c.qualified else "junk"
            minutes = c.response_minutes.get(manager)
            answered = "" if minutes is None else f"{created + dt.timedelta(minutes=minutes):%Y-%m-%d %H:%M}"
            lead_id = f"L-{tag}-{i}"
            leads.append(
                f"{lead_id},{created:%Y-%m-%d %H:%M},c-{tag}-{i},{src},{med},{c.campaign},{status},{manager},{answered}"
            )
            if status == "qualified":
                qualified.append((lead_id, manager, created))
        won: list[tuple[str, dt.datetime]] = []
        if isinstance(c.sales, int):
            won = [(lid, created) for lid, _m, created in qualified[: c.sales]]
        else:
            for manager, n in c.sales.items():
                mine = [(lid, created) for lid, m, created in qualified if m == manager]
                assert len(mine) >= n, f"{tag}: {manager} has {len(mine)} qualified leads, not {n}"
                won += mine[:n]
        assert len(won) <= len(qualified), f"{tag}: more sales than qualified leads"
        for j, (lead_id, created) in enumerate(won):
            amount = c.amounts[j] if c.amounts else c.amount
            closed = created + dt.timedelta(days=2)
            deals.append(
                f"D-{lead_id},{lead_id},{created:%Y-%m-%d %H:%M},won,{closed:%Y-%m-%d %H:%M},{amount}"
            )
    files = {
        "spend.csv": spend,
        "activities.csv": activities,
        "visits.csv": visits,
        "leads.csv": leads,
        "deals.csv": deals,
    }
    return {name: "\n".join(rows) + "\n" for name, rows in files.items() if len(rows) > 1}


SEP, OCT = "2026-09", "2026-10"


def both_months(**kw: object) -> list[Cell]:
    """The same cell in September and October 2026: a channel where nothing changed."""
    return [Cell(month="2026-09", **kw), Cell(month="2026-10", **kw)]  # type: ignore[arg-type]


def healthy_search() -> list[Cell]:
    return both_months(
        channel="yandex_direct",
        campaign="ya_search",
        impressions=50_000,
        clicks=1_000,
        cost=50_000,
        reach=10_000,
        visits=1_000,
        leads=100,
        qualified=50,
        sales=10,
        amount=30_000,
    )


def illusion_company() -> list[Cell]:
    # ya_network, September -> October:
    #   CTR 1 000/100 000 = 1.0 % -> 1 176/98 000 = 1.2 % (+20 %); CPC 50 000/1 000 = 50 -> 50 000/1 176 = 42.52
    #   (−14.96 %, shown −15 %); reach 20 000 -> 40 000 (×2); clicks +17.6 %.
    #   Leads 100 -> 110, qualified 50 -> 30 (−40 %); lead -> qualified 50 % -> 27.3 % (−45 %);
    #   sales 10 -> 10 and revenue 300 000 -> 300 000: flat.
    return healthy_search() + [
        Cell(
            SEP,
            "yandex_direct",
            "ya_network",
            impressions=100_000,
            clicks=1_000,
            cost=50_000,
            reach=20_000,
            visits=1_000,
            leads=100,
            qualified=50,
            sales=10,
            amount=30_000,
        ),
        Cell(
            OCT,
            "yandex_direct",
            "ya_network",
            impressions=98_000,
            clicks=1_176,
            cost=50_000,
            reach=40_000,
            visits=1_176,
            leads=110,
            qualified=30,
            sales=10,
            amount=30_000,
        ),
    ]

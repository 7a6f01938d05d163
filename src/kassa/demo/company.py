"""The demo company «ТеплоСфера»: what it sells, where its customers come from, and the planted story.

Everything here is a number a person can check against docs/demo.md: the generator
(:mod:`kassa.demo.generate`) only turns these expectations into seeded random events.

The business: heating equipment sold *with installation* in Moscow and the Moscow region (boilers,
boiler rooms, radiators, water heaters, yearly boiler service). Heating is bought before and during the
cold season, so demand is strongest from October to December and weakest in June–July.

Volumes are per month at a season index of 1.0; a month's expectation is ``volume × SEASON[month]``.
September and October 2026 — the months the demo report compares — have the same index, so in the
healthy company every channel's expectation is identical in both and any difference is noise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

FIRST_MONTH = "2025-10"
LAST_MONTH = "2026-10"
START = dt.date(2025, 10, 1)
END = dt.date(2026, 11, 1)  # exclusive: the CRM and bank exports were taken on 2026-11-01 at 00:00

# Season index per month (heating: autumn and December strong, summer weak).
SEASON: dict[str, float] = {
    "2025-10": 1.10, "2025-11": 1.20, "2025-12": 1.30,
    "2026-01": 1.05, "2026-02": 1.00, "2026-03": 0.95, "2026-04": 0.85, "2026-05": 0.80,
    "2026-06": 0.75, "2026-07": 0.75, "2026-08": 0.90, "2026-09": 1.05, "2026-10": 1.05,
}  # fmt: skip

# Relative traffic by weekday, Monday first: people shop for heating on weekday evenings.
WEEKDAY_WEIGHT = (1.08, 1.06, 1.04, 1.02, 0.97, 0.90, 0.93)
# Relative traffic by hour of day (local time): quiet nights, a lunch peak and an evening peak.
HOUR_WEIGHT = (
    0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.55, 0.85, 1.05, 1.20, 1.25,
    1.25, 1.20, 1.15, 1.10, 1.05, 1.05, 1.15, 1.30, 1.35, 1.20, 0.85, 0.40,
)  # fmt: skip


@dataclass(frozen=True)
class Product:
    """What a deal sells: a typical amount in rubles and the gross margin as a share of the amount."""

    name: str
    title_ru: str  # as the bank payment's purpose names it
    price: int
    margin: float


PRODUCTS: tuple[Product, ...] = (
    Product("boiler_install", "монтаж газового котла", 68_000, 0.30),
    Product("boiler_room", "котельная под ключ", 145_000, 0.26),
    Product("radiators", "радиаторы с монтажом", 46_000, 0.34),
    Product("water_heater", "водонагреватель с установкой", 21_000, 0.22),
    Product("service", "годовое обслуживание котла", 9_500, 0.58),
)

# Who asks for what, by traffic kind (shares of PRODUCTS, in order).
MIX_SEARCH = (0.34, 0.16, 0.24, 0.16, 0.10)
MIX_NETWORK = (0.16, 0.04, 0.18, 0.42, 0.20)
MIX_LOYAL = (0.26, 0.08, 0.22, 0.14, 0.30)

MANAGERS: tuple[str, ...] = ("Анна Соколова", "Дмитрий Орлов", "Марина Киселёва")
MANAGER_SHARE = (0.36, 0.34, 0.30)  # how the CRM distributes new leads
MANAGER_SKILL = (1.05, 1.00, 0.95)  # multiplies the win rate of their deals

StreamKind = Literal["paid", "organic", "pulse", "offline"]


@dataclass(frozen=True)
class Stream:
    """One source of visitors with its own costs and funnel.

    ``paid``: spend rows per day; ``impressions`` per month (season 1.0), ``ctr`` clicks per impression,
    ``cpc`` rubles per click net of VAT, ``frequency`` impressions per person per day (reach =
    impressions / frequency; ``None``: the platform reports no reach); visits = 82 % of clicks.
    ``organic``: ``visits`` per month. ``pulse``: visits come after each post or newsletter
    (``per_event`` visits each, plus ``visits`` per month from the channel's profile link).
    ``offline``: leads without any visit (calls from map listings), ``leads_per_month``.

    The funnel: ``lead_rate`` leads per visit, ``qualified_share`` of leads the sales team accepts,
    ``win_rate`` of deals won, ``mix`` the products asked for.
    """

    key: str
    channel: str
    kind: StreamKind
    lead_rate: float
    qualified_share: float
    win_rate: float
    mix: tuple[float, ...]
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    impressions: float = 0.0
    ctr: float = 0.0
    cpc: float = 0.0
    frequency: float | None = None
    vat_included: bool = False
    click_id: str = ""  # auto-tagging parameter the platform adds (yclid for Yandex Direct)
    visits: float = 0.0
    per_event: float = 0.0
    event_kind: str = ""
    event_cost: float = 0.0
    leads_per_month: float = 0.0
    referrers: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    landing: tuple[str, ...] = ("/",)


STREAMS: tuple[Stream, ...] = (
    Stream(
        "ydx_search_brand",
        "yandex_direct",
        "paid",
        lead_rate=0.060,
        qualified_share=0.80,
        win_rate=0.50,
        mix=MIX_LOYAL,
        utm_source="yandex",
        utm_medium="cpc",
        utm_campaign="ydx_search_brand",
        impressions=14_000,
        ctr=0.080,
        cpc=24.0,
        click_id="yclid",
        terms=("теплосфера", "теплосфера отзывы", "теплосфера монтаж котла"),
        landing=("/",),
    ),
    Stream(
        "ydx_search_generic",
        "yandex_direct",
        "paid",
        lead_rate=0.040,
        qualified_share=0.70,
        win_rate=0.42,
        mix=MIX_SEARCH,
        utm_source="yandex",
        utm_medium="cpc",
        utm_campaign="ydx_search_generic",
        impressions=60_000,
        ctr=0.045,
        cpc=58.0,
        click_id="yclid",
        terms=(
            "газовый котел с установкой",
            "монтаж котла цена",
            "котельная под ключ",
            "радиаторы отопления монтаж",
            "замена котла в частном доме",
        ),
        landing=("/kotly/", "/montazh/", "/kotelnye/", "/radiatory/"),
    ),
    Stream(
        "ydx_network_retarget",
        "yandex_direct",
        "paid",
        lead_rate=0.035,
        qualified_share=0.60,
        win_rate=0.45,
        mix=MIX_SEARCH,
        utm_source="yandex",
        utm_medium="cpm",
        utm_campaign="ydx_network_retarget",
        impressions=400_000,
        ctr=0.0035,
        cpc=19.0,
        frequency=3.0,
        click_id="yclid",
        landing=("/kotly/", "/akcii/"),
    ),
    Stream(
        "ydx_network_lookalike",
        "yandex_direct",
        "paid",
        lead_rate=0.027,
        qualified_share=0.50,
        win_rate=0.30,
        mix=MIX_NETWORK,
        utm_source="yandex",
        utm_medium="cpm",
        utm_campaign="ydx_network_lookalike",
        impressions=1_100_000,
        ctr=0.0055,
        cpc=21.0,
        frequency=2.5,
        click_id="yclid",
        landing=("/akcii/", "/vodonagrevateli/", "/kotly/"),
    ),
    Stream(
        "vk_interests_dacha",
        "vk_ads",
        "paid",
        lead_rate=0.020,
        qualified_share=0.38,
        win_rate=0.30,
        mix=MIX_NETWORK,
        utm_source="vk",
        utm_medium="cpc",
        utm_campaign="vk_interests_dacha",
        impressions=450_000,
        ctr=0.0040,
        cpc=26.0,
        frequency=2.0,
        vat_included=True,
        landing=("/akcii/", "/vodonagrevateli/"),
    ),
    Stream(
        "vk_retarget_site",
        "vk_ads",
        "paid",
        lead_rate=0.030,
        qualified_share=0.50,
        win_rate=0.40,
        mix=MIX_SEARCH,
        utm_source="vk",
        utm_medium="cpc",
        utm_campaign="vk_retarget_site",
        impressions=200_000,
        ctr=0.0050,
        cpc=22.0,
        frequency=3.5,
        vat_included=True,
        landing=("/kotly/", "/akcii/"),
    ),
    Stream(
        "seo",
        "seo",
        "organic",
        lead_rate=0.028,
        qualified_share=0.62,
        win_rate=0.42,
        mix=MIX_SEARCH,
        visits=1_700,
        referrers=(
            "https://yandex.ru/",
            "https://yandex.ru/",
            "https://yandex.ru/",
            "https://www.google.com/",
        ),
        landing=("/", "/kotly/", "/blog/kak-vybrat-kotel/", "/radiatory/", "/blog/obsluzhivanie-kotla/"),
    ),
    Stream(
        "direct",
        "direct",
        "organic",
        lead_rate=0.035,
        qualified_share=0.70,
        win_rate=0.48,
        mix=MIX_LOYAL,
        visits=900,
        landing=("/", "/kontakty/"),
    ),
    Stream(
        "tg_channel",
        "telegram",
        "pulse",
        lead_rate=0.030,
        qualified_share=0.55,
        win_rate=0.38,
        mix=MIX_LOYAL,
        utm_source="telegram",
        utm_medium="social",
        utm_campaign="tg_channel",
        visits=60,
        per_event=120,
        event_kind="post",
        event_cost=2_500,
        landing=("/blog/", "/akcii/"),
    ),
    Stream(
        "newsletter",
        "email",
        "pulse",
        lead_rate=0.030,
        qualified_share=0.65,
        win_rate=0.45,
        mix=MIX_LOYAL,
        utm_source="unisender",
        utm_medium="email",
        utm_campaign="newsletter",
        per_event=180,
        event_kind="newsletter",
        event_cost=1_500,
        landing=("/akcii/", "/obsluzhivanie/"),
    ),
    Stream(
        "map_calls",
        "unknown",
        "offline",
        lead_rate=1.0,
        qualified_share=0.65,
        win_rate=0.45,
        mix=MIX_LOYAL,
        leads_per_month=18,
    ),
)

# Telegram posts go out on Monday, Wednesday and Friday; newsletters on the 3rd, 12th and 21st.
POST_WEEKDAYS = (0, 2, 4)
NEWSLETTER_DAYS = (3, 12, 21)
CLICK_TO_VISIT = 0.82  # the rest close the tab before the Metrica counter loads

# Funnel timing and shares (see docs/demo.md, "How a ruble travels").
SAME_SESSION = 0.65  # lead left during the ad visit itself; otherwise the client came back later, direct
CALL_SHARE = 0.20  # same-session leads that phoned (no UTM reaches the CRM) instead of filling the form
REVISIT_SHARE = 0.02  # visitors who never became a lead but came back once, direct
PROCESSED = 0.985  # leads a manager ever looked at; the rest stay "new" forever
DEAL_SHARE = 0.88  # qualified leads that got a deal in the CRM
PHONE_SHARE, EMAIL_SHARE = 0.92, 0.40
LEGAL_SHARE = 0.22  # buyers paying from a company account (their INN is in the bank statement)
PAID_SHARE = 0.93  # won deals that are ever paid; the rest never pay
TWO_PART_SHARE = 0.20  # paid deals paid as a prepayment plus the rest
NO_DEAL_ID_SHARE = 0.12  # bank rows the CRM integration did not match (only the invoice in the purpose)
FIRST_INVOICE = 1001


@dataclass(frozen=True)
class ActivityIllusion:
    """Planted fact 1: one campaign's activity metrics all improve while its outcomes do not.

    The marketer widened the look-alike audience and switched to a click-bait creative in October:
    cheaper clicks, twice the reach, higher CTR — and a flood of people who never meant to buy.
    The changes below apply to the campaign's October traffic (ratios of expectations against a
    healthy October): impressions ×1.30, CTR ×1.20 (so clicks and visits ×1.56), CPC ×0.85 (spend
    ×1.33), reach ×2 (frequency ×0.65), leads ×1.10, qualified leads ×0.60, win rate of its qualified
    leads ×0.70. Its sales and revenue do not grow (they fall a little, less than its qualified leads:
    half of October's sales are September's leads closing).
    """

    channel: str = "yandex_direct"
    campaign: str = "ydx_network_lookalike"
    month: str = "2026-10"
    baseline_month: str = "2026-09"
    impressions_change: float = 0.30
    ctr_change: float = 0.20
    cpc_change: float = -0.15
    reach_ratio: float = 2.0
    leads_change: float = 0.10
    qualified_leads_change: float = -0.40
    win_rate_change: float = -0.30

    @property
    def clicks_change(self) -> float:
        """Clicks = impressions × CTR, so (1 + 0.30) × (1 + 0.20) − 1 = +0.56."""
        return (1 + self.impressions_change) * (1 + self.ctr_change) - 1


@dataclass(frozen=True)
class BusyChannel:
    """Planted fact 2: the Telegram channel posts every day in October instead of Mon/Wed/Fri.

    September 2026 has 13 Mon/Wed/Fri days, October 31 days: posts ×31/13 ≈ ×2.4, and the cost of
    posts with them. Each post brings fewer visits (55 instead of 120: the audience tires), so visits
    rise only ≈ +10 %; the visitors are readers, not buyers (lead rate ×0.50, win rate ×0.70), so leads
    fall ≈ −45 % and sales do not rise (half of October's sales are September's leads closing).
    """

    channel: str = "telegram"
    campaign: str = "tg_channel"
    month: str = "2026-10"
    baseline_month: str = "2026-09"
    posts_ratio: float = 31 / 13
    visits_per_post: float = 55.0
    lead_rate_change: float = -0.50
    win_rate_change: float = -0.30


@dataclass(frozen=True)
class SalesSlump:
    """Planted fact 3: one manager stops closing deals for a month; marketing is normal.

    Deals of ``manager`` that would have been won with ``closed_at`` in ``month`` are lost instead
    (``won_kept`` of them slip through), and the manager answers new leads ``response_slowdown`` times
    slower. Leads keep arriving and are qualified as usual, so the break is in sales, not marketing.
    """

    manager: str = "Дмитрий Орлов"
    month: str = "2026-06"
    won_kept: float = 0.03
    response_slowdown: float = 6.0


@dataclass(frozen=True)
class Returning:
    """Planted fact 4: whose customers come back (:mod:`kassa.demo.repeats`), all year long.

    ``own_repeat_share`` of the acquirer's won leads and ``harvested_share`` of the harvester's are
    repeat purchases of a customer the acquirer won ``min_days``–``max_days`` earlier (each customer
    comes back at most ``max_returns`` times); a harvester's lead before the acquirer has such a
    customer is a repeat of anyone's customer of the past year, and one before any is a new customer. Counts and money stay as drawn: only who bought changes.
    It is how the business works, not an October event, so the healthy company has it too.
    """

    acquirer: str = "vk_ads"  # the most expensive per sale; its customers come back
    harvester: str = "email"  # the cheapest per sale; it mostly sells to others' customers
    own_repeat_share: float = 0.45
    harvested_share: float = 0.95
    min_days: int = 15
    max_days: int = 100
    max_returns: int = 3


RETURNING = Returning()


@dataclass(frozen=True)
class Planted:
    """The three stories planted in the demo data (``kassa.demo.generate(plant=True)``)."""

    activity_illusion: ActivityIllusion = field(default_factory=ActivityIllusion)
    busy_channel: BusyChannel = field(default_factory=BusyChannel)
    sales_slump: SalesSlump = field(default_factory=SalesSlump)


PLANTED = Planted()


def months() -> list[str]:
    """Every month of the demo, first to last (``2025-10`` … ``2026-10``)."""
    return list(SEASON)

"""Each rule on a small company built by hand (tests/diagnose/builders.py), September vs October 2026.

The counts below are the specs' own numbers; the comments work out the rates and changes by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from scipy import stats
from tests.conftest import write_files
from tests.diagnose.builders import OCT, SEP, Cell, both_months, company, healthy_search, illusion_company

from kassa.diagnose import Diagnosis, run
from kassa.settings import Settings
from kassa.store import Warehouse


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Diagnosis]]:
    """``diagnosed(build, lang="en", vs=None)``: the diagnosis of October for the company ``build()`` makes.

    A metrics query takes seconds to compile, so each company is loaded and diagnosed once per module.
    """
    warehouses: dict[str, Warehouse] = {}
    results: dict[tuple[str, str, str | None], Diagnosis] = {}

    def get(build: Callable[[], list[Cell]], lang: str = "en", vs: str | None = None) -> Diagnosis:
        name = build.__name__
        if name not in warehouses:
            folder = tmp_path_factory.mktemp(name)
            wh = Warehouse.open(folder / "w.duckdb", settings=Settings())
            warehouses[name] = wh
            wh.import_files(write_files(folder / "in", company(build())), strict=True)
        if (name, lang, vs) not in results:
            results[name, lang, vs] = run(warehouses[name], OCT, vs, lang=lang)
        return results[name, lang, vs]

    yield get
    for wh in warehouses.values():
        wh.close()


def healthy_company() -> list[Cell]:
    return healthy_search() + both_months(
        channel="vk_ads",
        campaign="vk_retarget",
        impressions=20_000,
        clicks=400,
        cost=20_000,
        visits=380,
        leads=30,
        qualified=15,
        sales=5,
        amount=20_000,
    )


def test_a_company_where_nothing_changed_has_no_finding(diagnosed):
    result = diagnosed(healthy_company)
    assert result.tests > 0  # the rules did look
    assert result.findings == []


def test_activity_illusion_reads_like_the_article(diagnosed):
    findings = diagnosed(illusion_company).findings
    assert [(f.kind, f.dimension, f.channel, f.value) for f in findings] == [
        ("activity_illusion", "campaign", "yandex_direct", "ya_network")
    ]
    f = findings[0]
    assert f.significant and f.stage == "lead_to_qualified" and f.responsible == "marketing"
    for part in ("reach ×2", "CTR +20%", "CPC −15%", "qualified leads −40%", "sales flat", "revenue flat"):
        assert part in f.message
    # The strongest test: qualified leads per unit of reach, the volume that grew most. Conditional Poisson:
    # 50 + 30 = 80 qualified leads split by reach 20 000 : 40 000, so October "should" hold 2/3 of them (53.3);
    # it holds 30.
    assert f.test == "poisson_conditional"
    assert f.p_value == pytest.approx(stats.binomtest(30, 80, 2 / 3).pvalue)
    ev = {e.metric: e for e in f.evidence}
    assert ev["ctr"].before == pytest.approx(0.01) and ev["ctr"].after == pytest.approx(0.012)
    assert ev["qualified_leads"].change == pytest.approx(-0.4)
    assert ev["lead_to_qualified"].after == pytest.approx(30 / 110)
    assert ev["ctr"].tier == "activity" and ev["revenue"].tier == "outcome"


def test_activity_illusion_in_russian(diagnosed):
    (f,) = diagnosed(illusion_company, "ru").findings
    text = f.message.replace("\xa0", " ")
    for part in (
        "охват ×2",
        "CTR +20",
        "цена клика −15",
        "квалифицированные лиды −40",
        "выручка на прежнем уровне",
        "Отчёт зелёный, а денег нет",
    ):
        assert part in text
    assert f.title == "Иллюзия активности" and f.lang == "ru"


def test_finding_json_has_the_fields_the_issue_asks_for(diagnosed):
    (f,) = diagnosed(illusion_company).findings
    data = json.loads(json.dumps(f.to_json()))
    for key in ("kind", "dimension", "value", "stage", "responsible", "evidence", "significant", "message"):
        assert key in data
    assert data["responsible"] in ("marketing", "sales", "product_price", "unknown")
    assert {"metric", "before", "after", "change"} <= set(data["evidence"][0])
    assert data["period"] == "2026-10" and data["vs"] == "2026-09"


def busy_telegram() -> list[Cell]:
    # telegram: posts 10 -> 25 (×2.5); visits, leads, qualified (40), sales (4) unchanged.
    return healthy_search() + [
        Cell(
            SEP,
            "telegram",
            "tg_channel",
            posts=10,
            visits=800,
            leads=80,
            qualified=40,
            sales=4,
            amount=20_000,
        ),
        Cell(
            OCT,
            "telegram",
            "tg_channel",
            posts=25,
            visits=800,
            leads=80,
            qualified=40,
            sales=4,
            amount=20_000,
        ),
    ]


def test_vanity_activity_posts_up_nothing_behind(diagnosed):
    # Qualified leads per post 40/10 = 4 -> 40/25 = 1.6 (−60 %): conditional Poisson with the posts as exposure,
    # October's expected share of the 80 qualified leads is 25/35; it holds 40/80 (p = 5.6e-5).
    (f,) = diagnosed(busy_telegram).findings
    assert (f.kind, f.dimension, f.value, f.stage, f.responsible) == (
        "vanity_activity",
        "channel",
        "telegram",
        "activity",
        "marketing",
    )
    assert f.significant
    assert f.p_value == pytest.approx(stats.binomtest(40, 80, 25 / 35).pvalue)
    assert "publications ×2.5" in f.message and "qualified leads flat" in f.message
    assert "more activity, no more money" in f.message


def junk_vk() -> list[Cell]:
    # vk_ads doubles its budget: clicks 600 -> 1 200, visits 500 -> 1 000, CTR and CPC unchanged;
    # leads 50 -> 45: visit -> lead 10 % -> 4.5 % (−55 %).
    return healthy_search() + [
        Cell(
            SEP,
            "vk_ads",
            "vk_wide",
            impressions=60_000,
            clicks=600,
            cost=30_000,
            visits=500,
            leads=50,
            qualified=25,
            sales=5,
            amount=20_000,
        ),
        Cell(
            OCT,
            "vk_ads",
            "vk_wide",
            impressions=120_000,
            clicks=1_200,
            cost=60_000,
            visits=1_000,
            leads=45,
            qualified=22,
            sales=5,
            amount=20_000,
        ),
    ]


def test_junk_traffic_and_no_repeats(diagnosed):
    # Fisher on [[50, 450], [45, 955]]. The same place also shows a funnel break at visit -> lead and more
    # activity without results: junk traffic says it best, so it is the only finding.
    (f,) = diagnosed(junk_vk).findings
    assert (f.kind, f.dimension, f.channel, f.value, f.stage, f.responsible) == (
        "junk_traffic",
        "campaign",
        "vk_ads",
        "vk_wide",
        "visit_to_lead",
        "marketing",
    )
    assert f.significant
    assert f.p_value == pytest.approx(stats.fisher_exact([[50, 450], [45, 955]]).pvalue)
    assert "visits ×2" in f.message and "visit → lead −55%" in f.message


def _sales_company(oct_sales: dict[str, int], yandex_green: bool = False) -> list[Cell]:
    # Three channels, 60 leads each month, 40 qualified, alternating Anna/Boris -> 20 qualified each per channel.
    # September: each manager wins 8 per channel (qualified -> sale 40 %), answering within 30 minutes.
    cells = []
    for channel, campaign in (
        ("yandex_direct", "ya_search"),
        ("vk_ads", "vk_retarget"),
        ("email", "newsletter"),
    ):
        spend = {"impressions": 100_000, "clicks": 1_000, "cost": 50_000} if channel != "email" else {}
        oct_spend = dict(spend)
        if yandex_green and channel == "yandex_direct":
            # CTR 1 000/83 333 = 1.2 % (+20 %), CPC 42 500/1 000 = 42.5 (−15 %), same clicks.
            oct_spend = {"impressions": 83_333, "clicks": 1_000, "cost": 42_500}
        common = {
            "visits": 600,
            "leads": 60,
            "qualified": 40,
            "managers": ("Anna", "Boris"),
            "amount": 30_000,
        }
        cells.append(
            Cell(
                SEP,
                channel,
                campaign,
                **spend,
                **common,
                sales={"Anna": 8, "Boris": 8},
                response_minutes={"Anna": 30, "Boris": 30},
            )
        )
        cells.append(
            Cell(
                OCT,
                channel,
                campaign,
                **oct_spend,
                **common,
                sales=oct_sales,
                response_minutes={"Anna": 30, "Boris": 300},
            )
        )
    return cells


def boris_stops() -> list[Cell]:
    return _sales_company({"Anna": 8, "Boris": 0}, yandex_green=True)


def everyone_slumps() -> list[Cell]:
    return _sales_company({"Anna": 2, "Boris": 2})


def test_one_manager_stops_closing_is_one_sales_finding_not_one_per_channel(diagnosed):
    # Boris: 60 qualified leads both months (20 per channel), 24 sales -> 0 (40 % -> 0 %); Anna 24 -> 24.
    # Every channel's qualified -> sale falls 16/40 -> 8/40, yet the finding is Boris's alone. The Yandex
    # campaign's CTR +20 % / CPC −15 % with fewer sales is *not* an illusion: the sales step explains it.
    findings = diagnosed(boris_stops).findings
    assert [(f.kind, f.dimension, f.value, f.stage, f.responsible, f.significant) for f in findings] == [
        ("funnel_break", "manager", "Boris", "qualified_to_sale", "sales", True)
    ]
    f = findings[0]
    assert f.p_value == pytest.approx(stats.fisher_exact([[24, 36], [0, 60]]).pvalue)
    assert "a sales problem, not a channel problem" in f.message
    # First responses: Boris answered his 30 leads a month within 30 minutes, then after 5 hours.
    ev = {e.metric: e for e in f.evidence}
    assert ev["answered_within_1h"].before == 1.0 and ev["answered_within_1h"].after == 0.0
    assert ev["first_response_hours"].after == pytest.approx(5.0)
    assert "slower first responses" in f.message


def test_every_manager_dropping_is_one_company_finding(diagnosed):
    # Both managers 24 -> 6 sales of 60 qualified (40 % -> 10 %): company 48/120 -> 12/120 (−75 %).
    findings = diagnosed(everyone_slumps).findings
    assert [(f.kind, f.dimension, f.value, f.stage, f.responsible, f.significant) for f in findings] == [
        ("funnel_break", "company", "all", "qualified_to_sale", "sales", True)
    ]
    assert "on every channel at once — a sales problem, not a channel problem" in findings[0].message


def cheaper_deals() -> list[Cell]:
    # Three channels, 10 sales a month each. September amounts 40–60k (mean 50 000), October 25–35k
    # (mean 30 000): average check −40 % on every channel.
    sep = [40_000.0, 45_000.0, 50_000.0, 55_000.0, 60_000.0] * 2
    octo = [25_000.0, 27_500.0, 30_000.0, 32_500.0, 35_000.0] * 2
    cells = []
    for channel, campaign in (
        ("yandex_direct", "ya_search"),
        ("vk_ads", "vk_retarget"),
        ("email", "newsletter"),
    ):
        cells.append(Cell(SEP, channel, campaign, visits=500, leads=40, qualified=20, sales=10, amounts=sep))
        cells.append(Cell(OCT, channel, campaign, visits=500, leads=40, qualified=20, sales=10, amounts=octo))
    return cells


def test_average_check_falling_everywhere_is_price_or_product(diagnosed):
    findings = diagnosed(cheaper_deals).findings
    assert [(f.kind, f.dimension, f.stage, f.responsible, f.significant) for f in findings] == [
        ("funnel_break", "company", "average_check", "product_price", True)
    ]
    ev = {e.metric: e for e in findings[0].evidence}
    assert ev["average_check"].before == 50_000 and ev["average_check"].after == 30_000
    assert findings[0].test == "welch_t"


def few_emails() -> list[Cell]:
    # email: 6 qualified leads both months, sales 3 -> 1 (qualified -> sale 50 % -> 16.7 %, −67 %).
    return healthy_search() + [
        Cell(SEP, "email", "newsletter", visits=100, leads=10, qualified=6, sales=3),
        Cell(OCT, "email", "newsletter", visits=100, leads=10, qualified=6, sales=1),
    ]


def many_emails() -> list[Cell]:
    # The same −67 % at sixty times the volume: 360 qualified, sales 180 -> 60.
    return healthy_search() + [
        Cell(SEP, "email", "newsletter", visits=6_000, leads=600, qualified=360, sales=180),
        Cell(OCT, "email", "newsletter", visits=6_000, leads=600, qualified=360, sales=60),
    ]


def test_small_counts_are_reported_as_noise_not_shouted(diagnosed):
    # Fisher on [[3, 3], [1, 5]]: p = 0.545 — a small business cannot tell this from chance.
    result = diagnosed(few_emails)
    assert result.significant == []
    (f,) = result.noise
    # Noise is reported once, at the widest place that shows it (the channel), not down to its campaign.
    assert (f.kind, f.dimension, f.value, f.stage) == (
        "funnel_break",
        "channel",
        "email",
        "qualified_to_sale",
    )
    assert f.p_value == pytest.approx(stats.fisher_exact([[3, 3], [1, 5]]).pvalue)
    assert f.message.endswith("Could be noise: too few events to tell.")


def test_large_counts_make_the_same_drop_significant(diagnosed):
    (f,) = diagnosed(many_emails).findings
    # Significant findings go down to the most specific place: the email channel's one campaign.
    assert (f.kind, f.dimension, f.value, f.stage, f.significant) == (
        "funnel_break",
        "campaign",
        "newsletter",
        "qualified_to_sale",
        True,
    )


def august_like_october() -> list[Cell]:
    return illusion_company() + [
        Cell(
            "2026-08",
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
        Cell(
            "2026-08",
            "yandex_direct",
            "ya_search",
            impressions=50_000,
            clicks=1_000,
            cost=50_000,
            reach=10_000,
            visits=1_000,
            leads=100,
            qualified=50,
            sales=10,
            amount=30_000,
        ),
    ]


def test_vs_compares_any_earlier_period(diagnosed):
    assert diagnosed(august_like_october, vs="2026-08").findings == []  # August looked exactly like October
    assert [f.kind for f in diagnosed(august_like_october).findings] == ["activity_illusion"]


def test_overlapping_periods_are_refused(make_warehouse):
    from kassa.errors import BadPeriod

    with pytest.raises(BadPeriod, match="overlap"):
        run(make_warehouse(), "2026-09..2026-10", "2026-10")


def only_october() -> list[Cell]:
    return [c for c in healthy_search() if c.month == OCT]


def test_an_empty_earlier_period_is_said(diagnosed):
    result = diagnosed(only_october)
    assert result.empty_periods == ["2026-09"]
    assert result.findings == []


def test_an_empty_warehouse_has_nothing_to_say(make_warehouse):
    result = run(make_warehouse(), OCT)
    assert (result.findings, result.empty_periods, result.tests) == ([], ["2026-09", "2026-10"], 0)


def test_day_ranges_are_compared_too(make_warehouse):
    # The builder puts every event of a month on its days 1–20 (deals close 2 days after their lead, by the
    # 12th), so the first twenty days of each month hold the whole story: the same single finding.
    wh = make_warehouse(company(illusion_company()))
    result = run(wh, "2026-10-01..2026-10-20", "2026-09-01..2026-09-20")
    assert [(f.kind, f.value, f.significant) for f in result.findings] == [
        ("activity_illusion", "ya_network", True)
    ]
    assert result.vs.label == "2026-09-01..2026-09-20"

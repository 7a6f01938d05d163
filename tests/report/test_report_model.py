"""The report model: every number of the October report of tests/report/shop.py, worked by hand."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from kassa.metrics import relative_change
from kassa.period import Period
from kassa.report.charts import index_series
from kassa.report.model import (
    Card,
    Cards,
    Column,
    Line,
    Lines,
    ReportData,
    Table,
    build_report,
    formula_in_words,
    trend_period,
)
from kassa.settings import Settings


def _rows(data: ReportData, section: str, key: str) -> list[dict[str, Any]]:
    table = next(t for t in data.section(section).tables() if t.key == key)
    return table.rows


def test_funnel_table_per_channel_by_hand(reports: dict[str, ReportData]) -> None:
    table = reports["en"].section("funnel").tables()[0]
    rows = {r["channel"]: r for r in table.rows}
    # Ordered by revenue: yandex 240 000, vk 30 000, telegram 0.
    assert [r["channel"] for r in table.rows] == ["yandex_direct", "vk_ads", "telegram"]
    ya = rows["yandex_direct"]
    assert (ya["marketing_cost"], ya["visits"], ya["leads"], ya["qualified_leads"], ya["sales"]) == (
        25000,
        4,
        3,
        2,
        2,
    )
    assert (ya["revenue"], ya["payments"]) == (240000, 150000)  # D1 150 000 + D2 90 000; P1 only
    assert ya["cpl"] == pytest.approx(25000 / 3)  # 8 333.33
    assert ya["cost_per_sale"] == 12500  # 25 000 / 2
    assert ya["romi"] == pytest.approx(8.6)  # (240 000 − 25 000) / 25 000
    vk = rows["vk_ads"]
    assert (vk["leads"], vk["qualified_leads"], vk["sales"], vk["revenue"]) == (3, 1, 1, 30000)
    assert vk["romi"] == pytest.approx(0.2)  # (30 000 − 25 000) / 25 000
    tg = rows["telegram"]
    assert (
        tg["marketing_cost"] == 5000 and tg["cost_per_sale"] is None
    )  # 5 000 / 0 sales: no value, not infinity
    assert tg["romi"] == pytest.approx(-1.0)  # (0 − 5 000) / 5 000
    total = table.total
    assert total is not None
    assert (total["marketing_cost"], total["leads"], total["sales"], total["revenue"]) == (
        55000,
        7,
        3,
        270000,
    )
    assert total["romi"] == pytest.approx(215000 / 55000)  # (270 000 − 55 000) / 55 000 = 3.909…
    assert total["cost_per_sale"] == pytest.approx(55000 / 3)


def test_headline_in_plain_words_en(reports: dict[str, ReportData]) -> None:
    lines = reports["en"].section("headline").blocks[0]
    assert isinstance(lines, Lines)
    nb = "\xa0"
    assert [(x.text, x.tone) for x in lines.items] == [
        # revenue 270 000 vs September 190 000: 270/190 − 1 = +42 %; payments P1 + P2 = 180 000; ROMI 3.909
        (
            f"Revenue RUB{nb}270,000 (+42% vs 2026-09), payments received RUB{nb}180,000, marketing cost RUB{nb}55,000, "
            "ROMI 3.91.",
            "good",
        ),
        # yandex: 240 000 / 270 000 = 88.9 % of revenue; 25 000 / 55 000 = 45.5 % of cost
        ("Yandex Direct earns 89% of revenue on 45% of the marketing cost.", "good"),
        # vk: 45.5 % of cost − 11.1 % of revenue = 34 points ≥ 10 (telegram: 9.1 − 0 < 10)
        ("VK Ads takes 45% of the marketing cost and brings 11% of revenue.", "bad"),
        # clicks 600 → 1 250 (+108 % = ×2.1), impressions 30 000 → 50 000 (+67 %); qualified leads 3 → 3
        (
            "Activity up (Clicks ×2.1, Impressions +67%) while money did not follow (Qualified leads ±0%) — "
            "compared with 2026-09.",
            "warning",
        ),
    ]


def test_headline_in_russian(reports: dict[str, ReportData]) -> None:
    lines = reports["ru"].section("headline").blocks[0]
    assert isinstance(lines, Lines)
    assert lines.items[0].text == (
        "Выручка 270\xa0000\xa0₽ (+42% к 2026-09), поступления 180\xa0000\xa0₽, "
        "маркетинговые расходы 55\xa0000\xa0₽, ROMI 3,91."
    )
    assert lines.items[1].text == "Яндекс Директ приносит 89% выручки при 45% маркетинговых расходов."


def test_money_vs_activity_months_start_with_the_first_month_of_data(reports: dict[str, ReportData]) -> None:
    rows = _rows(reports["en"], "money_vs_activity", "money_vs_activity")
    # The window is 2025-11..2026-10; the ten months before September hold nothing and are dropped.
    assert rows == [
        {
            "month": "2026-09",
            "revenue": 190000,
            "qualified_leads": 3,
            "clicks": 600,
            "impressions": 30000,
            "posts": 0,
        },
        {
            "month": "2026-10",
            "revenue": 270000,
            "qualified_leads": 3,
            "clicks": 1250,
            "impressions": 50000,
            "posts": 10,
        },
    ]


def test_activity_section_is_labelled_as_activity(reports: dict[str, ReportData]) -> None:
    s = reports["en"].section("activity")
    assert s.badge == "activity — not money"
    assert reports["ru"].section("activity").badge == "активность — не деньги"
    table = s.tables()[0]
    assert all(c.tier == "activity" for c in table.columns[1:])
    rows = {r["channel"]: r for r in table.rows}
    assert rows["vk_ads"]["ctr"] == pytest.approx(0.025)  # 1 000 / 40 000
    assert rows["vk_ads"]["cpc"] == pytest.approx(25.0)  # 25 000 / 1 000
    assert rows["telegram"]["posts"] == 10


def test_header_facts_and_section_order(reports: dict[str, ReportData]) -> None:
    data = reports["en"]
    facts = dict(data.facts)
    assert facts["Period"] == "2026-10" and facts["Currency"] == "RUB" and facts["Costs"] == "net of VAT"
    assert facts["View"].startswith("calendar")
    assert facts["Latest data"] == (
        "spend 2026-10-12 · activities 2026-10-03 · visits 2026-10-10 · leads 2026-10-10 · deals 2026-10-08 · "
        "payments 2026-10-25"
    )
    assert [s.key for s in data.sections] == [
        "headline",
        "findings",
        "funnel",
        "spend_vs_revenue",
        "money_vs_activity",
        "customers",
        "activity",
        "definitions",
    ]
    assert dict(reports["ru"].facts)["Расходы"] == "без НДС"


def test_definitions_give_each_shown_metric_its_formula_in_words(reports: dict[str, ReportData]) -> None:
    rows = {r["metric"]: r for r in reports["en"].section("definitions").tables()[0].rows}
    assert rows["CPL"]["formula"] == "Marketing cost / Leads"
    assert rows["Revenue"]["formula"] == "measured"
    assert formula_in_words("cost * 1000 / impressions", "ru") == "Расход на рекламу × 1000 / Показы"


def test_findings_and_scorecards_plug_in_as_sections(shop) -> None:
    card_table = Table(
        "contract_a",
        "Clicks contract",
        [Column.text("kpi", "KPI"), Column.metric("cpc", "en")],
        [{"kpi": "CPC", "cpc": 25.0}],
    )
    data = build_report(
        shop,
        "2026-10",
        "en",
        findings=[
            Line("vk_lookalike: CPC fell while qualified leads fell.", "bad"),
            Line("Minor thing.", "neutral"),
        ],
        scorecards=[Card("Pays for clicks", card_table, verdict=Line("Bonus paid", "bad"))],
        generated_at=dt.datetime(2026, 11, 2),
    )
    keys = [s.key for s in data.sections]
    assert keys.index("findings") == keys.index("headline") + 1
    assert keys.index("scorecards") == keys.index("activity") - 1
    # The headline repeats the first problems the diagnosis found (tone "bad"), not the minor ones.
    headline = data.section("headline").blocks[0]
    assert isinstance(headline, Lines)
    assert headline.items[-1].text.startswith("vk_lookalike") and "Minor thing." not in [
        x.text for x in headline.items
    ]
    assert isinstance(data.section("scorecards").blocks[0], Cards)
    assert card_table in data.tables()


def test_an_empty_warehouse_still_gives_a_report(make_warehouse) -> None:
    wh = make_warehouse()
    data = build_report(wh, "2026-10", "en", generated_at=dt.datetime(2026, 11, 2))
    assert data.section("funnel").tables()[0].rows == []
    assert data.section("money_vs_activity").charts() == []
    assert dict(data.facts)["Latest data"] == "no data loaded"
    headline = data.section("headline").blocks[0]
    assert (
        isinstance(headline, Lines) and len(headline.items) == 1
    )  # only the totals line: nothing to compare


def test_costs_with_vat_are_said_in_the_header(make_warehouse) -> None:
    wh = make_warehouse(
        {"spend.csv": "date,channel,campaign,impressions,clicks,cost\n2026-10-01,vk_ads,a,10,1,1000\n"},
        settings=Settings(costs_include_vat=True),
    )
    data = build_report(wh, "2026-10", "en", generated_at=dt.datetime(2026, 11, 2))
    assert dict(data.facts)["Costs"] == "including VAT"
    # 1 000 net of VAT shown with 22 % VAT (the rate from 2026-01-01): 1 220.
    assert data.section("funnel").tables()[0].total["marketing_cost"] == pytest.approx(1220)


def test_trend_period_is_twelve_months_up_to_the_period() -> None:
    assert trend_period(Period.parse("2026-10")) == Period(dt.date(2025, 11, 1), dt.date(2026, 11, 1))
    # A period longer than the window is shown whole.
    assert trend_period(Period.parse("2024-01..2026-10")).start == dt.date(2024, 1, 1)
    assert trend_period(Period.parse("2026-10-01..2026-10-15"), 3) == Period(
        dt.date(2026, 8, 1), dt.date(2026, 11, 1)
    )
    # A range of days ending on the last day of a month does not reach into the next month.
    assert trend_period(Period.parse("2026-10-02..2026-10-31")) == Period(
        dt.date(2025, 11, 1), dt.date(2026, 11, 1)
    )


def test_index_series_by_hand() -> None:
    # Base = 50 (the first non-zero): 100·50/50, 100·100/50, missing, 100·25/50.
    assert index_series([0, 50, 100, None, 25]) == [None, 100.0, 200.0, None, 50.0]
    assert index_series([0, 0]) == [None, None]


def test_relative_change() -> None:
    # From the previous period (the base) to the current one.
    assert relative_change(190000, 270000) == pytest.approx(80000 / 190000)
    assert relative_change(0, 5) is None and relative_change(3, None) is None


def test_previous_period_outside_the_trend_window_is_queried(shop) -> None:
    # A range of days: its previous period (the 30 days 2026-09-02..2026-10-01) is not made of whole months of
    # the trend, so it is queried directly. Deals won in it: D4 + D5 + D6 = 190 000; in 2026-10-02..31: D1 + D2 +
    # D3 = 270 000 as before, so +42 % again.
    data = build_report(shop, "2026-10-02..2026-10-31", "en", generated_at=dt.datetime(2026, 11, 2))
    first = data.section("headline").blocks[0]
    assert isinstance(first, Lines)
    assert "RUB\xa0270,000 (+42% vs 2026-09-02..2026-10-01)" in first.items[0].text


def test_the_report_has_a_json_twin(reports: dict[str, ReportData]) -> None:
    data = json.loads(json.dumps(reports["ru"].to_json(), allow_nan=False))  # no NaN: "no value" is null
    assert data["period"] == "2026-10" and data["lang"] == "ru"
    funnel = next(s for s in data["sections"] if s["key"] == "funnel")
    table, chart = funnel["blocks"]
    assert table["type"] == "table" and chart["type"] == "chart"
    telegram = next(r for r in table["rows"] if r["channel"] == "telegram")
    assert telegram["cost_per_sale"] is None and telegram["marketing_cost"] == 5000
    assert table["total"]["revenue"] == 270000
    assert chart["spec"] == reports["ru"].section("funnel").charts()[0].spec


def test_only_some_sections_is_the_same_headline(shop, reports: dict[str, ReportData]) -> None:
    """The dashboard's overview asks for the headline and the trend chart only: same words, fewer sections."""
    whole = reports["en"]
    part = build_report(shop, "2026-10", "en", generated_at=whole.generated_at, only=("money_vs_activity",))
    assert [s.key for s in part.sections] == ["headline", "money_vs_activity"]

    def words(data: ReportData) -> list[str]:
        return [line.text for b in data.section("headline").blocks for line in getattr(b, "items", [])]

    assert words(part) == words(whole) and words(part)
    assert [c.key for c in part.charts()] == ["money_vs_activity"]


def test_headline_says_a_channel_s_shares_once() -> None:
    """Direct earns 61 % of revenue on 77 % of the cost: one line says it; the "leak" line is not repeated."""
    import polars as pl

    from kassa.metrics.compute import MetricTable
    from kassa.period import Period
    from kassa.report.model import headline_lines

    frame = pl.DataFrame(
        {"channel": ["direct_ads", "seo"], "revenue": [61.0, 39.0], "marketing_cost": [77.0, 23.0]}
    )
    p = Period.parse("2026-10")
    table = MetricTable(
        frame, [], ["channel"], p, "calendar", total={"revenue": 100.0, "marketing_cost": 100.0}
    )
    texts = [line.text for line in headline_lines(table, {}, p.previous(), "en", "RUB")]
    assert texts[1] == "direct_ads earns 61% of revenue on 77% of the marketing cost."
    assert len(texts) == 2 and not any("takes" in t for t in texts)
    # Another channel leaking is still named.
    frame = pl.DataFrame(
        {"channel": ["direct_ads", "vk_ads"], "revenue": [90.0, 10.0], "marketing_cost": [60.0, 40.0]}
    )
    table = MetricTable(
        frame, [], ["channel"], p, "calendar", total={"revenue": 100.0, "marketing_cost": 100.0}
    )
    texts = [line.text for line in headline_lines(table, {}, p.previous(), "en", "RUB")]
    assert texts[2] == "VK Ads takes 40% of the marketing cost and brings 10% of revenue."


def test_customers_section_has_cac_per_new_customer_and_ltv_so_far(reports: dict[str, ReportData]) -> None:
    # The shop (tests/report/shop.py), October: yandex_direct acquired L1 and L2 (D1, D2: 2 new, CAC
    # 25 000 / 2, LTV 240 000 / 2 on revenue: no deal has a margin); vk_ads L6 (D3: CAC 25 000, LTV
    # 30 000); telegram sold nothing. The data end on 2026-10-25: every horizon is open.
    (section,) = [s for s in reports["en"].sections if s.key == "customers"]
    (table,) = section.blocks
    rows = {r["channel"]: r for r in table.rows}
    ya = rows["yandex_direct"]
    assert (ya["new_customers"], ya["cac"], ya["ltv"]) == (2, 12500, 120000)
    assert ya["partial"] == ["ltv", "ltv_to_cac"]
    assert (rows["vk_ads"]["cac"], rows["vk_ads"]["ltv"]) == (25000, 30000)
    assert rows["telegram"]["cac"] is None  # no new customer: "—", not 0
    from kassa.report.html import render_html

    html = render_html(reports["ru"], charts="svg")
    assert "Клиенты: новые или повторные" in html and "≥ 120\xa0000\xa0₽" in html

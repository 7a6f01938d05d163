"""Dashboard pages and their JSON twins show exactly what compute() gives for the golden company.

Hand computation of October 2026 (tests/test_metrics_golden.py has each step):
  marketing cost = ad spend net of VAT (12 200/1.22 + 2 000 = 12 000 yandex_direct, 3 000 vk_ads)
                   + telegram posts 2 000 + 3 000 = 20 000;
  revenue = D1 50 000 + D4 40 000 (won and closed in October) = 90 000;
  payments = P1 50 000 + P2 20 000 + P4 7 000 = 77 000;
  ROMI = (90 000 − 20 000) / 20 000 = 3.5; cost per sale = 20 000 / 2 sales = 10 000.
September: marketing cost 5 000 (one spend row, no VAT), no revenue.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.helpers import LOCAL

from kassa.metrics.compute import compute
from kassa.period import Period
from kassa.report.model import ACTIVITY_COLUMNS, FUNNEL_COLUMNS
from kassa.web.pages.funnel import FUNNEL_STEPS
from kassa.web.state import LOCAL_USER


def card(data: dict, name: str) -> dict:
    return next(c for c in data["cards"] if c["name"] == name)


def test_overview_json_gives_the_hand_computed_money(as_user: Callable[[str], TestClient]) -> None:
    data = as_user("olga").get("/overview.json?period=2026-10").json()
    assert data["period"] == "2026-10" and data["previous_period"] == "2026-09"
    assert card(data, "payments")["value"] == 77000
    assert card(data, "revenue")["value"] == 90000
    assert card(data, "marketing_cost")["value"] == 20000
    assert card(data, "romi")["value"] == pytest.approx(3.5)
    assert card(data, "cost_per_sale")["value"] == 10000
    cost = card(data, "marketing_cost")
    assert cost["previous"] == 5000 and cost["change"] == pytest.approx(3.0)  # 20 000 / 5 000 − 1
    # ROMI of September is −1 (cost, no revenue): a percentage change from a negative base means nothing.
    assert card(data, "romi")["previous"] == pytest.approx(-1.0) and card(data, "romi")["change"] is None
    assert [c["tier"] for c in data["cards"]] == ["outcome"] * 5


def test_overview_headline_and_chart_come_from_the_report(as_user: Callable[[str], TestClient]) -> None:
    data = as_user("olga").get("/overview.json?period=2026-10").json()
    texts = [line["text"] for line in data["headline"]]
    assert (
        texts[0]
        == "Revenue RUB\xa090,000, payments received RUB\xa077,000, marketing cost RUB\xa020,000, ROMI 3.50."
    )
    # yandex_direct: 90 000 of 90 000 revenue on 12 000 of 20 000 cost = 100 % on 60 %.
    assert "Yandex Direct earns 100% of revenue on 60% of the marketing cost." in texts
    (chart,) = data["charts"]
    assert chart["key"] == "money_vs_activity" and "$schema" in chart["spec"]


def test_accept_header_gives_the_same_json(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("ivan")
    by_suffix = client.get("/channels.json?period=2026-10").json()
    by_accept = client.get("/channels?period=2026-10", headers={"Accept": "application/json"}).json()
    assert by_suffix == by_accept


def test_channels_match_compute(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    data = as_user("olga").get("/channels.json?period=2026-10").json()
    # compute() on the dashboard's own open warehouse (it is the file's single writer).
    expected = compute(app.state.dashboard.wh, None, "channel", "2026-10")
    rows = {r["channel"]: r for r in data["rows"]}
    assert set(rows) == set(expected.frame["channel"])
    for r in expected.frame.to_dicts():
        for k in (*FUNNEL_COLUMNS, *ACTIVITY_COLUMNS):
            assert rows[r["channel"]][k] == pytest.approx(r[k]), (r["channel"], k)
    assert data["total"]["marketing_cost"] == 20000 and data["total"]["revenue"] == 90000
    # Sorted by revenue: yandex_direct (90 000) first.
    assert data["rows"][0]["channel"] == "yandex_direct"
    assert [c["key"] for c in data["activity_columns"]] == list(ACTIVITY_COLUMNS)


def test_drill_down_to_campaigns(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("mark")
    data = client.get("/channels/yandex_direct.json?period=2026-10").json()
    assert data["by"] == ["channel", "campaign"] and data["channel"] == "yandex_direct"
    camp = {r["campaign"]: r for r in data["rows"]}
    # ya_search: 12 200/1.22 + 2 000 = 12 000 of cost, 3 000 impressions, 120 clicks, CPC 12 000/120 = 100.
    assert (
        camp["ya_search"]["cost"] == 12000
        and camp["ya_search"]["clicks"] == 120
        and camp["ya_search"]["cpc"] == 100
    )
    assert all(r["channel"] == "yandex_direct" for r in data["rows"])
    page = client.get("/channels/yandex_direct?period=2026-10")
    assert page.status_code == 200 and 'data-key="ya_search"' in page.text and "RUB\xa012,000" in page.text


def test_channels_page_separates_activity_and_links_to_campaigns(
    as_user: Callable[[str], TestClient],
) -> None:
    html = as_user("ivan").get("/channels?period=2026-10").text
    funnel, activity = html.split('<table id="funnel" class="sortable">')[1].split(
        '<table id="activity" class="sortable">'
    )
    assert 'data-metric="clicks"' not in funnel and 'data-metric="clicks"' in activity
    assert "activity — not money" in html
    assert 'href="/channels/yandex_direct?period=2026-10"' in html


def test_period_switch(as_user: Callable[[str], TestClient]) -> None:
    data = as_user("olga").get("/overview.json?period=2026-09").json()
    assert card(data, "marketing_cost")["value"] == 5000 and card(data, "revenue")["value"] == 0


def test_language_switch_formats_numbers_per_locale(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("olga")
    en = client.get("/overview?period=2026-10").text
    ru = client.get("/overview?period=2026-10&lang=ru").text
    assert "RUB\xa020,000" in en and "Marketing cost" in en
    assert "20\xa0000\xa0₽" in ru and "Маркетинговые расходы" in ru and "Обзор" in ru
    assert '<html lang="ru">' in ru


def test_chart_script_is_served_locally(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("olga")
    html = client.get("/overview?period=2026-10").text
    assert '<script src="/static/vega.js"></script>' in html
    assert (
        "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html.split("<main>")[0]
    )
    js = client.get("/static/vega.js")
    assert js.status_code == 200 and "vegaEmbed" in js.text


def test_bad_period_and_language_are_clear_errors(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("olga")
    r = client.get("/overview.json?period=October")
    assert r.status_code == 400 and "October" in r.json()["error"]
    r = client.get("/channels.json?lang=de")
    assert r.status_code == 400 and r.json()["error"] == "Unknown language de; use one of en, ru."


def test_default_period_is_the_latest_month_with_data(open_app: FastAPI) -> None:
    # Latest spend 2026-10-05, latest lead 2026-10-06, latest deal 2026-10-07: October.
    assert TestClient(open_app, base_url=LOCAL).get("/overview.json").json()["period"] == "2026-10"


def test_funnel_page_is_stage_by_stage(as_user: Callable[[str], TestClient], app: FastAPI) -> None:
    client = as_user("ivan")
    data = client.get("/funnel.json?period=2026-10").json()
    steps = [c["key"] for c in data["columns"]]
    assert steps == list(FUNNEL_STEPS)
    expected = compute(app.state.dashboard.wh, steps, "channel", "2026-10")
    before = compute(app.state.dashboard.wh, steps, "channel", "2026-09")
    old = {r["channel"]: r for r in before.frame.to_dicts()}
    rows = {r["channel"]: r["steps"] for r in data["rows"]}
    assert set(rows) == set(expected.frame["channel"].to_list())
    for r in expected.frame.to_dicts():
        for k in steps:
            assert rows[r["channel"]][k]["value"] == pytest.approx(r[k]), (r["channel"], k)
            was = old.get(r["channel"], {}).get(k)
            assert rows[r["channel"]][k]["previous"] == pytest.approx(was), (r["channel"], k)
    # Total: 6 leads, 4 qualified, 2 sales: lead → qualified 4 / 6, qualified → sale 2 / 4.
    total = data["total"]["steps"]
    assert (
        total["leads"]["value"] == 6
        and total["qualified_leads"]["value"] == 4
        and total["sales"]["value"] == 2
    )
    assert total["lead_to_qualified"]["value"] == pytest.approx(4 / 6)
    assert total["qualified_to_sale"]["value"] == pytest.approx(0.5)
    # Who answers for each conversion step (kassa.diagnose.funnel.STAGES).
    owners = {c["key"]: c["owner"] for c in data["columns"] if c["owner"]}
    assert owners == {
        "visit_to_lead": "marketing",
        "lead_to_qualified": "marketing",
        "qualified_to_sale": "sales",
        "average_check": "product_price",
    }
    assert [c["key"] for c in data["charts"]] == ["funnel"]
    html = client.get("/funnel?period=2026-10&lang=ru").text
    assert "Воронка" in html and 'data-metric="lead_to_qualified"' in html


def test_pages_follow_a_new_import(as_user: Callable[[str], TestClient], app: FastAPI, tmp_path) -> None:
    client = as_user("olga")
    before = client.get("/overview.json?period=2026-10").json()
    assert card(before, "marketing_cost")["value"] == 20000
    extra = tmp_path / "extra_spend.csv"
    extra.write_text("date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_new,100,5,1000\n")
    dash = app.state.dashboard
    with dash.lock:  # the dashboard is the single writer; imports go through its warehouse
        dash.wh.import_files([extra], strict=True)
    after = client.get("/overview.json?period=2026-10").json()
    # 20 000 + 1 000 of new vk_ads spend; ROMI (90 000 − 21 000) / 21 000 = 3.2857…
    assert card(after, "marketing_cost")["value"] == 21000
    assert card(after, "romi")["value"] == pytest.approx(69000 / 21000)
    assert "marketing cost RUB\xa021,000" in after["headline"][0]["text"]


def test_data_page_lists_the_imports(as_user: Callable[[str], TestClient]) -> None:
    viewer = as_user("ivan").get("/data.json").json()
    files = {b["file"].rsplit("/", 1)[-1]: b for b in viewer["batches"]}
    assert set(files) == {
        "spend.csv",
        "activities.csv",
        "visits.csv",
        "leads.csv",
        "deals.csv",
        "payments.csv",
    }
    # tests/golden_data.py: 4 spend rows (one in September), 9 visits, 7 leads, 5 deals, 4 payments.
    assert {f: b["rows_loaded"] for f, b in files.items()} == {
        "spend.csv": 4,
        "activities.csv": 3,
        "visits.csv": 9,
        "leads.csv": 7,
        "deals.csv": 5,
        "payments.csv": 4,
    }
    assert all(b["rows_rejected"] == 0 and b["undone_at"] is None for b in viewer["batches"])
    assert viewer["can_upload"] is False and as_user("mark").get("/data.json").json()["can_upload"] is True
    html = as_user("olga").get("/data?lang=ru").text
    assert "Загруженные файлы" in html and 'data-key="' in html


def test_downloads_the_report_and_the_channel_table(
    as_user: Callable[[str], TestClient], app: FastAPI
) -> None:
    client = as_user("ivan")
    html = client.get("/report.html?period=2026-10&lang=ru")
    assert html.status_code == 200 and "<html" in html.text and "2026-10" in html.text
    xlsx = client.get("/report.xlsx?period=2026-10")
    assert xlsx.status_code == 200 and xlsx.content[:4] == b"PK\x03\x04"
    assert xlsx.headers["content-disposition"].startswith('attachment; filename="kassa-2026-10.xlsx"')
    lines = client.get("/channels.csv?period=2026-10").text.splitlines()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    expected = compute(app.state.dashboard.wh, None, "channel", "2026-10").frame
    assert sorted(r[0] for r in rows) == sorted(expected["channel"].to_list())
    i = header.index("revenue")
    assert sum(float(r[i] or 0) for r in rows) == pytest.approx(90000)  # the golden October revenue


@pytest.mark.slow  # builds 13 months of overviews: ~8 s
def test_warm_up_builds_the_latest_months_and_lets_visitors_first(app: FastAPI) -> None:
    dash = app.state.dashboard
    assert dash.warm(months=2) == 4  # October and September, in English and Russian
    assert dash.warmed == 4
    # A visitor waiting for the lock goes before the warm-up's next page: while the warm-up builds the
    # other months, a visitor's page waits for at most the one page being built when it asked.
    thread = dash.warm_in_background()
    while dash.warmed < 5 and thread.is_alive():
        time.sleep(0.01)
    before = dash.warmed
    dash.overview(LOCAL_USER, Period.parse("2026-10-01..2026-10-15"), "en")
    assert dash.warmed <= before + 1
    dash.generation += 1  # a write: the warm-up stops (its pages would be stale)
    thread.join(timeout=60)
    assert not thread.is_alive() and dash.warmed < 4 + 26

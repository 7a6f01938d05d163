"""Figures that are not exact say so on every surface: "≈" for a share of a whole-period report the period
cuts, "≥ … + 22.88 USD" for a total lacking amounts without an exchange rate.

Golden by hand. A Meta whole-period report gives campaign 111 one row over March 2026: 3 100.00 ₽,
31 000 impressions, 310 clicks, spread as 100 ₽, 1 000 impressions and 10 clicks a day. Yandex Direct's
campaign ``y`` has a day row on 5 March: 500 ₽, 100 impressions, 10 clicks, and one lead.

* March: the Meta row is whole in it: 3 100 ₽ exact, nothing marked, no warning.
* 1–10 March: Meta shows 10 of 31 days, 1 000 ₽ ≈ (and its clicks, CPC, … ≈); Yandex's 500 ₽ exact; the
  total 1 500 ₽ ≈ and its CPL 1 500 ₽ (1 500 ₽ / 1 lead) ≈ because its cost is; Yandex's CPL 500 ₽ exact.

The incomplete case is tests/test_fx_incomplete.py's: 451 000 ₽ of Direct and 22.88 USD of Meta spend in
October 2026 with no USD rate: marketing cost ≥ 451 000 ₽ + 22.88 USD; ROMI has no value ("?").
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from tests.kassa_cli import run_kassa
from tests.test_fx_incomplete import FILES as NO_RATE_FILES
from tests.web.helpers import LOCAL

from kassa.metrics.compute import compute
from kassa.report.digest import build_digest
from kassa.report.html import render_html
from kassa.report.model import build_report
from kassa.report.xlsx import render_xlsx
from kassa.web import create_app

FILES = {
    "meta.csv": """
    Reporting starts,Reporting ends,Campaign name,Campaign ID,Impressions,Reach,Link clicks,Amount spent (RUB)
    2026-03-01,2026-03-31,Spring,111,31000,9000,310,3100.00
    """,
    "spend.csv": """
    date,channel,campaign,impressions,clicks,cost,currency
    2026-03-05,yandex_direct,y,100,10,500,RUB
    """,
    "leads.csv": """
    lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status
    L1,2026-03-05,c,yandex,cpc,y,new
    """,
}
CUT = "2026-03-01..2026-03-10"
WARNING = (
    "1 spend row(s) of whole-period reports cut by this period: figures marked ≈ are a day-prorated share "
    "(import a report segmented by day for exact figures)"
)
METRICS = ["marketing_cost", "cost", "clicks", "leads", "cpl", "cpc"]
ESTIMATE_TITLE = "An estimate: a day-prorated share of a whole-period report that this period cuts."


@pytest.fixture(autouse=True)
def _verify_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cut rows' query is kept under a key like every other: a key that forgot the period would fail here.
    monkeypatch.setenv("KASSA_VERIFY_COMPILED", "1")


def _closed(make_warehouse, files=FILES, name: str = "w.duckdb") -> Path:
    wh = make_warehouse(files, name=name)
    path = wh.path
    wh.close()
    return path


def test_a_period_that_contains_the_report_row_is_exact(make_warehouse):
    table = compute(make_warehouse(FILES), METRICS, "campaign", "2026-03")
    rows = {r["campaign"]: r for r in table.rows()}
    assert rows["111"]["cost"] == pytest.approx(3100) and rows["111"]["clicks"] == 310
    assert table.estimated() == set() and all(table.estimated(r) == set() for r in table.rows())
    assert table.warnings == []
    js = table.to_json()
    assert all("estimated" not in r for r in [*js["rows"], js["total"]])


def test_a_period_that_cuts_it_marks_the_share_and_what_depends_on_it(make_warehouse):
    table = compute(make_warehouse(FILES), METRICS, "campaign", CUT)
    rows = {r["campaign"]: r for r in table.rows()}
    meta, direct = rows["111"], rows["y"]
    assert (meta["cost"], meta["clicks"], meta["cpc"]) == (pytest.approx(1000), 100, pytest.approx(10))
    # CPL of Meta has no value (no lead): nothing to mark; leads come from no spend row.
    assert table.estimated(meta) == {"marketing_cost", "cost", "clicks", "cpc"}
    assert table.estimated(direct) == set() and direct["cpl"] == pytest.approx(500)
    assert table.total["cpl"] == pytest.approx(1500)
    assert table.estimated() == {"marketing_cost", "cost", "clicks", "cpl", "cpc"}
    assert table.warnings == [WARNING]
    js = table.to_json()
    assert js["total"]["estimated"] == ["marketing_cost", "cost", "clicks", "cpl", "cpc"]
    assert js["total"]["marketing_cost"] == pytest.approx(1500)  # an estimate keeps its number
    by_campaign = {r["campaign"]: r for r in js["rows"]}
    assert "estimated" not in by_campaign["y"]
    assert by_campaign["111"]["estimated"] == ["marketing_cost", "cost", "clicks", "cpc"]


def test_a_month_of_a_row_over_two_months_is_an_estimate_the_two_months_are_not(make_warehouse):
    # 1 000 ₽ over 25 March – 3 April (10 days): March shows 700 ₽ ≈, April 300 ₽ ≈, the two months 1 000 ₽.
    files = {
        "meta.csv": """
        Reporting starts,Reporting ends,Campaign name,Campaign ID,Impressions,Reach,Link clicks,Amount spent (RUB)
        2026-03-25,2026-04-03,Spring,111,1000,500,10,1000.00
        """
    }
    table = compute(make_warehouse(files), ["cost"], "month", "2026-03..2026-04")
    months = {r["month"]: r for r in table.rows()}
    assert (months["2026-03"]["cost"], months["2026-04"]["cost"]) == (pytest.approx(700), pytest.approx(300))
    assert table.estimated(months["2026-03"]) == {"cost"} == table.estimated(months["2026-04"])
    assert table.total["cost"] == pytest.approx(1000) and table.estimated() == set()
    assert table.warnings == [WARNING.replace("by this period", "by this period or its months")]
    assert compute(make_warehouse(files), ["cost"], None, "2026-03..2026-04").estimated() == set()


def test_terminal_and_json(make_warehouse):
    path = _closed(make_warehouse)
    env = {"COLUMNS": "200"}
    res = run_kassa("metrics", "--db", path, "--period", CUT, "--by", "campaign", "--lang", "ru", env=env)
    assert res.returncode == 0, res.stderr
    out = res.stdout.replace("\xa0", " ")
    assert "≈ 1 000 ₽" in out and "≈ 1 500 ₽" in out  # Meta's cost; the total's cost and CPL
    direct = next(line for line in out.splitlines() if line.startswith("Яндекс Директ"))
    assert "≈" not in direct and "500 ₽" in direct
    assert out.count("≈: доля отчёта за весь период") == 1  # the footnote, once
    exact = run_kassa("metrics", "--db", path, "--period", "2026-03", "--by", "campaign", env=env)
    assert exact.returncode == 0 and "≈" not in exact.stdout and "3,100" in exact.stdout
    money = run_kassa("money", "--db", path, "--period", CUT, env=env)
    assert money.returncode == 0, money.stderr
    assert "≈ RUB 1,500" in money.stdout.replace("\xa0", " ")
    js = json.loads(run_kassa("metrics", "--db", path, "--period", CUT, "--json").stdout)
    assert "cpl" in js["total"]["estimated"] and WARNING in js["warnings"]
    rows = list(csv.reader(io.StringIO(run_kassa("metrics", "--db", path, "--period", CUT, "--csv").stdout)))
    header, meta = rows[0], next(r for r in rows if r[0] == "meta_ads")
    assert header[-2:] == ["estimated", "incomplete"]
    assert float(meta[header.index("cost")]) == pytest.approx(1000)  # a number, not "≈ 1000"
    assert "cost" in meta[-2].split() and meta[-1] == ""


def _xlsx_funnel(tmp_path: Path, data) -> dict[str, dict[str, openpyxl.cell.Cell]]:
    """The funnel sheet as row label -> column header -> cell."""
    out = render_xlsx(data, tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(out)["Funnel"]
    header = [c.value for c in ws[1]]
    return {str(r[0].value): dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2) if r[0].value}


def test_report_html_and_xlsx_mark_the_estimate(make_warehouse, tmp_path):
    data = build_report(make_warehouse(FILES), CUT, diagnosis=False)
    html = render_html(data).replace("\xa0", " ")
    assert f'<span class="estimated" title="{ESTIMATE_TITLE}' in html
    assert '">≈ RUB 1,000</span>' in html and '">≈ RUB 1,500</span>' in html
    funnel = data.section("funnel").tables()[0]
    assert funnel.total is not None and "cpl" in funnel.total["estimated"]
    sheet = _xlsx_funnel(tmp_path, data)
    cost = sheet["Meta"]["Marketing cost"]
    assert cost.value == pytest.approx(1000) and cost.comment.text.startswith("≈ An estimate")
    assert sheet["Yandex Direct"]["Marketing cost"].comment is None
    assert sheet["Total"]["CPL"].value == pytest.approx(1500) and sheet["Total"]["CPL"].comment is not None
    exact = render_html(build_report(make_warehouse(FILES), "2026-03", diagnosis=False))
    assert 'class="estimated"' not in exact


def test_report_html_and_xlsx_mark_the_incomplete(make_warehouse, tmp_path):
    data = build_report(make_warehouse(NO_RATE_FILES), "2026-10", diagnosis=False)
    html = render_html(data).replace("\xa0", " ")
    # Before: the Meta row showed RUB 0 and the total RUB 451,000, as if the dollars were nothing.
    assert '<span class="incomplete" title="Amounts without an exchange rate' in html
    assert '">≥ RUB 451,000 + 22.88 USD</span>' in html and '">≥ RUB 0 + 22.88 USD</span>' in html
    assert '">?</span>' in html  # ROMI of the total: no bound
    sheet = _xlsx_funnel(tmp_path, data)
    total = sheet["Total"]["Marketing cost"]
    assert total.value == pytest.approx(451000) and "≥ RUB" in total.comment.text
    assert "22.88 USD" in total.comment.text
    assert sheet["Total"]["ROMI"].value is None and sheet["Total"]["ROMI"].comment is not None


def test_the_headline_and_the_digest_mark_what_their_tables_mark(make_warehouse):
    # Before: the headline said "marketing cost RUB 1,500" and "RUB 451,000", as if both were exact, while
    # the tables under it said ≈ and ≥; the digest's money block did the same.
    wh = make_warehouse(FILES)
    headline = build_report(wh, CUT, diagnosis=False).section("headline").blocks[0].items[0].text
    assert "marketing cost ≈ RUB 1,500" in headline.replace("\xa0", " "), headline
    assert "Revenue RUB 0" in headline.replace("\xa0", " ")  # revenue comes from deals: exact
    text = build_digest(wh, CUT, render=False).text().replace("\xa0", " ")
    assert "Marketing cost: ≈ RUB 1,500" in text and text.count("≈: a day-prorated share") == 1, text
    exact = build_digest(wh, "2026-03", render=False).text()
    assert "≈" not in exact
    no_rate = make_warehouse(NO_RATE_FILES, name="no_rate.duckdb")
    headline = build_report(no_rate, "2026-10", diagnosis=False).section("headline").blocks[0].items[0].text
    assert "marketing cost ≥ RUB 451,000 + 22.88 USD, ROMI ?" in headline.replace("\xa0", " "), headline
    text = build_digest(no_rate, "2026-10", render=False).text().replace("\xa0", " ")
    assert "Marketing cost: ≥ RUB 451,000 + 22.88 USD" in text, text


def test_dashboard_pages_mark_estimates_and_incomplete_figures(make_warehouse):
    cut_db = _closed(make_warehouse)
    app = create_app(cut_db, users_required=False, warm=False)
    try:
        client = TestClient(app, base_url=LOCAL)
        channels = client.get(f"/channels.json?period={CUT}").json()
        rows = {r["channel"]: r for r in channels["rows"]}
        assert "marketing_cost" in rows["meta_ads"]["estimated"] and "estimated" not in rows["yandex_direct"]
        assert "cpl" in channels["total"]["estimated"]
        page = client.get(f"/channels?period={CUT}").text.replace("\xa0", " ")
        assert f'<span class="estimated" title="{ESTIMATE_TITLE}' in page and "≈ RUB 1,000" in page
        cards = {c["name"]: c for c in client.get(f"/overview.json?period={CUT}").json()["cards"]}
        assert cards["marketing_cost"]["estimated"] and not cards["revenue"]["estimated"]
        assert "≈ RUB 1,500" in client.get(f"/overview?period={CUT}").text.replace("\xa0", " ")
        table = list(csv.reader(io.StringIO(client.get(f"/channels.csv?period={CUT}").text)))
        meta = next(r for r in table if r[0] == "meta_ads")
        assert float(meta[table[0].index("marketing_cost")]) == pytest.approx(1000)
        assert "marketing_cost" in meta[table[0].index("estimated")].split()
        assert "≈" not in client.get("/channels?period=2026-03").text
        assert client.get(f"/funnel?period={CUT}").status_code == 200
    finally:
        app.state.dashboard.close()
    no_rate_db = _closed(make_warehouse, NO_RATE_FILES, "no_rate.duckdb")
    app = create_app(no_rate_db, users_required=False, warm=False)
    try:
        client = TestClient(app, base_url=LOCAL)
        page = client.get("/channels?period=2026-10").text.replace("\xa0", " ")
        assert '<span class="incomplete"' in page and "≥ RUB 451,000 + 22.88 USD" in page
        cards = {c["name"]: c for c in client.get("/overview.json?period=2026-10").json()["cards"]}
        assert cards["marketing_cost"]["incomplete"]["without_rate"] == {"USD": 22.88}
        assert cards["marketing_cost"]["value"] is None and cards["romi"]["incomplete"]["known"] is None
        assert "≥ RUB 451,000 + 22.88 USD" in client.get("/overview?period=2026-10").text.replace("\xa0", " ")
    finally:
        app.state.dashboard.close()

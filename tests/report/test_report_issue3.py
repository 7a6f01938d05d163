"""Issue 3 in the report: the diagnosis findings and KPI scorecards, through their layers' public functions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from tests.report.shop import PAYS_FOR_CLICKS, PAYS_FOR_MONEY

from kassa.diagnose import run
from kassa.kpi import parse_contract
from kassa.report.html import render_html
from kassa.report.model import Cards, Lines, ReportData, Table, build_report, finding_lines
from kassa.report.xlsx import render_xlsx
from kassa.store import Warehouse

NB = "\xa0"


@pytest.fixture(scope="module")
def scored(shop: Warehouse) -> dict[str, ReportData]:
    contracts = [parse_contract(PAYS_FOR_CLICKS, "clicks.yaml"), parse_contract(PAYS_FOR_MONEY, "money.yaml")]
    return {
        lang: build_report(
            shop, "2026-10", lang, diagnosis=False, contracts=contracts, generated_at=dt.datetime(2026, 11, 2)
        )
        for lang in ("en", "ru")
    }


def test_findings_come_from_the_diagnosis(shop: Warehouse, reports: dict[str, ReportData]) -> None:
    diagnosis = run(shop, "2026-10", lang="en")
    section = reports["en"].section("findings")
    assert section.intro == (
        f"Compared with 2026-09: {len(diagnosis.significant)} finding(s) stand out from noise, "
        f"{len(diagnosis.noise)} more could be noise."
    )
    lines = section.blocks[0]
    assert isinstance(lines, Lines)
    assert [x.text for x in lines.items] == [
        f"{f.title}: {f.message}" for f in diagnosis.significant + diagnosis.noise
    ]
    assert [s.key for s in reports["en"].sections].index("findings") == 1  # right after the headline


def test_significant_findings_are_problems_and_say_whose_side(shop: Warehouse) -> None:
    diagnosis = run(shop, "2026-10", lang="ru")
    assert diagnosis.findings, "the shop's October should give the diagnosis something to say"
    # Mark the first finding as standing out from noise, to see how such a line reads.
    first = dataclasses.replace(diagnosis.findings[0], significant=True)
    sure = dataclasses.replace(diagnosis, findings=[first, *diagnosis.findings[1:]])
    lines = finding_lines(sure, "ru")
    assert lines[0].tone == "bad" and lines[0].detail.startswith("этап: ") and "чья зона: " in lines[0].detail
    assert all(x.tone == "neutral" for x in lines[1:])


def test_headline_repeats_significant_findings_only(shop: Warehouse, reports: dict[str, ReportData]) -> None:
    headline = reports["en"].section("headline").blocks[0]
    assert isinstance(headline, Lines)
    significant = [f"{f.title}: {f.message}" for f in run(shop, "2026-10").significant][:2]
    assert [
        x.text for x in headline.items[4:]
    ] == significant  # after the four lines of tests/report/test_report_model


def test_no_diagnosis_leaves_the_section_out(scored: dict[str, ReportData]) -> None:
    assert "findings" not in [s.key for s in scored["en"].sections]


def test_scorecards_side_by_side_by_hand(scored: dict[str, ReportData]) -> None:
    section = scored["en"].section("scorecards")
    compared, cards = section.blocks
    assert isinstance(compared, Table) and isinstance(cards, Cards)
    assert compared.rows == [
        # clicks 1 250 / 1 000 = 1.25 → cap 1; CTR 1 250 / 50 000 = 2.5 % / 2 % = 1.25 → cap 1: S = 0.5 + 0.5 = 1;
        # the CTR gate (≥ 1 %) passes: bonus 50 000 × 1
        {
            "contract": "Pays for clicks",
            "activity": 1.0,
            "intermediate": 0.0,
            "outcome": 0.0,
            "score": 1.0,
            "bonus": 50000.0,
        },
        # qualified leads 3 / 6 = 0.5; revenue 270 000 / 300 000 = 0.9: S = 0.5 × 0.5 + 0.5 × 0.9 = 0.70;
        # ROMI 3.91 ≥ 1 passes: bonus 50 000 × 0.70 = 35 000
        {
            "contract": "Pays for money",
            "activity": 0.0,
            "intermediate": 0.5,
            "outcome": 0.5,
            "score": pytest.approx(0.7),
            "bonus": pytest.approx(35000),
        },
    ]
    clicks, money = cards.cards
    assert clicks.subtitle == "Pays for: activity 100%"
    assert clicks.verdict is not None and clicks.verdict.tone == "bad"  # a full bonus for turning the wheel
    assert clicks.verdict.text == f"Score 100%: bonus RUB{NB}50,000 of RUB{NB}50,000"
    assert money.subtitle == "Pays for: intermediate 50%, outcome 50%"
    assert money.verdict is not None and money.verdict.tone == "neutral"
    assert money.verdict.text == f"Score 70%: bonus RUB{NB}35,000 of RUB{NB}50,000"
    rows = {r["kpi"]: r for r in money.table.rows}
    assert rows["Revenue"]["fact"] == 270000 and rows["Revenue"]["attainment"] == pytest.approx(0.9)
    assert money.table.total == {"weight": 1.0, "contribution": pytest.approx(0.7)}


def test_scorecards_in_html_and_xlsx(scored: dict[str, ReportData], tmp_path: Path) -> None:
    html = render_html(scored["ru"], charts="svg")
    assert f"Оценка 70%: премия 35{NB}000{NB}₽ из 50{NB}000{NB}₽" in html
    assert "Платит за: активность 100%" in html
    # A scorecard's targets differ in unit per row: CTR as a percent, revenue in rubles.
    assert f'<td class="num" data-col="target">300{NB}000{NB}₽</td>' in html
    assert '<td class="num" data-col="target">2,0%</td>' in html
    book = openpyxl.load_workbook(render_xlsx(scored["en"], tmp_path / "k.xlsx"))
    assert book.sheetnames == [
        "Summary",
        "Funnel",
        "By month",
        "Customers",
        "Contracts",
        "Pays for clicks",
        "Pays for money",
        "Activity",
        "Definitions",
    ]
    ws = book["Pays for clicks"]
    header = [c.value for c in ws[1]]
    ctr = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "CTR")
    target = ctr[header.index("Target")]
    assert target.value == 0.02 and target.number_format == "0.0%"
    money = book["Pays for money"]
    revenue = next(r for r in money.iter_rows(min_row=2) if r[0].value == "Revenue")
    assert revenue[header.index("Target")].number_format == '"RUB "#,##0'
    compared = book["Contracts"]
    assert [c.value for c in compared[3]][:1] == ["Pays for money"] and compared["F3"].value == pytest.approx(
        35000
    )

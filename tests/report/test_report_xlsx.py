"""The spreadsheet: the same tables as the HTML, numbers as numbers with formats, header rows frozen."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from kassa.report.model import ReportData
from kassa.report.xlsx import number_formats, render_xlsx, sheet_name


@pytest.fixture(scope="module")
def books(
    reports: dict[str, ReportData], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, openpyxl.Workbook]:
    folder = tmp_path_factory.mktemp("xlsx")
    return {
        lang: openpyxl.load_workbook(render_xlsx(reports[lang], folder / f"r-{lang}.xlsx"))
        for lang in ("en", "ru")
    }


def _rows(ws) -> list[list[object]]:  # noqa: ANN001 - openpyxl worksheet
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_a_sheet_per_table_after_the_summary(
    books: dict[str, openpyxl.Workbook], reports: dict[str, ReportData]
) -> None:
    assert books["en"].sheetnames == ["Summary", "Funnel", "By month", "Customers", "Activity", "Definitions"]
    assert books["ru"].sheetnames == [
        "Сводка",
        "Воронка",
        "По месяцам",
        "Клиенты",
        "Активность",
        "Определения",
    ]
    assert len(books["en"].sheetnames) == 1 + len(reports["en"].tables())


def test_funnel_sheet_holds_the_same_numbers_as_numbers(books: dict[str, openpyxl.Workbook]) -> None:
    ws = books["en"]["Funnel"]
    rows = _rows(ws)
    assert rows[0][0] == "Channel" and rows[0][-1] == "ROMI"
    ya = rows[1]
    assert ya[:8] == ["Yandex Direct", 25000, 4, 3, 2, 2, 240000, 150000]
    assert ya[8] == pytest.approx(25000 / 3) and ya[9] == 12500 and ya[10] == pytest.approx(8.6)
    tg = rows[3]
    assert tg[0] == "Telegram" and tg[9] is None  # no sale: the cell is empty, not 0
    total = rows[4]
    assert (
        total[0] == "Total"
        and total[1] == 55000
        and total[6] == 270000
        and total[10] == pytest.approx(215000 / 55000)
    )
    assert ws.freeze_panes == "A2"
    assert ws["B2"].number_format == '"RUB "#,##0' and ws["C2"].number_format == "#,##0"
    assert ws["K2"].number_format == "0.00" and ws["B5"].font.b


def test_formats_per_language(books: dict[str, openpyxl.Workbook]) -> None:
    ws = books["ru"]["Воронка"]
    assert ws["A1"].value == "Канал" and ws["B2"].value == 25000
    assert ws["B2"].number_format == '#,##0 "₽"'
    act = books["ru"]["Активность"]
    header = [c.value for c in act[1]]
    ctr = header.index("CTR (активность)")
    assert act.cell(row=3, column=ctr + 1).value == pytest.approx(0.025)  # vk_ads: 1 000 / 40 000
    assert act.cell(row=3, column=ctr + 1).number_format == "0.0%"


def test_summary_sheet_has_the_header_and_the_headline(books: dict[str, openpyxl.Workbook]) -> None:
    cells = [v for row in _rows(books["en"]["Summary"]) for v in row if v is not None]
    assert "Period" in cells and "2026-10" in cells and "net of VAT" in cells
    assert any(str(v).startswith("Yandex Direct earns 89% of revenue") for v in cells)


def test_month_sheet_matches_the_trend_table(books: dict[str, openpyxl.Workbook]) -> None:
    rows = _rows(books["en"]["By month"])
    assert rows[0] == [
        "Month",
        "Revenue",
        "Qualified leads",
        "Clicks (activity)",
        "Impressions (activity)",
        "Publications (activity)",
    ]
    assert rows[1:3] == [["2026-09", 190000, 3, 600, 30000, 0], ["2026-10", 270000, 3, 1250, 50000, 10]]


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_name("Money: where? [all]", taken) == "Money  where   all"
    assert sheet_name("x" * 40, taken) == "x" * 31
    assert sheet_name("x" * 40, taken) == "x" * 27 + " (2)"
    assert (
        sheet_name("MONEY  WHERE   ALL", taken) == "MONEY  WHERE   ALL (2)"
    )  # Excel compares names case-blind


def test_number_formats() -> None:
    assert number_formats("en", "USD")["money"] == '"$ "#,##0'
    assert number_formats("ru", "RUB")["money_cents"] == '#,##0.00 "₽"'


def test_cpc_under_a_hundred_keeps_kopecks(tmp_path: Path, make_warehouse) -> None:
    from kassa.report.model import build_report

    wh = make_warehouse(
        {"spend.csv": "date,channel,campaign,impressions,clicks,cost\n2026-10-01,vk_ads,a,100,8,100\n"}
    )
    path = render_xlsx(build_report(wh, "2026-10", "en"), tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(path)["Activity"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("CPC (activity)") + 1)
    assert cell.value == 12.5 and cell.number_format == '"RUB "#,##0.00'  # 100 / 8


def test_ltv_so_far_is_marked_as_the_page_marks_it(
    books: dict[str, openpyxl.Workbook], reports: dict[str, ReportData]
) -> None:
    # The shop's October customers are young: their horizon is open, so LTV is a lower bound ("≥"),
    # which the cell shows in its number format (it stays a number) and explains in a comment.
    table = next(t for t in reports["en"].tables() if t.key == "customers")
    marked = [r for r in table.rows if "ltv" in (r.get("partial") or ())]
    assert marked, "the shop has no cohort with an open horizon: the test would prove nothing"
    for lang, comment in (("en", "≥ So far:"), ("ru", "≥ Пока:")):
        keys = [t.key for t in reports[lang].tables()]
        ws = books[lang].worksheets[keys.index("customers") + 1]  # after the summary, a sheet per table
        col = [c.key for c in table.columns].index("ltv") + 1
        assert (
            ws.cell(row=1, column=col).value
            == reports[lang].tables()[keys.index("customers")].column("ltv").label
        )
        for i, r in enumerate(table.rows, start=2):
            cell = ws.cell(row=i, column=col)
            if "ltv" in (r.get("partial") or ()):
                assert isinstance(cell.value, float | int) and cell.value == pytest.approx(r["ltv"])
                assert cell.number_format.startswith('"≥ "'), cell.number_format
                assert cell.comment is not None and cell.comment.text.startswith(comment)
            else:
                assert not str(cell.number_format).startswith('"≥ "') and cell.comment is None

"""The month-end report's "Plan vs fact": shown when a plan of the month was saved, and only then."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from tests.kpi.plan_data import STEADY, company

from kassa.errors import ConfigError
from kassa.kpi.plan import make_plan
from kassa.kpi.plan_saved import PlanFolder
from kassa.period import Period
from kassa.report.html import render_html
from kassa.report.model import build_report
from kassa.report.xlsx import render_xlsx
from kassa.store import Warehouse


def test_plan_vs_fact_of_a_month_that_did_its_plan(
    make_warehouse: Callable[..., Warehouse], tmp_path: Path
) -> None:
    """The steady company's October planned from July-September with October's actual revenue (75 000):
    every figure of the plan is what October did, so each row is 100 % done."""
    wh = make_warehouse(company(STEADY))
    PlanFolder.for_db(wh.path).save(make_plan(wh, 75_000, "2026-10"))
    report = build_report(wh, "2026-10", diagnosis=False)
    (section,) = [s for s in report.sections if s.key == "plan_vs_fact"]
    (table,) = section.tables()
    rows = {(r["channel"], r["figure"]): r for r in table.rows}
    assert rows[("Yandex Direct", "Qualified leads")]["plan"] == pytest.approx(15)
    assert rows[("Yandex Direct", "Budget")]["fact"] == pytest.approx(30_000)
    assert rows[("Total", "Revenue")]["plan"] == pytest.approx(75_000)
    assert all(r["done"] == pytest.approx(1.0) for r in table.rows), table.rows
    assert [s.key for s in report.sections].index("plan_vs_fact") < [s.key for s in report.sections].index(
        "activity"
    )
    assert "Plan vs fact" in render_html(report)
    book = openpyxl.load_workbook(render_xlsx(report, tmp_path / "r.xlsx"))
    assert "Plan vs fact" in book.sheetnames
    # No plan saved for September: no section.
    assert "plan_vs_fact" not in [s.key for s in build_report(wh, "2026-09", diagnosis=False).sections]
    ru = build_report(wh, "2026-10", "ru", diagnosis=False)
    assert "План и факт" in [s.title for s in ru.sections]


def test_a_saved_plan_edited_wrong_is_named(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = make_warehouse(company(STEADY))
    folder = PlanFolder.for_db(wh.path)
    path = folder.save(make_plan(wh, 75_000, "2026-10"))
    path.write_text(
        path.read_text(encoding="utf-8").replace("target: 75000.0", "target: -1"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"2026-10\.yaml:2: field target"):
        folder.read(Period.parse("2026-10"))

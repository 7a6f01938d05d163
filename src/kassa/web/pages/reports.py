"""The month-end report as a download: ``/report.html`` (charts drawn by the served Vega, works offline)
and ``/report.xlsx``, as ``kassa report`` writes them. Not for an agency: the report is the company's."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from kassa.errors import ConfigError
from kassa.kpi.saved import ContractFolder
from kassa.period import Period
from kassa.report.html import render_html
from kassa.report.model import ReportData, build_report
from kassa.report.xlsx import render_xlsx
from kassa.web.csp import CSP_HEADER, report_policy
from kassa.web.dependencies import Forbidden, Page
from kassa.web.render import download
from kassa.web.state import Dashboard
from kassa.web.users import User

router = APIRouter()
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/report.html")
def report_html(page: Page) -> Response:
    """The month-end report (as ``kassa report``), charts drawn by the served Vega: works offline."""
    html = render_html(report_data(page.dash, page.user, page.period, page.lang))
    return HTMLResponse(html, headers={CSP_HEADER: report_policy()})


@router.get("/report.xlsx")
def report_xlsx(page: Page) -> Response:
    data = report_data(page.dash, page.user, page.period, page.lang)
    with tempfile.TemporaryDirectory() as tmp:
        body = render_xlsx(data, Path(tmp) / "report.xlsx").read_bytes()
    return download(body, XLSX_TYPE, f"kassa-{page.period.label}.xlsx")


def report_data(dash: Dashboard, user: User, period: Period, lang: str) -> ReportData:
    """The month-end report of ``period`` as ``kassa report`` builds it, with every saved contract scored
    beside it."""
    if not user.can("see_totals"):
        raise Forbidden()
    folder = ContractFolder.for_db(dash.db_path)
    contracts = []
    for slug in folder.slugs():
        try:
            contracts.append(folder.read(slug).contract)
        except ConfigError:
            continue  # the KPI page lists it with its errors
    return dash.locked(lambda wh: build_report(wh, period, lang, contracts=contracts))

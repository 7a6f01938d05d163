"""The Customers page (``/customers``, JSON twin ``/customers.json``): new vs repeat customers, CAC, LTV,
LTV/CAC and payback per channel, and the cohort triangle as a heat map (:mod:`kassa.metrics.customers`).

An agency sees its channels' customers only: the new and repeat purchases made through its channels,
and the cohorts its channels acquired (with everything those customers bought later, whichever channel
it came through — the customer is its channel's). No company figure reaches it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from kassa.metrics.customers import CustomerTable, customer_table
from kassa.period import Period
from kassa.report.customer_tables import ECONOMICS
from kassa.store import Warehouse
from kassa.web.dependencies import Page
from kassa.web.pages.common import column, no_nan
from kassa.web.state import Dashboard

router = APIRouter()

TRIANGLE_OF = ("customers", "revenue", "gross_profit")
HEAT_LEVELS = 5  # classes heat0 … heat5 of the heat map (no inline style: CSS classes)


@router.get("/customers")
@router.get("/customers.json")
def customers(page: Page, of: str = "customers") -> Response:
    data = customers_page(page.dash, page.scope, page.period, page.lang, of=of)
    return page.render("customers.html.j2", data)


def _heat(value: Any, top: float) -> int:
    if value is None or top <= 0:
        return 0
    return max(0, min(HEAT_LEVELS, round(HEAT_LEVELS * float(value) / top)))


def triangle_rows(table: CustomerTable, of: str) -> list[dict[str, Any]]:
    """One row per channel and cohort month: the acquired customers and a cell per month since
    acquisition, ``None`` where the data has not reached that month yet (never 0, never extrapolated)."""
    cells: dict[tuple[Any, ...], dict[int, Any]] = {}
    for r in table.triangle.iter_rows(named=True):
        cells.setdefault((*(r[k] for k in table.by), r["cohort"]), {})[r["months_since"]] = r[of]
    values = [v for row in cells.values() for v in row.values() if v is not None]
    top = float(max(values)) if values else 0.0
    out = []
    for c in table.cohorts():
        mine = cells.get((*(c[k] for k in table.by), c["cohort"]), {})
        months = []
        for k in range(table.horizon_months):
            seen = k < c["observed_months"]
            v = no_nan(mine.get(k, 0)) if seen else None
            months.append({"month": k, "seen": seen, "value": v, "heat": _heat(v, top) if seen else 0})
        out.append({**{k: c[k] for k in table.by}, "cohort": c["cohort"], "acquired": c["acquired"],
                    "partial": c["partial"], "months": months})  # fmt: skip
    return out


def customers_page(
    dash: Dashboard, scope: list[str] | None, period: Period, lang: str, *, of: str = "customers"
) -> dict[str, Any]:
    """Customer economics per channel and the cohort triangle of ``of`` (customers, revenue, gross
    profit); ``scope`` (an agency's channels) limits both, and the totals, to those channels."""
    if of not in TRIANGLE_OF:
        of = "customers"
    where = {"channel": scope} if scope is not None else None

    def build(wh: Warehouse) -> CustomerTable:
        return customer_table(wh, period, ["channel"], where=where)

    table = dash.locked(build)
    rows = [{k: no_nan(v) for k, v in r.items()} for r in table.rows]
    rows.sort(key=lambda r: (-(r.get("new_customers") or 0), str(r["channel"])))
    return {
        "page": "customers",
        "period": period.label,
        "lang": lang,
        "currency": dash.currency,
        "scope": scope,
        "horizon_months": table.horizon_months,
        "data_through": table.data_through,
        "columns": [column(n, lang) for n in ECONOMICS],
        "rows": rows,
        "total": {k: no_nan(v) for k, v in table.total.items()},
        "triangle_of": of,
        "triangle_options": list(TRIANGLE_OF),
        "triangle": triangle_rows(table, of),
        "warnings": table.warnings,
    }

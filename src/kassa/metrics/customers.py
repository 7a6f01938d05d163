"""Customer economics per channel: new vs repeat, CAC, LTV, LTV/CAC, payback, and the cohort triangle.

The catalog metrics (``new_customers`` … ``ltv_to_cac``, ``payback_months``) come from
:func:`kassa.metrics.compute.compute` like every other metric. The cohort triangle is not a sum over a
period and is computed here, from one grouped Ibis query (so it runs wherever the warehouse runs) — the
grouping payback is counted from (:func:`kassa.metrics.payback.cohort_cells`), with the acquisition
month as a key:

* the **cohort triangle** — per acquisition month (and group) × months since acquisition (0 = the
  month of the first purchase): the customers of the cohort who bought in that month, their revenue
  and gross profit. A cell after the last date of the data is not there: it has not happened, and it
  is never filled in by extrapolation;
* **payback** (:mod:`kassa.metrics.payback`, read from the catalog's table) — the months until a cohort's cumulative gross profit (revenue when a sale of the cohort
  has no margin, as LTV) covers its acquisition cost (the group's marketing cost in the period):
  ``1`` when the first month's profit already covers it. "not yet" (``None`` with ``paid_back`` false)
  when no observed month within the horizon does — whether the horizon is over or still open; "—"
(``paid_back`` None) when nothing was spent or no one acquired.

LTV of a cohort whose horizon has not ended is a lower bound: ``partial`` says so and every surface
shows it as ``≥``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import polars as pl

from kassa.metrics.compute import View, base_tables, compute, in_business_currency
from kassa.metrics.customer_rows import cohort_deals, data_through, moments
from kassa.metrics.payback import basis, cohort_cells
from kassa.period import Period
from kassa.settings import Settings

if TYPE_CHECKING:
    from kassa.store import Warehouse

CUSTOMER_METRICS = [
    "marketing_cost",
    "sales",
    "cost_per_sale",
    "new_customers",
    "repeat_customers",
    "new_customer_revenue",
    "repeat_revenue",
    "repeat_share",
    "cac",
    "ltv",
    "ltv_to_cac",
    "payback_months",
]
_HIDDEN = ["cohort_customers", "cohort_margin_missing", "cohort_open_customers"]
GROUPINGS = ("channel", "campaign", "source_medium", "manager")


@dataclass
class CustomerTable:
    """Customer economics per group for one period, with the cohort triangle behind LTV and payback."""

    period: Period
    by: list[str]
    view: View
    horizon_months: int
    data_through: str | None
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    # One row per group, acquisition month and month since acquisition.
    triangle: pl.DataFrame
    warnings: list[str] = field(default_factory=list)

    def cohorts(self) -> list[dict[str, Any]]:
        """Per group and acquisition month: customers acquired and how many of its months the data has
        seen (``observed_months``, ≤ the horizon): a cell at or past it is "not yet", not 0."""
        if self.triangle.height == 0:
            return []
        per = self.triangle.group_by([*self.by, "cohort"], maintain_order=True).agg(
            acquired=pl.col("new_customers").sum()
        )
        out = []
        for row in per.iter_rows(named=True):
            seen = observed_months(row["cohort"], self.data_through, self.horizon_months)
            # The horizon is over only once the data reaches past its last month (a month seen in part
            # is not over): the same rule as the rows' ``horizon_open``.
            spent = observed_months(row["cohort"], self.data_through, self.horizon_months + 1) - 1
            out.append({**row, "observed_months": seen, "partial": spent < self.horizon_months})
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "by": self.by,
            "view": self.view,
            "horizon_months": self.horizon_months,
            "data_through": self.data_through,
            "rows": self.rows,
            "total": self.total,
            "cohorts": self.cohorts(),
            "triangle": self.triangle.to_dicts(),
            "warnings": self.warnings,
        }


def observed_months(cohort: str, through: str | None, horizon: int) -> int:
    """Months of a cohort (``YYYY-MM``) the data has seen by ``through`` (ISO date), at most ``horizon``."""
    if through is None:
        return 0
    y, m = (int(x) for x in cohort.split("-"))
    ty, tm = int(through[:4]), int(through[5:7])
    return max(0, min(horizon, (ty * 12 + tm) - (y * 12 + m) + 1))


def triangle(
    wh: Warehouse,
    period: Period,
    by: list[str],
    *,
    settings: Settings | None = None,
    where: dict[str, list[str]] | None = None,
) -> tuple[pl.DataFrame, str | None]:
    """The cohort triangle of the customers acquired in ``period`` (see the module docstring), and the
    last date of the data (ISO text; None for an empty warehouse)."""
    st = settings or wh.settings
    t = base_tables(wh, st)
    through = data_through(t.leads, t.deals, t.payments)
    rows = cohort_deals(t.deals.filter(t.deals.status == "won"), st.customer_horizon_months, through)
    rows = rows.filter((rows.acquired_at >= period.start_ts()) & (rows.acquired_at < period.end_ts()))
    if "currency" in rows.columns:
        # As the metrics convert them (a deal without a rate is left out, and their warning says so).
        rows, _ = in_business_currency(
            rows, ["amount", "gross_profit"], rows.closed_at, wh.table("fx_rates"), st.currency
        )
    for dim, values in (where or {}).items():
        rows = (
            rows.filter(rows[dim].isin(values)) if dim in rows.columns else rows.filter(ibis.literal(False))
        )
    keys = {d: rows[d].cast("string").fill_null("(not set)") for d in by}
    cell = cohort_cells(rows, {**keys, "cohort": rows.acquired_at.strftime("%Y-%m")})
    frame = cell.to_polars().sort([*by, "cohort", "months_since"])
    day = moments(t.leads, t.deals, t.payments).aggregate(through=ibis._.ts.max()).to_polars()["through"][0]
    return frame, None if day is None else day.date().isoformat()


def customer_table(
    wh: Warehouse,
    period: Period | str,
    by: list[str] | None = None,
    *,
    view: View = "calendar",
    where: dict[str, list[str]] | None = None,
    settings: Settings | None = None,
) -> CustomerTable:
    """Customer economics per group (``by``: channel, campaign, source_medium, manager or none)."""
    p = Period.parse(period) if isinstance(period, str) else period
    keys = list(by or [])
    st = settings or wh.settings
    table = compute(wh, CUSTOMER_METRICS + _HIDDEN, keys, p, view=view, where=where, settings=st)
    cells, through = triangle(wh, p, table.by, settings=st, where=where)
    rows: list[dict[str, Any]] = []
    for row in table.rows() + [dict(table.total)]:
        is_total = len(rows) == table.frame.height
        months = row.get("payback_months")
        waiting = "payback_months" in table.not_yet(None if is_total else row)
        out = {k: row[k] for k in table.by} if not is_total else {}
        out.update({m: row.get(m) for m in CUSTOMER_METRICS})
        out.update(
            ltv_basis=basis(row),
            ltv_partial=bool(row.get("cohort_open_customers")),
            # True: paid back in ``payback_months``; False: "not yet"; None: "—" (nothing to pay back).
            paid_back=True if months is not None else (False if waiting else None),
        )
        rows.append(out)
    total = rows.pop()
    return CustomerTable(
        period=p,
        by=table.by,
        view=view,
        horizon_months=st.customer_horizon_months,
        data_through=through,
        rows=rows,
        total=total,
        triangle=cells,
        warnings=table.warnings,
    )

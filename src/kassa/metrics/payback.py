"""Payback: the months until a cohort's cumulative gross profit covers its acquisition cost.

The one computation behind the catalog's ``payback_months`` (:func:`kassa.metrics.compute.compute`, so
``kassa metrics --metrics payback_months --by channel|campaign|month``) and ``kassa customers`` /
the Customers page (:mod:`kassa.metrics.customers`, which reads it from the catalog's table):

* :func:`cohort_cells` groups the cohort's won deals (LTV's rows, :func:`kassa.metrics.customer_rows.
  cohort_deals`) per group and month since acquisition — one Ibis query, so it runs wherever the
  warehouse runs; the cohort triangle is the same grouping with the acquisition month as a key;
* :func:`months_to_cover` walks those months in memory (a group has at most the horizon's months):
  ``1`` when month 0 already covers the cost; "not yet" (``None``, ``False``) when no observed month
  within the horizon does — whether the horizon is over or still open; "—" (``None``, ``None``) when
  nothing was spent or no one acquired, as CAC is.

The basis is LTV's (``ltv_base``): gross profit when every sale of the group's cohort has a margin,
else revenue.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import polars as pl

MONTHS = "months_since"


def cohort_cells(rows: ir.Table, keys: dict[str, ir.Value]) -> ir.Table:
    """Per ``keys`` and month since acquisition: the cohort's customers who bought, how many of them were
    acquired in that month (the first purchase), revenue, gross profit and sales without a margin."""
    return rows.group_by(**keys, **{MONTHS: rows.months_since}).aggregate(
        customers=rows.customer_id.nunique(),
        new_customers=rows.is_new.cast("int64").sum(),
        revenue=rows.amount.sum(),
        gross_profit=rows.gross_profit.sum(),
        margin_missing=rows.gross_profit.isnull().cast("int64").sum(),
    )


def basis(values: dict[str, Any]) -> str | None:
    """LTV's basis for a row with ``cohort_customers`` and ``cohort_margin_missing``: ``gross_profit``,
    ``revenue`` (a sale of the cohort has no margin) or None (no one acquired)."""
    if not values.get("cohort_customers"):
        return None
    return "revenue" if values.get("cohort_margin_missing") else "gross_profit"


def months_to_cover(
    cells: pl.DataFrame, cost: float | None, on: str | None
) -> tuple[int | None, bool | None]:
    """(months until the running sum of the cells' ``on`` covers ``cost``, whether it does within the
    cells); (None, None) when there is nothing to pay back or no one acquired."""
    if cost is None or cost != cost or cost <= 0 or on is None or cells.height == 0:
        return None, None
    per_month = cells.group_by(MONTHS).agg(pl.col(on).sum()).sort(MONTHS)
    running = 0.0
    for k, v in per_month.iter_rows():
        running += float(v or 0.0)
        if running >= cost:
            return int(k) + 1, True
    return None, False


def paybacks(
    frame: pl.DataFrame, total: dict[str, Any], cells: pl.DataFrame, by: list[str], cost: str
) -> tuple[list[int | None], int | None, dict[tuple[Any, ...], bool | None]]:
    """Payback of each row of ``frame`` (its groups ``by``), of ``total``, and per group key (and
    ``("total",)``) whether it paid back: False is "not yet", None is "—"."""
    paid: dict[tuple[Any, ...], bool | None] = {}
    months: list[int | None] = []
    for row in frame.iter_rows(named=True):
        mine = cells
        for k in by:
            mine = mine.filter(pl.col(k) == row[k])
        n, ok = months_to_cover(mine, row.get(cost), basis(row))
        months.append(n)
        paid[tuple(row[k] for k in by)] = ok
    n, ok = months_to_cover(cells, total.get(cost), basis(total)) if total else (None, None)
    paid[("total",)] = ok
    return months, n, paid

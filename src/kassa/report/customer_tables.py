"""``kassa customers`` as tables: customer economics per channel, and the cohort triangle.

The economics table shows what a budget decision needs side by side — cost per sale next to CAC, LTV,
LTV/CAC and payback — so a channel that is cheap per sale but whose customers never return stands out.
LTV so far (a horizon not yet over) is ``≥``; LTV on revenue (a sale without margin) is said under the
table. The triangle shows one figure per cell (customers who bought, revenue or gross profit, money in
thousands so twelve months fit 80 columns); a month the data has not reached is empty, never 0.
"""

from __future__ import annotations

from typing import Any, Literal

from kassa.i18n import NO_VALUE, Translator, fmt_number, fmt_value
from kassa.metrics.catalog import CATALOG
from kassa.metrics.customers import CustomerTable
from kassa.names import key_name
from kassa.report.layout import Column, Grid
from kassa.report.terminal import key_columns, metric_column

_ = Translator("cli")

ECONOMICS = (
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
)
DEFAULT = ("cost_per_sale", "new_customers", "cac", "ltv", "ltv_to_cac", "payback")
TriangleOf = Literal["customers", "revenue", "gross_profit"]
TRIANGLE_OF: tuple[TriangleOf, ...] = ("customers", "revenue", "gross_profit")
PARTIAL = "≥"
TRIANGLE_MONTHS = 5


def fmt_payback(row: dict[str, Any], lang: str) -> str:
    """``2 mo``, ``not yet`` (spent, acquired, not covered within the horizon) or ``—``."""
    if row.get("paid_back") is None:
        return NO_VALUE
    if not row["paid_back"]:
        return _("not yet", lang)
    return _("{n} mo", lang, n=row["payback_months"])


def _cells(row: dict[str, Any], lang: str, currency: str) -> dict[str, str]:
    out = {n: fmt_value(row.get(n), CATALOG[n].unit, lang, currency) for n in ECONOMICS}
    if row.get("ltv_partial"):
        for n in ("ltv", "ltv_to_cac"):
            if row.get(n) is not None:
                out[n] = f"{PARTIAL} {out[n]}"
    out["payback"] = fmt_payback(row, lang)
    return out


def economics_grid(table: CustomerTable, *, lang: str = "en", currency: str = "RUB") -> Grid:
    """One row per group: cost per sale, new and repeat customers, CAC, LTV, LTV/CAC, payback."""
    columns = [*key_columns(table.by, lang), *(metric_column(n, lang) for n in ECONOMICS)]
    columns.append(Column("payback", _("Payback", lang), _("Payback (months)", lang)))
    grid = Grid(
        _(
            "Customers — {period}, horizon {n} months",
            lang,
            period=table.period.label,
            n=table.horizon_months,
        ),
        columns,
        default=DEFAULT,
    )
    grid.add_rows(
        {**{k: key_name(k, row.get(k), lang) for k in table.by}, **_cells(row, lang, currency)}
        for row in table.rows
    )
    grid.total = {
        **({table.by[0]: _("Total", lang)} if table.by else {}),
        **_cells(table.total, lang, currency),
    }
    return grid


def economics_notes(table: CustomerTable, *, lang: str = "en") -> list[str]:
    """What the marks mean, only when some figure carries one."""
    rows = [*table.rows, table.total]
    notes = []
    if any(r.get("ltv_partial") and r.get("ltv") is not None for r in rows):
        notes.append(
            _(
                "≥: LTV so far — the horizon of some customers acquired has not ended by {day}; not "
                "extrapolated.",
                lang,
                day=table.data_through or NO_VALUE,
            )
        )
    on_revenue = [r for r in table.rows if r.get("ltv_basis") == "revenue"]
    if on_revenue or table.total.get("ltv_basis") == "revenue":
        names = (
            ", ".join(key_name(table.by[0], r.get(table.by[0]), lang) for r in on_revenue) if table.by else ""
        )
        notes.append(
            _("LTV is revenue, not gross profit, where a sale has no margin: {names}.", lang, names=names)
            if names
            else _("LTV is revenue, not gross profit: a sale has no margin.", lang)
        )
    notes.append(
        _(
            "CAC = marketing cost / new customers; cost per sale counts every won deal. Payback: months "
            "until the cohort's cumulative gross profit covers its marketing cost.",
            lang,
        )
    )
    return notes


def _fmt_cell(value: Any, of: TriangleOf, lang: str) -> str:
    if of == "customers":
        return fmt_number(value or 0, lang)
    if value is None:
        return NO_VALUE  # sales without a margin: no gross profit known, not 0
    return fmt_number(value / 1000, lang)


def triangle_grid(
    table: CustomerTable, of: TriangleOf = "customers", *, lang: str = "en", currency: str = "RUB"
) -> Grid:
    """Cohorts (group, month of acquisition) × months since acquisition; empty where not yet observed."""
    titles = {
        "customers": _("Cohorts: customers who bought, by months since acquisition", lang),
        "revenue": _(
            "Cohorts: revenue, thousands {currency}, by months since acquisition", lang, currency=currency
        ),
        "gross_profit": _(
            "Cohorts: gross profit, thousands {currency}, by months since acquisition",
            lang,
            currency=currency,
        ),
    }
    months = [str(k) for k in range(table.horizon_months)]
    columns = [
        *key_columns(table.by, lang),
        Column("cohort", _("Cohort", lang), number=False, key=True),
        Column("acquired", _("Acquired", lang)),
        *(Column(f"m{k}", k, _("Month {k}", lang, k=k)) for k in months),
    ]
    # Twelve month columns do not fit 80: the first TRIANGLE_MONTHS by default, every one with --wide.
    shown = ["acquired", *(f"m{k}" for k in range(min(TRIANGLE_MONTHS, table.horizon_months)))]
    caption = _("Month 0 is the month of the first purchase.", lang)
    if table.horizon_months > TRIANGLE_MONTHS:
        caption += " " + _("Months {a}–{b}: --wide.", lang, a=TRIANGLE_MONTHS, b=table.horizon_months - 1)
    grid = Grid(titles[of], columns, caption=caption, default=shown)
    cells: dict[tuple[Any, ...], dict[int, Any]] = {}
    for r in table.triangle.iter_rows(named=True):
        cells.setdefault((*(r[k] for k in table.by), r["cohort"]), {})[r["months_since"]] = r[of]
    rows = []
    for c in table.cohorts():
        key = (*(c[k] for k in table.by), c["cohort"])
        mine = cells.get(key, {})
        row = {k: key_name(k, c[k], lang) for k in table.by}
        row.update(cohort=c["cohort"], acquired=fmt_number(c["acquired"], lang))
        for k in range(table.horizon_months):
            # Not yet observed: empty. Observed without a purchase: 0.
            row[f"m{k}"] = _fmt_cell(mine.get(k, 0), of, lang) if k < c["observed_months"] else ""
        rows.append(row)
    grid.add_rows(rows)
    return grid

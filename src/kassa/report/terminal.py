"""Metric tables in the terminal: outcome and intermediate metrics first, activity apart.

Activity metrics are never mixed into the money columns: they get their own table, titled as activity,
so nobody reads "CTR up" as "business up". Each table is a :class:`~kassa.report.layout.Grid` that shows a
few columns by default (all with ``--wide``) and lays itself out for the terminal's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kassa.i18n import NO_VALUE, Translator, fmt_value
from kassa.metrics.catalog import CATALOG, Tier
from kassa.metrics.compute import MetricTable
from kassa.metrics.incomplete import Incomplete, fmt_amount
from kassa.names import key_name
from kassa.report.layout import Column, Grid

_ = Translator("cli")

# The money trail of a channel as the owner reads it, left to right.
MONEY_TRAIL = (
    "marketing_cost",
    "visits",
    "leads",
    "qualified_leads",
    "sales",
    "revenue",
    "payments",
    "cpl",
    "cost_per_sale",
    "romi",
)
CONVERSION_AND_RETURN = (
    "visit_to_lead",
    "lead_to_qualified",
    "qualified_to_sale",
    "cost_per_qualified_lead",
    "average_check",
    "gross_profit",
    "roas",
    "drr",
)
ACTIVITY = ("cost", "impressions", "reach", "clicks", "ctr", "cpc", "cpm", "posts", "activity_cost")
# What the bank statement confirms of the CRM's revenue, and how much of the lead flow has a known source.
BANK = ("paid_revenue", "unpaid_won", "romi_paid", "unknown_source_share")
# New and repeat customers and what acquiring one costs and brings (kassa customers has payback too).
CUSTOMERS = (
    "new_customers",
    "repeat_customers",
    "new_customer_revenue",
    "repeat_revenue",
    "repeat_share",
    "cac",
    "ltv",
    "ltv_to_cac",
    "payback_months",
)

_TIER_STYLE = {Tier.OUTCOME: "bold green", Tier.INTERMEDIATE: "cyan", Tier.ACTIVITY: "dim"}

# The columns each group shows unless the reader asks for all (--wide) or names them (--columns): few
# enough that a channel table fits 80 columns; the rest are one --wide away.
DEFAULT_COLUMNS = {
    "money": ("marketing_cost", "leads", "sales", "revenue", "cpl", "romi"),
    "conversion": ("visit_to_lead", "lead_to_qualified", "qualified_to_sale", "average_check", "roas"),
    "bank": BANK,
    "customers": ("new_customers", "repeat_customers", "repeat_share", "cac", "ltv", "ltv_to_cac"),
    "activity": ("cost", "clicks", "ctr", "cpc", "posts"),
}
_KEY_HEADERS = {
    "channel": "Channel",
    "campaign": "Campaign",
    "source_medium": "Source medium",
    "month": "Month",
    "manager": "Manager",
}


def key_columns(by: Sequence[str], lang: str) -> list[Column]:
    """The grouping keys of a metric table as text columns that name each row."""
    return [
        Column(k, _(_KEY_HEADERS.get(k, k.replace("_", " ").capitalize()), lang), number=False, key=True)
        for k in by
    ]


def metric_column(name: str, lang: str) -> Column:
    """A catalog metric as a column: its short label over the column, its full label when stacked."""
    m = CATALOG[name]
    return Column(name, m.short(lang), m.label(lang), style=_TIER_STYLE[m.tier])


def metric_grid(
    table: MetricTable,
    names: Sequence[str],
    *,
    title: str,
    lang: str = "en",
    currency: str = "RUB",
    show_total: bool = True,
    default: Sequence[str] | None = None,
) -> Grid:
    """Metrics ``names`` of ``table`` as a :class:`Grid`: one row per group, channels by their display name."""
    present = [n for n in names if n in table.frame.columns]
    grid = Grid(
        title,
        key_columns(table.by, lang) + [metric_column(n, lang) for n in present],
        default=None if default is None else [n for n in default if n in present],
    )
    grid.add_rows(
        {
            **{k: key_name(k, row.get(k), lang) for k in table.by},
            **_cells(
                row,
                table.incomplete(row),
                table.estimated(row),
                present,
                lang,
                currency,
                table.partial(row),
                table.not_yet(row),
            ),
        }
        for row in table.frame.iter_rows(named=True)
    )
    if show_total and table.total:
        grid.total = {
            **({table.by[0]: _("Total", lang)} if table.by else {}),
            **_cells(
                table.total,
                table.incomplete(),
                table.estimated(),
                present,
                lang,
                currency,
                table.partial(),
                table.not_yet(),
            ),
        }
    return grid


def fmt_incomplete(inc: Incomplete, unit: str, lang: str, currency: str) -> str:
    """An incomplete value: ``≥ 451 000 ₽ + 22.88 USD`` (what was counted, plus what had no rate), or
    ``?`` for a formula with no such bound (docs/currency.md)."""
    if inc.known is None:
        return "?"
    rest = "".join(f" + {fmt_amount(a, c)}" for c, a in sorted(inc.without_rate.items()))
    return f"≥ {fmt_value(inc.known, unit, lang, currency)}{rest}"


ESTIMATE = "≈"


def fmt_cell(
    value: object,
    unit: str,
    lang: str,
    currency: str,
    *,
    estimated: bool = False,
    incomplete: Incomplete | None = None,
) -> str:
    """A metric's value as the terminal shows it: ``≈ 1 000 ₽`` for an estimate (a day-prorated share of a
    whole-period report the period cuts), ``≥ 451 000 ₽ + 22.88 USD`` when amounts had no exchange rate,
    both marks when both hold; "no value" and "?" stay as they are (there is nothing to estimate)."""
    text = (
        fmt_incomplete(incomplete, unit, lang, currency)
        if incomplete is not None
        else fmt_value(value, unit, lang, currency)
    )
    return f"{ESTIMATE} {text}" if estimated and text not in ("?", NO_VALUE) else text


def fmt_metric(
    table: MetricTable, name: str, lang: str, currency: str, row: dict[str, Any] | None = None
) -> str:
    """Metric ``name`` of ``table``'s ``row`` (None: the total) as :func:`fmt_cell` writes it, with the
    marks the table knows for it: the form for figures in sentences (the headline, the digest)."""
    values = table.total if row is None else row
    return fmt_cell(
        values.get(name),
        CATALOG[name].unit,
        lang,
        currency,
        estimated=name in table.estimated(row),
        incomplete=table.incomplete(row).get(name),
    )


def _cells(
    values: dict[str, object],
    missing: dict[str, Incomplete],
    estimated: set[str],
    names: Sequence[str],
    lang: str,
    currency: str,
    so_far: set[str] = frozenset(),  # type: ignore[assignment]
    not_yet: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[str, str]:
    return {
        # Payback whose cohort has not covered its cost within the months seen: "not yet", not "—".
        n: _("not yet", lang)
        if n in not_yet
        else ("≥ " if n in so_far else "")
        + fmt_cell(
            values.get(n),
            CATALOG[n].unit,
            lang,
            currency,
            estimated=n in estimated,
            incomplete=missing.get(n),
        )
        for n in names
    }


def estimated_lines(table: MetricTable, *, lang: str = "en") -> list[str]:
    """The footnote of the "≈" marks, once, when any figure of the table is an estimate."""
    if not (table.estimated() or any(table.estimated(r) for r in table.frame.iter_rows(named=True))):
        return []
    return [
        _(
            "≈: a day-prorated share of a whole-period report that this period cuts; "
            "import a report segmented by day for exact figures",
            lang,
        )
    ]


def partial_lines(table: MetricTable, *, lang: str = "en") -> list[str]:
    """The footnote of the "≥" marks of LTV so far, once, when any figure carries one."""
    if not (table.partial() or any(table.partial(r) for r in table.frame.iter_rows(named=True))):
        return []
    return [_("≥ LTV: so far — some customers' horizon has not ended; not extrapolated", lang)]


def footnotes(table: MetricTable, *, lang: str = "en", currency: str = "RUB") -> list[str]:
    """What to print under a table's grids: the incomplete totals, then what "≈" and "≥ LTV" mean."""
    return (
        incomplete_lines(table, lang=lang, currency=currency)
        + estimated_lines(table, lang=lang)
        + partial_lines(table, lang=lang)
    )


def incomplete_lines(table: MetricTable, *, lang: str = "en", currency: str = "RUB") -> list[str]:
    """What the incomplete totals are, to print under the tables: at least what was counted plus what had
    no rate, per metric; then, in one line, the metrics that have no value for it (the "?")."""
    missing = table.incomplete()
    out = [
        _(
            "{metric}: {value} without a rate",
            lang,
            metric=CATALOG[n].label(lang),
            value=fmt_incomplete(inc, CATALOG[n].unit, lang, currency),
        )
        for n, inc in missing.items()
        if inc.known is not None and inc.without_rate
    ]
    open_ = [n for n, inc in missing.items() if inc.known is None]
    if open_:
        because = sorted({b for n in open_ for b in missing[n].because})
        out.append(
            _(
                "?: {metrics}: no value until every amount of {parts} has an exchange rate",
                lang,
                metrics=", ".join(CATALOG[n].short(lang) for n in open_),
                parts=", ".join(CATALOG[b].label(lang) for b in because),
            )
        )
    return out


def money_and_activity(
    table: MetricTable, *, lang: str = "en", currency: str = "RUB", columns: Sequence[str] | None = None
) -> list[Grid]:
    """The terminal summary: the money trail, conversion and return, what the bank confirms, then activity.

    Metrics of the table that fit none of the groups are added to the money trail, so a ``--metrics``
    selection is always shown whole. ``columns`` (``--columns``): one table of exactly these metrics.
    """
    cols = [n for n in table.frame.columns if n in CATALOG]
    p = table.period.label
    if columns:
        return [
            metric_grid(
                table, columns, title=_("Metrics — {period}", lang, period=p), lang=lang, currency=currency
            )
        ]
    grouped = set(MONEY_TRAIL) | set(CONVERSION_AND_RETURN) | set(BANK) | set(CUSTOMERS) | set(ACTIVITY)
    extra_money = [n for n in cols if n not in grouped and CATALOG[n].tier != Tier.ACTIVITY]
    money = [n for n in MONEY_TRAIL if n in cols] + extra_money
    conversion = [n for n in CONVERSION_AND_RETURN if n in cols]
    bank = [n for n in BANK if n in cols]
    customers = [n for n in CUSTOMERS if n in cols]
    activity = [n for n in ACTIVITY if n in cols] + [
        n for n in cols if n not in grouped and CATALOG[n].tier == Tier.ACTIVITY
    ]
    sections = [
        ("money", money, _("Money trail — {period}", lang, period=p), extra_money),
        ("conversion", conversion, _("Conversion and return — {period}", lang, period=p), []),
        ("bank", bank, _("Confirmed by the bank — {period}", lang, period=p), []),
        ("customers", customers, _("Customers — {period}", lang, period=p), []),
        (
            "activity",
            activity,
            _("Activity metrics (what was done, not what it earned) — {period}", lang, period=p),
            [],
        ),
    ]
    out = []
    for group, names, title, extra in sections:
        if not names:
            continue
        default = [*DEFAULT_COLUMNS[group], *extra]
        # A group whose default columns were not computed (--metrics) shows what it has.
        shown = [n for n in default if n in names] or None
        out.append(metric_grid(table, names, title=title, lang=lang, currency=currency, default=shown))
    return out

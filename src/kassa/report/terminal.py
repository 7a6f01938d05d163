"""Metric tables in the terminal (rich): outcome and intermediate metrics first, activity apart.

Activity metrics are never mixed into the money columns: they get their own table, titled as activity,
so nobody reads "CTR up" as "business up".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from kassa.i18n import Translator, fmt_value
from kassa.metrics.catalog import CATALOG, Tier
from kassa.metrics.compute import MetricTable

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

_TIER_STYLE = {Tier.OUTCOME: "bold green", Tier.INTERMEDIATE: "cyan", Tier.ACTIVITY: "dim"}


def _key_label(row: dict[str, Any], by: list[str]) -> list[str]:
    return [str(row.get(k, "")) for k in by]


def metric_table(
    table: MetricTable,
    names: Sequence[str],
    *,
    title: str,
    lang: str = "en",
    currency: str = "RUB",
    show_total: bool = True,
) -> Table:
    present = [n for n in names if n in table.frame.columns]
    t = Table(title=title, title_justify="left", show_lines=False)
    for k in table.by:
        t.add_column(_(k.replace("_", " ").capitalize(), lang))
    for n in present:
        m = CATALOG[n]
        t.add_column(m.label(lang), justify="right", header_style=_TIER_STYLE[m.tier])
    for row in table.frame.iter_rows(named=True):
        t.add_row(
            *_key_label(row, table.by), *[fmt_value(row[n], CATALOG[n].unit, lang, currency) for n in present]
        )
    if show_total and table.total:
        t.add_section()
        t.add_row(
            *([_("Total", lang)] + [""] * (len(table.by) - 1)) if table.by else [],
            *[fmt_value(table.total.get(n), CATALOG[n].unit, lang, currency) for n in present],
            style="bold",
        )
    return t


def money_and_activity(table: MetricTable, *, lang: str = "en", currency: str = "RUB") -> list[Table]:
    """The terminal summary: the money trail, conversion and return, what the bank confirms, then activity.

    Metrics of the table that fit none of the three groups are added to the money trail, so a
    ``--metrics`` selection is always shown whole.
    """
    cols = [n for n in table.frame.columns if n in CATALOG]
    grouped = set(MONEY_TRAIL) | set(CONVERSION_AND_RETURN) | set(BANK) | set(ACTIVITY)
    money = [n for n in MONEY_TRAIL if n in cols] + [
        n for n in cols if n not in grouped and CATALOG[n].tier != Tier.ACTIVITY
    ]
    conversion = [n for n in CONVERSION_AND_RETURN if n in cols]
    bank = [n for n in BANK if n in cols]
    activity = [n for n in ACTIVITY if n in cols] + [
        n for n in cols if n not in grouped and CATALOG[n].tier == Tier.ACTIVITY
    ]
    p = table.period.label
    sections = [
        (money, _("Money trail — {period}", lang, period=p)),
        (conversion, _("Conversion and return — {period}", lang, period=p)),
        (bank, _("Confirmed by the bank — {period}", lang, period=p)),
        (activity, _("Activity metrics (what was done, not what it earned) — {period}", lang, period=p)),
    ]
    return [
        metric_table(table, names, title=title, lang=lang, currency=currency)
        for names, title in sections
        if names
    ]

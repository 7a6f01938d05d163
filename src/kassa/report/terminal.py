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
    "marketing_cost", "visits", "leads", "qualified_leads", "sales", "revenue", "payments", "cpl", "cost_per_sale", "romi",
)
ACTIVITY = ("cost", "impressions", "reach", "clicks", "ctr", "cpc", "cpm", "posts", "activity_cost")

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
        t.add_row(*_key_label(row, table.by), *[fmt_value(row[n], CATALOG[n].unit, lang, currency) for n in present])
    if show_total and table.total:
        t.add_section()
        t.add_row(
            *([_("Total", lang)] + [""] * (len(table.by) - 1)) if table.by else [],
            *[fmt_value(table.total.get(n), CATALOG[n].unit, lang, currency) for n in present],
            style="bold",
        )
    return t


def money_and_activity(table: MetricTable, *, lang: str = "en", currency: str = "RUB") -> list[Table]:
    """The two tables of the terminal summary: the money trail, then activity (labelled as such)."""
    money_cols = [n for n in table.frame.columns if n in CATALOG and CATALOG[n].tier != Tier.ACTIVITY]
    ordered = [n for n in MONEY_TRAIL if n in money_cols] + [n for n in money_cols if n not in MONEY_TRAIL]
    activity_cols = [n for n in ACTIVITY if n in table.frame.columns]
    out = []
    if ordered:
        out.append(metric_table(table, ordered, title=_("Money trail — {period}", lang, period=table.period.label), lang=lang, currency=currency))
    if activity_cols:
        out.append(
            metric_table(
                table,
                activity_cols,
                title=_("Activity metrics (what was done, not what it earned) — {period}", lang, period=table.period.label),
                lang=lang,
                currency=currency,
            )
        )
    return out

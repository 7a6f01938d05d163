"""Figures that are estimates: a day-prorated share of a whole-period report the period cuts.

A whole-period report row (Direct's Мастер отчётов, the Google Ads interface, a Meta range) is stored
spread evenly over its days, each day keeping the range it came from (``spend.spread_from`` /
``spread_to``; docs/sources.md). A period that contains the whole range shows the row exactly; one that
cuts it (10 days of a March row, or one month of a row over two) shows a day-prorated share, which the
file does not say and kassa only estimates. So the compute layer asks, per output group, which spread
rows its dates cut (:func:`cut_rows`, one small query keyed like the others), and every metric that
depends on a base measure read from spend rows (cost, impressions, clicks, reach, and through them
marketing cost, CPC, CPL, ROMI…) is *estimated* for that group: shown "≈ 1 000 ₽", ``"estimated"`` in JSON.

A group's dates are the period, and for a table grouped by month the period's part of that month: a row
over 25 March – 5 April is exact in a report of March and April, but each month shows a share of it.
The total is the period's, so it is estimated when the period cuts a row, whatever the months.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import ibis.expr.types as ir
import polars as pl

from kassa.metrics.catalog import CATALOG, base_metrics, with_dependencies
from kassa.period import Period

# The key columns of a cut row besides the table's groups: one report row per campaign and range.
_RANGE = ("cut_channel", "cut_campaign", "spread_from", "spread_to")


def spend_measures() -> frozenset[str]:
    """The base measures read from spend rows: what a spread row's share changes."""
    return frozenset(
        m.name for m in base_metrics() if m.measure is not None and m.measure.rows.name == "spend"
    )


@cache
def depends_on_spend(name: str) -> bool:
    """Whether metric ``name`` is, or is computed from, a base measure read from spend rows."""
    return bool(spend_measures() & set(with_dependencies([name])))


def cut_rows(
    spend: ir.Table, keys: Callable[[ir.Table], Mapping[str, ir.Value]], by: Sequence[str], period: Period
) -> ir.Table:
    """The spread rows among ``spend`` (already limited to the period and the filters) whose range the
    group's dates cut: one row per group (``keys`` of a table: the compute layer's group keys), campaign
    and range, with ``cut_period`` (1 when the period itself cuts it, so the total is an estimate too)
    and ``days`` (how many of its days are in the group)."""
    t = spend.filter(spend.spread_from.notnull())
    by_period = (t.spread_from < period.start) | (t.spread_to >= period.end)
    cut = by_period
    if "month" in by:  # a month's group sees only its part of a range over two months
        cut = cut | (t.spread_from.strftime("%Y-%m") != t.spread_to.strftime("%Y-%m"))
    t = t.filter(cut).mutate(by_period=by_period.cast("int64"))
    rows = t.select(
        **{k: v.cast("string") for k, v in keys(t).items()},
        cut_channel=t.channel.cast("string"),
        cut_campaign=t.campaign.cast("string"),
        spread_from=t.spread_from,
        spread_to=t.spread_to,
        by_period=t.by_period,
    )
    return rows.group_by([*by, *_RANGE]).aggregate(
        cut_period=rows.by_period.max(), days=rows.by_period.count().cast("int64")
    )


def _group(cut: pl.DataFrame, by: Sequence[str], row: Mapping[str, Any] | None) -> pl.DataFrame:
    if cut.is_empty():
        return cut
    if row is None:
        return cut.filter(pl.col("cut_period") == 1)
    frame = cut
    for k in by:
        frame = frame.filter(pl.col(k) == str(row.get(k)))
    return frame


def estimated(
    cut: pl.DataFrame, by: Sequence[str], names: Sequence[str], row: Mapping[str, Any] | None = None
) -> set[str]:
    """The metrics among ``names`` that are estimates for ``row`` (None: the total): it has spread rows its
    dates cut, and the metric depends on what spend rows report."""
    if _group(cut, by, row).is_empty():
        return set()
    return {n for n in names if depends_on_spend(n)}


def cut_warnings(cut: pl.DataFrame) -> list[str]:
    """One line saying how many whole-period report rows the table's dates cut, and what that means."""
    if cut.is_empty():
        return []
    n = cut.select(_RANGE).unique().height
    by = "this period" if (cut["cut_period"] == 1).all() else "this period or its months"
    return [
        f"{n} spend row(s) of whole-period reports cut by {by}: figures marked ≈ are a day-prorated "
        "share (import a report segmented by day for exact figures)"
    ]


def ordered(names: Sequence[str], found: set[str]) -> list[str]:
    """``found`` in the order of ``names`` (the table's metric order), for JSON."""
    return [n for n in names if n in found and n in CATALOG]

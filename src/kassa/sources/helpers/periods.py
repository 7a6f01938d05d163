"""Whole-period reports: the period a report names, and its rows spread over the days it covers.

Both interfaces export whole-period reports by default: Yandex Direct's Мастер отчётов writes
``Период: 01.03.2026 - 31.03.2026`` above the header, the Google Ads interface a line such as
``27 January 2026 - 23 February 2026`` or ``"July 8, 2025 - July 31, 2025"``; Meta's Ads Manager rows
carry ``Reporting starts`` / ``Reporting ends``. kassa stores spend per day, so such a row is spread
evenly over its days — in whole units: the clicks, impressions and millionths of money that do not
divide evenly go one each to the first days — and every spread row keeps the range it came from (``spread_from``,
``spread_to``). The day rows of one period row add up to it exactly, so any report period that
contains the whole range shows exactly the file's figures; one that cuts the range shows a day-prorated
share, which the metric layer marks as estimated.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

from kassa.sources.validate import LINE

_ENGLISH = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
            "October", "November", "December")  # fmt: skip
_RUSSIAN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
            "октября", "ноября", "декабря")  # fmt: skip
# English (both interfaces; full and three-letter), Russian in the genitive as dates are written
# ("1 марта 2026 г.").
_MONTHS = {
    spelling: i
    for i, (en, ru) in enumerate(zip(_ENGLISH, _RUSSIAN, strict=True), start=1)
    for spelling in (en.lower(), en[:3].lower(), ru)
}
_DOTTED = re.compile(r"^(\d{1,2})[./](\d{1,2})[./](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2}) ([^\W\d_]+)\.? (\d{4})(?: г\.?)?$")
_MONTH_DAY_YEAR = re.compile(r"^([^\W\d_]+)\.? (\d{1,2}), (\d{4})$")
_SEPARATOR = re.compile(r"\s+[-–—]\s+")


def _one_date(text: str) -> dt.date | None:
    t = re.sub(r"\s+", " ", text.strip().strip('"').strip())
    try:
        if m := _DOTTED.match(t):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        if m := _ISO.match(t):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if (m := _DAY_MONTH_YEAR.match(t)) and m[2].lower() in _MONTHS:
            return dt.date(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
        if (m := _MONTH_DAY_YEAR.match(t)) and m[1].lower() in _MONTHS:
            return dt.date(int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
    except ValueError:  # 31.02.2026
        return None
    return None


def report_period(text: str) -> tuple[dt.date, dt.date] | None:
    """``(first day, last day)`` of a report period written as its interface writes it, else ``None``.

    >>> report_period("27 January 2026 - 23 February 2026")
    (datetime.date(2026, 1, 27), datetime.date(2026, 2, 23))
    >>> report_period('"July 8, 2025 - July 31, 2025"')
    (datetime.date(2025, 7, 8), datetime.date(2025, 7, 31))
    >>> report_period("01.03.2026 - 31.03.2026")
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    >>> report_period("All time") is None
    True
    """
    parts = _SEPARATOR.split(text.strip().strip('"').strip())
    if len(parts) != 2:
        return None
    first, last = _one_date(parts[0]), _one_date(parts[1])
    if first is None or last is None or last < first:
        return None
    return first, last


def _whole_units(total: pl.Expr, days: pl.Expr, index: pl.Expr) -> pl.Expr:
    """Day ``index`` (0-based) of ``total`` whole units spread over ``days``: the remainder goes one
    unit each to the first days, so the days add up to ``total`` exactly (negative totals too)."""
    size = total.abs()
    share = size // days + (index < size % days).cast(pl.Int64)
    return pl.when(total < 0).then(-share).otherwise(share)


def spread_over_days(rows: pl.DataFrame, stops: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """Validated spend ``rows`` (with ``LINE``), each covering ``date`` .. its line's ``__stop`` in
    ``stops`` (``None``: the day itself) -> one row per day, with ``spread_from`` / ``spread_to`` on the
    rows that came from a longer range; and the lines of longer rows left out because they overlap
    another row of the same campaign (a day the file already gives, or a different range): adding both
    would count the overlap twice, and which one is right the file does not say."""
    joined = (
        rows.join(stops, on=LINE, how="left")
        if stops.height
        else rows.with_columns(pl.lit(None, pl.Date).alias("__stop"))
    )
    longer = pl.col("__stop").is_not_null() & (pl.col("__stop") > pl.col("date"))
    day_rows = (
        joined.filter(~longer)
        .drop("__stop")
        .with_columns(pl.lit(None, pl.Date).alias("spread_from"), pl.lit(None, pl.Date).alias("spread_to"))
    )
    ranges = joined.filter(longer)
    if ranges.is_empty():
        return day_rows, []
    days = (pl.col("spread_to") - pl.col("spread_from")).dt.total_days() + 1
    index = (pl.col("__day") - pl.col("spread_from")).dt.total_days()
    # Money in millionths: exact for any amount a platform writes (kopecks, cents, Direct's micros).
    micros = (pl.col("cost") * 1_000_000).round(0).cast(pl.Int64)
    spread = (
        ranges.with_columns(
            pl.col("date").alias("spread_from"),
            pl.col("__stop").alias("spread_to"),
            pl.date_ranges(pl.col("date"), pl.col("__stop")).alias("__day"),
        )
        .explode("__day")
        .with_columns(
            pl.col("__day").alias("date"),
            _whole_units(pl.col("impressions"), days, index).alias("impressions"),
            _whole_units(pl.col("clicks"), days, index).alias("clicks"),
            (_whole_units(micros, days, index) / 1_000_000).alias("cost"),
            # Reach is people, not a sum over days: unknown for a day of a longer range.
            pl.lit(None, rows.schema["reach"]).alias("reach"),
        )
        .drop("__stop", "__day")
    )
    key = ["channel", "campaign", "date"]
    taken = day_rows.select(key).unique()
    # Rows of one campaign over the same range are parts of it (by keyword, placement, age…) and add up;
    # two different ranges over one day of a campaign do not.
    twice = (
        spread.group_by(key)
        .agg(pl.struct("spread_from", "spread_to").n_unique().alias("__n"))
        .filter(pl.col("__n") > 1)
    )
    clash = pl.concat([taken, twice.select(key)])
    overlapping = spread.join(clash, on=key, how="semi")[LINE].unique().sort().to_list()
    kept = spread.filter(~pl.col(LINE).is_in(overlapping))
    return pl.concat([day_rows, kept.select(day_rows.columns)], how="vertical_relaxed"), overlapping

"""Official daily exchange rates and the monthly rate kassa stores from them.

A service module (:mod:`.cbr`, :mod:`.ecb`) returns :class:`DailyRate` values: how many units of its
home currency one unit of another was officially worth on a day. kassa's ``fx_rates`` holds one rate
per currency and month (the metrics convert each amount with the rate of its own month), so the daily
rates become the **arithmetic mean of the month's published rates** (:func:`monthly_means`): what
management accounts call the monthly average rate, and for the ECB exactly its own published monthly
average (the EXR ``M`` series is the mean of the month's daily reference rates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class DailyRate:
    """Units of the service's home currency per one unit of ``currency`` on ``day``."""

    day: dt.date
    currency: str
    rate: float


@dataclass(frozen=True)
class MonthlyRate:
    month: dt.date  # the month's first day
    currency: str
    rate: float
    days: int  # how many published daily rates the mean is of


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    """The last day of ``month``."""
    nxt = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def monthly_means(daily: Iterable[DailyRate], *, invert: bool = False) -> list[MonthlyRate]:
    """The mean of each (currency, month)'s daily rates, sorted by currency and month; ``invert``: its
    inverse (rates quoted the other way round, as the ECB's)."""
    sums: dict[tuple[str, dt.date], list[float]] = {}
    for d in daily:
        sums.setdefault((d.currency, month_start(d.day)), []).append(d.rate)
    return [
        MonthlyRate(
            month=m,
            currency=c,
            # Not rounded: a rate per unit can be tiny (0.0057 EUR per yen), and any fixed number of
            # decimals would cost a large amount of yen its precision.
            rate=len(v) / sum(v) if invert else sum(v) / len(v),
            days=len(v),
        )
        for (c, m), v in sorted(sums.items())
    ]

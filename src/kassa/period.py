"""Reporting periods: calendar months (or ranges) in the business's time zone.

Timestamps in the warehouse are naive local times of the business, so a period is a half-open range
of local dates ``[start, end)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from kassa.errors import BadPeriod

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
YEARS = (1900, 2199)  # business data of this world; keeps every previous period and trend window in range
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)


def _month_start(y: int, m: int) -> dt.date:
    if not 1 <= m <= 12:
        raise BadPeriod(f"month {m:02d} does not exist")
    return dt.date(y, m, 1)


def add_months(d: dt.date, n: int) -> dt.date:
    k = d.year * 12 + d.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    @classmethod
    def parse(cls, text: str) -> Period:
        """See :meth:`_parse`; refuses periods outside :data:`YEARS` (whose previous period, or the report's
        twelve months before them, would leave the calendar)."""
        try:
            p = cls._parse(text)
        except (ValueError, OverflowError) as exc:  # a date the calendar cannot hold
            raise BadPeriod(f"{text!r}: {exc}") from None
        if not (YEARS[0] <= p.start.year and p.end <= dt.date(YEARS[1] + 1, 1, 1)):
            raise BadPeriod(f"{text!r}: kassa reads periods within the years {YEARS[0]}–{YEARS[1]}")
        return p

    @classmethod
    def _parse(cls, text: str) -> Period:
        """``2026-10``, ``2026-01..2026-10`` (whole months), ``2026-10-01..2026-10-15`` (days, inclusive) or
        ``2026-W43`` (an ISO week, Monday to Sunday; a range of weeks works too)."""
        t = text.strip()
        if ".." in t:
            a, b = (x.strip() for x in t.split("..", 1))
            first, last = cls._parse(a), cls._parse(b)
            if last.end <= first.start:
                raise BadPeriod(f"period {text!r} ends before it starts")
            return cls(first.start, last.end)
        if m := _MONTH.match(t):
            start = _month_start(int(m[1]), int(m[2]))
            return cls(start, add_months(start, 1))
        if m := _WEEK.match(t):
            try:
                monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
            except ValueError as exc:
                raise BadPeriod(f"{text!r}: {exc}") from None
            return cls(monday, monday + dt.timedelta(days=7))
        if m := _DAY.match(t):
            try:
                d = dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError as exc:
                raise BadPeriod(f"{text!r}: {exc}") from None
            return cls(d, d + dt.timedelta(days=1))
        raise BadPeriod(
            f"{text!r} is not a period; use YYYY-MM, YYYY-MM..YYYY-MM, YYYY-MM-DD..YYYY-MM-DD or YYYY-Www"
        )

    @classmethod
    def month_of(cls, d: dt.date) -> Period:
        start = dt.date(d.year, d.month, 1)
        return cls(start, add_months(start, 1))

    @property
    def is_whole_months(self) -> bool:
        return self.start.day == 1 and self.end.day == 1

    @property
    def months(self) -> int:
        return (self.end.year * 12 + self.end.month) - (self.start.year * 12 + self.start.month)

    def previous(self) -> Period:
        """The period of the same length just before this one (whole months stay whole months)."""
        if self.is_whole_months:
            return Period(add_months(self.start, -self.months), self.start)
        return Period(self.start - (self.end - self.start), self.start)

    @property
    def label(self) -> str:
        if self.is_whole_months:
            last = add_months(self.end, -1)
            a = f"{self.start:%Y-%m}"
            return a if self.months == 1 else f"{a}..{last:%Y-%m}"
        last_day = self.end - dt.timedelta(days=1)
        return (
            f"{self.start:%Y-%m-%d}"
            if last_day == self.start
            else f"{self.start:%Y-%m-%d}..{last_day:%Y-%m-%d}"
        )

    def __str__(self) -> str:
        return self.label

    def start_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    def end_ts(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time())

    def month_starts(self) -> list[dt.date]:
        out, d = [], dt.date(self.start.year, self.start.month, 1)
        while d < self.end:
            out.append(d)
            d = add_months(d, 1)
        return out

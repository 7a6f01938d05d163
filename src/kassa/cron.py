"""When a scheduled job is due: five-field cron expressions, and the plain forms people write.

``daily 08:00``, ``weekly mon 09:00``, ``monthly 1 09:00`` (day N of the month) and any cron expression
``minute hour day-of-month month day-of-week`` (``*``, lists ``1,15``, ranges ``1-5``, steps ``*/15``;
day of week 0-7 or mon..sun, 0 and 7 both Sunday; when both day fields are restricted either may match,
as in cron). Times are wall-clock times in the business's time zone.

Why kassa parses cron itself instead of taking APScheduler or croniter: the schedule's state (what ran,
when, how it ended) lives in the warehouse, so all a library would give is "the latest time at or
before now", which is these 120 lines; APScheduler's own job stores and threads would keep a second
copy of the state, and croniter's maintainers have announced its end.

Shared vocabulary (beside :mod:`kassa.settings`, which validates a schedule as it reads kassa.yaml).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class CronError(ValueError):
    """A schedule that is not a cron expression nor one of the plain forms; the message says which part."""


def _plain(text: str) -> str | None:
    """``daily 08:00`` → ``0 8 * * *`` (None when ``text`` is not a plain form)."""
    parts = text.lower().split()
    if not parts or parts[0] not in ("daily", "weekly", "monthly"):
        return None
    want = {"daily": 2, "weekly": 3, "monthly": 3}[parts[0]]
    if len(parts) != want:
        example = {"daily": "daily 08:00", "weekly": "weekly mon 09:00", "monthly": "monthly 1 09:00"}
        raise CronError(f"{text!r}: write it as {example[parts[0]]!r}")
    m = _HHMM.match(parts[-1])
    if not m:
        raise CronError(f"{text!r}: {parts[-1]!r} is not a time HH:MM")
    hh, mm = int(m.group(1)), int(m.group(2))
    if parts[0] == "daily":
        return f"{mm} {hh} * * *"
    if parts[0] == "weekly":
        day = parts[1][:3]
        if day not in DAYS:
            raise CronError(f"{text!r}: {parts[1]!r} is not a day of the week (mon … sun)")
        return f"{mm} {hh} * * {DAYS.index(day)}"
    if not parts[1].isdigit() or not 1 <= int(parts[1]) <= 28:
        # 29-31 do not exist every month: a digest "on the 31st" would skip February without a word.
        raise CronError(f"{text!r}: the day of the month must be 1 … 28 (every month has it)")
    return f"{mm} {hh} {int(parts[1])} * *"


def _field(text: str, lo: int, hi: int, what: str, names: tuple[str, ...] = ()) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, step_text = part.partition("/")
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"{what}: step {step_text!r} is not a whole number ≥ 1")
            step = int(step_text)
        if part == "*":
            first, last = lo, hi
        else:
            a, _, b = part.partition("-")
            first = _number(a, lo, hi, what, names)
            last = _number(b, lo, hi, what, names) if b else (hi if step > 1 else first)
            if last < first:
                raise CronError(f"{what}: range {part!r} runs backwards")
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, lo: int, hi: int, what: str, names: tuple[str, ...]) -> int:
    if text.lower()[:3] in names and names:
        return names.index(text.lower()[:3])
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise CronError(f"{what}: {text!r} is not in {lo}-{hi}")
    return int(text)


@dataclass(frozen=True)
class Cron:
    """A parsed schedule; :meth:`latest` is the time it last fired at or before a moment."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        expr = _plain(text.strip()) or text.strip()
        parts = expr.split()
        if len(parts) != 5:
            raise CronError(
                f"{text!r}: not a schedule; write 'daily 08:00', 'weekly mon 09:00', 'monthly 1 09:00' "
                "or five cron fields 'minute hour day month weekday'"
            )
        weekdays = _field(parts[4], 0, 7, "day of week", DAYS)
        return cls(
            text=text,
            minutes=_field(parts[0], 0, 59, "minute"),
            hours=_field(parts[1], 0, 23, "hour"),
            days=_field(parts[2], 1, 31, "day of month"),
            months=_field(parts[3], 1, 12, "month"),
            weekdays=frozenset(d % 7 for d in weekdays),
            any_day=parts[2].startswith("*"),
            any_weekday=parts[4].startswith("*"),
        )

    def _day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month, in_week = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:  # cron: a restricted field alone decides
            return in_month and in_week
        return in_month or in_week

    def latest(self, now: dt.datetime, zone: str, horizon_days: int = 800) -> dt.datetime | None:
        """The last time at or before ``now`` (aware) the schedule fired, aware in ``zone``; None when it
        has not fired within ``horizon_days`` (February 30th never comes)."""
        tz = ZoneInfo(zone)
        local = now.astimezone(tz).replace(second=0, microsecond=0, tzinfo=None)
        day = local.date()
        times = sorted(((h, m) for h in self.hours for m in self.minutes), reverse=True)
        for back in range(horizon_days):
            d = day - dt.timedelta(days=back)
            if not self._day_matches(d):
                continue
            for h, m in times:
                at = dt.datetime(d.year, d.month, d.day, h, m)
                if back == 0 and at > local:
                    continue
                return at.replace(tzinfo=tz)
        return None

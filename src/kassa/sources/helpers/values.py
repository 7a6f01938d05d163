"""Local spellings of numbers, money and dates rewritten into kassa's canonical text (polars expressions).

:func:`kassa.sources.validate.validate` is strict (ISO dates, dot decimals); these expressions sit
between a file's text cells and it, vectorised. Handled: ``1 234 567,89`` (space, no-break space
U+00A0, narrow no-break space U+202F or thin space as thousands separator), ``"1,204"`` (English
thousands), ``1.234,50``, currency signs and words (₽, руб., р., $, €, RUB, USD…), a ``%`` suffix,
the Unicode minus; ``27.11.2026``, ``27.11.2026 14:05``, ISO, ``20261127``, Excel serial day numbers
(``46353`` = 2026-11-27, day 0 = 1899-12-30), ``1 September 2026`` and ``September 1, 2026``; Unix
time; money in micro-units. A value that cannot be rewritten is passed on **unchanged**, so
``validate`` refuses it quoting what the file said. Every expression keeps its input column's name.
"""

from __future__ import annotations

import polars as pl

NULL_MARKERS = ("", "-", "--", "—", "–", "n/a", "N/A", "null", "NULL", "None")
EXCEL_EPOCH = "1899-12-30"  # Excel day 0 (the 1900 leap-year bug makes day 60 = 1900-02-29, unused here)


def nulls(s: pl.Expr) -> pl.Expr:
    """Trimmed text with the exports' "no value" markers (``--``, ``—``, ``n/a``…) made null."""
    t = s.cast(pl.String).str.strip_chars()
    return pl.when(t.is_in(list(NULL_MARKERS))).then(None).otherwise(t).name.keep()


_CURRENCY = r"(?i)(₽|руб\.?|р\.|\brub\b|\busd\b|\beur\b|\$|€|£|₸|%)"
_NUMBER = r"^-?\d+(\.\d+)?$"


def number_text(s: pl.Expr, decimal: str = "auto") -> pl.Expr:
    """Local number text -> canonical ``"1234.50"`` (digits kept exactly; no float round trip).

    Like every value expression here, the result keeps the input column's name.

    ``decimal`` is ``","``, ``"."`` or ``"auto"``. Auto, per value: with both separators the later one
    is the decimal mark (``1.234,50``, ``1,234.50``); a lone comma or dot followed by exactly three
    digits in groups (``1,204``, ``12,345,678``) separates thousands; any other lone comma is a decimal
    comma (``189,24``). Unparseable text is returned unchanged for ``validate`` to refuse.
    """
    raw = nulls(s)
    t = (
        raw.str.replace_all(_CURRENCY, "")
        .str.replace_all("\u2212", "-")
        .str.replace_all(r"[\s\u00a0\u202f\u2009']", "")
    )
    t = pl.when(t.str.contains(r"^\(.*\)$")).then(pl.lit("-") + t.str.strip_chars("()")).otherwise(t)
    if decimal == ",":
        out = t.str.replace_all(r"\.", "").str.replace(",", ".", literal=True)
    elif decimal == ".":
        out = t.str.replace_all(",", "", literal=True)
    else:
        last_comma = t.str.find(r",[^,]*$")
        last_dot = t.str.find(r"\.[^.]*$")
        both = last_comma.is_not_null() & last_dot.is_not_null()
        comma_decimal = (both & (last_comma > last_dot)) | (
            last_comma.is_not_null() & last_dot.is_null() & ~t.str.contains(r"^-?\d{1,3}(,\d{3})+$")
        )
        dot_thousands = (
            last_dot.is_not_null() & last_comma.is_null() & t.str.contains(r"^-?\d{1,3}(\.\d{3}){2,}$")
        )
        out = (
            pl.when(comma_decimal)
            .then(t.str.replace_all(r"\.", "").str.replace(",", ".", literal=True))
            .when(dot_thousands)
            .then(t.str.replace_all(r"\.", ""))
            .otherwise(t.str.replace_all(",", "", literal=True))
        )
    return (
        pl.when(raw.is_null()).then(None).when(out.str.contains(_NUMBER)).then(out).otherwise(raw).name.keep()
    )


def micros_text(s: pl.Expr) -> pl.Expr:
    """Whole micro-units -> currency units as exact text: ``"1061083620"`` -> ``"1061.083620"``.

    Yandex Direct's Reports API (default ``returnMoneyInMicros``) and Google Ads ``cost_micros`` give
    money ×1,000,000. Text that is not a whole number is returned unchanged for ``validate`` to refuse.
    """
    raw = nulls(s)
    t = raw.str.replace_all(r"[\s\u00a0\u202f]", "")
    neg = t.str.starts_with("-")
    digits = t.str.strip_prefix("-").str.zfill(7)
    n = digits.str.len_chars()
    units = pl.concat_str([digits.str.slice(0, n - 6), pl.lit("."), digits.str.slice(n - 6, 6)])
    signed = pl.when(neg).then(pl.lit("-") + units).otherwise(units)
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(t.str.contains(r"^-?\d+$"))
        .then(signed)
        .otherwise(raw)
        .name.keep()
    )


def _excel_serial(t: pl.Expr) -> pl.Expr:
    """Excel day number (with an optional day fraction) -> Datetime; only 20000–80000 (1954–2119)."""
    num = t.cast(pl.Float64, strict=False)
    ok = t.str.contains(r"^\d{5}(\.\d+)?$") & num.is_between(20000, 80000)
    us = (num * 86_400_000_000).round(0).cast(pl.Int64, strict=False)
    base = pl.lit(EXCEL_EPOCH).str.to_datetime("%Y-%m-%d", time_unit="us")
    return pl.when(ok).then(base + pl.duration(microseconds=us)).otherwise(None)


# (pattern the date part must match, strptime format): the pattern keeps "27.11.26" from being read
# as the year 26 by a four-digit-year format.
_DAYFIRST = (
    (r"^\d{1,2}\.\d{1,2}\.\d{4}$", "%d.%m.%Y"),
    (r"^\d{1,2}\.\d{1,2}\.\d{2}$", "%d.%m.%y"),
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%d/%m/%Y"),
    (r"^\d{1,2}-\d{1,2}-\d{4}$", "%d-%m-%Y"),
)
_MONTHFIRST = tuple((p, f.replace("%d/%m/%Y", "%m/%d/%Y")) for p, f in _DAYFIRST)


def _local_date(part: pl.Expr, dayfirst: bool) -> pl.Expr:
    return pl.coalesce(
        *[
            pl.when(part.str.contains(p)).then(part.str.to_date(f, strict=False))
            for p, f in (_DAYFIRST if dayfirst else _MONTHFIRST)
        ]
    )


def _local_datetime(t: pl.Expr, dayfirst: bool) -> pl.Expr:
    date_part = t.str.extract(r"^(\S+) \d{1,2}:\d{2}(?::\d{2})?$", 1)
    time_part = t.str.extract(r"^\S+ (\d{1,2}:\d{2}(?::\d{2})?)$", 1)
    time_full = (
        pl.when(time_part.str.count_matches(":") == 1).then(time_part + pl.lit(":00")).otherwise(time_part)
    )
    day = _local_date(date_part, dayfirst)
    return (day.dt.strftime("%Y-%m-%d") + pl.lit(" ") + time_full).str.to_datetime(
        "%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"
    )


def date_text(s: pl.Expr, *, dayfirst: bool = True) -> pl.Expr:
    """Local date text -> ``"YYYY-MM-DD"``.

    Accepts ``27.11.2026`` (also ``27.11.26``), ``27/11/2026`` (``11/27/2026`` with ``dayfirst=False``),
    ISO (with a time part, which is dropped), ``20261127``, Excel serial days, ``1 September 2026`` and
    ``September 1, 2026``. A timestamp such as ``27.11.2026 14:05`` gives its date.
    """
    raw = nulls(s)
    t = raw.str.replace_all(r"\s+", " ")
    day_part = t.str.extract(r"^(\S+?)(?:[ T]\d{1,2}:\d{2}.*)?$", 1)
    parsed = pl.coalesce(
        pl.when(day_part.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
            day_part.str.to_date("%Y-%m-%d", strict=False)
        ),
        _local_date(day_part, dayfirst),
        pl.when(t.str.contains(r"^\d{8}$")).then(t.str.to_date("%Y%m%d", strict=False)),
        _excel_serial(t).dt.date(),
        t.str.to_date("%d %B %Y", strict=False),
        t.str.to_date("%B %d, %Y", strict=False),
        t.str.to_date("%d %b %Y", strict=False),
        t.str.to_date("%b %d, %Y", strict=False),
    )
    return (
        pl.when(raw.is_null())
        .then(None)
        .otherwise(pl.coalesce(parsed.dt.strftime("%Y-%m-%d"), raw))
        .name.keep()
    )


def timestamp_text(s: pl.Expr, *, dayfirst: bool = True) -> pl.Expr:
    """Local timestamp text -> ``"YYYY-MM-DD HH:MM:SS"`` (ISO text, with or without a zone, passes as is).

    Accepts ``27.11.2026 14:05[:33]``, ``27/11/2026 14:05``, a bare date (midnight) in any form
    :func:`date_text` reads, and Excel serial numbers with a day fraction. Times are the exporting
    system's local time; ``validate`` takes zone-less times as the business's time zone.
    """
    raw = nulls(s)
    t = raw.str.replace_all(r"\s+", " ")
    iso = t.str.contains(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
    parsed = pl.coalesce(_local_datetime(t, dayfirst), _excel_serial(t).dt.round("1s"))
    as_date = date_text(t, dayfirst=dayfirst)
    has_time = t.str.contains(r"\d:\d")
    date_only = pl.when(~has_time & as_date.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
        as_date + pl.lit(" 00:00:00")
    )
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(iso)
        .then(t)
        .otherwise(pl.coalesce(parsed.dt.strftime("%Y-%m-%d %H:%M:%S"), date_only, raw))
        .name.keep()
    )


def epoch_text(s: pl.Expr, unit: str = "s") -> pl.Expr:
    """Unix time (``"s"``, ``"ms"`` or ``"us"`` since 1970-01-01 UTC) -> ``"YYYY-MM-DD HH:MM:SS.ffffff+00:00"``.

    The ``+00:00`` suffix makes ``validate`` convert the instant into the business's time zone.
    """
    raw = nulls(s)
    factor = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
    n = raw.cast(pl.Int64, strict=False)
    # Bound the range (years 1970–2200) so a corrupt value is refused instead of overflowing.
    ok = raw.str.contains(r"^\d{1,17}$") & n.is_between(0, 7_258_118_400 * 1_000_000 // factor)
    ts = pl.from_epoch(pl.when(ok).then(n * factor).otherwise(None), time_unit="us")
    return (
        pl.when(raw.is_null())
        .then(None)
        .when(ok)
        .then(ts.dt.strftime("%Y-%m-%d %H:%M:%S%.6f") + pl.lit("+00:00"))
        .otherwise(raw)
        .name.keep()
    )

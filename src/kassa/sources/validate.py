"""Turn a frame of text columns into typed canonical rows, reporting every refused value.

Every source maps its format to canonical column names with text values, adds ``__line`` (the line of
the input each row came from) and calls :func:`validate`; the rules for dates, money, statuses and
personal data are therefore the same whatever the file's format.
"""

from __future__ import annotations

import hashlib

import phonenumbers
import polars as pl
import pyarrow as pa

from kassa.errors import MissingColumn, RowError
from kassa.schema import Column, Kind
from kassa.settings import Settings

LINE = "__line"

_TRUE = {"true", "1", "yes", "y", "да", "t", "истина"}
_FALSE = {"false", "0", "no", "n", "нет", "f", "ложь"}

_POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "int": pl.Int64(),
    "count": pl.Int64(),
    "money": pl.Float64(),
    "bool": pl.Boolean(),
    "month": pl.Date(),
}


def polars_type(t: str) -> pl.DataType:
    return _POLARS_TYPES[t]


def parse_timestamps(s: pl.Expr, timezone: str) -> pl.Expr:
    """ISO 8601 text -> naive local time of the business.

    Values without a zone are taken as the business's local time (as CRMs and Metrica export them);
    values with ``Z`` or ``±HH:MM`` are converted into the business time zone.
    """
    norm = s.str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2})[T ]", "$1 ")
    zone = norm.str.extract(r"(Z|[+-]\d{2}:?\d{2})$", 1)
    body = norm.str.replace(r"(Z|[+-]\d{2}:?\d{2})$", "")
    local = pl.coalesce(
        body.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"),
        body.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"),
        body.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us"),
        body.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
    )
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    digits = zone.str.replace_all(r"[^0-9]", "")
    minutes = sign * (
        digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
        + digits.str.slice(2, 2).cast(pl.Int64, strict=False)
    )
    offset = pl.when(zone == "Z").then(0).otherwise(minutes)
    zoned = (
        (local - pl.duration(minutes=offset))
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(timezone)
        .dt.replace_time_zone(None)
    )
    return pl.when(zone.is_null()).then(local).otherwise(zoned)


def _plain_timestamps_first(df: pl.DataFrame, name: str, general: pl.Expr) -> pl.Expr:
    """One strptime when every value is plain ``YYYY-MM-DD HH:MM:SS`` (no zone), else ``general``.

    Exports of analytics logs write every timestamp that way; the zone-aware parser above evaluates
    all its branches for every row and costs ~25× more on a million rows. Same result either way.
    """
    plain = pl.col(name).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
    needs_general = df.select((pl.col(name).is_not_null() & plain.is_null()).any()).item()
    return general if needs_general else plain


def _parse(col: Column, s: pl.Expr, settings: Settings) -> pl.Expr:
    if col.type == "str":
        return s
    if col.type in ("int", "count"):
        return s.cast(pl.Int64, strict=False)
    if col.type == "money":
        # "nan", "inf" and 1e400 cast to non-finite floats that would poison every sum: refuse them.
        money = s.cast(pl.Float64, strict=False)
        return pl.when(money.is_finite()).then(money).otherwise(None)
    if col.type == "date":
        return s.str.to_date("%Y-%m-%d", strict=False)
    if col.type == "month":
        return (
            pl.when(s.str.contains(r"^\d{4}-\d{2}$"))
            .then(s + "-01")
            .otherwise(None)
            .str.to_date("%Y-%m-%d", strict=False)
        )
    if col.type == "timestamp":
        return parse_timestamps(s, settings.timezone)
    if col.type == "bool":
        low = s.str.to_lowercase()
        return (
            pl.when(low.is_in(list(_TRUE)))
            .then(True)
            .when(low.is_in(list(_FALSE)))
            .then(False)
            .otherwise(None)
        )
    raise AssertionError(col.type)


def _reason(col: Column) -> str:
    return {
        "int": "not a whole number",
        "count": "not a whole number",
        "money": "not a number (use a dot for decimals, no thousands separators)",
        "date": "not a date in YYYY-MM-DD form",
        "month": "not a month in YYYY-MM form",
        "timestamp": "not a timestamp in ISO form (YYYY-MM-DD HH:MM[:SS][±HH:MM])",
        "bool": "not true/false",
    }.get(col.type, "invalid value")


def normalise_phone(raw: str, region: str) -> str | None:
    """E.164 form of a phone number, or None when it is not a possible number."""
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str | None:
    e = raw.strip().lower()
    if "@" not in e or e.startswith("@") or e.endswith("@") or " " in e:
        return None
    return e


def salted_hash(value: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()


def validate(
    frame: pl.DataFrame, kind: Kind, *, file: str, settings: Settings, salt: str
) -> tuple[pa.Table, list[RowError]]:
    """Validate text columns against ``kind``; return the good rows (stored form) and the refused values.

    A row with any refused value is left out whole, so no row is half-loaded.
    """
    if LINE not in frame.columns:
        frame = frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    missing = [c for c in kind.required if c not in frame.columns]
    if missing:
        raise MissingColumn(
            f"{file}: required column(s) {', '.join(missing)} missing for {kind.name} "
            f"(found: {', '.join(c for c in frame.columns if c != LINE) or 'none'})"
        )
    text_cols = []
    for col in kind.columns:
        if col.name in frame.columns:
            text_cols.append(
                pl.col(col.name).cast(pl.String).str.strip_chars().replace("", None).alias(col.name)
            )
        else:
            text_cols.append(pl.lit(None, dtype=pl.String).alias(col.name))
    df = frame.select(pl.col(LINE), *text_cols)

    parsed = []
    checks: list[tuple[str, pl.Expr, str]] = []  # (column, bad-mask, reason)
    for col in kind.columns:
        raw = pl.col(col.name)
        if col.personal:
            continue
        value = _parse(col, raw, settings)
        if col.type == "timestamp":
            value = _plain_timestamps_first(df, col.name, value)
        if col.choices:
            value = raw.str.to_lowercase()
            checks.append(
                (
                    col.name,
                    raw.is_not_null() & ~value.is_in(list(col.choices)),
                    f"must be one of {', '.join(col.choices)}",
                )
            )
        parsed.append(value.alias(col.name))
        if col.type != "str":
            checks.append((col.name, raw.is_not_null() & value.is_null(), _reason(col)))
        if col.type == "count":
            checks.append((col.name, value < 0, "must not be negative"))
        if col.required:
            checks.append((col.name, raw.is_null(), "required value is empty"))
    if kind.name == "fx_rates":
        checks.append(
            ("rate", pl.col("rate").cast(pl.Float64, strict=False) <= 0, "an exchange rate must be positive")
        )
    if kind.name == "deals":
        closed = pl.col("status").str.to_lowercase().is_in(["won", "lost"]) & pl.col("closed_at").is_null()
        checks.append(("closed_at", closed, "a won or lost deal needs closed_at"))

    flags = df.select(
        pl.col(LINE), *[mask.fill_null(False).alias(f"__bad{i}") for i, (_, mask, _) in enumerate(checks)]
    )
    errors: list[RowError] = []
    bad_any = (
        pl.any_horizontal([pl.col(f"__bad{i}") for i in range(len(checks))]) if checks else pl.lit(False)
    )
    bad_mask = flags.select(bad_any.alias("bad")).to_series()
    bad_rows = flags.filter(bad_mask)
    if bad_rows.height:
        values = df.filter(pl.col(LINE).is_in(bad_rows[LINE].implode()))
        by_line = {r[LINE]: r for r in values.iter_rows(named=True)}
        for r in bad_rows.iter_rows(named=True):
            for i, (cname, _, reason) in enumerate(checks):
                if r[f"__bad{i}"]:
                    errors.append(RowError(file, r[LINE], cname, by_line[r[LINE]][cname], reason))
    good = df.with_columns(parsed).filter(~bad_mask)

    # Duplicated natural keys in one file: keep the first, refuse the others (an export that lists a
    # row twice would otherwise double it).
    dup = good.with_columns(pl.col(LINE).min().over(list(kind.key)).alias("__first")).filter(
        pl.col(LINE) != pl.col("__first")
    )
    for r in dup.iter_rows(named=True):
        key = ", ".join(f"{k}={r[k]}" for k in kind.key)
        errors.append(
            RowError(
                file, r[LINE], kind.key[0], str(r[kind.key[0]]), f"duplicate of line {r['__first']} ({key})"
            )
        )
    if dup.height:
        good = good.filter(~pl.col(LINE).is_in(dup[LINE].implode()))

    good = _fill_defaults(good, kind, settings)
    good = _personal(good, kind, settings, salt, file, errors)
    stored = kind.stored_columns()
    out = good.select(
        [
            pl.col(n).cast(polars_type(t))
            if n in good.columns
            else pl.lit(None, dtype=polars_type(t)).alias(n)
            for n, t in stored
        ]
    )
    errors.sort(key=lambda e: (e.line or 0, e.column or ""))
    return out.to_arrow(), errors


def _fill_defaults(df: pl.DataFrame, kind: Kind, settings: Settings) -> pl.DataFrame:
    fills = []
    names = {c.name for c in kind.columns}
    if "currency" in names:
        fills.append(pl.col("currency").fill_null(settings.currency).str.to_uppercase())
    if "vat_included" in names:
        fills.append(pl.col("vat_included").fill_null(False))
    if kind.name == "activities":
        fills.append(pl.col("cost").fill_null(0.0))
        fills.append(pl.col("campaign").fill_null(""))
    return df.with_columns(fills) if fills else df


def _personal(
    df: pl.DataFrame, kind: Kind, settings: Settings, salt: str, file: str, errors: list[RowError]
) -> pl.DataFrame:
    for col in kind.columns:
        if not col.personal:
            continue
        norm_fn = (
            (lambda v: normalise_phone(v, settings.phone_region))
            if col.personal == "phone"
            else normalise_email
        )
        normalised = [None if v is None else norm_fn(v) for v in df[col.name].to_list()]
        for line, raw, n in zip(df[LINE].to_list(), df[col.name].to_list(), normalised, strict=True):
            if raw is not None and n is None:
                # Not fatal: the lead is still a lead; only matching by this contact is lost.
                errors.append(
                    RowError(
                        file,
                        line,
                        col.name,
                        None,
                        f"not a valid {col.personal}; kept the row without it",
                        row_kept=True,
                    )
                )
        hashes = [None if n is None else salted_hash(n, salt) for n in normalised]
        raw_kept = normalised if settings.store_personal_data else [None] * len(normalised)
        df = df.with_columns(
            pl.Series(f"{col.name}_hash", hashes, dtype=pl.String),
            pl.Series(col.name, raw_kept, dtype=pl.String),
        )
    return df

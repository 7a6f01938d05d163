"""The path table every attribution model reads, and the reader of ChannelAttribution-style path files.

A path table is a Polars frame with one row per (distinct) customer journey:

============== ================ ===============================================================
column          type             meaning
============== ================ ===============================================================
``path``        list of str      channels touched, oldest first
``conversions`` float            conversions at the end of this path (fractions are kept)
``value``       float            money of those conversions (revenue)
``nulls``       float            journeys along this path that did not convert
``days_before`` list of float    optional: days from each touch to the journey's end
============== ================ ===============================================================

The same layout serves a file exported for (or from) the R/Python package ChannelAttribution
(``path`` like ``a > b > c``, ``total_conversions``, ``total_conversion_value``, ``total_null``), so
its users can compare numbers directly, and the journeys kassa builds from its own warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from kassa.errors import KassaError, MissingColumn, RowError

UNKNOWN = "unknown"  # the same word kassa.link uses for "no touch we know of"

PATH_DTYPE = pl.List(pl.String)
DAYS_DTYPE = pl.List(pl.Float64)

# ChannelAttribution's column names -> ours.
FILE_COLUMNS = {
    "path": "path",
    "total_conversions": "conversions",
    "total_conversion_value": "value",
    "total_null": "nulls",
}


class Note(str):
    """A caveat for people: reads as its English text (JSON, logs, tests), and keeps its message id and
    parameters so the CLI can show it in Russian (``locale/ru/LC_MESSAGES/attribution.po``)."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Note:
        note = super().__new__(cls, msgid.format(**params))
        note.msgid, note.params = msgid, params
        return note


NO_TIMES_FOR_LOOKBACK = "{source}: no per-touch times, so the lookback window of {days} days was not applied"
NO_NULL_COLUMN = "{file}: no 'total_null' column: every journey in the file is taken as converting"


class BadPathFile(KassaError):
    """A path file or path table with a value kassa cannot use; the message names file, line and column."""

    def __init__(self, error: RowError) -> None:
        self.error = error
        super().__init__(str(error))


@dataclass(frozen=True)
class PathTable:
    """Aggregated journeys: the input of every model. Build with :meth:`from_frame` or :func:`read_path_file`.

    ``has_value`` is false when the source had no conversion value (then ``value`` is 0 and value
    credits are refused by the CLI rather than shown as zeros). ``warnings`` travel with the table
    into every result, so a caveat about the input is never lost.
    """

    frame: pl.DataFrame
    source: str = "paths"
    has_value: bool = True
    has_nulls: bool = True
    warnings: tuple[str, ...] = ()
    line_offset: int = 2  # line of the first data row in the source file (header is line 1)
    direct: tuple[str, ...] = field(default=("direct",))
    # Derived facts (the sorted channel list) computed once; a new table from replace() starts empty.
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        *,
        source: str = "paths",
        has_value: bool | None = None,
        has_nulls: bool | None = None,
        warnings: Sequence[str] = (),
        line_offset: int = 2,
        direct: Sequence[str] = ("direct",),
    ) -> PathTable:
        """Check and normalise a frame with ``path`` and ``conversions`` (``value``, ``nulls``, ``days_before`` optional).

        Raises
        ------
        MissingColumn
            ``path`` or ``conversions`` is absent.
        BadPathFile
            An empty path, a negative or non-finite number, or ``days_before`` of another length than ``path``.
        """
        for col in ("path", "conversions"):
            if col not in frame.columns:
                raise MissingColumn(f"{source}: no column {col!r} (columns: {', '.join(frame.columns)})")
        hv = "value" in frame.columns if has_value is None else has_value
        hn = "nulls" in frame.columns if has_nulls is None else has_nulls
        cols = [
            pl.col("path").cast(PATH_DTYPE),
            pl.col("conversions").cast(pl.Float64),
            (pl.col("value") if "value" in frame.columns else pl.lit(0.0)).cast(pl.Float64).alias("value"),
            (pl.col("nulls") if "nulls" in frame.columns else pl.lit(0.0)).cast(pl.Float64).alias("nulls"),
        ]
        if "days_before" in frame.columns:
            cols.append(pl.col("days_before").cast(DAYS_DTYPE))
        out = frame.select(cols)
        table = cls(out, source, hv, hn, tuple(warnings), line_offset, tuple(direct))
        table._check()
        return table

    def _fail(self, row: int, column: str, value: object, reason: str) -> BadPathFile:
        return BadPathFile(
            RowError(
                self.source, row + self.line_offset, column, None if value is None else str(value), reason
            )
        )

    def _check(self) -> None:
        f = self.frame
        empty = f.select((pl.col("path").list.len().fill_null(0) == 0).arg_true().first()).item()
        if empty is not None:
            raise self._fail(empty, "path", "", "empty path: a journey needs at least one channel")
        if any(c is None or c.strip() == "" for c in self._distinct_channels()):
            # Rare: find the row only now (the element-wise scan is the slow part on millions of paths).
            blank = f.select(
                pl.col("path")
                .list.eval(pl.element().fill_null("").str.strip_chars() == "")
                .list.any()
                .arg_true()
                .first()
            ).item()
            raise self._fail(
                blank,
                "path",
                " > ".join(str(x) for x in f["path"][blank].to_list()),
                "a channel name is empty",
            )
        for col in ("conversions", "value", "nulls"):
            bad = f.select(
                ((pl.col(col).is_null()) | (~pl.col(col).is_finite()) | (pl.col(col) < 0)).arg_true().first()
            ).item()
            if bad is not None:
                v = f[col][bad]
                raise self._fail(bad, col, v, "must be a finite number ≥ 0")
        bad = f.select(((pl.col("value") > 0) & (pl.col("conversions") == 0)).arg_true().first()).item()
        if bad is not None:
            raise self._fail(
                bad, "value", f["value"][bad], "value on a path with no conversion cannot be credited"
            )
        if "days_before" in f.columns:
            bad = f.select(
                (pl.col("days_before").list.len() != pl.col("path").list.len()).arg_true().first()
            ).item()
            if bad is not None:
                raise self._fail(
                    bad,
                    "days_before",
                    f["days_before"][bad].to_list(),
                    "needs one number per touch of the path",
                )
            bad = f.select(
                pl.col("days_before")
                .list.eval(pl.element().is_null() | (pl.element() < 0))
                .list.any()
                .arg_true()
                .first()
            ).item()
            if bad is not None:
                raise self._fail(
                    bad,
                    "days_before",
                    f["days_before"][bad].to_list(),
                    "days before the conversion must be ≥ 0",
                )

    # -- facts -----------------------------------------------------------------------------------------
    @property
    def has_times(self) -> bool:
        return "days_before" in self.frame.columns

    def _distinct_channels(self) -> list[str | None]:
        if "distinct" not in self._cache:
            self._cache["distinct"] = self.frame.get_column("path").explode().unique().to_list()
        distinct: list[str | None] = self._cache["distinct"]
        return distinct

    def channels(self) -> list[str]:
        """Every channel that appears in any path (converting or not), sorted."""
        return sorted(c for c in self._distinct_channels() if c is not None)

    def total(self, column: str = "conversions") -> float:
        return float(self.frame.get_column(column).sum())

    def with_warning(self, message: str) -> PathTable:
        return replace(self, warnings=(*self.warnings, message))

    # -- the two filters every model shares ------------------------------------------------------------
    def prepared(self, *, lookback_days: float | None = None, exclude_direct: bool = False) -> PathTable:
        """Apply the lookback window and "exclude direct", the same way for every model.

        * ``lookback_days``: touches more than this many days before the journey's end are dropped
          (needs ``days_before``). A converting journey left with no touch is credited to
          ``unknown`` — its conversions stay in every total; a non-converting one is dropped.
        * ``exclude_direct``: touches of the direct channels are dropped from paths that have any
          other touch; a path made only of direct touches keeps them (the conversion still happened
          and must be credited somewhere, as in Yandex Metrica's "last significant source").
        """
        table = self
        if lookback_days is not None:
            if not table.has_times:
                table = table.with_warning(
                    Note(NO_TIMES_FOR_LOOKBACK, source=self.source, days=f"{lookback_days:g}")
                )
            else:
                table = table._filter_touches(pl.col("days_before") <= lookback_days, keep_empty_as=UNKNOWN)
        if exclude_direct:
            direct = list(self.direct)
            row_has_other = (~pl.col("path").is_in(direct)).any().over("_row")
            table = table._filter_touches(~pl.col("path").is_in(direct) | ~row_has_other, keep_empty_as=None)
        return table

    def _filter_touches(self, keep: pl.Expr, keep_empty_as: str | None) -> PathTable:
        f = self.frame.with_row_index("_row")
        list_cols = ["path", "days_before"] if self.has_times else ["path"]
        scalars = [c for c in f.columns if c not in list_cols and c != "_row"]
        touches = f.select("_row", *list_cols).explode(list_cols).filter(keep)
        kept = touches.group_by("_row", maintain_order=True).agg(list_cols)
        joined = f.select("_row", *scalars).join(kept, on="_row", how="left", maintain_order="left")
        empty = pl.col("path").is_null()
        if keep_empty_as is None:
            joined = joined.filter(~empty)
        else:
            joined = joined.filter(~empty | (pl.col("conversions") > 0)).with_columns(
                pl.when(empty)
                .then(pl.lit([keep_empty_as], dtype=PATH_DTYPE))
                .otherwise(pl.col("path"))
                .alias("path"),
                *(
                    [
                        pl.when(empty)
                        .then(pl.lit([0.0], dtype=DAYS_DTYPE))
                        .otherwise(pl.col("days_before"))
                        .alias("days_before")
                    ]
                    if self.has_times
                    else []
                ),
                pl.when(empty).then(0.0).otherwise(pl.col("nulls")).alias("nulls"),
            )
        order = ["path", "conversions", "value", "nulls"] + (["days_before"] if self.has_times else [])
        return replace(self, frame=joined.select(order))

    def aggregated(self) -> pl.DataFrame:
        """One row per distinct channel sequence (times dropped): what Markov and Shapley need."""
        return self.frame.group_by("path").agg(
            pl.col("conversions").sum(), pl.col("value").sum(), pl.col("nulls").sum()
        )


def _detect_separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: counts[s]) if any(counts.values()) else ","


def read_path_file(
    path: str | Path,
    *,
    sep: str = ">",
    allow_missing_nulls: bool = False,
    direct: Sequence[str] = ("direct",),
) -> PathTable:
    """Read an aggregated path file in ChannelAttribution's layout.

    Columns: ``path`` (channels joined by ``sep``, e.g. ``vk_ads > seo > direct``),
    ``total_conversions``, optional ``total_conversion_value``, ``total_null`` and optional
    ``days_before`` (per-touch days before the journey's end, joined by the same ``sep``).
    The column delimiter (comma, semicolon or tab) is detected from the header.

    Without ``total_null`` the file holds converting paths only, and a Markov chain built from it
    believes every journey converts. kassa refuses such a file unless ``allow_missing_nulls`` is
    set, and then says so in the result's warnings (never silently).

    Raises
    ------
    MissingColumn, BadPathFile
        The message names the file, line and column.
    """
    p = Path(path)
    if not p.is_file():
        raise KassaError(f"{p}: no such file")
    with p.open("r", encoding="utf-8-sig") as fh:
        header = fh.readline()
    delimiter = _detect_separator(header)
    names = [h.strip().strip('"').lstrip("\ufeff") for h in header.rstrip("\r\n").split(delimiter)]
    lower = {n.lower(): n for n in names}
    missing = [c for c in ("path", "total_conversions") if c not in lower]
    if missing:
        raise MissingColumn(f"{p}: no column {missing[0]!r} (columns: {', '.join(names)})")
    warnings: list[str] = []
    if "total_null" not in lower:
        if not allow_missing_nulls:
            raise MissingColumn(
                f"{p}: no column 'total_null' (journeys that did not convert). Without it every path looks "
                "converting and Markov removal effects are wrong; add the column, or pass --allow-missing-nulls "
                "to accept a file of converting paths only"
            )
        warnings.append(Note(NO_NULL_COLUMN, file=p.name))
    numbers: list[str] = [
        c for c in ("total_conversions", "total_conversion_value", "total_null") if c in lower
    ]
    typed = _read_typed(p, delimiter, lower, numbers)
    has_value = "total_conversion_value" in lower
    cols: dict[str, pl.Expr | pl.Series] = {
        "path": _split(typed, sep),
        "conversions": pl.col("total_conversions"),
        "value": pl.col("total_conversion_value") if has_value else pl.lit(0.0),
        "nulls": pl.col("total_null") if "total_null" in lower else pl.lit(0.0),
    }
    if "days_before" in lower:
        cols["days_before"] = (
            pl.col("days_before")
            .fill_null("")
            .str.split(sep)
            .list.eval(pl.element().str.strip_chars().cast(pl.Float64, strict=False))
        )
    frame = typed.select(**cols)
    if "days_before" in frame.columns:
        bad = frame.select(
            pl.col("days_before").list.eval(pl.element().is_null()).list.any().arg_true().first()
        ).item()
        if bad is not None:
            raise BadPathFile(
                RowError(str(p), bad + 2, "days_before", typed["days_before"][bad], "not a list of numbers")
            )
    return PathTable.from_frame(
        frame,
        source=str(p),
        has_value=has_value,
        has_nulls="total_null" in lower,
        warnings=warnings,
        direct=direct,
    )


def _read_typed(p: Path, delimiter: str, lower: dict[str, str], numbers: list[str]) -> pl.DataFrame:
    """The file with numbers parsed. Fast path: Polars parses them while reading; if any cell is not a
    number, the file is read again as text to say exactly which line and column."""
    rename = {orig: low for low, orig in lower.items()}
    overrides = {orig: (pl.Float64 if low in numbers else pl.String) for low, orig in lower.items()}
    try:
        frame = pl.read_csv(
            p, separator=delimiter, schema_overrides=overrides, quote_char='"', encoding="utf8-lossy"
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.InvalidOperationError):
        frame = None
    if frame is not None:
        frame = frame.rename(rename)
        bad = frame.select(
            pl.any_horizontal(pl.col(c).is_null() | ~pl.col(c).is_finite() | (pl.col(c) < 0) for c in numbers)
            .arg_true()
            .first()
        ).item()
        if bad is None:
            return frame
    try:
        raw = pl.read_csv(
            p, separator=delimiter, infer_schema=False, quote_char='"', encoding="utf8-lossy"
        ).rename(rename)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise KassaError(f"{p}: cannot read as CSV: {exc}") from None
    typed = raw.with_columns(pl.col(c).str.strip_chars().cast(pl.Float64, strict=False) for c in numbers)
    for c in numbers:
        bad = typed.select(
            (pl.col(c).is_null() | ~pl.col(c).is_finite() | (pl.col(c) < 0)).arg_true().first()
        ).item()
        if bad is not None:
            raise BadPathFile(RowError(str(p), bad + 2, c, raw[c][bad], "not a number ≥ 0"))
    return typed


def _split(frame: pl.DataFrame, sep: str) -> pl.Series:
    """``a > b > c`` -> ``["a", "b", "c"]``. Exports write `` > `` between channels; splitting on that
    is the fast path, kept only if no piece still holds the separator or stray spaces (else every piece
    is split on the bare separator and stripped)."""
    col = frame.get_column("path").fill_null("")
    canonical = f" {sep.strip()} " if sep.strip() else sep
    fast = col.str.split(canonical)
    pieces = fast.explode().unique().to_list()
    if all(x is not None and x == x.strip() and sep not in x for x in pieces):
        return fast
    return col.str.split(sep).list.eval(pl.element().str.strip_chars())


def paths_from_records(
    records: Sequence[tuple[Sequence[str], float, float, float]], **kw: object
) -> PathTable:
    """A path table from ``(path, conversions, value, nulls)`` tuples — handy in tests and notebooks."""
    frame = pl.DataFrame(
        {
            "path": [list(r[0]) for r in records],
            "conversions": [float(r[1]) for r in records],
            "value": [float(r[2]) for r in records],
            "nulls": [float(r[3]) for r in records],
        },
        schema={"path": PATH_DTYPE, "conversions": pl.Float64, "value": pl.Float64, "nulls": pl.Float64},
    )
    return PathTable.from_frame(frame, **kw)  # type: ignore[arg-type]

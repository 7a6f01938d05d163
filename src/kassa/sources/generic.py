"""Any CSV/XLSX file, read into any canonical table through a column mapping the user writes.

For the files no other reader knows — a Telegram channel's spend sheet, a call-tracking export, a
price list of deals kept in Excel. Never detected on its own: ``kassa import FILE --format generic
--mapping map.yaml``. The mapping (validated; errors name file:line and field)::

    kind: spend                 # the canonical table: spend, activities, visits, leads, deals, payments
    columns:                    # canonical column: the column's header in your file
      date: "День"
      campaign: "Кампания"
      impressions: "Показы"
      clicks: "Клики"
      cost: "Расход, ₽"
    constants:                  # the same value in every row
      channel: telegram
    date_format: "%d.%m.%Y"     # optional strptime format for dates and timestamps; default: any of
                                # 27.11.2026, 27.11.2026 14:05, ISO, 20261127, Excel day numbers
    dayfirst: true              # default true: 03/04/2026 is 3 April
    decimal: ","                # optional "," or "."; default: decided per value (1 234,50 / 1,234.50)

Reading goes through :mod:`kassa.sources.tabular` (encodings, delimiters, title and totals rows,
XLSX). Numbers lose spaces, currency signs and thousands separators; every value that still does not
fit its canonical type is refused with the file's line and the file's column header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from kassa.errors import ConfigError, MissingColumn
from kassa.i18n import Translator
from kassa.schema import KINDS, Kind
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.crm_mapping import relabel
from kassa.sources.helpers.values import date_text, nulls, number_text, timestamp_text
from kassa.sources.registry import SOURCES
from kassa.sources.tabular import norm_name, read_table
from kassa.sources.validate import LINE, validate
from kassa.yamlfile import load_yaml_model

_ = Translator("sources")

DecimalMark = Literal[",", ".", "auto"]


def _scalar_text(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if isinstance(v, int | float | str) else v


class ColumnMapping(BaseModel):
    """The ``--mapping`` YAML of the generic reader (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    # Field order matters: ``columns`` is checked against ``kind`` and ``constants``.
    kind: Literal["spend", "activities", "visits", "leads", "deals", "payments"]
    constants: dict[str, str] = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    dayfirst: bool = True
    decimal: DecimalMark = "auto"

    @field_validator("constants", "columns", mode="before")
    @classmethod
    def _values_as_text(cls, v: Any) -> Any:
        return {k: _scalar_text(val) for k, val in v.items()} if isinstance(v, dict) else v

    @field_validator("constants")
    @classmethod
    def _known_constants(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        kind = info.data.get("kind")
        if kind is not None:
            _check_names(KINDS[kind], v)
        return v

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        kind = info.data.get("kind")
        if kind is None:
            return v
        _check_names(KINDS[kind], v)
        given = set(v) | set(info.data.get("constants") or {})
        missing = [c for c in KINDS[kind].required if c not in given]
        if missing:
            raise ValueError(
                f"{kind} needs column(s) {', '.join(missing)} (map them here or give them in constants)"
            )
        return v

    @field_validator("date_format")
    @classmethod
    def _strptime(cls, v: str | None) -> str | None:
        if v is not None and "%" not in v:
            raise ValueError("use strptime codes, e.g. %d.%m.%Y for 27.11.2026")
        return v


def _check_names(kind: Kind, names: dict[str, str]) -> None:
    known = {c.name for c in kind.columns}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} not a column of {kind.name}; its columns: {', '.join(sorted(known))}"
        )


def load_column_mapping(path: Path | None, source: str = "generic") -> ColumnMapping:
    if path is None:
        raise ConfigError(
            _(
                "the {format} format needs a column mapping: kassa import FILE --format {format} --mapping map.yaml "
                "(see docs/sources.md)",
                format=source,
            )
        )
    return load_yaml_model(path, ColumnMapping)


def date_expr(s: pl.Expr, fmt: str | None, dayfirst: bool) -> pl.Expr:
    """Canonical date text from the user's strptime format, or from any spelling tabular knows."""
    if fmt is None:
        return date_text(s, dayfirst=dayfirst)
    raw = nulls(s)
    return pl.coalesce(raw.str.to_date(fmt, strict=False).dt.strftime("%Y-%m-%d"), raw)


def timestamp_expr(s: pl.Expr, fmt: str | None, dayfirst: bool) -> pl.Expr:
    if fmt is None:
        return timestamp_text(s, dayfirst=dayfirst)
    raw = nulls(s)
    return pl.coalesce(
        raw.str.to_datetime(fmt, strict=False, time_unit="us").dt.strftime("%Y-%m-%d %H:%M:%S"), raw
    )


def canonical_text(kind: Kind, column: str, s: pl.Expr, m: ColumnMapping) -> pl.Expr:
    """The column's cells rewritten into the text ``validate`` parses for the column's type."""
    t = kind.column(column).type
    if t == "date":
        return date_expr(s, m.date_format, m.dayfirst)
    if t == "timestamp":
        return timestamp_expr(s, m.date_format, m.dayfirst)
    if t in ("money", "count", "int"):
        return number_text(s, m.decimal)
    return nulls(s)


@SOURCES.register
class Generic:
    name = "generic"
    detect_priority = 1000
    title = "Any CSV/XLSX with a column mapping (--format generic --mapping map.yaml) → any canonical table"
    spec_url = "docs/sources.md"

    def detect(self, path: Path, head: bytes) -> bool:
        return False  # it reads anything, so it must be asked for by name

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        m = load_column_mapping(ctx.mapping)
        kind = KINDS[m.kind]
        sources = list(m.columns.values())
        table = read_table(
            path,
            sources,
            min_hits=min(2, len(sources)) or 1,
            format_title=str(ctx.mapping),
            limits=ctx.settings.import_limits,
        )
        picked: list[pl.Expr] = []
        labels: dict[str, str] = {}
        missing: list[str] = []
        cols = set(table.frame.columns)
        for canon, header in m.columns.items():
            name = norm_name(header)
            if name not in cols:
                missing.append(header)
                continue
            picked.append(canonical_text(kind, canon, pl.col(name), m).alias(canon))
            labels[canon] = header
        if missing:
            raise MissingColumn(
                _(
                    "{file}: column(s) {missing} named in {mapping} are not in the file (its columns: {found})",
                    file=path,
                    missing=", ".join(missing),
                    mapping=ctx.mapping,
                    found=", ".join(table.header),
                )
            )
        consts = [pl.lit(v, pl.String).alias(c) for c, v in m.constants.items() if c not in m.columns]
        frame = table.frame.select(pl.col(LINE), *picked, *consts)
        rows, errors = validate(frame, kind, file=str(path), settings=ctx.settings, salt=ctx.salt)
        errors = [relabel(e, labels) for e in [*table.errors, *errors]]
        return [
            ReadResult(kind=kind.name, rows=rows, errors=errors, rows_read=frame.height + len(table.errors))
        ]

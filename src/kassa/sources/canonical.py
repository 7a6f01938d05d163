"""kassa's own CSV format: one file per canonical table, recognised by its header.

Format (docs/import-format.md): UTF-8 (a BOM is accepted), comma-separated, a header row, ISO dates
(``2026-10-01``) and timestamps (``2026-10-01 14:05[:00][+03:00]``), dot decimals. The table a file
holds is the canonical kind whose required columns all appear in the header (``--kind`` overrides).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kassa.errors import ImportFailed, UnknownFormat
from kassa.schema import KINDS, Kind
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.registry import SOURCES
from kassa.sources.validate import LINE, validate


def header_of(head: bytes) -> list[str]:
    text = head.decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text else ""
    return [h.strip().strip('"').lower() for h in first.split(",")]


def kind_from_header(columns: list[str]) -> Kind | None:
    """The canonical kind whose required columns the header has.

    A header that carries another table's id (``deal_id`` in a file that also has ``lead_id``,
    ``created_at`` and ``status``) is never taken for a table without that column: a deals file that
    lacks ``amount`` must fail as a deals file, not load as leads.
    """
    cols = set(columns)
    foreign_ids = {k.key[0] for k in KINDS.values() if len(k.key) == 1}
    fits = [
        k
        for k in KINDS.values()
        if set(k.required) <= cols and not ((cols & foreign_ids) - {c.name for c in k.columns})
    ]
    if not fits:
        return None
    return max(fits, key=lambda k: (len(cols & {c.name for c in k.columns}), len(k.required)))


def closest_kind(columns: list[str]) -> Kind | None:
    """The kind a header was most likely meant to be (its id column is there), for a precise error."""
    cols = set(columns)
    with_id = [k for k in KINDS.values() if len(k.key) == 1 and k.key[0] in cols]
    if not with_id:
        return None
    return max(with_id, key=lambda k: len(cols & {c.name for c in k.columns}))


@SOURCES.register
class CanonicalCSV:
    name = "canonical"
    detect_priority = 0
    title = "kassa canonical CSV (spend, activities, visits, leads, deals, payments)"
    spec_url = "docs/import-format.md"

    def detect(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() != ".csv":
            return False
        header = header_of(head)
        return kind_from_header(header) is not None or closest_kind(header) is not None

    def read(self, path: Path, ctx: ReadContext) -> list[ReadResult]:
        if ctx.kind is not None:
            if ctx.kind not in KINDS:
                raise UnknownFormat(f"{path}: unknown kind {ctx.kind!r}; kinds: {', '.join(KINDS)}")
            kind = KINDS[ctx.kind]
        else:
            with open(path, "rb") as f:
                header = header_of(f.read(64 * 1024))
            found = kind_from_header(header) or closest_kind(header)
            if found is None:
                raise UnknownFormat(
                    f"{path}: header {', '.join(header)!s} matches no canonical table; "
                    + "; ".join(f"{k.name} needs {', '.join(k.required)}" for k in KINDS.values())
                )
            kind = found
        try:
            frame = pl.read_csv(
                path,
                infer_schema=False,
                encoding="utf8-lossy",
                raise_if_empty=False,
                truncate_ragged_lines=False,
            )
        except pl.exceptions.PolarsError as exc:
            raise ImportFailed(f"{path}: not a readable CSV file: {str(exc).splitlines()[0]}") from None
        frame = frame.rename({c: c.strip().lstrip("\ufeff").lower() for c in frame.columns})
        frame = frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
        rows, errors = validate(frame, kind, file=str(path), settings=ctx.settings, salt=ctx.salt)
        return [ReadResult(kind=kind.name, rows=rows, errors=errors, rows_read=frame.height)]

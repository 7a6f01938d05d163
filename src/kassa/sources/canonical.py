"""kassa's own CSV format: one file per canonical table, recognised by its header.

Format (docs/import-format.md): UTF-8 (a BOM is accepted), comma-separated, a header row, ISO dates
(``2026-10-01``) and timestamps (``2026-10-01 14:05[:00][+03:00]``), dot decimals. The table a file
holds is the canonical kind whose required columns all appear in the header (``--kind`` overrides).
A file saved as UTF-16 (Excel's "Unicode text") or in a Cyrillic code page is read as well.

The file is first streamed once through :class:`~kassa.sources.helpers.text.TextRecords` (bounded
memory; a field or line beyond the settings' ``import_limits`` is refused by file, line and column),
which also finds each record's first line (a quoted cell may span lines) and the rows with more cells
than the header; those rows are refused by line and the rest load. polars then reads the UTF-8 file,
in one go, which is five times faster than building the frame from Python; other encodings are built
from the stream.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from kassa.errors import RowError, UnknownFormat
from kassa.schema import KINDS, Kind
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.helpers.text import TextRecords, detect_file_encoding, head_text
from kassa.sources.registry import SOURCES
from kassa.sources.validate import LINE, validate

_CHUNK_ROWS = 65_536


def header_of(head: bytes) -> list[str]:
    text = head_text(head)
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


def near_kind(columns: list[str]) -> tuple[Kind, str] | None:
    """The kind whose required columns the header has all but one of, and that one (for a clear error)."""
    cols = set(columns)
    near = [
        (k, missing[0])
        for k in KINDS.values()
        if len(k.required) >= 3 and len(missing := [c for c in k.required if c not in cols]) == 1
    ]
    if not near:
        return None
    return max(near, key=lambda km: len(cols & {c.name for c in km[0].columns}))


def _frame_from_records(records: Iterator[tuple[int, list[str]]], names: list[str]) -> pl.DataFrame:
    """The records as polars would have read them: text columns, empty and missing cells null."""
    width = len(names)
    frames: list[pl.DataFrame] = []
    chunk: list[list[str | None]] = []

    def flush() -> None:
        if chunk:
            cols = {n: [row[i] for row in chunk] for i, n in enumerate(names)}
            frames.append(pl.DataFrame(cols, schema=dict.fromkeys(names, pl.String())))
            chunk.clear()

    for _line, cells in records:
        row: list[str | None] = [c or None for c in cells[:width]]
        chunk.append(row + [None] * (width - len(row)))
        if len(chunk) >= _CHUNK_ROWS:
            flush()
    flush()
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict.fromkeys(names, pl.String()))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


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

    def near_miss(self, path: Path, head: bytes) -> str | None:
        if path.suffix.lower() != ".csv":
            return None
        near = near_kind(header_of(head))
        if near is None:
            return None
        kind, missing = near
        return (
            f"the header has the columns of kassa's {kind.name} CSV but not {missing!r}, which {kind.name} "
            f"needs ({', '.join(kind.required)}; docs/import-format.md)"
        )

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
        frame, refused = self._frame(path, ctx)
        rows, errors = validate(frame, kind, file=str(path), settings=ctx.settings, salt=ctx.salt)
        errors = sorted([*refused, *errors], key=lambda e: (e.line or 0, e.column or ""))
        return [ReadResult(kind=kind.name, rows=rows, errors=errors, rows_read=frame.height + len(refused))]

    @staticmethod
    def _frame(path: Path, ctx: ReadContext) -> tuple[pl.DataFrame, list[RowError]]:
        """The file's rows as text columns plus ``__line``, and the rows refused for too many cells."""
        file = str(path)
        encoding = detect_file_encoding(path)
        records = TextRecords(
            path, delimiter=",", quote='"', encoding=encoding, limits=ctx.settings.import_limits
        )
        stream = iter(records)
        first = next(stream, None)
        if first is None:
            return pl.DataFrame(schema={LINE: pl.Int64()}), []
        records.header = first[1]
        names = _unique([c.strip().lstrip("\ufeff").lower() for c in first[1]])
        width = len(names)
        lines = array("q")
        refused: list[RowError] = []
        for line, cells in stream:
            lines.append(line)
            extra = [c for c in cells[width:] if c.strip()]
            if extra:
                refused.append(
                    RowError(
                        file,
                        line,
                        None,
                        extra[0],
                        f"the row has {len(cells)} cells but the header has {width}",
                    )
                )
        frame: pl.DataFrame | None = None
        if encoding in ("utf-8", "utf-8-sig"):
            try:
                frame = pl.read_csv(
                    path,
                    infer_schema=False,
                    encoding="utf8-lossy",
                    raise_if_empty=False,
                    truncate_ragged_lines=True,
                    new_columns=names,
                )
            except pl.exceptions.PolarsError:
                frame = None  # an unclosed or stray quote polars will not split: csv's split below does
            if frame is not None and frame.height != len(lines):
                frame = None  # polars split records differently from csv (a stray quote): trust csv's lines
        if frame is None:
            again = TextRecords(
                path, delimiter=",", quote='"', encoding=encoding, limits=ctx.settings.import_limits
            )
            rest = iter(again)
            next(rest, None)  # the header
            frame = _frame_from_records(rest, names)
        frame = frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64()))
        if refused:
            frame = frame.filter(~pl.col(LINE).is_in([e.line for e in refused]))
        return frame, refused

"""Loading rows into the warehouse as import batches: the statements of one load, in the caller's transaction.

:class:`kassa.store.Warehouse` is the one writer and holds the transaction (``import_files``,
``load_fetched``); the statements a load runs live here so the class stays readable. What a load does:
the batch's rows are inserted tagged with a new ``batch_id``, the rows they supersede (same natural key,
or same channel and dates for spend and activities: ``Kind.policy``) are archived into
``<table>__replaced`` under that batch and deleted, and the batch is recorded in ``import_batches`` —
so ``undo`` can put back exactly what was there, and :mod:`kassa.store.recovery` can check after a kill
that every batch adds up.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from kassa.errors import RowError
from kassa.schema import KINDS, ColumnType, Kind
from kassa.sources.base import ReadResult

_IBIS_TYPES: dict[ColumnType, str] = {
    "str": "string",
    "date": "date",
    "timestamp": "timestamp(6)",
    "int": "int64",
    "count": "int64",
    "money": "float64",
    "bool": "boolean",
    "month": "date",
}


def table_schema(kind: Kind) -> ibis.Schema:
    cols = {name: _IBIS_TYPES[t] for name, t in kind.stored_columns()}
    cols["batch_id"] = "int64"
    return ibis.schema(cols)


@dataclass
class FileReport:
    """What one file contributed to an import."""

    file: str
    format: str
    kind: str
    rows_read: int
    rows_loaded: int
    rows_replaced: int
    errors: list[RowError]
    batch_id: int | None
    already_imported_as: int | None = None

    @property
    def rows_rejected(self) -> int:
        return len({e.line for e in self.errors if not e.row_kept})


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def errors(self) -> list[RowError]:
        return [e for f in self.files for e in f.errors]


class _RowCount:
    """Tells ``on_rows`` the rows read so far in one import: a streamed result's as each batch is read,
    a whole one's at once."""

    def __init__(self, on_rows: Callable[[int], None]) -> None:
        self.on_rows, self.read = on_rows, 0

    def watch(self, results: list[ReadResult]) -> None:
        for r in results:
            if isinstance(r.rows, pa.RecordBatchReader):
                r.rows = pa.RecordBatchReader.from_batches(r.rows.schema, self._counted(r.rows))
            else:
                self._add(r.rows.num_rows)

    def _counted(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            self._add(batch.num_rows)
            yield batch

    def _add(self, n: int) -> None:
        self.read += n
        self.on_rows(self.read)


def next_batch_id(db: duckdb.DuckDBPyConnection) -> int:
    row = db.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM import_batches").fetchone()
    assert row is not None
    return int(row[0])


def load(
    db: duckdb.DuckDBPyConnection,
    path: Path | str,
    sha: str,
    fmt: str,
    res: ReadResult,
    loaded_at: dt.datetime,
) -> FileReport:
    """Load one reader's result as a new import batch (the caller holds the transaction)."""
    kind = KINDS[res.kind]
    prior = db.execute(
        "SELECT batch_id FROM import_batches WHERE sha256 = ? AND kind = ? AND undone_at IS NULL",
        [sha, kind.name],
    ).fetchone()
    if prior is not None:
        return FileReport(
            str(path),
            fmt,
            kind.name,
            res.rows_read,
            0,
            0,
            res.errors,
            None,
            already_imported_as=int(prior[0]),
        )
    batch_id = next_batch_id(db)
    if isinstance(res.rows, pa.RecordBatchReader):
        return load_stream(db, path, sha, fmt, res, kind, batch_id, loaded_at)
    new = res.rows.append_column("batch_id", pa.array([batch_id] * res.rows.num_rows, pa.int64()))
    replaced = 0
    period: tuple[Any, Any] = (None, None)
    if new.num_rows:
        db.register("__kassa_new", new)
        try:
            where = replace_condition(kind)
            archive = f"{kind.name}__replaced"
            db.execute(f"INSERT INTO {archive} SELECT t.*, {batch_id} FROM {kind.name} t WHERE {where}")
            row = db.execute(f"SELECT count(*) FROM {kind.name} t WHERE {where}").fetchone()
            replaced = int(row[0]) if row else 0
            db.execute(f"DELETE FROM {kind.name} t WHERE {where}")
            cols = ", ".join(f'"{n}"' for n in table_schema(kind).names)
            db.execute(f"INSERT INTO {kind.name} ({cols}) SELECT {cols} FROM __kassa_new")
            got = db.execute(
                f"SELECT min(CAST({kind.date_column} AS DATE)), max(CAST({kind.date_column} AS DATE)) FROM __kassa_new"
            ).fetchone()
            if got:
                period = (got[0], got[1])
        finally:
            db.unregister("__kassa_new")
    record_batch(db, batch_id, path, sha, fmt, kind, res, new.num_rows, replaced, period, loaded_at)
    return FileReport(str(path), fmt, kind.name, res.rows_read, new.num_rows, replaced, res.errors, batch_id)


def load_stream(
    db: duckdb.DuckDBPyConnection,
    path: Path | str,
    sha: str,
    fmt: str,
    res: ReadResult,
    kind: Kind,
    batch_id: int,
    loaded_at: dt.datetime,
) -> FileReport:
    """Load a result read in batches (large files) with bounded memory.

    The batches are spooled to a temporary Parquet file as they are read, then inserted in one
    statement, tagged with the new batch id; then the rows it supersedes
    are archived and deleted exactly as for a whole table, with the batch's own rows (in the table
    already) standing in for ``__kassa_new``. The reader's refused rows and ``rows_read`` are
    complete once it is exhausted, which is before the batch is recorded.
    """
    assert isinstance(res.rows, pa.RecordBatchReader)
    names = [n for n in table_schema(kind).names if n != "batch_id"]
    cols = ", ".join(f'"{n}"' for n in names)
    loaded = 0
    # Spooled to a Parquet file, then one INSERT: DuckDB holds a transaction's appends in memory
    # (1.4 GB for 3M visits appended batch by batch) but streams a single INSERT from Parquet
    # (0.7 GB, and 5× faster), so memory stays bounded while the import stays one transaction.
    with tempfile.TemporaryDirectory(prefix="kassa-import-") as tmp:
        spool = Path(tmp) / "rows.parquet"
        writer: pq.ParquetWriter | None = None
        try:
            for chunk in res.rows:
                if writer is None:
                    # Uncompressed, no dictionaries: half the CPU of the defaults; the spool lives
                    # for one import and takes about the input file's size on disk.
                    writer = pq.ParquetWriter(spool, chunk.schema, compression="none", use_dictionary=False)
                writer.write_batch(chunk)
                loaded += chunk.num_rows
        finally:
            if writer is not None:
                writer.close()
        if loaded:
            # Tables are sets (every read orders explicitly); keeping the file's order costs DuckDB
            # 40 % more CPU on this insert.
            db.execute("SET preserve_insertion_order = false")
            try:
                db.execute(
                    f"INSERT INTO {kind.name} ({cols}, batch_id) SELECT {cols}, {batch_id} FROM read_parquet(?)",
                    [str(spool)],
                )
            finally:
                db.execute("RESET preserve_insertion_order")
    replaced = 0
    period: tuple[Any, Any] = (None, None)
    if loaded:
        db.execute(
            f"CREATE OR REPLACE TEMP VIEW __kassa_new AS SELECT * FROM {kind.name} WHERE batch_id = {batch_id}"
        )
        try:
            where = f"t.batch_id <> {batch_id} AND {replace_condition(kind)}"
            db.execute(
                f"INSERT INTO {kind.name}__replaced SELECT t.*, {batch_id} FROM {kind.name} t WHERE {where}"
            )
            row = db.execute(f"SELECT count(*) FROM {kind.name} t WHERE {where}").fetchone()
            replaced = int(row[0]) if row else 0
            db.execute(f"DELETE FROM {kind.name} t WHERE {where}")
            got = db.execute(
                f"SELECT min(CAST({kind.date_column} AS DATE)), max(CAST({kind.date_column} AS DATE)) FROM __kassa_new"
            ).fetchone()
            if got:
                period = (got[0], got[1])
        finally:
            db.execute("DROP VIEW IF EXISTS __kassa_new")
    record_batch(db, batch_id, path, sha, fmt, kind, res, loaded, replaced, period, loaded_at)
    return FileReport(str(path), fmt, kind.name, res.rows_read, loaded, replaced, res.errors, batch_id)


def record_batch(
    db: duckdb.DuckDBPyConnection,
    batch_id: int,
    path: Path | str,
    sha: str,
    fmt: str,
    kind: Kind,
    res: ReadResult,
    loaded: int,
    replaced: int,
    period: tuple[Any, Any],
    loaded_at: dt.datetime,
) -> None:
    """The batch's row in ``import_batches``: what recovery and ``undo`` check the tables against."""
    rejected = len({e.line for e in res.errors if not e.row_kept})
    db.execute(
        "INSERT INTO import_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [
            batch_id,
            str(path),
            sha,
            fmt,
            kind.name,
            res.rows_read,
            loaded,
            rejected,
            replaced,
            *period,
            loaded_at,
        ],
    )


def replace_condition(kind: Kind) -> str:
    """SQL condition (over alias ``t``) selecting the existing rows the new batch supersedes."""
    if kind.policy == "upsert":
        match = " AND ".join(f"n.{k} IS NOT DISTINCT FROM t.{k}" for k in kind.key)
        return f"EXISTS (SELECT 1 FROM __kassa_new n WHERE {match})"
    scope = " AND ".join(f"r.{s} = t.{s}" for s in kind.scope)
    d = kind.date_column
    return (
        f"EXISTS (SELECT 1 FROM (SELECT {', '.join(kind.scope)}, min({d}) lo, max({d}) hi FROM __kassa_new "
        f"GROUP BY ALL) r WHERE {scope} AND t.{d} BETWEEN r.lo AND r.hi)"
    )

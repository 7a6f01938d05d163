"""The warehouse: one DuckDB file holding kassa's canonical tables, and the one write path into it.

Reads go through Ibis (``Warehouse.table``) so that every transform above this layer compiles for other
engines too. Writes are DuckDB-specific on purpose and live only here: DuckDB allows one writer per
file, so, as datasette does with SQLite, every write goes through this object, inside one transaction.

Guarantees of :meth:`Warehouse.import_files`:

* all files of one call land together or not at all (one transaction);
* re-importing a file already loaded changes nothing (its SHA-256 is remembered);
* an overlapping export replaces rather than doubles: natural keys for entities (visits, leads, deals,
  payments), and per channel and date range for spend and activities (``schema.Kind.policy``);
* rows replaced by a batch are archived, so ``undo`` restores exactly what was there before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa
from ibis.formats.pyarrow import PyArrowData

from kassa.errors import ImportFailed, WarehouseError, WarehouseTaken
from kassa.schema import KINDS
from kassa.settings import Settings
from kassa.sources.base import ReadContext, ReadResult, Source
from kassa.sources.registry import detect_format, get_source, not_a_file
from kassa.store import hashkey, loading, places, recovery
from kassa.store.loading import FileReport, ImportReport, _RowCount, table_schema

SCHEMA_VERSION = 1

log = logging.getLogger(__name__)

BATCHES_SCHEMA = ibis.schema(
    {
        "batch_id": "int64",
        "file": "string",
        "sha256": "string",
        "format": "string",
        "kind": "string",
        "rows_read": "int64",
        "rows_loaded": "int64",
        "rows_rejected": "int64",
        "rows_replaced": "int64",
        "period_start": "date",
        "period_end": "date",
        "loaded_at": "timestamp(6)",
        "undone_at": "timestamp(6)",
    }
)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _ArrowData(PyArrowData):
    """Ibis's conversion of a DuckDB result to an expression's types (as ``DuckDBPyArrowData``: a
    column of Ibis type null comes back as nulls, whatever DuckDB typed it)."""

    @classmethod
    def convert_column(cls, column: pa.Array, dtype: Any) -> pa.Array:
        if dtype.is_null():
            return pa.nulls(len(column))
        return super().convert_column(column, dtype)


class _NeedsUpgrade(Exception):
    pass


def _duckdb_type(t: object) -> str:
    dtype = ibis.dtype(t) if isinstance(t, str) else t
    return {
        "string": "VARCHAR",
        "date": "DATE",
        "timestamp(6)": "TIMESTAMP",
        "timestamp": "TIMESTAMP",
        "int64": "BIGINT",
        "float64": "DOUBLE",
        "boolean": "BOOLEAN",
    }[str(dtype)]


def _owner_only(*paths: Path) -> None:
    """The warehouse and its WAL hold the business's data: readable by their owner only (0600), also
    when a library caller's umask would leave them 0644 (``kassa`` itself runs with umask 077)."""
    for p in paths:
        try:
            if p.exists() and p.stat().st_mode & 0o077:
                p.chmod(0o600)
        except PermissionError:  # someone else's file, opened with their consent: leave it
            pass


def _migrate_to_1(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1: the six canonical tables, their archives, import batches."""


# Each entry upgrades the file from version N-1 to N; run in order inside one transaction.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _migrate_to_1}


class Warehouse:
    """A kassa warehouse file. Open with :meth:`open`; close (or use ``with``) to release the file."""

    def __init__(self, path: Path, con: Any, settings: Settings, read_only: bool) -> None:
        self.path = path
        self.ibis = con
        self.settings = settings
        self.read_only = read_only
        self._memo: dict[Any, Any] = {}
        self._schema_tag: str | None = None
        self._loading_at = dt.datetime.now()
        # What opening it found and put right after a killed write (kassa.store.recovery), in words.
        self.recovered: list[str] = []
        self._hash_key: bytes | None = None

    # -- opening -------------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        settings: Settings | None = None,
        read_only: bool = False,
        create: bool = True,
    ) -> Warehouse:
        if places.is_spark(path):  # a Spark warehouse (kassa.store.spark), not a file
            from kassa.store.spark import SparkWarehouse

            return SparkWarehouse.open_spark(path, settings=settings, read_only=read_only, create=create)
        p = Path(path)
        # A clean close checkpoints and removes the log: one left over means a write may have been cut.
        unclean = Path(f"{p}.wal").exists()
        if not p.exists() and (read_only or not create):
            raise WarehouseError(
                f"no warehouse at {p}: load data first (kassa import FILE --db {p}, or kassa demo)"
            )
        try:
            con = ibis.duckdb.connect(str(p), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WarehouseTaken(
                    f"{p} is open for writing by another process (a running `kassa serve` or import); "
                    "wait for it to finish or stop it, then try again"
                ) from None
            raise WarehouseError(f"cannot open {p}: {exc}") from None
        # DuckDB draws its own progress bar on stderr for long queries; kassa shows its own.
        con.con.execute("SET enable_progress_bar = false")
        if not read_only:
            _owner_only(p, p.with_name(p.name + ".wal"))
        wh = cls(p, con, settings or Settings(), read_only)
        if not read_only:
            wh._ensure_schema()
            if unclean:
                wh._recover()
            return wh
        try:
            wh._check_version()
            if unclean and recovery.interrupted(wh._db):
                raise _NeedsUpgrade()
        except _NeedsUpgrade:
            # Written by an older kassa, or cut by a kill: put right once (briefly as the writer), then read.
            wh.close()
            writer = cls.open(p, settings=settings, read_only=False)
            recovered = writer.recovered
            writer.close()
            wh = cls.open(p, settings=settings, read_only=True)
            wh.recovered = recovered
        return wh

    def _recover(self) -> None:
        torn = recovery.interrupted(self._db)
        if not torn:
            return
        with self._transaction():
            done = recovery.roll_back(self._db, torn)
        self._db.execute("CHECKPOINT")
        self.recovered = [r.message() for r in done]
        for line in self.recovered:
            log.warning("%s: %s", self.path, line)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def memo(self, key: Any, build: Callable[[], Any]) -> Any:
        """A derived object (e.g. the stitched money trail) built once per open warehouse.

        Forgotten after every write, and released (``release()``, if it has one) before the
        connection closes, so temporary tables never outlive the data they were derived from.
        """
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def memo_get(self, key: Any) -> Any | None:
        """The memo of ``key`` if one is kept, else ``None``; reads without building (no query runs)."""
        return self._memo.get(key)

    def cursor(self) -> Warehouse:
        """The same open warehouse on a connection of its own, for another thread (DuckDB connections are
        not thread-safe; a cursor is the connection each thread should use). Its reads see what was
        committed when each statement began, so pages read on one while an import writes on another
        (docs/architecture.md). Its temporary tables and memo are its own; ``close`` closes only it."""
        con = ibis.duckdb.from_connection(self._db.cursor())
        con.con.execute("SET enable_progress_bar = false")
        other = Warehouse(self.path, con, self.settings, self.read_only)
        other._hash_key = self._hash_key
        return other

    def interrupt(self) -> None:
        """Stop the statement running on this connection (from another thread): it raises
        ``duckdb.InterruptException`` in its own thread, whose transaction then rolls back."""
        self._db.interrupt()

    def forget(self) -> None:
        """Drop the memos and their temporary tables: another connection changed the data."""
        self._forget()

    def _forget(self) -> None:
        while self._memo:
            _, value = self._memo.popitem()
            release = getattr(value, "release", None)
            if release is not None:
                release()

    def close(self) -> None:
        self._forget()
        self.ibis.disconnect()

    @property
    def _db(self) -> duckdb.DuckDBPyConnection:
        return self.ibis.con  # the raw DuckDB connection: writes only

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One DuckDB transaction: committed when the block ends, rolled back (and the error re-raised)
        when the block or the commit fails, so nothing is ever half-written."""
        self._db.execute("BEGIN TRANSACTION")
        try:
            yield
            self._db.execute("COMMIT")
        except Exception:
            self._db.execute("ROLLBACK")
            raise

    def _ensure_schema(self) -> None:
        """Create a new file, or bring an older one up to date, in one transaction.

        Non-additive changes are numbered migrations (:data:`MIGRATIONS`). Additive ones — a canonical
        table or an optional column added to :mod:`kassa.schema` — need no migration: missing tables
        and columns are created here, so every file always has every column the code reads.
        """
        fresh = "kassa_meta" not in set(self.ibis.list_tables())
        with self._transaction():
            if fresh:
                self.ibis.create_table("kassa_meta", schema=ibis.schema({"key": "string", "value": "string"}))
                self._db.execute(
                    "INSERT INTO kassa_meta VALUES ('schema_version', ?), ('salt', ?), ('created_at', ?)",
                    [str(SCHEMA_VERSION), secrets.token_hex(16), dt.datetime.now(dt.UTC).isoformat()],
                )
                self.ibis.create_table("import_batches", schema=BATCHES_SCHEMA)
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise WarehouseError(
                    f"{self.path} has schema version {version}, newer than this kassa ({SCHEMA_VERSION}); upgrade kassa"
                )
            for v in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](self._db)
            if version < SCHEMA_VERSION:
                self._db.execute(
                    "UPDATE kassa_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)]
                )
            for statement in self._additive_changes():
                self._db.execute(statement)
            if self._meta("hashing") != hashkey.HASHING:
                self._key_the_hashes()

    def _additive_changes(self) -> list[str]:
        """DDL creating the canonical tables and columns this file lacks (empty when up to date)."""
        rows = self._db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        ).fetchall()
        have: dict[str, set[str]] = {}
        for table, column in rows:
            have.setdefault(table, set()).add(column)
        out: list[str] = []
        for kind in KINDS.values():
            schema = table_schema(kind)
            wanted = {**dict(schema.items())}
            for name, cols in (
                (kind.name, wanted),
                (f"{kind.name}__replaced", {**wanted, "replaced_by": ibis.dtype("int64")}),
            ):
                if name not in have:
                    ddl = ", ".join(f'"{c}" {_duckdb_type(t)}' for c, t in cols.items())
                    out.append(f"CREATE TABLE {name} ({ddl})")
                    continue
                for c, t in cols.items():
                    if c not in have[name]:
                        out.append(f'ALTER TABLE {name} ADD COLUMN "{c}" {_duckdb_type(t)}')
        return out

    def _check_version(self) -> None:
        if "kassa_meta" not in self.ibis.list_tables():
            raise WarehouseError(f"{self.path} is not a kassa warehouse")
        if self.schema_version != SCHEMA_VERSION or self._additive_changes():
            raise _NeedsUpgrade()
        if self._meta("hashing") != hashkey.HASHING:
            raise _NeedsUpgrade()  # unkeyed phone hashes (store/hashkey.py): key them once

    def _key_the_hashes(self) -> None:
        """A new warehouse gets its key; an older one's stored hashes are rewritten under it (in the
        schema transaction, so a failure leaves the file as it was)."""
        key = hashkey.new_key(self.path)
        hashkey.migrate(self._db, key, set(self.ibis.list_tables()))
        self._db.execute(
            "INSERT INTO kassa_meta VALUES ('hashing', ?), ('hash_key_check', ?)",
            [hashkey.HASHING, hashkey.key_check(key)],
        )

    @property
    def hash_key(self) -> bytes:
        """The key of the phone and e-mail hashes (never stored in the file); a clear error when missing."""
        if self._hash_key is None:
            found = hashkey.read_key(self.path)
            self._hash_key = hashkey.check_key(self.path, found, self._meta("hash_key_check"))
        return self._hash_key

    def _meta(self, key: str) -> str | None:
        # Plain SQL: an Ibis expression would be compiled on every open (a third of a second) for one row.
        # The key inline, not a parameter: binding one makes DuckDB import pandas (0.2 s) to check its type.
        assert key.replace("_", "").isalnum(), key  # kassa's own names only
        row = self._db.execute(f"SELECT value FROM kassa_meta WHERE key = '{key}'").fetchone()
        return None if row is None else str(row[0])

    @property
    def schema_version(self) -> int:
        return int(self._meta("schema_version") or 0)

    @property
    def salt(self) -> str:
        salt = self._meta("salt")
        assert salt is not None
        return salt

    @property
    def schema_tag(self) -> str:
        """A digest of every table's columns and types, in order: part of every compiled-query key
        (kassa.store.compiled), since SQL compiled against one layout must not run on another (a file
        upgraded in place has its added columns last)."""
        if self._schema_tag is None:
            rows = self._db.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = current_database() AND table_schema = 'main' "
                "ORDER BY table_name, ordinal_position"
            ).fetchall()
            self._schema_tag = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        return self._schema_tag

    # -- reading -------------------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """An Ibis table expression over a canonical table (lazy; nothing is read yet)."""
        return self.ibis.table(name)

    def create_temporary(self, name: str, sql: str) -> None:
        """Compute the query ``sql`` into the temporary table ``name`` (replacing one of that name); the
        table lives as long as the connection, or until :meth:`drop_temporary`."""
        self.ibis.raw_sql(f'CREATE OR REPLACE TEMPORARY TABLE "{name}" AS {sql}')

    def rows(self, sql: str, schema: ibis.Schema) -> pl.DataFrame:
        """The result of the compiled query ``sql``, typed by ``schema`` exactly as Ibis types results."""
        if self.ibis.name == "duckdb":
            # Straight to DuckDB: wrapping the text in ``ibis.sql`` would have sqlglot parse it again
            # (tens of milliseconds for the money trail's SQL), on every run.
            # Ibis's own converters, as its to_polars uses them; not ibis.backends.duckdb.converter, whose
            # import loads pandas (0.2 s of every command's start).
            from ibis.formats.polars import PolarsData

            arrow = _ArrowData.convert_table(self.ibis.con.sql(sql).to_arrow_table(), schema)
            return PolarsData.convert_table(pl.from_arrow(arrow), schema)
        frame: pl.DataFrame = self.ibis.sql(sql, schema=schema).to_polars()
        return frame

    def drop_temporary(self, name: str) -> None:
        self.ibis.raw_sql(f'DROP TABLE IF EXISTS temp.main."{name}"')

    def row_count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    def batches(self) -> list[dict[str, Any]]:
        t = self.table("import_batches")
        return t.order_by(t.batch_id).to_pyarrow().to_pylist()

    # -- writing -------------------------------------------------------------------------------------
    def read_file(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        kind: str | None = None,
        mapping: str | Path | None = None,
    ) -> tuple[Source, list[ReadResult]]:
        """Read and validate a file without touching the warehouse."""
        p = Path(path)
        if (refusal := not_a_file(p)) is not None:
            raise refusal
        src = get_source(format) if format else detect_format(p, self.settings.import_limits)
        ctx = ReadContext(
            settings=self.settings, salt=self.salt, kind=kind, mapping=Path(mapping) if mapping else None
        )
        results = src.read(p, ctx)
        for r in results:  # readers hash with the salt; the stored value is keyed (store/hashkey.py)
            r.rows = hashkey.keyed_rows(r.rows, r.kind, lambda: self.hash_key)
        return src, results

    def import_files(
        self,
        paths: Iterable[str | Path],
        *,
        format: str | None = None,
        kind: str | None = None,
        mapping: str | Path | None = None,
        strict: bool = False,
        progress: Callable[[str], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Read every file, then load them all in one transaction (see the module docstring).

        ``progress`` hears each step ("reading …", "loading …", "committing"); ``on_rows`` the rows read
        so far, as a streamed file is read. Either may raise to stop the import: nothing is loaded then
        (the dashboard cancels an upload so)."""
        if self.read_only:
            raise WarehouseError(f"{self.path} is open read-only")
        staged: list[tuple[Path, str, Source, list[ReadResult]]] = []
        counter = _RowCount(on_rows) if on_rows is not None else None
        for raw in paths:
            p = Path(raw)
            if progress:
                progress(f"reading {p.name}")
            src, results = self.read_file(p, format=format, kind=kind, mapping=mapping)
            if counter is not None:
                counter.watch(results)
            staged.append((p, file_sha256(p), src, results))
        if strict:
            # A streamed result knows its refused rows only once read: read it before judging.
            for _, _, _, rs in staged:
                for r in rs:
                    if isinstance(r.rows, pa.RecordBatchReader):
                        r.rows = r.rows.read_all()
            bad = [
                e
                for _, _, _, rs in staged
                for r in rs
                for e in r.errors
                if not e.row_kept or e.refused_when_strict
            ]
            if bad:
                raise ImportFailed(f"--strict: {len(bad)} refused value(s); nothing was imported", bad)
        report = ImportReport()
        # One time for every batch of this import: recovery tells the files of one import by it.
        self._loading_at = dt.datetime.now()
        with self._transaction():
            for p, sha, src, results in staged:
                for res in results:
                    if progress:
                        progress(f"loading {p.name} → {res.kind}")
                    report.files.append(self._load(p, sha, src.name, res))
            if progress:
                progress("committing")  # the last moment a cancel can still take everything back
            self._forget()
        return report

    def load_fetched(self, origin: str, fmt: str, kind: str, rows: pa.Table) -> FileReport:
        """Rows fetched from a web service, loaded as one import batch in one transaction, as a file's
        rows are (``origin`` stands for the file: what was asked of whom). The same rows fetched again
        change nothing: the batch is recognised by the SHA-256 of its rows, as a file by its bytes."""
        return self.load_fetched_all(origin, fmt, [(kind, rows)])[0]

    def load_fetched_all(self, origin: str, fmt: str, tables: list[tuple[str, pa.Table]]) -> list[FileReport]:
        """:meth:`load_fetched` for an answer the reader makes several tables of (amoCRM: leads and
        deals), as importing the same file does: a batch per table, all in one transaction."""
        if self.read_only:
            raise WarehouseError(f"{self.path} is open read-only")
        self._loading_at = dt.datetime.now()  # its own import, for recovery
        reports = []
        with self._transaction():
            for kind, rows in tables:
                sha = hashlib.sha256(f"{fmt}\n{kind}\n{rows.to_pylist()!r}".encode()).hexdigest()
                reports.append(self._load(origin, sha, fmt, ReadResult(kind, rows, [], rows.num_rows)))
            self._forget()
        return reports

    def _load(self, path: Path | str, sha: str, fmt: str, res: ReadResult) -> FileReport:
        return loading.load(self._db, path, sha, fmt, res, self._loading_at)

    def undo(self, batch_id: int) -> dict[str, int]:
        """Remove a batch's rows and restore what it replaced; one transaction."""
        batch = self._db.execute(
            "SELECT kind, undone_at FROM import_batches WHERE batch_id = ?", [batch_id]
        ).fetchone()
        if batch is None:
            raise WarehouseError(f"no import batch {batch_id} (see `kassa imports`)")
        if batch[1] is not None:
            raise WarehouseError(f"batch {batch_id} was already undone at {batch[1]:%Y-%m-%d %H:%M}")
        kind = KINDS[batch[0]]
        later = self._db.execute(
            f"SELECT DISTINCT replaced_by FROM {kind.name}__replaced WHERE batch_id = ? AND replaced_by > ?",
            [batch_id, batch_id],
        ).fetchall()
        if later:
            ids = ", ".join(str(r[0]) for r in later)
            raise WarehouseError(
                f"batch {batch_id} was partly replaced by later batch(es) {ids}; undo those first"
            )
        cols = ", ".join(f'"{n}"' for n in table_schema(kind).names)
        with self._transaction():
            removed = self._db.execute(
                f"SELECT count(*) FROM {kind.name} WHERE batch_id = ?", [batch_id]
            ).fetchone()
            self._db.execute(f"DELETE FROM {kind.name} WHERE batch_id = ?", [batch_id])
            restored = self._db.execute(
                f"SELECT count(*) FROM {kind.name}__replaced WHERE replaced_by = ?", [batch_id]
            ).fetchone()
            self._db.execute(
                f"INSERT INTO {kind.name} ({cols}) SELECT {cols} FROM {kind.name}__replaced WHERE replaced_by = ?",
                [batch_id],
            )
            self._db.execute(f"DELETE FROM {kind.name}__replaced WHERE replaced_by = ?", [batch_id])
            self._db.execute(
                "UPDATE import_batches SET undone_at = ? WHERE batch_id = ?", [dt.datetime.now(), batch_id]
            )
            self._forget()
        return {"removed": int(removed[0]) if removed else 0, "restored": int(restored[0]) if restored else 0}

    def fingerprint(self) -> dict[str, Any]:
        """Row counts and content hashes of every canonical table (tests: "nothing changed")."""
        out: dict[str, Any] = {}
        for name in KINDS:
            row = self._db.execute(
                f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM (SELECT * EXCLUDE (batch_id) FROM {name}) t"
            ).fetchone()
            out[name] = tuple(row) if row else None
        return out

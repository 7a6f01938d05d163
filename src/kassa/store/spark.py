"""A kassa warehouse on Spark: the same tables and the same one write path, ``--db spark:DATABASE``.

Reads are the same Ibis expressions as on DuckDB, compiled for Spark SQL (``ibis.pyspark``). What
differs is storage and the write path, because Spark has no transactions:

* Each table is a list of Parquet folders ("parts") under ``$KASSA_SPARK_WAREHOUSE/DATABASE/``, and one
  small file, ``manifest.json``, names the parts of every table (and holds what DuckDB keeps in
  ``kassa_meta``). A session reads the manifest once when it opens and registers each table as a
  temporary view over its parts.
* An import writes new parts only — the batch's rows, the rows it archives, a rewritten table where it
  replaces rows — none of which any reader sees, and then *commits by replacing the manifest* in one
  rename. A failed or killed import leaves the manifest as it was: none of its rows visible, ever (its
  parts are removed at once, or, after a kill, the next time a writer opens). So there is nothing to
  recover at open, unlike DuckDB (:mod:`kassa.store.recovery`).
* One writer at a time: a lock file in the folder (``WarehouseTaken`` as for a DuckDB file).

Why a manifest rather than a "committed batches" table that every read filters on: every query kassa
runs would then carry the filter (and the archive of replaced rows would have to be filtered by it too),
and a rewrite that replaces rows would still have to be hidden; one rename hides everything at once
and the queries stay exactly the DuckDB ones.

The folder must be a POSIX path that the driver and every executor see (a local disk for ``local[*]``, a
shared mount on a cluster): the commit is a rename, which object stores (``s3a://``) do not do atomically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import ibis
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kassa.errors import WarehouseError, WarehouseTaken
from kassa.schema import KINDS, Kind
from kassa.settings import Settings
from kassa.sources.base import ReadResult
from kassa.store import hashkey
from kassa.store.loading import FileReport, replace_condition, table_schema
from kassa.store.places import SPARK_FOLDER_ENV as FOLDER_ENV
from kassa.store.places import SPARK_MASTER_ENV as MASTER_ENV
from kassa.store.places import database_name
from kassa.store.places import spark_folder as folder
from kassa.store.warehouse import BATCHES_SCHEMA, SCHEMA_VERSION, Warehouse, _ArrowData

# Parts no manifest names, left by a killed import, are removed by the next writer once this old (a reader
# that opened before a commit still reads the parts the commit superseded, so those are never removed).
_ORPHAN_AGE_S = 24 * 3600

_SPARK_TYPES = {
    "string": "STRING",
    "date": "DATE",
    "timestamp(6)": "TIMESTAMP_NTZ",
    "timestamp": "TIMESTAMP_NTZ",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
}


def schemas() -> dict[str, ibis.Schema]:
    """Every table of a kassa warehouse and its columns (the canonical tables, their archives, batches)."""
    out: dict[str, ibis.Schema] = {"import_batches": BATCHES_SCHEMA}
    for kind in KINDS.values():
        s = table_schema(kind)
        out[kind.name] = s
        out[f"{kind.name}__replaced"] = ibis.schema({**dict(s.items()), "replaced_by": "int64"})
    return out


def _ddl(schema: ibis.Schema) -> str:
    return ", ".join(f"`{c}` {_SPARK_TYPES[str(t)]}" for c, t in schema.items())


@cache
def _fix_ibis_strip() -> None:
    """Ibis 12 compiles ``strip()`` for Spark as ``TRIM(' \t\n\r\v\f' FROM s)``, but Spark reads ``\v``
    and ``\f`` in a string literal as the letters v and f, so "vk_ads" came out "k_ads". The same six
    whitespace characters, with the two Spark has no escape for given by code point."""
    import sqlglot.expressions as sge
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    def strip(position: str | None) -> Any:
        def visit(self: Any, op: Any, *, arg: Any) -> Any:
            code = [sge.Anonymous(this="char", expressions=[sge.convert(n)]) for n in (11, 12)]
            chars = self.f.concat(sge.convert(" \t\n\r"), *code)
            return sge.Trim(this=arg, expression=chars, position=position)

        return visit

    PySparkCompiler.visit_Strip = strip(None)
    PySparkCompiler.visit_LStrip = strip("LEADING")
    PySparkCompiler.visit_RStrip = strip("TRAILING")


@cache
def session() -> Any:
    """The process's Spark session (started once: ~5-10 s). Master from ``KASSA_SPARK_MASTER`` (default
    ``local[*]``); every other setting from Spark's own configuration (spark-defaults.conf,
    ``PYSPARK_SUBMIT_ARGS``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise WarehouseError(
            "a spark: warehouse needs pyspark and Java 17: pip install 'kassa[spark]' (docs/scale.md)"
        ) from None
    builder = SparkSession.builder.appName("kassa").master(os.environ.get(MASTER_ENV) or "local[*]")
    builder = builder.config("spark.sql.warehouse.dir", str(folder()))
    # kassa reports its own progress; Spark's console bar would draw over its tables.
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    _fix_ibis_strip()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkWarehouse(Warehouse):
    """A kassa warehouse in a Spark folder (module docstring). Opened by :meth:`Warehouse.open` when the
    path is ``spark:DATABASE``."""

    def __init__(self, path: Path, con: Any, settings: Settings, read_only: bool) -> None:
        super().__init__(path, con, settings, read_only)
        self.spark = con._session
        self.manifest: dict[str, Any] = {}
        self._pending: dict[str, Any] | None = None  # the manifest an open import is writing
        self._new_parts: list[Path] = []  # written by the open import (removed if it fails)
        self._cached: dict[str, Any] = {}  # temporary tables: name -> persisted DataFrame
        self._lock: int | None = None

    @classmethod
    def open_spark(
        cls, db: str | Path, *, settings: Settings | None, read_only: bool, create: bool
    ) -> SparkWarehouse:
        name = database_name(db)
        root = folder() / name
        manifest = root / "manifest.json"
        if not manifest.exists() and (read_only or not create):
            raise WarehouseError(
                f"no Spark warehouse {name} in {root.parent}: load data first "
                f"(kassa import FILE --db spark:{name}); the folder is {FOLDER_ENV}"
            )
        spark = session()
        wh = cls(root, ibis.pyspark.connect(spark), settings or Settings(), read_only)
        try:
            if not read_only:
                wh._take_lock()
                wh._ensure_schema()
            else:
                wh.manifest = wh._read_manifest()
                wh._check_version()
            wh._register(wh.manifest)
        except BaseException:
            wh.close()
            raise
        return wh

    # -- the manifest and the parts ----------------------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        path = self.path / "manifest.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WarehouseError(f"{path}: not a kassa Spark warehouse manifest ({exc})") from None
        if not isinstance(data.get("tables"), dict) or not isinstance(data.get("meta"), dict):
            raise WarehouseError(f"{path}: not a kassa Spark warehouse manifest")
        return data

    def _write_manifest(self, data: dict[str, Any]) -> None:
        path = self.path / "manifest.json"
        tmp = path.with_name(f".manifest-{uuid.uuid4().hex}.json")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # the commit: readers see the old manifest or the new one, never a mix

    def _take_lock(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path / ".writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WarehouseTaken(
                f"spark:{self.path.name} is open for writing by another process (a running import); "
                "wait for it to finish, then try again"
            ) from None
        self._lock = fd

    def _part(self, table: str) -> Path:
        p = self.path / table / f"part-{uuid.uuid4().hex}"
        self._new_parts.append(p)
        return p

    def _write_arrow(self, table: str, rows: pa.Table | Iterator[pa.Table]) -> str:
        """Rows (typed as ``table``) written with pyarrow as a new Parquet part of ``table``; its name."""
        target = schemas()[table].to_pyarrow()
        part = self._part(table)
        part.mkdir(parents=True)
        with pq.ParquetWriter(part / "rows.parquet", target) as w:
            for chunk in [rows] if isinstance(rows, pa.Table) else rows:
                w.write_table(chunk)
        return str(part.relative_to(self.path))

    def _write_sql(self, table: str, sql: str) -> str:
        """The result of Spark SQL ``sql`` written as a new part of ``table``."""
        part = self._part(table)
        self.spark.sql(sql).write.parquet(str(part))
        return str(part.relative_to(self.path))

    def _register(self, manifest: dict[str, Any]) -> None:
        """Every table as a temporary view over the parts ``manifest`` names."""
        for table, schema in schemas().items():
            parts = [str(self.path / p) for p in manifest["tables"].get(table, [])]
            reader = self.spark.read.schema(_ddl(schema))
            df = reader.parquet(*parts) if parts else self.spark.createDataFrame([], _ddl(schema))
            df.createOrReplaceTempView(table)

    def _ensure_schema(self) -> None:
        path = self.path / "manifest.json"
        if path.exists():
            self.manifest = self._read_manifest()
            version = int(self.manifest["meta"].get("schema_version", 0))
            if version > SCHEMA_VERSION:
                raise WarehouseError(
                    f"spark:{self.path.name} has schema version {version}, newer than this kassa "
                    f"({SCHEMA_VERSION}); upgrade kassa"
                )
            self._remove_orphans()
            return
        key = hashkey.new_key(self.path)
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "salt": secrets.token_hex(16),
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "hashing": hashkey.HASHING,
            "hash_key_check": hashkey.key_check(key),
        }
        # Tables start with no parts (their view is empty); a table kassa adds later is empty the same way.
        self.manifest = {"format": 1, "meta": meta, "tables": {}}
        self._write_manifest(self.manifest)

    def _check_version(self) -> None:
        version = self.schema_version
        if version != SCHEMA_VERSION:
            raise WarehouseError(
                f"spark:{self.path.name} has schema version {version}, this kassa {SCHEMA_VERSION}: "
                "open it for writing once (kassa import) with a kassa of its version"
            )

    def _remove_orphans(self) -> None:
        named = {p for parts in self.manifest["tables"].values() for p in parts}
        now = time.time()
        for table in schemas():
            d = self.path / table
            if not d.is_dir():
                continue
            for part in d.iterdir():
                rel = str(part.relative_to(self.path))
                if rel not in named and now - part.stat().st_mtime > _ORPHAN_AGE_S:
                    shutil.rmtree(part, ignore_errors=True)

    def _meta(self, key: str) -> str | None:
        value = self.manifest.get("meta", {}).get(key)
        return None if value is None else str(value)

    @property
    def schema_tag(self) -> str:
        if self._schema_tag is None:
            text = repr(sorted((t, _ddl(s)) for t, s in schemas().items()))
            self._schema_tag = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._schema_tag

    # -- the import's "transaction" ---------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """New parts while the block runs, then one manifest rename; on failure the parts are removed
        and the views read the committed manifest again, so nothing of the block is ever seen."""
        self._pending = json.loads(json.dumps(self.manifest))
        self._new_parts = []
        try:
            yield
            self._write_manifest(self._pending)
            self.manifest = self._pending
        except BaseException:
            for part in self._new_parts:
                shutil.rmtree(part, ignore_errors=True)
            self._register(self.manifest)
            raise
        finally:
            self._pending, self._new_parts = None, []

    def _batch_rows(self) -> list[dict[str, Any]]:
        manifest = self._pending if self._pending is not None else self.manifest
        rows: list[dict[str, Any]] = []
        for p in manifest["tables"].get("import_batches", []):
            rows.extend(pq.read_table(self.path / p).to_pylist())
        return sorted(rows, key=lambda r: r["batch_id"])

    def _set_batches(self, rows: list[dict[str, Any]]) -> None:
        assert self._pending is not None
        table = pa.Table.from_pylist(rows, schema=BATCHES_SCHEMA.to_pyarrow())
        self._set_parts("import_batches", [self._write_arrow("import_batches", table)])

    def _set_parts(self, table: str, parts: list[str]) -> None:
        assert self._pending is not None
        self._pending["tables"][table] = parts
        self._register(self._pending)

    def _parts(self, table: str) -> list[str]:
        assert self._pending is not None
        return list(self._pending["tables"].get(table, []))

    def _count(self, sql: str) -> int:
        return int(self.spark.sql(sql).collect()[0][0])

    def _load(self, path: Path | str, sha: str, fmt: str, res: ReadResult) -> FileReport:
        kind = KINDS[res.kind]
        batches = self._batch_rows()
        prior = [
            b for b in batches if b["sha256"] == sha and b["kind"] == kind.name and b["undone_at"] is None
        ]
        if prior:
            return FileReport(
                str(path), fmt, kind.name, res.rows_read, 0, 0, res.errors, None,
                already_imported_as=int(prior[0]["batch_id"]),
            )  # fmt: skip
        batch_id = max((int(b["batch_id"]) for b in batches), default=0) + 1
        names = [n for n in table_schema(kind).names if n != "batch_id"]
        target = table_schema(kind).to_pyarrow()
        span: list[Any] = [None, None]
        loaded = 0

        def typed() -> Iterator[pa.Table]:
            nonlocal loaded
            chunks = res.rows if isinstance(res.rows, pa.RecordBatchReader) else [res.rows]
            for chunk in chunks:
                t = pa.Table.from_batches([chunk]) if isinstance(chunk, pa.RecordBatch) else chunk
                if not t.num_rows:
                    continue
                t = t.select(names).append_column("batch_id", pa.array([batch_id] * t.num_rows, pa.int64()))
                t = t.cast(target)
                days = pc.min_max(t[kind.date_column].cast(pa.date32()))
                for i, v in enumerate((days["min"].as_py(), days["max"].as_py())):
                    if v is not None and (span[i] is None or (v < span[i] if i == 0 else v > span[i])):
                        span[i] = v
                loaded += t.num_rows
                yield t

        new_part = self._write_arrow(kind.name, typed())
        replaced = 0
        if loaded:
            self.spark.read.schema(_ddl(table_schema(kind))).parquet(
                str(self.path / new_part)
            ).createOrReplaceTempView("__kassa_new")
            where = replace_condition(kind)
            replaced = self._count(f"SELECT count(*) FROM {kind.name} t WHERE {where}")
            live = self._parts(kind.name)
            if replaced:
                archive = f"{kind.name}__replaced"
                kept = self._write_sql(
                    archive, f"SELECT t.*, {batch_id} AS replaced_by FROM {kind.name} t WHERE {where}"
                )
                self._set_parts(archive, [*self._parts(archive), kept])
                live = [self._write_sql(kind.name, f"SELECT * FROM {kind.name} t WHERE NOT ({where})")]
            self._set_parts(kind.name, [*live, new_part])
            self.spark.catalog.dropTempView("__kassa_new")
        rejected = len({e.line for e in res.errors if not e.row_kept})
        batches.append(
            {
                "batch_id": batch_id, "file": str(path), "sha256": sha, "format": fmt, "kind": kind.name,
                "rows_read": res.rows_read, "rows_loaded": loaded, "rows_rejected": rejected,
                "rows_replaced": replaced, "period_start": span[0], "period_end": span[1],
                "loaded_at": self._loading_at, "undone_at": None,
            }
        )  # fmt: skip
        self._set_batches(batches)
        return FileReport(str(path), fmt, kind.name, res.rows_read, loaded, replaced, res.errors, batch_id)

    def undo(self, batch_id: int) -> dict[str, int]:
        found = [b for b in self._batch_rows() if b["batch_id"] == batch_id]
        if not found:
            raise WarehouseError(f"no import batch {batch_id} (see `kassa imports`)")
        if found[0]["undone_at"] is not None:
            raise WarehouseError(
                f"batch {batch_id} was already undone at {found[0]['undone_at']:%Y-%m-%d %H:%M}"
            )
        kind: Kind = KINDS[found[0]["kind"]]
        archive = f"{kind.name}__replaced"
        later = self.spark.sql(
            f"SELECT DISTINCT replaced_by FROM {archive} WHERE batch_id = {batch_id} AND replaced_by > {batch_id}"
        ).collect()
        if later:
            ids = ", ".join(str(r[0]) for r in sorted(later))
            raise WarehouseError(
                f"batch {batch_id} was partly replaced by later batch(es) {ids}; undo those first"
            )
        cols = ", ".join(f"`{n}`" for n in table_schema(kind).names)
        with self._transaction():
            removed = self._count(f"SELECT count(*) FROM {kind.name} WHERE batch_id = {batch_id}")
            restored = self._count(f"SELECT count(*) FROM {archive} WHERE replaced_by = {batch_id}")
            live = self._parts(kind.name)
            if removed:
                live = [self._write_sql(kind.name, f"SELECT * FROM {kind.name} WHERE batch_id <> {batch_id}")]
            if restored:
                back = self._write_sql(
                    kind.name, f"SELECT {cols} FROM {archive} WHERE replaced_by = {batch_id}"
                )
                rest = self._write_sql(archive, f"SELECT * FROM {archive} WHERE replaced_by <> {batch_id}")
                self._set_parts(archive, [rest])
                live.append(back)
            self._set_parts(kind.name, live)
            batches = self._batch_rows()
            for b in batches:
                if b["batch_id"] == batch_id:
                    b["undone_at"] = dt.datetime.now()
            self._set_batches(batches)
            self._forget()
        return {"removed": removed, "restored": restored}

    def batches(self) -> list[dict[str, Any]]:
        return self._batch_rows()

    # -- reading and temporary tables ------------------------------------------------------------------
    def create_temporary(self, name: str, sql: str) -> None:
        self.drop_temporary(name)
        # Computed now and kept in executor memory with its lineage cut (a local checkpoint): a view or a
        # persisted DataFrame would keep the whole plan of every link before it, and Spark's analyser
        # runs out of memory on the stitched chain's plan (tens of nested windows and joins).
        df = self.spark.sql(sql).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._cached[name] = df

    def drop_temporary(self, name: str) -> None:
        df = self._cached.pop(name, None)
        if df is not None:
            self.spark.catalog.dropTempView(name)
            df.unpersist()

    def rows(self, sql: str, schema: ibis.Schema) -> pl.DataFrame:
        from ibis.formats.polars import PolarsData

        arrow = _ArrowData.convert_table(self.spark.sql(sql).toArrow(), schema)
        return PolarsData.convert_table(pl.from_arrow(arrow), schema)

    def cursor(self) -> Warehouse:
        """The same warehouse on a Spark session of its own (its own temporary views; one Spark
        context), for another thread."""
        other = SparkWarehouse(self.path, ibis.pyspark.connect(self.spark.newSession()), self.settings, True)
        other.manifest, other._hash_key = self.manifest, self._hash_key
        other._register(other.manifest)
        return other

    def interrupt(self) -> None:
        self.spark.sparkContext.cancelAllJobs()

    def fingerprint(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in KINDS:
            cols = ", ".join(f"`{n}`" for n in table_schema(KINDS[name]).names if n != "batch_id")
            row = self.spark.sql(
                f"SELECT count(*), coalesce(sum(CAST(xxhash64({cols}) AS DECIMAL(38, 0))), 0) FROM {name}"
            ).collect()[0]
            out[name] = (int(row[0]), int(row[1]))
        return out

    def close(self) -> None:
        # The session is the process's (other warehouses share it); only this warehouse's state goes.
        self._forget()
        for name in list(self._cached):
            self.drop_temporary(name)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock)
            self._lock = None

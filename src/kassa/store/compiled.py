"""Compiled SQL kept for the life of the process: Ibis compiles a query once per shape, not once per warehouse.

Compiling the money trail through Ibis takes about a second (tens of thousands of characters of SQL)
whatever the size of the data, and a metrics query a few hundred milliseconds more. Every warehouse a
process opens (the dashboard after each import, a test suite, a scheduled digest for several clients)
used to pay that again. The SQL of a query depends only on its *shape* — the settings, the grouping, the
period, the names of the tables it reads — never on the rows, so it is kept under a key naming that shape
and later warehouses run the kept SQL directly.

Kept on disk too, so a new process (each ``kassa metrics`` from a shell or cron, each CLI test) does
not compile again: one JSON file per key under ``$KASSA_SQL_CACHE`` (default
``$XDG_CACHE_HOME/kassa/sql``, i.e. ``~/.cache/kassa/sql``; ``off`` turns it off), in a folder named
for the exact code that compiled it — kassa's version and a fingerprint of its source files (name, size
and modification time of every module), and the Ibis, sqlglot and DuckDB versions — so an upgraded or
edited kassa never reads SQL another one wrote. A key whose text names a memory address is kept in
memory only (its text would not name the same thing in another process). A damaged file is ignored
and written again.

The rule a caller must keep: **the key names everything the expression is built from** (the builder
runs only on a miss, so a key that forgets an argument would hand back another query's SQL). Callers
build the key from the very values they pass to the builder. ``KASSA_VERIFY_COMPILED=1`` recompiles on
every hit and fails when the kept SQL differs; tests/test_compiled.py runs the stitching, the metrics
and the dashboard's queries that way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import polars as pl

if TYPE_CHECKING:
    from kassa.store.warehouse import Warehouse

# Enough for every query shape a dashboard serves in a day (12 months × pages × languages), small in
# memory (the largest entry, the payment matching, is under 100 kB of text).
LIMIT = 4096


@dataclass(frozen=True)
class Compiled:
    """One query as the engine's SQL, with the Ibis schema of its result."""

    sql: str
    schema: ibis.Schema


@dataclass
class _Counts:
    hits: int = 0
    misses: int = 0
    disk_hits: int = 0


_KEPT: OrderedDict[Hashable, Compiled] = OrderedDict()
COUNTS = _Counts()


def _verifying() -> bool:
    return os.environ.get("KASSA_VERIFY_COMPILED", "") not in ("", "0")


def compiled(wh: Warehouse, key: Hashable, build: Callable[[], ir.Table]) -> Compiled:
    """The SQL of ``build()`` on this warehouse's engine, compiled on the first call with ``key``."""
    full = (wh.ibis.name, wh.schema_tag, key)
    kept = _KEPT.get(full)
    if kept is not None:
        COUNTS.hits += 1
        _KEPT.move_to_end(full)
        if _verifying():
            fresh = _compile(wh, build())
            if fresh != kept:
                raise AssertionError(
                    f"compiled-query key {key!r} does not name everything its SQL depends on"
                )
        return kept
    kept = _read(full)
    if kept is None:
        COUNTS.misses += 1
        kept = _compile(wh, build())
        _write(full, kept)
    else:
        COUNTS.disk_hits += 1
        if _verifying() and _compile(wh, build()) != kept:
            raise AssertionError(f"compiled-query key {key!r} does not name everything its SQL depends on")
    _KEPT[full] = kept
    if len(_KEPT) > LIMIT:
        _KEPT.popitem(last=False)
    return kept


def _compile(wh: Warehouse, expr: ir.Table) -> Compiled:
    return Compiled(sql=str(wh.ibis.compile(expr)), schema=expr.schema())


def materialize(wh: Warehouse, name: str, key: Hashable, build: Callable[[], ir.Table]) -> ir.Table:
    """Compute ``build()`` into the temporary table ``name`` (replacing one of that name) and return it.

    ``name`` must be part of what ``key`` says when later kept queries read the table by that name.
    """
    query = compiled(wh, key, build)
    wh.create_temporary(name, query.sql)
    return wh.ibis.table(name)


def fetch(wh: Warehouse, key: Hashable, build: Callable[[], ir.Table]) -> pl.DataFrame:
    """Run ``build()`` (compiled once per ``key``) and return its rows, typed as Ibis would type them."""
    query = compiled(wh, key, build)
    return wh.rows(query.sql, query.schema)


def forget_all() -> None:
    """Drop every query kept in memory (tests that measure a cold start; the disk copy stays)."""
    _KEPT.clear()


@cache
def _code_fingerprint() -> str:
    import duckdb
    import sqlglot

    import kassa

    root = Path(kassa.__file__).resolve().parent
    h = hashlib.sha256(
        f"{kassa.__version__} {ibis.__version__} {sqlglot.__version__} {duckdb.__version__}".encode()
    )
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def cache_dir() -> Path | None:
    """The folder of this code's compiled SQL on disk; ``None`` when turned off."""
    where = os.environ.get("KASSA_SQL_CACHE", "")
    if where == "off":
        return None
    base = (
        Path(where)
        if where
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kassa" / "sql"
    )
    return base / _code_fingerprint()


def _file_of(full: Hashable) -> tuple[Path, str] | None:
    folder = cache_dir()
    text = repr(full)
    if folder is None or " at 0x" in text:
        return None
    return folder / f"{hashlib.sha256(text.encode()).hexdigest()}.json", text


def _read(full: Hashable) -> Compiled | None:
    found = _file_of(full)
    if found is None:
        return None
    path, text = found
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["key"] != text:  # a hash collision would need another key with the same digest
            return None
        return Compiled(sql=data["sql"], schema=ibis.schema({n: ibis.dtype(t) for n, t in data["schema"]}))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or damaged: compiled again and written again


def _write(full: Hashable, kept: Compiled) -> None:
    found = _file_of(full)
    if found is None:
        return
    path, text = found
    data = {"key": text, "sql": kept.sql, "schema": [[n, str(t)] for n, t in kept.schema.items()]}
    with contextlib.suppress(OSError):  # a read-only home or a full disk: kept in memory only
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sql-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)  # whole or not at all: a reader never sees half a file

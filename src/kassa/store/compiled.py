"""Compiled SQL kept for the life of the process: Ibis compiles a query once per shape, not once per warehouse.

Compiling the money trail through Ibis takes about a second (tens of thousands of characters of SQL)
whatever the size of the data, and a metrics query a few hundred milliseconds more. Every warehouse a
process opens (the dashboard after each import, a test suite, a scheduled digest for several clients)
used to pay that again. The SQL of a query depends only on its *shape* — the settings, the grouping, the
period, the names of the tables it reads — never on the rows, so it is kept under a key naming that shape
and later warehouses run the kept SQL directly.

The rule a caller must keep: **the key names everything the expression is built from** (the builder
runs only on a miss, so a key that forgets an argument would hand back another query's SQL). Callers
build the key from the very values they pass to the builder. ``KASSA_VERIFY_COMPILED=1`` recompiles on
every hit and fails when the kept SQL differs; tests/test_compiled.py runs the stitching, the metrics
and the dashboard's queries that way.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
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
    COUNTS.misses += 1
    kept = _compile(wh, build())
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
    """Drop every kept query (tests that measure a cold start)."""
    _KEPT.clear()

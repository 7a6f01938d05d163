"""Putting the warehouse back after a write that was killed: every import is all or nothing, even then.

Why kassa checks instead of trusting DuckDB: a large insert is written to the database file before its
transaction commits ("optimistic writes"), and the commit records only pointers to those blocks in the
write-ahead log. If the process is killed while the log is being written, DuckDB can replay the log's
first entries (the new rows) without its last ones (the ``import_batches`` row, the deletes of the rows
the import replaces) — an import that was never acknowledged shows up half-applied. In one test 11 of 31
``kill -9`` within ~15 ms of the ``.wal`` file appearing left 2 000 000 visits owned by no batch. The
upstream work on it: duckdb/duckdb#25931 ("Fix uncommitted data recovered accidentally"); the minimal
reproduction is ``bench/duckdb_torn_commit.py``.

A clean close checkpoints and removes the ``.wal`` file, so a warehouse opened with one left over was
not closed cleanly, and only then is it checked (the check reads every table once). What must hold,
from how :meth:`kassa.store.Warehouse.import_files` and ``undo`` write:

* every row's ``batch_id`` (and every archived row's ``replaced_by``) names a row of ``import_batches``;
* a batch that is not undone has ``rows_loaded`` rows, live or archived by a later batch, and
  ``rows_replaced`` archived rows it replaced, none of them still live;
* an undone batch has no live rows and nothing archived under it.

A batch that breaks any of these was being written when the process died. It is rolled back, with every
batch of the same import (one transaction, one ``loaded_at``): its rows removed, what it replaced put
back, its ``import_batches`` row marked undone (or, when that row never made it, nothing to mark). The
result is the warehouse as it was before the interrupted import, or after an interrupted undo.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kassa.schema import KINDS, Kind


@dataclass(frozen=True)
class RolledBack:
    """One interrupted batch put right: what the warehouse says about it."""

    batch_id: int
    kind: str
    removed: int
    restored: int
    had_record: bool

    def message(self) -> str:
        record = "" if self.had_record else ", with no record in import_batches"
        return (
            f"batch {self.batch_id} ({self.kind}) was being written when kassa was stopped{record}: "
            f"its {self.removed} row(s) were removed and the {self.restored} row(s) it had replaced put "
            "back, as if it had never run (an import: import the file again; an undo: it is done)"
        )


def _tables(db: Any) -> set[str]:
    rows = db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    return {r[0] for r in rows}


def _counts(db: Any, sql: str) -> dict[int, int]:
    return {int(b): int(n) for b, n in db.execute(sql).fetchall() if b is not None}


def _key_match(kind: Kind, a: str, b: str) -> str:
    return " AND ".join(
        [f"{a}.batch_id = {b}.batch_id"] + [f"{a}.{k} IS NOT DISTINCT FROM {b}.{k}" for k in kind.key]
    )


def interrupted(db: Any) -> set[int]:
    """The batch ids whose rows break the invariants above (empty for a consistent warehouse)."""
    tables = _tables(db)
    if "import_batches" not in tables:
        return set()
    batches = {
        int(r[0]): r[1:]
        for r in db.execute(
            "SELECT batch_id, kind, rows_loaded, rows_replaced, undone_at FROM import_batches"
        ).fetchall()
    }
    torn: set[int] = set()
    live: dict[int, int] = {}
    archived: dict[int, int] = {}
    replaced: dict[int, int] = {}
    for kind in KINDS.values():
        archive = f"{kind.name}__replaced"
        if kind.name not in tables or archive not in tables:
            continue
        # Archived rows that are live too: the delete of a replacement, or of an undo, never happened.
        # They are counted against the batch that archived them (``replaced_by``), not the batch they
        # came from, whose own rows are all there.
        both = f"EXISTS (SELECT 1 FROM {kind.name} t WHERE {_key_match(kind, 'a', 't')})"
        still_live = db.execute(f"SELECT DISTINCT replaced_by FROM {archive} a WHERE {both}").fetchall()
        torn.update(int(r[0]) for r in still_live if r[0] is not None)
        live_k = _counts(db, f"SELECT batch_id, count(*) FROM {kind.name} GROUP BY ALL")
        archived_k = _counts(db, f"SELECT batch_id, count(*) FROM {archive} a WHERE NOT {both} GROUP BY ALL")
        replaced_k = _counts(db, f"SELECT replaced_by, count(*) FROM {archive} GROUP BY ALL")
        for counts, into in ((live_k, live), (archived_k, archived), (replaced_k, replaced)):
            for b, n in counts.items():
                if b not in batches or batches[b][0] != kind.name:
                    torn.add(b)  # rows of a batch that has no record (or of another kind)
                into[b] = into.get(b, 0) + n
    for b, (_kind, rows_loaded, rows_replaced, undone_at) in batches.items():
        if undone_at is None:
            ok = live.get(b, 0) + archived.get(b, 0) == rows_loaded and replaced.get(b, 0) == rows_replaced
        else:
            ok = live.get(b, 0) == 0 and replaced.get(b, 0) == 0
        if not ok:
            torn.add(b)
    return torn


def roll_back(db: Any, torn: set[int]) -> list[RolledBack]:
    """Undo every batch in ``torn`` and the other batches of the same imports; the caller holds the
    transaction. Returns what was done, one entry per batch that had rows or a record."""
    from kassa.store.warehouse import table_schema

    tables = _tables(db)
    records = {
        int(r[0]): (r[1], r[2], r[3])
        for r in db.execute("SELECT batch_id, kind, loaded_at, undone_at FROM import_batches").fetchall()
    }
    # The other files of an interrupted import were in the same transaction: all go, or none. Only the
    # newest import can have been interrupted (an undo touches one batch, and is finished as it is).
    newest = max((at for _k, at, _u in records.values()), default=None)
    if any(b in records and records[b][1] == newest and records[b][2] is None for b in torn):
        torn = torn | {b for b, (_k, at, undone) in records.items() if at == newest and undone is None}
    batches = torn
    now = dt.datetime.now()
    out: list[RolledBack] = []
    for b in sorted(batches):
        removed = restored = 0
        kind_name = records[b][0] if b in records else None
        for kind in KINDS.values():
            archive = f"{kind.name}__replaced"
            if kind.name not in tables or archive not in tables:
                continue
            cols = ", ".join(f'"{n}"' for n in table_schema(kind).names)
            n_live = db.execute(f"SELECT count(*) FROM {kind.name} WHERE batch_id = ?", [b]).fetchone()[0]
            db.execute(f"DELETE FROM {kind.name} WHERE batch_id = ?", [b])
            # Put back what the batch replaced, unless the delete that archived it never happened.
            back = db.execute(
                f"SELECT count(*) FROM {archive} a WHERE replaced_by = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {kind.name} t WHERE {_key_match(kind, 'a', 't')})",
                [b],
            ).fetchone()[0]
            db.execute(
                f"INSERT INTO {kind.name} ({cols}) SELECT {cols} FROM {archive} a WHERE replaced_by = ? "
                f"AND NOT EXISTS (SELECT 1 FROM {kind.name} t WHERE {_key_match(kind, 'a', 't')})",
                [b],
            )
            db.execute(f"DELETE FROM {archive} WHERE replaced_by = ?", [b])
            if n_live or back:
                kind_name = kind_name or kind.name
            removed += int(n_live)
            restored += int(back)
        if b in records:
            db.execute(
                "UPDATE import_batches SET undone_at = ? WHERE batch_id = ? AND undone_at IS NULL", [now, b]
            )
        if b in records or removed or restored:
            out.append(RolledBack(b, kind_name or "?", removed, restored, b in records))
    return out

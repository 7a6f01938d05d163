"""What kassa did on its own, kept in the warehouse: each scheduled run, and each alert's episodes.

``schedule_runs`` has one row per attempt of a job: when it was due, which attempt, when it started and
ended, how it ended (``running`` while it runs, then ``ok``, ``failed`` or ``crashed``; ``added`` is the
row written when a job is first seen, so a new job waits for its next time instead of running at once
for a time it was not yet declared at) and the error in words. ``alert_episodes`` has one row per
episode of an alert: from the day it was first found until it was no longer found.

Why in the warehouse: the dashboard's Data page reads them beside the imports, and a backup of the file
carries the history. Why not a canonical table: nobody imports them, and an undo must not touch them.
The tables are created on first write, so a warehouse that never ran a job has neither. Errors are
kassa's own messages, which never carry a secret (:mod:`kassa.notify.schedule` scrubs them anyway).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kassa.store.warehouse import Warehouse

RUNS_DDL = """CREATE TABLE IF NOT EXISTS schedule_runs (
    id BIGINT PRIMARY KEY, job VARCHAR NOT NULL, kind VARCHAR NOT NULL, due_at TIMESTAMP NOT NULL,
    attempt INTEGER NOT NULL, started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, outcome VARCHAR NOT NULL,
    error VARCHAR, detail VARCHAR, pid INTEGER)"""
EPISODES_DDL = """CREATE TABLE IF NOT EXISTS alert_episodes (
    key VARCHAR NOT NULL, kind VARCHAR NOT NULL, subject VARCHAR NOT NULL, since DATE NOT NULL,
    first_seen TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL, recovered_at TIMESTAMP,
    money DOUBLE, channel VARCHAR, PRIMARY KEY (key, first_seen))"""
ERROR_CHARS = 2000  # an error is a sentence or two; a page of text would be someone's dump


@dataclass(frozen=True)
class Run:
    id: int
    job: str
    kind: str
    due_at: dt.datetime
    attempt: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str
    error: str | None
    detail: str | None
    pid: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "kind": self.kind,
            "due_at": self.due_at.isoformat(),
            "attempt": self.attempt,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "outcome": self.outcome,
            "error": self.error,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Episode:
    key: str
    kind: str
    subject: str
    since: dt.date
    first_seen: dt.datetime
    last_seen: dt.datetime
    recovered_at: dt.datetime | None
    money: float | None
    channel: str | None


def _has(wh: Warehouse, table: str) -> bool:
    return table in set(wh.ibis.list_tables())


def _utc(v: dt.datetime | None) -> dt.datetime | None:
    """Stored as UTC without a zone (DuckDB's TIMESTAMPTZ would need pytz to be read back)."""
    return None if v is None else v.replace(tzinfo=dt.UTC)


def _stored(v: dt.datetime | None) -> dt.datetime | None:
    return None if v is None else v.astimezone(dt.UTC).replace(tzinfo=None)


def _run(row: tuple[Any, ...]) -> Run:
    r = list(row)
    for i in (3, 5, 6):
        r[i] = _utc(r[i])
    return Run(*r)


RUN_COLUMNS = "id, job, kind, due_at, attempt, started_at, ended_at, outcome, error, detail, pid"


def runs(wh: Warehouse, job: str | None = None, limit: int = 50) -> list[Run]:
    """The latest runs, newest first (of ``job`` only, when given)."""
    if not _has(wh, "schedule_runs"):
        return []
    where, params = ("WHERE job = ?", [job]) if job else ("", [])
    rows = wh.ibis.con.execute(
        f"SELECT {RUN_COLUMNS} FROM schedule_runs {where} ORDER BY id DESC LIMIT {int(limit)}", params
    ).fetchall()
    return [_run(r) for r in rows]


def last_run(wh: Warehouse, job: str) -> Run | None:
    found = runs(wh, job, limit=1)
    return found[0] if found else None


def start_run(
    wh: Warehouse,
    job: str,
    kind: str,
    due_at: dt.datetime,
    attempt: int,
    now: dt.datetime,
    pid: int | None,
    outcome: str = "running",
) -> int:
    """Record a run as begun (committed at once: a crash after this leaves the row ``running``)."""
    con = wh.ibis.con
    con.execute(RUNS_DDL)
    row = con.execute("SELECT coalesce(max(id), 0) + 1 FROM schedule_runs").fetchone()
    run_id = int(row[0]) if row else 1
    con.execute(
        f"INSERT INTO schedule_runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
        [
            run_id,
            job,
            kind,
            _stored(due_at),
            attempt,
            _stored(now),
            _stored(now) if outcome != "running" else None,
            outcome,
            pid,
        ],
    )
    return run_id


def end_run(
    wh: Warehouse, run_id: int, outcome: str, now: dt.datetime, error: str | None, detail: str | None
) -> None:
    wh.ibis.con.execute(
        "UPDATE schedule_runs SET outcome = ?, ended_at = ?, error = ?, detail = ? WHERE id = ?",
        [outcome, _stored(now), None if error is None else error[:ERROR_CHARS], detail, run_id],
    )


def episodes(wh: Warehouse, *, open_only: bool = False) -> list[Episode]:
    if not _has(wh, "alert_episodes"):
        return []
    where = "WHERE recovered_at IS NULL" if open_only else ""
    rows = wh.ibis.con.execute(
        "SELECT key, kind, subject, since, first_seen, last_seen, recovered_at, money, channel "
        f"FROM alert_episodes {where} ORDER BY first_seen DESC, key"
    ).fetchall()
    return [
        Episode(r[0], r[1], r[2], r[3], _utc(r[4]) or r[4], _utc(r[5]) or r[5], _utc(r[6]), r[7], r[8])
        for r in rows
    ]


def open_episode(
    wh: Warehouse,
    key: str,
    kind: str,
    subject: str,
    since: dt.date,
    now: dt.datetime,
    money: float | None,
    channel: str | None,
) -> None:
    con = wh.ibis.con
    con.execute(EPISODES_DDL)
    con.execute(
        "INSERT INTO alert_episodes VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        [key, kind, subject, since, _stored(now), _stored(now), money, channel],
    )


def still_open(wh: Warehouse, key: str, now: dt.datetime, money: float | None) -> None:
    wh.ibis.con.execute(
        "UPDATE alert_episodes SET last_seen = ?, money = ? WHERE key = ? AND recovered_at IS NULL",
        [_stored(now), money, key],
    )


def close_episode(wh: Warehouse, key: str, now: dt.datetime) -> None:
    wh.ibis.con.execute(
        "UPDATE alert_episodes SET recovered_at = ? WHERE key = ? AND recovered_at IS NULL",
        [_stored(now), key],
    )

"""What kassa told the ad platforms: every upload batch and every conversion in it.

``conversion_batches``: one row per upload (platform, connection, goal, target, period, when, how many
sent, the platform's answer id); ``conversions_sent``: one row per conversion sent (platform, account,
target, key, batch). A re-run of ``kassa conversions --upload`` sends only the keys not yet sent to that
platform's account and target, so a conversion is counted once even where a platform would not
deduplicate it by itself. Written in one transaction after the platform accepted the batch: a failed
upload logs nothing and is sent again next time (the platforms' own keys — Metrica's identifier +
Target + DateTime — then keep it from counting twice). Tables created on first write, as
:mod:`kassa.store.journal`'s.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kassa.store.warehouse import Warehouse

BATCHES_DDL = """CREATE TABLE IF NOT EXISTS conversion_batches (
    batch_id BIGINT PRIMARY KEY, platform VARCHAR NOT NULL, connection VARCHAR NOT NULL,
    account VARCHAR NOT NULL, goal VARCHAR NOT NULL, target VARCHAR NOT NULL, period VARCHAR NOT NULL,
    sent_at TIMESTAMP NOT NULL, sent INTEGER NOT NULL, answer VARCHAR)"""
SENT_DDL = """CREATE TABLE IF NOT EXISTS conversions_sent (
    platform VARCHAR NOT NULL, account VARCHAR NOT NULL, target VARCHAR NOT NULL, key VARCHAR NOT NULL,
    batch_id BIGINT NOT NULL, PRIMARY KEY (platform, account, target, key))"""


def _has(wh: Warehouse, table: str) -> bool:
    return table in set(wh.ibis.list_tables())


def already_sent(wh: Warehouse, platform: str, account: str, target: str) -> set[str]:
    if not _has(wh, "conversions_sent"):
        return set()
    rows = wh.ibis.con.execute(
        "SELECT key FROM conversions_sent WHERE platform = ? AND account = ? AND target = ?",
        [platform, account, target],
    ).fetchall()
    return {r[0] for r in rows}


def record(
    wh: Warehouse,
    *,
    platform: str,
    connection: str,
    account: str,
    goal: str,
    target: str,
    period: str,
    keys: list[str],
    answer: str | None,
    now: dt.datetime,
) -> int:
    """Log one accepted upload and its keys in one transaction; the batch's id."""
    con = wh.ibis.con
    con.execute(BATCHES_DDL)
    con.execute(SENT_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM conversion_batches").fetchone()
        batch = int(row[0]) if row else 1
        con.execute(
            "INSERT INTO conversion_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch,
                platform,
                connection,
                account,
                goal,
                target,
                period,
                now.replace(tzinfo=None),
                len(keys),
                answer,
            ],
        )
        if keys:
            con.executemany(
                "INSERT INTO conversions_sent VALUES (?, ?, ?, ?, ?)",
                [[platform, account, target, k, batch] for k in keys],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return batch


def batches(wh: Warehouse, limit: int = 20) -> list[dict[str, Any]]:
    """The latest upload batches, newest first (the Data page and ``kassa conversions --sent``)."""
    if not _has(wh, "conversion_batches"):
        return []
    cur = wh.ibis.con.execute(
        "SELECT batch_id, platform, connection, account, goal, target, period, sent_at, sent, answer "
        "FROM conversion_batches ORDER BY batch_id DESC LIMIT ?",
        [limit],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

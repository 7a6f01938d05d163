"""`kill -9` of a real `kassa sync` at random moments leaves the warehouse as it was before that sync or
as after it, never between; the next sync completes (#15). The fake Logs API serves in this process;
`kassa sync` runs as a real process, as from cron."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.connectors.fake_metrica import fake_metrica
from tests.connectors.test_sync_metrica import COUNTER, OCTOBER, TOKEN, connect
from tests.connectors.test_yandex_metrica_logs_api import ROWS

from kassa.store import Warehouse

SRC = Path(__file__).resolve().parents[2] / "src"
KILLS = 4
pytestmark = pytest.mark.slow


def state(db: Path) -> tuple[int, int]:
    """(visits, live batches), read as the next command would (an interrupted write rolled back)."""
    if not db.exists():
        return 0, 0
    with Warehouse.open(db) as wh:
        visits = wh.ibis.con.execute("SELECT count(*) FROM visits").fetchone()
        batches = wh.ibis.con.execute(
            "SELECT count(*) FROM import_batches WHERE undone_at IS NULL"
        ).fetchone()
    assert visits is not None and batches is not None
    return int(visits[0]), int(batches[0])


ARGS = [sys.executable, "-m", "kassa.cli", "sync", "m", *OCTOBER]
ENV = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "160"}


def sync(db: Path) -> subprocess.Popen[bytes]:
    """A sync to be killed (its output is not read)."""
    return subprocess.Popen(
        [*ARGS, "--db", str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )


def sync_to_the_end(db: Path) -> None:
    r = subprocess.run([*ARGS, "--db", str(db)], capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_sync_killed_at_any_moment_is_all_or_nothing_and_the_next_one_completes(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    rng = random.Random(int(os.environ.get("KASSA_KILL_SEED", "15")))
    with fake_metrica(TOKEN, counter=COUNTER, rows=ROWS, polls=0) as fake:
        connect(db, fake.base_url)
        # How long a whole sync takes here, so the kills land before, during and around the load.
        started = time.monotonic()
        sync_to_the_end(db)
        whole = time.monotonic() - started
        assert state(db) == (40, 1)
        fake.rows = [*ROWS, *[dict(r, **{"ym:s:visitID": str(int(r["ym:s:visitID"]) + 10**6)}) for r in ROWS]]
        for _ in range(KILLS):
            p = sync(db)
            time.sleep(rng.uniform(0.3 * whole, 1.05 * whole))
            p.send_signal(signal.SIGKILL)
            p.wait(30)
            seen = state(db)
            assert seen in ((40, 1), (80, 2)), seen  # before that sync, or after it: never between
            if seen == (80, 2):  # it had committed: take it back so the next kill meets the same start
                with Warehouse.open(db) as wh:
                    wh.undo(max(b["batch_id"] for b in wh.batches()))
        sync_to_the_end(db)
    assert state(db)[0] == 80


# The same for a bank (#19): a T-Bank statement's payments are all in, or none.
BANK_ARGS = [
    sys.executable,
    "-m",
    "kassa.cli",
    "sync",
    "bank",
    "--since",
    "2026-10-01",
    "--until",
    "2026-10-31",
]


def payments_state(db: Path) -> tuple[int, int]:
    """(payments, live batches), as the next command would read them."""
    if not db.exists():
        return 0, 0
    with Warehouse.open(db) as wh:
        n = wh.ibis.con.execute("SELECT count(*) FROM payments").fetchone()
        batches = wh.ibis.con.execute(
            "SELECT count(*) FROM import_batches WHERE undone_at IS NULL"
        ).fetchone()
    assert n is not None and batches is not None
    return int(n[0]), int(batches[0])


def test_a_bank_sync_killed_at_any_moment_loads_all_of_the_statement_or_none(tmp_path: Path) -> None:
    from tests.connectors import test_tbank_api as tb
    from tests.connectors.fake_tbank import fake_tbank, operation

    db = tmp_path / "shop.duckdb"
    rng = random.Random(int(os.environ.get("KASSA_KILL_SEED", "19")))

    def run(wait: bool) -> subprocess.Popen[bytes] | None:
        if wait:
            r = subprocess.run(
                [*BANK_ARGS, "--db", str(db)], capture_output=True, text=True, timeout=120, env=ENV
            )
            assert r.returncode == 0, r.stdout + r.stderr
            return None
        return subprocess.Popen(
            [*BANK_ARGS, "--db", str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )

    with fake_tbank(tb.TOKEN, operations=tb.OPERATIONS, page=1) as fake:
        tb.connect(db, fake.base_url)
        started = time.monotonic()
        run(wait=True)
        whole = time.monotonic() - started
        assert payments_state(db) == (3, 1)
        more = [operation(f"n{i}", f"2026-10-{i + 3:02d}T10:00:00+03:00", "Credit", f"{i + 1}00.00", f"9{i}",
                          "Оплата по счёту", "ООО «Ромашка»", "7701234567") for i in range(20)]  # fmt: skip
        fake.operations = [*tb.OPERATIONS, *more]
        for _ in range(KILLS):
            p = run(wait=False)
            assert p is not None
            time.sleep(rng.uniform(0.3 * whole, 1.05 * whole))
            p.send_signal(signal.SIGKILL)
            p.wait(30)
            seen = payments_state(db)
            assert seen in ((3, 1), (23, 2)), seen  # the statement's payments all in, or none
            if seen == (23, 2):
                with Warehouse.open(db) as wh:
                    wh.undo(max(b["batch_id"] for b in wh.batches()))
        run(wait=True)
    assert payments_state(db)[0] == 23


# The same for amoCRM (#19): its leads and its deals land together, or neither.
AMO_ARGS = [
    sys.executable,
    "-m",
    "kassa.cli",
    "sync",
    "crm",
    "--since",
    "2026-10-01",
    "--until",
    "2026-10-31",
]


def crm_state(db: Path) -> tuple[int, int, int]:
    """(leads, deals, live batches), as the next command would read them."""
    if not db.exists():
        return 0, 0, 0
    with Warehouse.open(db) as wh:
        got = [
            wh.ibis.con.execute(sql).fetchone()
            for sql in ("SELECT count(*) FROM leads", "SELECT count(*) FROM deals",
                        "SELECT count(*) FROM import_batches WHERE undone_at IS NULL")
        ]  # fmt: skip
    n = [int(r[0]) if r else 0 for r in got]
    return n[0], n[1], n[2]


def test_an_amocrm_sync_killed_at_any_moment_loads_its_leads_and_deals_or_neither(tmp_path: Path) -> None:
    from tests.connectors import test_amocrm_api as amo
    from tests.connectors.fake_amocrm import fake_amocrm

    db = tmp_path / "shop.duckdb"
    rng = random.Random(int(os.environ.get("KASSA_KILL_SEED", "19")))

    def run(wait: bool) -> subprocess.Popen[bytes] | None:
        if wait:
            r = subprocess.run(
                [*AMO_ARGS, "--db", str(db)], capture_output=True, text=True, timeout=120, env=ENV
            )
            assert r.returncode == 0, r.stdout + r.stderr
            return None
        return subprocess.Popen(
            [*AMO_ARGS, "--db", str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )

    with fake_amocrm(**amo.account(long_lived=amo.LONG_LIVED, page_size=1)) as fake:
        amo.connect_token(db, fake.base_url)
        started = time.monotonic()
        run(wait=True)
        whole = time.monotonic() - started
        assert crm_state(db) == (5, 5, 2)
        more = [amo.lead(700 + i, 142, 1113, 100 * (i + 1), "2026-10-02T10:00", f"2026-10-{i + 3:02d}T10:00",
                         "2026-10-03T10:00") for i in range(8)]  # fmt: skip
        fake.leads = [*amo.LEADS, *more]
        for _ in range(2):
            p = run(wait=False)
            assert p is not None
            time.sleep(rng.uniform(0.3 * whole, 1.05 * whole))
            p.send_signal(signal.SIGKILL)
            p.wait(30)
            seen = crm_state(db)
            assert seen in ((5, 5, 2), (13, 13, 4)), seen  # both tables of that sync, or neither
            if seen[2] == 4:
                with Warehouse.open(db) as wh:
                    for b in sorted((b["batch_id"] for b in wh.batches()), reverse=True)[:2]:
                        wh.undo(b)
        run(wait=True)
    assert crm_state(db) == (13, 13, 4)

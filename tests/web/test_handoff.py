"""`kassa import` and `kassa imports undo` while `kassa serve` runs: the server runs the write for them.

The dashboard is the real app under uvicorn (its lifespan starts the hand-over socket); the commands run
as real processes, as they would from cron, and the next page load shows what they changed.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests.web.browser_server import serve

from kassa.store import Warehouse, handoff
from kassa.web import create_app

SPEND = "date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_handed,10,1,777\n"
BAD = "date,channel,campaign,impressions,clicks,cost\n2026-10-21,vk_ads,vk_bad,10,1,lots\n"


def kassa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "kassa.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


def data_page(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/data.json", timeout=30) as resp:
        page: dict[str, Any] = json.load(resp)
    return page


def test_an_import_and_an_undo_run_inside_the_running_dashboard(golden_db: Path, tmp_path: Path) -> None:
    spend = tmp_path / "more.csv"
    spend.write_text(SPEND)
    with serve(create_app(golden_db, users_required=False, warm=False)) as url:
        before = data_page(url)["batches"]
        r = kassa("import", str(spend), "--db", str(golden_db), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        (loaded,) = json.loads(r.stdout)["files"]
        assert loaded["rows_loaded"] == 1 and loaded["kind"] == "spend"
        after = data_page(url)["batches"]
        assert len(after) == len(before) + 1
        assert after[0]["file"].endswith("more.csv") and after[0]["rows_loaded"] == 1

        again = kassa("import", str(spend), "--db", str(golden_db), "--json")
        assert json.loads(again.stdout)["files"][0]["already_imported_as"] == loaded["batch_id"]

        undo = kassa("imports", "undo", str(loaded["batch_id"]), "--db", str(golden_db))
        assert undo.returncode == 0, undo.stderr
        assert f"batch {loaded['batch_id']} undone: 1 row(s) removed" in undo.stdout
        assert data_page(url)["batches"][0]["undone_at"] is not None
    with Warehouse.open(golden_db, read_only=True) as wh:  # and it is in the file, not only in the server
        spent = wh.table("spend").filter(lambda t: t.campaign == "vk_handed").count().execute()
        assert spent == 0 and len(wh.batches()) == len(after)


def test_a_refused_file_is_said_with_its_line_and_changes_nothing(golden_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    with serve(create_app(golden_db, users_required=False, warm=False)) as url:
        before = data_page(url)["batches"]
        r = kassa("import", str(bad), "--db", str(golden_db), "--strict")
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert "nothing was imported" in r.stderr and "line 2" in r.stderr and "cost" in r.stderr
        assert data_page(url)["batches"] == before


def test_the_socket_is_only_for_its_user(golden_db: Path) -> None:
    with serve(create_app(golden_db, users_required=False, warm=False)):
        path = handoff.socket_path(golden_db)
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.exists()  # removed when the server stops


def test_a_warehouse_held_by_something_else_is_still_said(golden_db: Path, tmp_path: Path) -> None:
    spend = tmp_path / "more.csv"
    spend.write_text(SPEND)
    # Another import (no server, no socket) holds the file: nothing to hand over to.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from kassa.store import Warehouse; w = Warehouse.open(sys.argv[1]); "
            "print('open', flush=True); time.sleep(60)",
            str(golden_db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        r = kassa("import", str(spend), "--db", str(golden_db))
        assert r.returncode != 0 and "open for writing by another process" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


@pytest.mark.parametrize("job", [{"op": "drop everything"}, {"op": "undo"}])
def test_a_job_the_server_does_not_know_is_refused(golden_db: Path, job: dict[str, Any]) -> None:
    with serve(create_app(golden_db, users_required=False, warm=False)):
        with pytest.raises(Exception) as refused:
            handoff.hand_over(golden_db, job)
        assert "unknown job" in str(refused.value) or "batch_id" in str(refused.value)

"""`kassa sync` while `kassa serve` holds the warehouse: the command fetches, the server loads (job "sync").

The dashboard is the real app (tests/web/browser_server.py); `kassa sync` runs as a real process, as it
would from cron, against the fake Direct on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.connectors.fake_direct import fake_direct
from tests.connectors.test_sync import OCTOBER, ROWS, TOKEN, connect
from tests.web.browser_server import serve

from kassa.store import Warehouse
from kassa.web import create_app


def test_a_sync_is_handed_to_the_running_dashboard(golden_db: Path) -> None:
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(golden_db, fake.base_url)
        with serve(create_app(golden_db, users_required=False, warm=False)):
            r = subprocess.run(
                [sys.executable, "-m", "kassa.cli", "sync", "d", *OCTOBER, "--db", str(golden_db), "--json"],
                capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "160"},
            )  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
            (out,) = json.loads(r.stdout)["connections"]
            assert out["ok"] and out["rows"] == {"spend": 4} and out["batch_id"] is not None
    with Warehouse.open(golden_db, read_only=True) as wh:
        (batch,) = [b for b in wh.batches() if b["batch_id"] == out["batch_id"]]
        assert batch["file"].startswith("d (Yandex Direct") and batch["rows_loaded"] == 4
        t = wh.table("spend")
        assert t.filter(t.batch_id == out["batch_id"]).count().execute() == 4

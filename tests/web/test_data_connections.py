"""The Data page's connections block: listed without a secret, "sync now" for an owner only, the sync's
fetch beside the pages and its load in the queue of writes, its outcome shown afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.connectors.fake_direct import fake_direct
from tests.connectors.test_sync import ROWS, TOKEN, connect
from tests.web.test_web_changes import csrf_of

from kassa.store.connections import Connections


def test_connections_are_listed_without_a_secret_and_an_owner_syncs_now(
    users_db: Path, app: FastAPI, as_user: Callable[[str], TestClient]
) -> None:
    with fake_direct(TOKEN, rows=ROWS) as fake:
        connect(users_db, fake.base_url)
        olga, mark = as_user("olga"), as_user("mark")
        page = olga.get("/data").text
        assert 'id="connections-table"' in page and 'data-key="d"' in page and "Yandex Direct" in page
        assert 'class="sync-now"' in page and "never" in page
        listed = olga.get("/data.json").json()["connections"]
        assert listed == [{"name": "d", "service": "Yandex Direct", "account": "shop", "synced_through": None,
                           "last_sync": None, "syncing": False}]  # fmt: skip
        # A marketer sees the block but no button, and may not sync.
        assert 'class="sync-now"' not in mark.get("/data").text
        assert mark.post("/data/connections/d/sync", data={"csrf": csrf_of(mark, app)}).status_code == 403
        assert olga.post("/data/connections/d/sync", data={"csrf": "forged"}).status_code == 403
        assert olga.post("/data/connections/nope/sync", data={"csrf": csrf_of(olga, app)}).status_code == 404
        r = olga.post(
            "/data/connections/d/sync",
            data={"csrf": csrf_of(olga, app)},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 202 and r.json()["started"] is True
        deadline = time.monotonic() + 60
        while Connections(users_db).get("d").last_sync is None and time.monotonic() < deadline:
            time.sleep(0.1)
        last = Connections(users_db).get("d").last_sync
        assert last is not None and last["ok"], last
        page = olga.get("/data").text
    assert "ok, " in page and last["days"] in page
    batches = olga.get("/data.json").json()["batches"]
    assert batches[0]["file"].startswith("d (Yandex Direct, shop") and batches[0]["rows_loaded"] == 4
    for text in (page, str(batches), str(listed)):
        assert TOKEN not in text and "secrets" not in text

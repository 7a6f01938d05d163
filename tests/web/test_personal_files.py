"""Issue 14 items 11 and 12: what the dashboard keeps of an upload, and who may read the files.

Kept upload copies hold no personal data unless the owner opted in (``store_personal_data``); files of
failed or killed uploads do not stay; the warehouse, its WAL, uploads and contracts are 0600.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.kassa_cli import run_kassa
from tests.web.helpers import LOCAL

from kassa.kpi import example_path
from kassa.kpi.saved import contracts_dir
from kassa.settings import Settings
from kassa.store import Warehouse
from kassa.web import create_app
from kassa.web.security import LOCAL_CSRF_COOKIE
from kassa.web.uploads import uploads_dir

LEADS = (
    "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager,phone,email\n"
    "N1,2026-10-07 10:00,c7,vk,cpc,vk_new,new,Anna,+7 976 123-45-67,pavel@example.ru\n"
)
SPEND = "date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_new,100,5,1000\n"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A library caller's usual umask (022), restored after the test (``kassa`` sets 077 in-process)."""
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_kassa_import_writes_a_private_warehouse_and_wal(tmp_path: Path, loose_umask: None) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text(SPEND, encoding="utf-8")
    db = tmp_path / "new.duckdb"
    assert run_kassa("import", spend, "--db", db).returncode == 0
    assert mode(db) == 0o600
    for p in tmp_path.glob("new.duckdb*"):
        assert mode(p) == 0o600, p


def test_a_warehouse_opened_by_a_library_caller_is_private(tmp_path: Path, loose_umask: None) -> None:
    with Warehouse.open(tmp_path / "lib.duckdb"):
        pass
    assert mode(tmp_path / "lib.duckdb") == 0o600
    old = tmp_path / "old.duckdb"  # a file an older kassa wrote 0644
    with Warehouse.open(old):
        pass
    old.chmod(0o644)
    with Warehouse.open(old):
        pass
    assert mode(old) == 0o600


def _client(db: Path, settings: Settings | None = None) -> TestClient:
    app = create_app(db, settings, users_required=False, warm=False)
    client = TestClient(app, base_url=LOCAL)
    client.get("/data")
    return client


def _upload(client: TestClient, name: str, body: str) -> dict:
    r = client.post(
        "/data/upload",
        data={"csrf": client.cookies.get(LOCAL_CSRF_COOKIE)},
        files={"file": (name, body.encode())},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def db(golden_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    shutil.copy(golden_file, path)
    return path


def test_uploads_with_personal_data_are_not_kept_without_consent(db: Path, loose_umask: None) -> None:
    client = _client(db)
    try:
        leads = _upload(client, "leads.csv", LEADS)
        assert leads["batches"][0]["rows_loaded"] == 1
        assert "not kept: it holds personal data" in leads["message"]
        spend = _upload(client, "spend.csv", SPEND)
        kept = list(uploads_dir(db).iterdir())
        # Only the spend file is kept (ad cabinet numbers name no person), readable by its owner only.
        assert [p.name.split("-", 2)[-1] for p in kept] == ["spend.csv"] and "not kept" not in spend[
            "message"
        ]
        assert mode(kept[0]) == 0o600 and mode(uploads_dir(db)) == 0o700
        raw = kept[0].read_bytes()
        assert b"+7 976" not in raw
        # The leads' rows are in, their phone only as a hash: undo still works without the file.
        undo = client.post(
            "/data/undo",
            data={"csrf": client.cookies.get(LOCAL_CSRF_COOKIE), "batch_id": leads["batches"][0]["batch_id"]},
            headers={"Accept": "application/json"},
        )
        assert undo.status_code == 200, undo.text
    finally:
        client.app.state.dashboard.close()  # type: ignore[attr-defined]


def test_with_consent_the_upload_is_kept(db: Path) -> None:
    client = _client(db, Settings(store_personal_data=True))
    try:
        assert "not kept" not in _upload(client, "leads.csv", LEADS)["message"]
        (kept,) = uploads_dir(db).iterdir()
        assert b"+7 976 123-45-67" in kept.read_bytes() and mode(kept) == 0o600
    finally:
        client.app.state.dashboard.close()  # type: ignore[attr-defined]


def test_start_up_removes_what_killed_uploads_left(db: Path) -> None:
    client = _client(db)
    _upload(client, "spend.csv", SPEND)
    client.app.state.dashboard.close()  # type: ignore[attr-defined]
    folder = uploads_dir(db)
    (kept,) = folder.iterdir()
    # What a kill leaves: a half-received file, a received file whose import never committed, its mapping.
    left = [
        folder / ".receiving-20261020T101010000000-leads.csv",
        folder / "20261020T101011000000-0badcafe-leads.csv",
        folder / "20261020T101011000000-0badcafe-leads.csv.mapping.yaml",
    ]
    for p in left:
        p.write_text(LEADS, encoding="utf-8")
    mapping_of_kept = kept.with_name(kept.name + ".mapping.yaml")
    mapping_of_kept.write_text("kind: spend\n", encoding="utf-8")
    client = _client(db)
    client.app.state.dashboard.close()  # type: ignore[attr-defined]
    assert sorted(folder.iterdir()) == sorted([kept, mapping_of_kept])


def test_saved_contracts_are_private(db: Path, loose_umask: None) -> None:
    client = _client(db)
    try:
        text = example_path("pays_for_money").read_text(encoding="utf-8")
        r = client.post(
            "/kpi/save",
            data={"csrf": client.cookies.get(LOCAL_CSRF_COOKIE), "text": text},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 201, r.text
        folder = contracts_dir(db)
        assert mode(folder) == 0o700 and [mode(p) for p in folder.iterdir()] == [0o600]
    finally:
        client.app.state.dashboard.close()  # type: ignore[attr-defined]

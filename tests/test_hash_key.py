"""Issue 14 item 13: phone and e-mail hashes are keyed with a key that is not in the warehouse file.

Tests here unset ``KASSA_HASH_KEY`` (tests/conftest.py sets one for the suite) to use the key file.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from tests.kassa_cli import run_kassa

from kassa.link.customers import lead_customers
from kassa.settings import Settings
from kassa.sources.validate import salted_hash
from kassa.store import Warehouse
from kassa.store.hashkey import KEY_ENV, key_file, keyed

LEADS = (
    "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager,phone,email\n"
    "K1,2026-10-07 10:00,,vk,cpc,vk_new,new,Anna,+7 976 123-45-67,Pavel@Example.ru\n"
)
# A later lead of the same customer (phone written otherwise, no cookie): the same customer by phone.
AGAIN = (
    "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status,manager,phone,email\n"
    "K2,2026-10-20 10:00,,,,,qualified,Anna,8 976 123 45 67,\n"
)
PHONE = "+79761234567"


@pytest.fixture(autouse=True)
def _key_file_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def _leads_hashes(db: Path) -> list[str]:
    with Warehouse.open(db, read_only=True) as wh:
        return [r["phone_hash"] for r in wh.table("leads").to_pyarrow().to_pylist() if r["phone_hash"]]


def test_new_warehouse_keys_its_hashes_with_a_key_beside_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        wh.import_files([_write(tmp_path, "leads.csv", LEADS)], strict=True)
        salt = wh.salt
    key = bytes.fromhex(key_file(db).read_text().strip())
    assert stat.S_IMODE(key_file(db).stat().st_mode) == 0o600 and len(key) == 32
    (stored,) = _leads_hashes(db)
    assert stored == keyed(key, salted_hash(PHONE, salt)) != salted_hash(PHONE, salt)
    # The key is nowhere in the warehouse file (hex or raw), the salt is: the salt alone is not enough.
    raw = db.read_bytes()
    assert key.hex().encode() not in raw and key not in raw


def test_an_old_warehouse_is_migrated_and_still_links_the_same_leads(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    files = [_write(tmp_path, n, t) for n, t in {"leads.csv": LEADS}.items()]
    with Warehouse.open(db) as wh:
        wh.import_files(files, strict=True)
        salt = wh.salt
        # Make it what kassa before issue 14 wrote: unkeyed salted hashes, no key, no 'hashing' mark.
        old = salted_hash(PHONE, salt)
        wh._db.execute("UPDATE leads SET phone_hash = ?", [old])
        wh._db.execute("UPDATE leads SET email_hash = ?", [salted_hash("pavel@example.ru", salt)])
        wh._db.execute("DELETE FROM kassa_meta WHERE key IN ('hashing', 'hash_key_check')")
    key_file(db).unlink()
    assert _leads_hashes(db) != [old]  # a read-only open upgrades it once (briefly as the writer)
    key = bytes.fromhex(key_file(db).read_text().strip())
    assert _leads_hashes(db) == [keyed(key, old)]
    # A lead imported after the migration is the same customer as the old one, by its phone alone.
    with Warehouse.open(db) as wh:
        wh.import_files([_write(tmp_path, "again.csv", AGAIN)], strict=True)
        customers = lead_customers(wh.table("leads")).to_pyarrow().to_pylist()
    assert {r["lead_id"]: r["customer_id"] for r in customers} == {"K1": "K1", "K2": "K1"}


def test_a_lost_key_is_reported_and_nothing_is_imported(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    leads = _write(tmp_path, "leads.csv", LEADS)
    assert run_kassa("import", leads, "--db", db).returncode == 0
    key_file(db).unlink()
    again = _write(tmp_path, "again.csv", AGAIN)
    result = run_kassa("import", again, "--db", db)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{key_file(db)} nor {KEY_ENV}" in result.stderr and "from your backup" in result.stderr
    # Numbers still read without the key; a file with no phones or e-mails still imports.
    assert run_kassa("metrics", "--db", db, "--period", "2026-10", "--json").returncode == 0
    spend = _write(
        tmp_path, "spend.csv", "date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,v,1,1,9\n"
    )
    assert run_kassa("import", spend, "--db", db).returncode == 0
    # A different key is refused, not used to make hashes that match nothing.
    key_file(db).write_text(os.urandom(32).hex() + "\n")
    result = run_kassa("import", again, "--db", db)
    assert result.returncode == 2 and "holds a different key" in result.stderr


def test_the_env_key_is_used_and_no_key_file_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "a long secret kept by the deployment")
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db, settings=Settings()) as wh:
        wh.import_files([_write(tmp_path, "leads.csv", LEADS)], strict=True)
        salt = wh.salt
    assert not key_file(db).exists()
    assert _leads_hashes(db) == [keyed(b"a long secret kept by the deployment", salted_hash(PHONE, salt))]
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    monkeypatch.delenv(KEY_ENV)
    with (
        Warehouse.open(copy) as wh,
        pytest.raises(Exception, match="key of its phone and e-mail hashes is missing"),
    ):
        wh.import_files([_write(tmp_path, "again.csv", AGAIN)], strict=True)

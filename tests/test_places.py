"""The files kassa keeps with a warehouse are found in one place whatever the folder a command runs in."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kassa.kpi.plan_saved import PlanFolder
from kassa.kpi.saved import contracts_dir
from kassa.notify.schedule import lock_path
from kassa.notify.secrets import notify_path
from kassa.store.connections import connections_path, secrets_path
from kassa.store.hashkey import key_file
from kassa.store.places import beside, database_name
from kassa.web.uploads import uploads_dir
from kassa.web.users import sessions_path, users_path

SRC = Path(__file__).resolve().parents[1] / "src" / "kassa"

FILES: dict[str, Callable[[Path], Path]] = {
    ".users.json": users_path,
    ".sessions.json": sessions_path,
    ".contracts": contracts_dir,
    ".plans": lambda db: PlanFolder.for_db(db).folder,
    ".connections.json": connections_path,
    ".secrets.json": secrets_path,
    ".key": key_file,
    ".notify.json": notify_path,
    ".uploads": uploads_dir,
    ".schedule-digest.lock": lambda db: lock_path(db, "digest"),
}


@pytest.mark.parametrize("suffix", FILES)
def test_a_duckdb_warehouses_files_sit_beside_its_file(suffix: str, tmp_path: Path) -> None:
    assert FILES[suffix](tmp_path / "shop.duckdb") == tmp_path / f"shop.duckdb{suffix}"


@pytest.mark.parametrize("suffix", FILES)
def test_a_spark_warehouses_files_sit_beside_its_folder_wherever_the_command_runs(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "spark-warehouse"
    monkeypatch.setenv("KASSA_SPARK_WAREHOUSE", str(folder))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # `--db spark:shop` once made ./spark:shop.users.json here
    where = FILES[suffix](Path("spark:shop"))
    assert where == folder / f"shop{suffix}"
    # The warehouse's own folder (what an open Spark warehouse calls its path) gives the same file.
    assert FILES[suffix](folder / "shop") == where


def test_a_spark_database_name_is_letters_digits_and_underscores() -> None:
    assert database_name("spark:shop_2") == "shop_2"
    with pytest.raises(Exception, match="letters, digits and _"):
        beside("spark:../etc", ".users.json")


def test_no_module_builds_a_warehouse_file_name_of_its_own() -> None:
    # One rule for where they go (kassa.store.places.beside); a copy would put Spark's files elsewhere.
    pattern = re.compile(r"\bdb\.with_name\(|with_name\(f?\"?\{?db\.name")
    found = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text("utf-8"))]
    assert found == []

"""The Spark warehouse's write path: one import is all or nothing, re-importing changes nothing, undo
puts back exactly what was there, one writer at a time; clear errors for what Spark cannot take."""

from __future__ import annotations

import textwrap

import pytest
from tests.golden_data import FILES

from kassa.errors import WarehouseError, WarehouseTaken
from kassa.store import Warehouse

# py4j leaves its gateway sockets to the garbage collector (not ours to close).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        out.append(folder / name)
    return out


def parts(db: str, spark_root) -> set[str]:
    return {str(p.relative_to(spark_root)) for p in (spark_root / db).glob("*/part-*")}


def test_import_is_atomic_repeatable_and_undoable(spark, tmp_path) -> None:
    from tests.engines.conftest import spark_folder

    files = write(tmp_path / "csv", FILES)
    with Warehouse.open("spark:atomic") as wh:
        first = wh.import_files(files[:-1])
        assert all(f.batch_id for f in first.files)
        before = wh.fingerprint()
        kept = parts("atomic", spark_folder())

        # Stopped at the last moment (the dashboard's cancel): every file was loaded into new parts, none seen.
        def stop(step: str) -> None:
            if step == "committing":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            wh.import_files(files[-1:], progress=stop)
        assert wh.fingerprint() == before
        assert parts("atomic", spark_folder()) == kept  # the stopped import's parts are gone
        assert len(wh.batches()) == len(first.files)

        again = wh.import_files(files[:-1])
        assert [f.already_imported_as for f in again.files] == [f.batch_id for f in first.files]
        assert wh.fingerprint() == before

        last = wh.import_files(files[-1:]).files[0]
        assert last.rows_loaded > 0
        after = wh.fingerprint()
        assert after != before
        # A second writer is refused while this one is open.
        with pytest.raises(WarehouseTaken, match="spark:atomic is open for writing"):
            Warehouse.open("spark:atomic")

    # A new session sees exactly the committed state.
    with Warehouse.open("spark:atomic", read_only=True) as wh:
        assert wh.fingerprint() == after
    with Warehouse.open("spark:atomic") as wh:
        assert wh.undo(last.batch_id) == {"removed": last.rows_loaded, "restored": 0}
        assert wh.fingerprint() == before
        with pytest.raises(WarehouseError, match="already undone"):
            wh.undo(last.batch_id)


def test_an_overlapping_export_replaces_and_undo_restores(spark, tmp_path) -> None:
    spend = {"spend.csv": FILES["spend.csv"]}
    changed = {"spend.csv": FILES["spend.csv"].replace("12200", "13300")}
    with Warehouse.open("spark:overlap") as wh:
        wh.import_files(write(tmp_path / "a", spend))
        before = wh.fingerprint()
        second = wh.import_files(write(tmp_path / "b", changed)).files[0]
        assert second.rows_replaced == second.rows_loaded == 4  # the same channel and dates: replaced
        assert wh.row_count("spend") == 4
        cost = wh.table("spend").cost.sum().execute()
        assert cost == pytest.approx(5000 + 13300 + 2000 + 3000)
        assert wh.undo(second.batch_id) == {"removed": 4, "restored": 4}
        assert wh.fingerprint() == before


def test_clear_errors(spark) -> None:
    with pytest.raises(WarehouseError, match="spark:DATABASE"):
        Warehouse.open("spark:no-dashes")
    with pytest.raises(WarehouseError, match="no Spark warehouse nothing_here"):
        Warehouse.open("spark:nothing_here", read_only=True)

"""Compiled SQL kept across warehouses (kassa.store.compiled) gives exactly the numbers a fresh compile gives.

A kept query runs on warehouses it was not compiled on, so each test compares the numbers of a warehouse
computed with a cold cache against the same warehouse computed after *another* warehouse (other rows,
other settings) filled the cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import pytest
from tests.golden_data import FILES

from kassa.metrics.compute import compute
from kassa.settings import Settings
from kassa.store import Warehouse, compiled

# Another company: the golden one without its payments.
OTHER = {name: text for name, text in FILES.items() if "payment" not in name and "bank" not in name}

SHAPES: list[dict[str, Any]] = [
    {"by": "channel", "period": "2026-10"},
    {"by": "campaign", "period": "2026-10"},
    {"by": ["month", "channel"], "period": "2026-09..2026-10"},
    {"by": None, "period": "2026-10"},
    {"by": "channel", "period": "2026-10", "view": "cohort", "settle_days": 30},
    {"by": "channel", "period": "2026-10", "where": {"channel": ["yandex_direct"]}},
    {"by": "manager", "period": "2026-10", "with_total": False},
]


def _numbers(wh: Warehouse, settings: Settings | None = None) -> list[Any]:
    out = []
    for shape in SHAPES:
        t = compute(wh, settings=settings, **shape)
        out.append((t.frame.to_dicts(), t.total, t.warnings))
    return out


SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def _memory_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # "Cold" means compiled here: SQL on disk from earlier runs would make every query a hit.
    if "disk" not in request.node.name:
        monkeypatch.setenv("KASSA_SQL_CACHE", "off")


def _cold(wh: Warehouse, settings: Settings | None = None) -> list[Any]:
    compiled.forget_all()
    return _numbers(wh, settings)


@pytest.mark.slow  # every metric on two companies, cold and kept: ~11 s
def test_a_warehouse_reads_the_same_numbers_through_sql_kept_from_another(
    make_warehouse: Callable[..., Warehouse],
) -> None:
    golden, other = make_warehouse(FILES, name="golden.duckdb"), make_warehouse(OTHER, name="other.duckdb")
    golden_cold, other_cold = _cold(golden), _cold(other)
    assert golden_cold != other_cold  # the two companies differ, so a shared answer would show

    compiled.forget_all()
    _numbers(golden)  # fills the cache
    misses = compiled.COUNTS.misses
    assert _numbers(other) == other_cold
    assert compiled.COUNTS.misses == misses, "the second warehouse compiled again"
    assert _numbers(golden) == golden_cold


@pytest.mark.slow  # every metric on two companies, cold and kept: ~11 s
def test_settings_are_part_of_what_the_sql_is_kept_under(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = make_warehouse(FILES)
    usd = Settings(currency="USD", lookback_days=1)
    rub_cold, usd_cold = _cold(wh), _cold(wh, usd)
    assert rub_cold != usd_cold

    compiled.forget_all()
    assert _numbers(wh) == rub_cold
    assert _numbers(wh, usd) == usd_cold


def test_the_stitching_is_compiled_once_per_process(make_warehouse: Callable[..., Warehouse]) -> None:
    compiled.forget_all()
    compute(make_warehouse(FILES, name="a.duckdb"), by="channel", period="2026-10")
    misses = compiled.COUNTS.misses
    assert misses >= 8  # six links, two metric tables, and the metric queries
    compute(make_warehouse(OTHER, name="b.duckdb"), by="channel", period="2026-10")
    assert compiled.COUNTS.misses == misses


def test_verifying_catches_a_key_that_does_not_name_what_the_query_reads(
    make_warehouse: Callable[..., Warehouse], monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = make_warehouse(FILES)
    spend = wh.table("spend")
    compiled.compiled(wh, ("test", "spend"), lambda: spend.filter(spend.cost > 0))
    monkeypatch.setenv("KASSA_VERIFY_COMPILED", "1")
    compiled.compiled(wh, ("test", "spend"), lambda: spend.filter(spend.cost > 0))  # the same query: fine
    with pytest.raises(AssertionError, match="does not name everything"):
        compiled.compiled(wh, ("test", "spend"), lambda: spend.filter(spend.cost > ibis.literal(1)))


def test_a_fetched_query_has_the_types_of_its_expression(make_warehouse: Callable[..., Warehouse]) -> None:
    wh = make_warehouse(FILES)
    spend = wh.table("spend")
    expr = spend.group_by("channel").aggregate(n=spend.count(), cost=spend.cost.sum())
    assert compiled.fetch(wh, ("test", "types"), lambda: expr).schema == expr.to_polars().schema


COUNT_IN_A_NEW_PROCESS = """
import json, sys
from kassa.metrics import compute
from kassa.store import Warehouse, compiled
with Warehouse.open(sys.argv[1], read_only=True) as wh:
    t = compute(wh, by="channel", period="2026-10")
print(json.dumps({"rows": t.to_json()["rows"], "misses": compiled.COUNTS.misses, "disk": compiled.COUNTS.disk_hits}))
"""


def test_a_new_process_runs_the_sql_another_one_kept_on_disk(
    make_warehouse: Callable[..., Warehouse], tmp_path: Path
) -> None:
    wh = make_warehouse(FILES)
    db = wh.path
    wh.close()
    env = {**os.environ, "KASSA_SQL_CACHE": str(tmp_path / "sql"), "PYTHONPATH": str(SRC)}

    def run() -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-c", COUNT_IN_A_NEW_PROCESS, str(db)], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        answer: dict[str, Any] = json.loads(out.stdout)
        return answer

    first = run()
    assert first["misses"] >= 8 and first["disk"] == 0
    (folder,) = (tmp_path / "sql").iterdir()  # one folder: this code's fingerprint
    assert len(list(folder.glob("*.json"))) == first["misses"]
    second = run()
    assert second["misses"] == 0 and second["disk"] == first["misses"] and second["rows"] == first["rows"]
    # A damaged file is compiled and written again; the numbers do not change.
    damaged = sorted(folder.glob("*.json"))[0]
    damaged.write_text("{")
    third = run()
    assert third["misses"] == 1 and third["rows"] == first["rows"]
    assert json.loads(damaged.read_text())["sql"]


KEPT_SQL_IN_A_NEW_PROCESS = """
import json, sys
from kassa.attribution.journeys import warehouse_paths
from kassa.diagnose import run as diagnose
from kassa.metrics import compute
from kassa.store import Warehouse, compiled
with Warehouse.open(sys.argv[1], read_only=True) as wh:
    for by in ("channel", "campaign", "month", "manager"):
        compute(wh, by=by, period="2026-10")
    compute(wh, by="channel", period="2026-10", view="cohort")
    warehouse_paths(wh, "2026-10", "revenue", by="campaign")
    diagnose(wh, "2026-10", "2026-09")
print(json.dumps(sorted((repr(k), repr(v)) for k, v in compiled._KEPT.items())))
"""


@pytest.mark.slow  # two processes compiling every query of the metrics, journeys and diagnosis: ~20 s
def test_the_sql_kept_under_a_key_is_the_same_in_every_process(
    make_warehouse: Callable[..., Warehouse], tmp_path: Path
) -> None:
    # Processes share the disk cache (the xdist workers, kassa serve and a cron job), so the SQL of a key
    # must not depend on the process: an Ibis drop() of several columns wrote EXCLUDE (...) in the set
    # order of the process's hash seed, and KASSA_VERIFY_COMPILED then refused the other process's SQL.
    wh = make_warehouse(FILES)
    db = wh.path
    wh.close()

    def kept(seed: str) -> list[list[str]]:
        env = {**os.environ, "KASSA_SQL_CACHE": "off", "PYTHONHASHSEED": seed, "PYTHONPATH": str(SRC)}
        out = subprocess.run(
            [sys.executable, "-c", KEPT_SQL_IN_A_NEW_PROCESS, str(db)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        answer: list[list[str]] = json.loads(out.stdout)
        return answer

    one, two = kept("1"), kept("2")
    assert len(one) >= 10
    differ = [k for (k, a), (_, b) in zip(one, two, strict=True) if a != b]
    assert [k for k, _ in one] == [k for k, _ in two] and differ == []

"""The same company through DuckDB and Spark: every table kassa shows must be equal.

Each company is imported into a DuckDB file and a Spark warehouse through the same import path, and then
each table kassa shows is computed once on both — metrics by channel, campaign, month and manager
(calendar and cohort), money, attribution under all eight models, diagnose's findings, a KPI bonus — and
compared: equal, floats within 1e-9 (relative). The demo company, and a second one from another seed
without the planted stories.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from kassa import demo
from kassa.attribution import attribute
from kassa.attribution.journeys import warehouse_paths
from kassa.diagnose import run as diagnose
from kassa.kpi import score
from kassa.kpi.saved import resolve_contract
from kassa.link.money import money_view
from kassa.metrics.compute import base_tables, compute
from kassa.period import Period
from kassa.store import Warehouse

# py4j leaves its gateway sockets to the garbage collector (not ours to close).
pytestmark = [
    pytest.mark.slow,
    # CI runs these beside the rest of the suite on two cores, where the demo's cross-check took 305 s.
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
]

EXAMPLES = Path(demo.__file__).resolve().parent.parent / "kpi" / "examples"


def same(a: Any, b: Any, where: str = "") -> list[str]:
    """Where ``a`` and ``b`` differ (empty when equal; floats within 1e-9 relative)."""
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        ok = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        return [] if ok else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in same(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} rows != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same(x, y, f"{where}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{where}: {a!r} != {b!r}"]


def shown(wh: Warehouse) -> dict[str, Any]:
    """Every table kassa shows for the demo's last months, as JSON-ready data."""
    out: dict[str, Any] = {}
    october, june = Period.parse("2026-10"), Period.parse("2026-06")
    for by in ("channel", "campaign", "manager"):
        out[f"metrics by {by}"] = compute(wh, None, by, june if by == "manager" else october).to_json()
    out["metrics by month"] = compute(wh, None, "month", Period.parse("2026-01..2026-10")).to_json()
    out["cohort metrics by channel"] = compute(wh, None, "channel", october, view="cohort").to_json()
    out["money"] = money_view(base_tables(wh, wh.settings).chain, wh, october).to_json()
    for measure in ("sales", "revenue"):
        paths = warehouse_paths(wh, october, measure, by="channel")
        out[f"attribution of {measure}"] = {n: r.to_json() for n, r in attribute(paths, "all").items()}
    out["findings"] = [f.to_json() for f in diagnose(wh, october, Period.parse("2026-09")).findings]
    for name in ("pays_for_money", "pays_for_activity"):
        out[f"kpi {name}"] = score(wh, resolve_contract(str(EXAMPLES / f"{name}.yaml")), october).to_json()
    return out


@pytest.mark.parametrize(("seed", "plant"), [(7, True), (11, False)], ids=["demo", "seed-11-healthy"])
def test_spark_shows_what_duckdb_shows(spark, tmp_path, seed, plant) -> None:
    files = demo.generate(tmp_path / "csv", seed=seed, plant=plant)
    tables = {}
    for db in (tmp_path / "shop.duckdb", f"spark:company_{seed}"):
        with Warehouse.open(db) as wh:
            wh.import_files(files, strict=True)
            tables[str(db)] = shown(wh)
    duck, sparked = tables.values()
    assert duck["findings"], "the comparison must cover some findings"
    differences = {name: same(duck[name], sparked[name]) for name in duck}
    assert {k: v[:5] for k, v in differences.items() if v} == {}

"""Compiled SQL kept across warehouses (kassa.store.compiled) gives exactly the numbers a fresh compile gives.

A kept query runs on warehouses it was not compiled on, so each test compares the numbers of a warehouse
computed with a cold cache against the same warehouse computed after *another* warehouse (other rows,
other settings) filled the cache.
"""

from __future__ import annotations

from collections.abc import Callable
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

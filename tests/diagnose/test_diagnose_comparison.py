"""The numbers diagnosis compares are the metrics' own: one query per run must equal ``compute`` per level."""

from __future__ import annotations

import math

import pytest
from tests.golden_data import FILES

from kassa.diagnose.comparison import COMPANY_NODE, Node, load
from kassa.metrics import compute
from kassa.metrics.catalog import visible_metrics
from kassa.period import Period


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    from tests.conftest import write_files

    from kassa.settings import Settings
    from kassa.store import Warehouse

    folder = tmp_path_factory.mktemp("golden")
    wh = Warehouse.open(folder / "w.duckdb", settings=Settings())
    wh.import_files(write_files(folder / "in", FILES), strict=True)
    yield wh
    wh.close()


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


def test_every_level_equals_compute(golden):
    # October (the golden month) level by level; September goes through the same code (one query for both).
    oct_, sep = Period.parse("2026-10"), Period.parse("2026-09")
    cmp = load(golden, oct_, sep)
    # Payback (a cover of cost by cumulated gross profit, not a sum) is not one the diagnosis compares.
    names = [m.name for m in visible_metrics() if m.cover is None]
    assert "payback_months" not in names and "ltv" in names
    for period, side in ((oct_, cmp.after),):
        table = compute(golden, None, "channel", period)
        expected = {COMPANY_NODE: table.total}
        expected |= {Node("channel", r["channel"]): r for r in table.rows()}
        expected |= {
            Node("campaign", r["campaign"], r["channel"]): r
            for r in compute(golden, None, "campaign", period).rows()
        }
        expected |= {
            Node("manager", r["manager"]): r for r in compute(golden, None, "manager", period).rows()
        }
        assert set(side) == set(expected)
        for node, row in expected.items():
            for n in names:
                assert _same(side[node].value(n), row[n]), (
                    period.label,
                    node,
                    n,
                    side[node].value(n),
                    row[n],
                )


def test_deal_amounts_add_up_to_sales_and_revenue(golden):
    # October's won deals: D1 50 000 (L1, Anna) and D4 40 000 (L7, Anna): n = 2, Σx = 90 000,
    # Σx² = 2.5e9 + 1.6e9 = 4.1e9 (tests/test_metrics_golden.py works out the same deals).
    cmp = load(golden, Period.parse("2026-10"), Period.parse("2026-09"))
    assert cmp.side(COMPANY_NODE, "before").value("visits") == 1  # v7, 30 September 23:30
    deals = cmp.side(COMPANY_NODE, "after").deals
    assert (deals.n, deals.total, deals.sumsq) == (2, 90_000.0, 4.1e9)
    assert cmp.side(Node("manager", "Anna"), "after").deals.n == 2
    assert cmp.side(Node("channel", "yandex_direct"), "after").deals.total == 90_000.0

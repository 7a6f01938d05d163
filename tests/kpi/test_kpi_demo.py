"""The demo company side by side: the contract that pays for activity pays in full in the month the
money fell, the contract that pays for money does not (the article's story, docs/kpi.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.conftest import DemoCompany

from kassa.demo import LAST_MONTH
from kassa.kpi import Scorecard, example_path, lint, load_contract, score
from kassa.metrics import compute
from kassa.period import Period
from kassa.store import Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_company: Callable[[bool], DemoCompany]) -> Iterator[Warehouse]:
    """The session's demo company (tests/conftest.py), read-only: scoring only reads it."""
    wh = demo_company(True).open()
    yield wh
    wh.close()


def card(wh: Warehouse, name: str, period: Period) -> Scorecard:
    return score(wh, load_contract(example_path(name)), period)


def test_activity_contract_pays_in_full_while_revenue_falls(demo):
    last = Period.parse(LAST_MONTH)
    prev = last.previous()
    bad, good = card(demo, "pays_for_activity", last), card(demo, "pays_for_money", last)
    assert (
        bad.contract.scope == good.contract.scope
    )  # same agency, same campaigns: only what is paid for differs
    where = bad.contract.scope.where()
    revenue = {
        p: compute(demo, ["revenue"], [], p, where=where, with_total=False).frame["revenue"][0]
        for p in (prev, last)
    }
    assert revenue[last] < revenue[prev], (
        "the demo's story: revenue of the agency's campaigns fell in the last month"
    )

    assert bad.bonus is not None and bad.bonus_base is not None and bad.bonus >= 0.9 * bad.bonus_base
    assert good.bonus is not None and good.bonus <= 0.5 * bad.bonus
    assert bad.warnings == [] and good.warnings == []
    # ...and the month before, when more money came in, the activity contract paid *less*.
    bad_prev, good_prev = card(demo, "pays_for_activity", prev), card(demo, "pays_for_money", prev)
    assert bad_prev.bonus is not None and bad_prev.bonus < bad.bonus
    assert bad_prev.rows[0].fact is not None and bad_prev.rows[0].fact < 20 <= bad.rows[0].fact  # posts
    assert good_prev.bonus is not None and good_prev.bonus > good.bonus
    assert good_prev.bonus >= 0.9 * good_prev.bonus_base  # the plan was met in a normal month
    assert good.rows[0].status == "below_floor"  # qualified leads fell below 70 % of plan


def test_lint_tells_them_apart():
    assert lint(load_contract(example_path("pays_for_money")), LAST_MONTH) == []
    assert {w.code for w in lint(load_contract(example_path("pays_for_activity")), LAST_MONTH)} == {
        "activity_weight",
        "no_outcome",
        "gate_on_activity",
    }

"""The plan, backwards: hand-computed figures, ranges and shortfalls; the round trip; the draft contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.kassa_cli import run_kassa
from tests.kpi.plan_data import GOLDEN, STEADY, company

from kassa.errors import KassaError
from kassa.kpi import lint, load_contract, parse_contract
from kassa.kpi.plan import FIGURES, RATES, draft_contract, funnel, make_plan, revenue_of
from kassa.kpi.plan_saved import PlanFolder
from kassa.metrics.compute import compute
from kassa.store import Warehouse

approx = pytest.approx


@pytest.fixture
def golden(make_warehouse: Callable[..., Warehouse]) -> Warehouse:
    return make_warehouse(company(GOLDEN))


def figures(plan_channel) -> dict[str, tuple[float | None, float | None, float | None]]:
    return {f: (v.plan, v.low, v.high) for f, v in plan_channel.figures.items()}


def test_golden_plan_by_channel(golden: Warehouse) -> None:
    """60 000 for October from July-September (tests/kpi/plan_data.py GOLDEN), every figure by hand.

    Window revenue: Yandex Direct 20 000 + 48 000 + 16 000 = 84 000, VK 6 000 + 6 000 + 24 000 = 36 000:
    shares 0.7 and 0.3, so 42 000 and 18 000 are asked of them.
    Yandex Direct pooled: 8 sales, 18 qualified, 40 leads, 90 visits, cost 41 000 -> average check
    10 500, qualified→sale 8/18, lead→qualified 0.45, visit→lead 40/90, CPQL 41 000/18.
    42 000 / 10 500 = 4 sales; 4 / (8/18) = 9 qualified; 9 / 0.45 = 20 leads; 20 / (40/90) = 45 visits;
    9 × 41 000/18 = 20 500 budget.
    Its months alone: July (10 000, 0.4, 0.5, 0.5, 2 000) -> 4.2 sales, 10.5 qualified, 21 leads, 42 visits,
    21 000; August (12 000, 0.5, 0.4, 0.5, 2 000) -> 3.5, 7, 17.5, 35, 14 000; September (8 000, 0.4, 0.5,
    1/3, 3 000) -> 5.25, 13.125, 26.25, 78.75, 39 375. The range is their min and max (with the plan's).
    VK pooled: 4 sales, 8 qualified, 15 leads, 40 visits, cost 15 000 -> 9 000, 0.5, 8/15, 0.375, 1 875:
    18 000 -> 2 sales, 4 qualified, 7.5 leads, 20 visits, 7 500 budget; July -> 3, 6, 15, 30, 12 000;
    August -> 3, 6, 12, 30, 15 000; September (12 000, 0.5, 2/3, 0.3, 1 500) -> 1.5, 3, 4.5, 15, 4 500.
    """
    plan = make_plan(golden, 60_000, "2026-10", by_channel=True)
    assert plan.window.label == "2026-07..2026-09" and plan.warnings == []
    ydx, vk = plan.channels
    assert (ydx.channel, vk.channel) == ("yandex_direct", "vk_ads")
    assert (ydx.share, ydx.revenue, vk.share, vk.revenue) == (
        approx(0.7),
        approx(42_000),
        approx(0.3),
        approx(18_000),
    )
    assert ydx.rates == {
        "average_check": approx(10_500),
        "qualified_to_sale": approx(8 / 18),
        "lead_to_qualified": approx(0.45),
        "visit_to_lead": approx(40 / 90),
        "cost_per_qualified_lead": approx(41_000 / 18),
    }
    assert figures(ydx) == {
        "sales": (approx(4), approx(3.5), approx(5.25)),
        "qualified_leads": (approx(9), approx(7), approx(13.125)),
        "leads": (approx(20), approx(17.5), approx(26.25)),
        "visits": (approx(45), approx(35), approx(78.75)),
        "budget": (approx(20_500), approx(14_000), approx(39_375)),
    }
    assert figures(vk) == {
        "sales": (approx(2), approx(1.5), approx(3)),
        "qualified_leads": (approx(4), approx(3), approx(6)),
        "leads": (approx(7.5), approx(4.5), approx(15)),
        "visits": (approx(20), approx(15), approx(30)),
        "budget": (approx(7_500), approx(4_500), approx(15_000)),
    }
    # The total adds the channels up, lows and highs too (every channel at its worst month at once).
    total = {f: (v.plan, v.low, v.high) for f, v in plan.total().items()}
    assert total["qualified_leads"] == (approx(13), approx(10), approx(19.125))
    assert total["budget"] == (approx(28_000), approx(18_500), approx(54_375))


def test_golden_shortfalls_against_the_best_month_ever(golden: Warehouse) -> None:
    """Records come from every month before the period, June too (outside the window): Yandex Direct's
    best is 4 sales (August), 12 qualified, 25 leads, 50 visits and 20 000 spent (June), so only its
    budget (20 500) is short, by 500; VK's best month is September (2 sales, 4 qualified, 6 leads,
    20 visits, 6 000): its 7.5 leads and 7 500 budget are short by 1.5 and 1 500. At best-month volumes
    Yandex Direct brings 42 000 × 20 000/20 500 and VK 18 000 × 0.8 = 14 400."""
    plan = make_plan(golden, 60_000, "2026-10", by_channel=True)
    ydx, vk = plan.channels
    assert [(s.figure, s.record, s.month, s.short) for s in ydx.shortfalls] == [
        ("budget", 20_000, "2026-06", approx(500))
    ]
    assert [(s.figure, s.record, s.month, s.short) for s in vk.shortfalls] == [
        ("leads", 6, "2026-09", approx(1.5)),
        ("budget", 6_000, "2026-09", approx(1_500)),
    ]
    assert ydx.reachable == approx(42_000 * 20_000 / 20_500)
    assert vk.reachable == approx(14_400)
    assert plan.reachable == approx(42_000 * 20_000 / 20_500 + 14_400)
    # Half the target asks less than any best month: nothing is short.
    assert all(not c.shortfalls for c in make_plan(golden, 30_000, "2026-10").channels)


def test_golden_plan_for_the_whole_business(golden: Warehouse) -> None:
    """Without --by the business is one funnel: 120 000 of revenue from 12 sales (average 10 000), 26
    qualified, 55 leads, 130 visits, 56 000 spent; 60 000 needs 6 sales, 13 qualified, 27.5 leads, 65
    visits, 28 000 — the same totals as by channel here, since the channels' shares are their revenue's."""
    plan = make_plan(golden, 60_000, "2026-10", by_channel=False)
    (whole,) = plan.channels
    assert whole.channel is None and whole.share == approx(1)
    assert {f: v.plan for f, v in whole.figures.items()} == {
        "sales": approx(6),
        "qualified_leads": approx(13),
        "leads": approx(27.5),
        "visits": approx(65),
        "budget": approx(28_000),
    }
    # The business sold most in August (5: Yandex Direct 4, VK 1); the plan's 6 is 1 short.
    assert ("sales", 5, "2026-08") in [(s.figure, s.record, s.month) for s in whole.shortfalls]


def test_round_trip_reproduces_a_past_months_revenue(make_warehouse: Callable[..., Warehouse]) -> None:
    """Plan October's actual revenue from July-September: the targets are October's actual funnel, and
    that funnel at October's actual rates (counted by the catalog) gives October's revenue back."""
    wh = make_warehouse(company(STEADY))
    october = compute(
        wh,
        ["revenue", "sales", "qualified_leads", "leads", "visits", "marketing_cost", *RATES],
        "channel",
        "2026-10",
    )
    actual = {r["channel"]: r for r in october.rows()}
    plan = make_plan(wh, october.total["revenue"], "2026-10", by_channel=True)
    assert plan.window.label == "2026-07..2026-09"
    for c in plan.channels:
        fact = actual[c.channel]
        assert c.revenue == approx(fact["revenue"])
        assert c.planned() == {
            "sales": approx(fact["sales"]),
            "qualified_leads": approx(fact["qualified_leads"]),
            "leads": approx(fact["leads"]),
            "visits": approx(fact["visits"]),
            "budget": approx(fact["marketing_cost"]),
        }
        assert revenue_of(c.planned(), {r: fact[r] for r in RATES}) == approx(fact["revenue"])
    assert sum(revenue_of(c.planned(), c.rates) or 0 for c in plan.channels) == approx(
        october.total["revenue"]
    )
    # October is 1.5 times any month before it: every figure is beyond the channels' records.
    assert {s.figure for c in plan.channels for s in c.shortfalls} == set(FIGURES)


def test_funnel_forwards_and_backwards_agree() -> None:
    rates = {
        "average_check": 7_000,
        "qualified_to_sale": 0.3,
        "lead_to_qualified": 0.6,
        "visit_to_lead": 0.02,
        "cost_per_qualified_lead": 2_500,
    }
    f = funnel(6_000_000, rates)
    assert revenue_of(f, rates) == approx(6_000_000)
    assert f["visits"] == approx(6_000_000 / 7_000 / 0.3 / 0.6 / 0.02)
    # A rate with no value stops the funnel there, never a zero or infinity further up.
    assert funnel(1_000, {**rates, "lead_to_qualified": None}) | {} == {
        "sales": approx(1_000 / 7_000),
        "qualified_leads": approx(1_000 / 7_000 / 0.3),
        "leads": None,
        "visits": None,
        "budget": approx(1_000 / 7_000 / 0.3 * 2_500),
    }


def test_bad_inputs_are_named(golden: Warehouse) -> None:
    with pytest.raises(KassaError, match="one calendar month"):
        make_plan(golden, 1_000, "2026-09..2026-10")
    with pytest.raises(KassaError, match="positive amount"):
        make_plan(golden, -5, "2026-10")
    with pytest.raises(KassaError, match="--months 0"):
        make_plan(golden, 1_000, "2026-10", months=0)
    with pytest.raises(KassaError, match=r"no revenue in 2026-01..2026-03: nothing to plan 2026-04"):
        make_plan(golden, 1_000, "2026-04")
    with pytest.raises(KassaError, match="no revenue of channels telegram"):
        make_plan(golden, 1_000, "2026-10", scope=["telegram"])


def test_the_draft_contract_pays_for_the_plans_outcomes_and_lints_clean(golden: Warehouse) -> None:
    plan = make_plan(golden, 60_000, "2026-10", by_channel=True)
    contract = parse_contract(draft_contract(plan))
    assert {k.metric: k.target for k in contract.kpis} == {
        "qualified_leads": 13,  # 9 + 4
        "cost_per_qualified_lead": round(28_000 / 13),
        "revenue": 60_000,
    }
    assert contract.bonus is not None and contract.bonus.gate is not None
    assert (contract.bonus.gate.metric, contract.bonus.gate.min) == ("romi", 0)
    assert lint(contract, "2026-10") == []
    # An agency's plan covers its channels only, and so does its contract.
    vk = make_plan(golden, 18_000, "2026-10", scope=["vk_ads"])
    drafted = parse_contract(draft_contract(vk, bonus_base=30_000))
    assert drafted.scope.channels == ["vk_ads"] and lint(drafted, "2026-10") == []
    assert {k.metric: k.target for k in drafted.kpis}["qualified_leads"] == 4


def test_kassa_plan_command(golden: Warehouse, tmp_path: Path) -> None:
    db = Path(golden.path)
    golden.close()
    contract = tmp_path / "draft.yaml"
    res = run_kassa(
        "plan",
        "--revenue",
        "60000",
        "--period",
        "2026-10",
        "--by",
        "channel",
        "--db",
        str(db),
        "--json",
        "--write-contract",
        str(contract),
        "--save",
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["target"] == 60_000 and data["window"] == "2026-07..2026-09"
    assert [c["channel"] for c in data["channels"]] == ["yandex_direct", "vk_ads"]
    assert data["channels"][1]["figures"]["leads"] == {"plan": 7.5, "low": 4.5, "high": 15.0}
    assert data["total"]["budget"]["plan"] == approx(28_000)
    # The draft lints clean through the command people run, and the plan was kept for the report.
    lint_res = run_kassa("kpi", "lint", str(contract), "--strict")
    assert lint_res.returncode == 0 and "no objections" in lint_res.stdout, lint_res.stdout
    assert load_contract(contract).kpis[0].target == 13
    saved = PlanFolder.for_db(db).read(make_period("2026-10"))
    assert saved is not None and [c.channel for c in saved.channels] == ["yandex_direct", "vk_ads"]
    # The table fits 80 columns in both languages, and says what is short.
    for lang, words in (("en", "RUB\xa01,500 short"), ("ru", "не хватает 1\xa0500\xa0₽")):
        res = run_kassa(
            "plan",
            "--revenue",
            "60000",
            "--period",
            "2026-10",
            "--by",
            "channel",
            "--db",
            str(db),
            "--lang",
            lang,
            env={"COLUMNS": "80"},
        )
        assert res.returncode == 0, res.stderr
        assert max(len(line) for line in res.stdout.splitlines()) <= 80
        assert words in res.stdout.replace("\n  ", " "), res.stdout
    bad = run_kassa("plan", "--revenue", "60000", "--period", "2026-10", "--by", "campaign", "--db", str(db))
    assert bad.returncode == 2 and "--by campaign" in bad.stderr


def make_period(label: str):
    from kassa.period import Period

    return Period.parse(label)


def test_a_channel_seen_in_one_month_and_one_whose_sales_came_from_older_leads(
    make_warehouse: Callable[..., Warehouse],
) -> None:
    """Yandex Direct worked in August only: its other window months take the window's rates, so its range
    is the plan itself. VK's one sale of the window (August) came from a June lead: no qualified lead in the
    window, so its qualified→sale has no value and the funnel above its sales is "—" (never 0 or
    infinite); the totals and the contract count what is known."""
    files = company({"yandex_direct": {"2026-08": (10, 4, 2, 1, 21000, 5000)}})
    files["spend.csv"] += "2026-08-01,vk_ads,vk_retarget,100,10,3000\n"
    files["leads.csv"] += "Lvk,2026-06-10 11:00,cvk,vk,cpc,vk_retarget,qualified,Anna\n"
    files["deals.csv"] += "Dvk,Lvk,2026-06-11 09:00,won,2026-08-05 18:00,9000\n"
    plan = make_plan(make_warehouse(files), 60_000, "2026-10")
    ydx, vk = plan.channels
    assert (ydx.revenue, vk.revenue) == (approx(42_000), approx(18_000))
    assert figures(ydx) == {
        "sales": (approx(2), approx(2), approx(2)),
        "qualified_leads": (approx(4), approx(4), approx(4)),
        "leads": (approx(8), approx(8), approx(8)),
        "visits": (approx(20), approx(20), approx(20)),
        "budget": (approx(10_000), approx(10_000), approx(10_000)),
    }
    assert vk.rates["qualified_to_sale"] is None and vk.rates["average_check"] == approx(9_000)
    assert figures(vk) == {
        "sales": (approx(2), approx(2), approx(2)),
        "qualified_leads": (None, None, None),
        "leads": (None, None, None),
        "visits": (None, None, None),
        "budget": (None, None, None),
    }
    assert [(s.figure, s.record, s.month) for s in vk.shortfalls] == [("sales", 1, "2026-08")]
    assert vk.reachable == approx(9_000)
    assert plan.total()["qualified_leads"].plan == approx(4)
    assert plan.warnings == [
        "no data in 2026-07, 2026-09: the rates rest on the other months of 2026-07..2026-09"
    ]
    targets = {k.metric: k.target for k in parse_contract(draft_contract(plan)).kpis}
    assert targets == {"qualified_leads": 4, "cost_per_qualified_lead": 2_500, "revenue": 60_000}

"""The Plan page: the funnel a target needs (the numbers of ``kassa plan``), the draft contract saved in one
click, wrong inputs said on the page, and an agency planning its own channels only."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import BuiltWarehouses
from tests.kpi.plan_data import GOLDEN, company
from tests.web.helpers import login

from kassa.kpi import lint, parse_contract
from kassa.settings import Settings
from kassa.web import create_app
from kassa.web.users import users_path


@pytest.fixture
def plan_app(built_warehouses: BuiltWarehouses, users_file: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """A dashboard over the plan's golden company (tests/kpi/plan_data.py), with the usual users."""
    db = built_warehouses.copy(company(GOLDEN), Settings(), tmp_path / "plan.duckdb")
    shutil.copy(users_file, users_path(db))
    web = create_app(db, users_required=True, warm=False)
    yield web
    web.state.dashboard.close()


@pytest.fixture
def as_planner(plan_app: FastAPI) -> Callable[[str], TestClient]:
    return lambda name: login(TestClient(plan_app), name)


def test_the_plan_page_shows_the_funnel_of_kassa_plan(as_planner: Callable[[str], TestClient]) -> None:
    olga = as_planner("olga")
    data = olga.get("/plan.json?period=2026-10&revenue=60000").json()
    assert data["error"] is None and data["plan"]["window"] == "2026-07..2026-09"
    ydx, vk = data["plan"]["channels"]
    assert (ydx["channel"], ydx["revenue"], vk["revenue"]) == ("yandex_direct", 42_000, 18_000)
    assert vk["figures"]["leads"] == {"plan": 7.5, "low": 4.5, "high": 15.0}
    assert data["plan"]["total"]["budget"]["plan"] == pytest.approx(28_000)
    contract = parse_contract(data["contract"])
    assert lint(contract, "2026-10") == []
    assert {k.metric: k.target for k in contract.kpis}["qualified_leads"] == 13
    html = olga.get("/plan?period=2026-10&revenue=60000").text
    # The leads asked of VK (7.5, a lead is whole: 8) with its range, and what is short.
    assert 'data-figure="leads" data-value="7.5">8<small class="range">5–15</small>' in html
    assert "RUB\xa01,500 short" in html and 'id="plan-contract-save"' in html


def test_the_target_defaults_to_the_month_before_and_bad_inputs_are_said(
    as_planner: Callable[[str], TestClient],
) -> None:
    olga = as_planner("olga")
    # September's revenue (16 000 + 24 000) is the target when none is typed.
    data = olga.get("/plan.json?period=2026-10").json()
    assert data["plan"]["target"] == 40_000 and data["inputs"]["revenue"] == "40000"
    whole = olga.get("/plan.json?period=2026-10&revenue=60000&by=business").json()
    assert [c["channel"] for c in whole["plan"]["channels"]] == [None]
    for query, words in (
        ("period=2026-10&revenue=lots", "revenue: lots is not a number"),
        ("period=2026-10&revenue=-5", "positive amount"),
        ("period=2026-10&months=99", "--months 99"),
        ("period=2026-09..2026-10&revenue=5", "one calendar month"),
        ("period=2026-10&by=campaign", "by: campaign"),
        ("period=2026-04&revenue=5", "no revenue in 2026-01..2026-03"),
    ):
        r = olga.get(f"/plan.json?{query}")
        assert r.status_code == 422 and words in r.json()["error"], (query, r.text)
        page = olga.get(f"/plan?{query}")
        assert page.status_code == 422 and 'id="plan-error"' in page.text


def test_the_draft_saves_as_a_contract(as_planner: Callable[[str], TestClient], plan_app: FastAPI) -> None:
    mark = as_planner("mark")
    draft = mark.get("/plan.json?period=2026-10&revenue=60000").json()["contract"]
    token = plan_app.state.dashboard.sessions.read(mark.cookies.get("kassa_session"))["csrf"]
    r = mark.post("/kpi/save", data={"csrf": token, "text": draft}, headers={"Accept": "application/json"})
    assert r.status_code == 201, r.text
    scored = mark.get("/kpi.json?period=2026-10").json()["contracts"]
    assert [c["contract"] for c in scored] == ["Plan 2026-10: revenue 60000"]


def test_an_agency_plans_its_own_channels(as_planner: Callable[[str], TestClient]) -> None:
    vika = as_planner("vika")  # agency of vk_ads
    data = vika.get("/plan.json?period=2026-10&revenue=18000").json()
    assert data["scope"] == ["vk_ads"]
    (vk,) = data["plan"]["channels"]
    # The whole target is VK's, at VK's rates: the same funnel as VK's part of the company's plan.
    assert (vk["channel"], vk["share"], vk["figures"]["qualified_leads"]["plan"]) == ("vk_ads", 1.0, 4.0)
    assert set(data["fact"]) <= {"vk_ads", "__total__"}
    assert parse_contract(data["contract"]).scope.channels == ["vk_ads"]
    html = vika.get("/plan?period=2026-10&revenue=18000").text
    assert "Yandex" not in html and "yandex_direct" not in html
    assert 'id="plan-contract-save"' not in html  # an agency does not edit contracts

"""Planted fact 4 of the demo company (docs/demo.md, kassa.demo.company.Returning): over the twelve
months 2025-10 … 2026-09 the newsletter has the cheapest cost per sale but its own customers never come
back and never pay back its cost, while VK Ads, the most expensive per sale, pays back in under four
months through its customers' repeat purchases. Counts and money are exactly as before the fact was
planted: only who bought changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import polars as pl
import pytest
from tests.conftest import DemoCompany

from kassa.demo.company import RETURNING
from kassa.metrics.customers import customer_table
from kassa.store import Warehouse

YEAR = "2025-10..2026-09"


@pytest.fixture(scope="module")
def wh(demo_company: Callable[[bool], DemoCompany]) -> Iterator[Warehouse]:
    w = demo_company(True).open()
    yield w
    w.close()


@pytest.fixture(scope="module")
def year(wh: Warehouse):
    return customer_table(wh, YEAR, ["channel"])


def test_the_cheapest_channel_per_sale_acquires_customers_who_never_return(year) -> None:
    rows = {r["channel"]: r for r in year.rows}
    paid = {c: r for c, r in rows.items() if r["cost_per_sale"] is not None}
    cheapest = min(paid, key=lambda c: paid[c]["cost_per_sale"])
    assert cheapest == RETURNING.harvester == "email"
    email = rows["email"]
    # Most of its sales are customers others acquired: few new ones, a high CAC, an LTV below it.
    assert email["new_customers"] <= 3 < email["repeat_customers"]
    assert email["cac"] > 10 * email["cost_per_sale"] and email["ltv_to_cac"] < 1
    assert email["paid_back"] is False and email["payback_months"] is None  # "not yet"
    # Its own customers never buy again: its cohorts have nothing after the month of acquisition.
    cells = year.triangle.filter(pl.col("channel") == "email")
    assert set(cells["months_since"]) == {0} and cells["customers"].sum() == email["new_customers"]


def test_the_most_expensive_channel_per_sale_pays_back_through_repeat_purchases(year) -> None:
    rows = {r["channel"]: r for r in year.rows}
    paid = {c: r for c, r in rows.items() if r["cost_per_sale"] is not None}
    assert max(paid, key=lambda c: paid[c]["cost_per_sale"]) == RETURNING.acquirer == "vk_ads"
    vk = rows["vk_ads"]
    assert vk["paid_back"] is True and 2 <= vk["payback_months"] < 4
    # Not by the first purchases (month 0 covers less than the cost) but by the ones after.
    cells = year.triangle.filter(pl.col("channel") == "vk_ads")
    first_month = cells.filter(pl.col("months_since") == 0)["gross_profit"].sum()
    later = cells.filter(pl.col("months_since").is_between(1, 3))["gross_profit"].sum()
    assert first_month < vk["marketing_cost"] <= first_month + later
    assert vk["ltv"] > 1.5 * rows["email"]["ltv"] and vk["ltv_to_cac"] > 2
    assert vk["ltv_partial"]  # cohorts of the year whose horizon runs past the data are marked


def test_repeat_purchases_carry_the_earlier_buyers_phone(wh: Warehouse) -> None:
    from kassa.metrics.compute import base_tables

    deals = base_tables(wh, wh.settings).deals
    repeats = deals.filter((deals.status == "won") & ~deals.is_new)
    by_phone = repeats.filter(repeats.customer_method == "phone").count().to_pyarrow().as_py()
    assert by_phone >= 40  # recognised by the phone hash, the number typed another way or not

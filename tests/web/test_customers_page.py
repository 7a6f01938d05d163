"""The Customers page and its JSON twin on the golden company (tests/golden_data.py): figures worked out
by hand in tests/test_metrics_golden.py (yandex_direct, October: customers L1 and L7 acquired, CAC
12 000 / 2, LTV 120 000 / 2 on revenue since D4 has no margin, L1's repeat D2 in November)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient


def test_customers_json_per_channel_with_the_triangle(as_user: Callable[[str], TestClient]) -> None:
    data = as_user("ivan").get("/customers.json?period=2026-10").json()
    assert data["page"] == "customers" and data["horizon_months"] == 12
    assert data["data_through"] == "2026-11-05"  # P3, the last date in the data
    rows = {r["channel"]: r for r in data["rows"]}
    ya = rows["yandex_direct"]
    assert (ya["new_customers"], ya["cac"], ya["ltv"], ya["ltv_basis"]) == (2, 6000, 60000, "revenue")
    assert ya["ltv_partial"] is True and ya["paid_back"] is True and ya["payback_months"] == 1
    assert rows["vk_ads"]["cac"] is None and rows["vk_ads"]["paid_back"] is None  # "—", not 0
    (cohort,) = [c for c in data["triangle"] if c["channel"] == "yandex_direct"]
    cells = [(m["month"], m["seen"], m["value"]) for m in cohort["months"][:3]]
    # October: both bought; November: L1 again (D2); December: not reached yet (empty, not 0).
    assert cells == [(0, True, 2), (1, True, 1), (2, False, None)] and cohort["acquired"] == 2
    revenue = as_user("ivan").get("/customers.json?period=2026-10&of=revenue").json()["triangle"]
    assert [m["value"] for m in revenue[0]["months"][:2]] == [90000, 30000]


def test_customers_page_renders_in_both_languages(as_user: Callable[[str], TestClient]) -> None:
    client = as_user("olga")
    html = client.get("/customers?period=2026-10").text
    assert "<h1>Customers — 2026-10</h1>" in html and 'id="triangle"' in html and "heat5" in html
    assert "≥" in html and 'class="unseen"' in html and ">revenue</small>" in html
    ru = client.get("/customers?period=2026-10&lang=ru").text
    assert "Клиенты — 2026-10" in ru and "Когорты" in ru and "Окупаемость" in ru
    assert 'href="/customers?' in client.get("/overview?period=2026-10").text  # in the menu


def test_an_agency_sees_only_its_channels_customers(as_user: Callable[[str], TestClient]) -> None:
    vika = as_user("vika")  # vk_ads only: it sold nothing in October
    data = vika.get("/customers.json?period=2026-10").json()
    assert [r["channel"] for r in data["rows"]] in ([], ["vk_ads"])
    assert data["triangle"] == [] and data["total"]["new_customers"] == 0
    assert data["total"]["marketing_cost"] == 3000  # vk's own cost, not the company's 20 000
    html = vika.get("/customers?period=2026-10").text
    assert "yandex" not in html.lower() and "60,000" not in html
    tanya = as_user("tanya").get("/customers.json?period=2026-10").json()  # telegram and yandex_direct
    assert {r["channel"] for r in tanya["rows"]} <= {"telegram", "yandex_direct"}
    assert tanya["total"]["new_customers"] == 2

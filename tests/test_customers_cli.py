"""``kassa customers``, the customer metrics in ``kassa metrics`` and the customer in ``kassa trail``, on
the hand-computed company of tests/golden_customers.py (figures worked out in test_customers_golden.py)."""

from __future__ import annotations

import json

import pytest
from tests.conftest import write_files
from tests.golden_customers import FILES
from tests.kassa_cli import run_kassa


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("customers")
    path = folder / "shop.duckdb"
    res = run_kassa("import", *map(str, write_files(folder / "in", FILES)), "--db", str(path))
    assert res.returncode == 0, res.stderr
    return path


def _plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


def test_customers_table_fits_80_columns_in_english(db):
    res = run_kassa("customers", "--db", db, "--period", "2026-01", "--horizon", "3")
    assert res.returncode == 0, res.stderr
    out = _plain(res.stdout)
    assert max(len(line) for line in out.splitlines()) <= 80
    # The economics table's rows (the triangle's rows name a cohort month instead).
    lines = {line.split("  ")[0]: line for line in out.splitlines() if "RUB" in line}
    # Yandex Direct: cost per sale = CAC = 33 333, LTV 40 000, LTV/CAC 1.20, payback in 2 months.
    assert "RUB 33,333" in lines["Yandex Direct"] and "RUB 40,000" in lines["Yandex Direct"]
    assert lines["Yandex Direct"].split()[-3:] == ["1.20", "2", "mo"]
    # vk sold only a repeat purchase: no new customer, CAC "—" (not 0), nothing to pay back.
    assert "RUB 10,000" in lines["VK Ads"] and lines["VK Ads"].split()[-4:] == ["—", "—", "—", "—"]
    assert "Cohorts: customers who bought" in out and "Month 0 is the month of the first purchase." in out


def test_customers_in_russian_mark_partial_ltv_and_not_yet(db):
    res = run_kassa("customers", "--db", db, "--period", "2026-02", "--horizon", "3", "--lang", "ru")
    assert res.returncode == 0, res.stderr
    out = _plain(res.stdout)
    assert max(len(line) for line in out.splitlines()) <= 80
    vk = next(line for line in out.splitlines() if line.startswith("VK Реклама"))
    assert "≥ 1 000 ₽" in vk and vk.rstrip().endswith("ещё нет")
    assert "≥: LTV пока — горизонт части привлечённых клиентов не закончился к 2026-04-20" in out.replace(
        "\n  ", " "
    )


def test_customers_json_has_the_triangle_and_cohorts(db):
    res = run_kassa("customers", "--db", db, "--period", "2026-01..2026-03", "--horizon", "3", "--json")
    data = json.loads(res.stdout)
    assert data["horizon_months"] == 3 and data["data_through"] == "2026-04-20"
    ya = {(c["channel"], c["cohort"]): c for c in data["cohorts"]}[("yandex_direct", "2026-01")]
    assert ya == {
        "channel": "yandex_direct",
        "cohort": "2026-01",
        "acquired": 3,
        "observed_months": 3,
        "partial": False,
    }
    cells = {(t["channel"], t["cohort"], t["months_since"]): t["revenue"] for t in data["triangle"]}
    assert cells[("yandex_direct", "2026-01", 2)] == 40000


def test_triangle_of_revenue_in_thousands_leaves_unseen_months_empty(db):
    res = run_kassa("customers", "--db", db, "--period", "2026-03", "--horizon", "3", "--triangle", "revenue")
    row = next(line for line in _plain(res.stdout).splitlines() if line.startswith("Yandex Direct   2026-03"))
    # Months 0 and 1 seen (70 thousand, then 0); month 2 (May) not yet: empty, not 0.
    assert row.split()[-3:] == ["1", "70", "0"]


def test_bad_options_are_refused(db):
    assert run_kassa("customers", "--db", db, "--period", "2026-01", "--by", "month").returncode == 2
    assert run_kassa("customers", "--db", db, "--period", "2026-01", "--triangle", "x").returncode == 2
    assert run_kassa("customers", "--db", db, "--period", "2026-01", "--horizon", "0").returncode == 2


def test_metrics_command_computes_customer_metrics_through_the_catalog(db):
    res = run_kassa(
        "metrics", "--db", db, "--period", "2026-02", "--metrics", "new_customers,cac,ltv", "--json"
    )
    rows = {r["channel"]: r for r in json.loads(res.stdout)["rows"]}
    # Default horizon 12 months: F's horizon is open, so LTV is "so far" and says so.
    assert rows["vk_ads"]["new_customers"] == 1 and rows["vk_ads"]["cac"] == 6000
    assert rows["vk_ads"]["ltv"] == 1000 and rows["vk_ads"]["partial"] == ["ltv"]
    text = _plain(
        run_kassa("metrics", "--db", db, "--period", "2026-02", "--metrics", "new_customers,cac,ltv").stdout
    )
    assert "Customers — 2026-02" in text and "≥ RUB 1,000" in text and "≥ LTV: so far" in text


def test_metrics_command_computes_payback_by_month_with_not_yet(db):
    args = (
        "metrics",
        "--db",
        db,
        "--period",
        "2026-01..2026-03",
        "--by",
        "month",
        "--metrics",
        "payback_months",
    )
    out = json.loads(run_kassa(*args, "--json").stdout)
    rows = {r["month"]: r for r in out["rows"]}
    # Each month's cohort against that month's cost (test_customers_golden.py): January 3 months,
    # February not yet (no value plus the mark, never 0), March 1; the whole quarter pays back at once.
    assert {m: r["payback_months"] for m, r in rows.items()} == {"2026-01": 3, "2026-02": None, "2026-03": 1}
    assert rows["2026-02"]["not_yet"] == ["payback_months"] and "not_yet" not in rows["2026-01"]
    assert out["total"]["payback_months"] == 1
    lines = {line.split()[0]: line for line in _plain(run_kassa(*args).stdout).splitlines() if line.strip()}
    assert lines["2026-02"].split()[-2:] == ["not", "yet"] and lines["2026-01"].split()[-1] == "3"


def test_trail_shows_the_customer(db):
    res = run_kassa("trail", "--db", db, "DB2")
    out = " ".join(_plain(res.stdout).split())
    assert "customer B1 (payer INN, confidence 0.80)" in out
    assert "purchase 2: repeat (acquired by Yandex Direct)" in out
    data = json.loads(run_kassa("trail", "--db", db, "DA2", "--json").stdout)
    (deal,) = data["deals"]
    assert (deal["customer_id"], deal["customer_method"], deal["is_new"]) == ("A1", "phone", False)

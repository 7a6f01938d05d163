"""A total that lacks amounts without an exchange rate is shown as incomplete, never as if they were 0.

Golden by hand: 451 000 ₽ of Yandex Direct spend and 22.88 USD of Meta spend in October 2026, with no
October USD rate. The spend counted is 451 000 ₽; 22.88 USD is left out and said to be; the Meta row
keeps its 10 clicks; every price per unit of the total (CPC, CPL…) has no value.
"""

from __future__ import annotations

import json

import pytest
from tests.kassa_cli import run_kassa

from kassa.metrics.compute import compute

FILES = {
    "spend.csv": """
    date,channel,campaign,impressions,clicks,cost,currency
    2026-10-05,meta_ads,m,100,10,22.88,USD
    2026-10-06,yandex_direct,y,100,10,451000,RUB
    """
}
WARNING = (
    "1 spend row(s) in USD (a currency other than RUB) without an exchange rate for their month were left "
    "out of the totals: ad spend 22.88 USD; run `kassa fx sync` (or load fx_rates)"
)


def test_compute_keeps_the_left_out_amount_per_currency_and_metric(make_warehouse):
    wh = make_warehouse(FILES)
    table = compute(wh, ["cost", "marketing_cost", "clicks", "cpc"], "channel", "2026-10")
    assert table.warnings == [WARNING]
    assert table.total["cost"] == 451000 and table.total["clicks"] == 20
    total = table.incomplete()
    assert (total["cost"].known, total["cost"].without_rate) == (451000, {"USD": pytest.approx(22.88)})
    assert total["marketing_cost"].without_rate == {"USD": pytest.approx(22.88)}
    assert total["cpc"].known is None and total["cpc"].because == ("cost",)
    assert "clicks" not in total
    rows = {r["channel"]: r for r in table.rows()}
    assert rows["meta_ads"]["clicks"] == 10  # the row stays; only its money waits for a rate
    assert table.incomplete(rows["meta_ads"])["cost"].without_rate == {"USD": pytest.approx(22.88)}
    assert table.incomplete(rows["yandex_direct"]) == {}


def test_json_says_null_and_why(make_warehouse):
    wh = make_warehouse(FILES)
    out = compute(wh, ["cost", "cpc", "clicks"], [], "2026-10").to_json()
    assert out["total"] == {
        "cost": None,
        "cpc": None,
        "clicks": 20,
        "incomplete": {
            "cost": {"known": 451000.0, "without_rate": {"USD": 22.88}, "because": ["cost"]},
            "cpc": {"known": None, "without_rate": {}, "because": ["cost"]},
        },
    }


def test_terminal_shows_at_least_and_the_leftover(make_warehouse):
    wh = make_warehouse(FILES)
    path = wh.path
    wh.close()
    res = run_kassa("metrics", "--db", path, "--period", "2026-10", "--lang", "ru", env={"COLUMNS": "120"})
    assert res.returncode == 0, res.stderr
    # Russian money has no-break spaces (451\u00a0000\u00a0₽), so the figure never breaks across lines.
    assert "≥ 451\u00a0000\u00a0₽ + 22.88 USD" in res.stdout
    assert "Расход на рекламу: ≥ 451\u00a0000\u00a0₽ + 22.88 USD без курса" in res.stdout
    assert "kassa fx sync" in res.stdout
    money = run_kassa("money", "--db", path, "--period", "2026-10", env={"COLUMNS": "120"})
    assert money.returncode == 0, money.stderr
    assert "Marketing cost: ≥ RUB\u00a0451,000 + 22.88 USD without a rate" in money.stdout
    js = json.loads(run_kassa("metrics", "--db", path, "--period", "2026-10", "--json", "--by", "").stdout)
    assert js["total"]["cost"] is None and js["total"]["incomplete"]["cost"]["without_rate"] == {"USD": 22.88}


def test_with_a_rate_nothing_is_incomplete(make_warehouse):
    wh = make_warehouse({**FILES, "fx_rates.csv": "month,currency,rate\n2026-10,USD,100\n"})
    table = compute(wh, ["cost", "cpc"], [], "2026-10")
    # 451 000 + 22.88 × 100 = 453 288 ₽ over 20 clicks.
    assert table.total["cost"] == pytest.approx(453288) and table.total["cpc"] == pytest.approx(22664.4)
    assert table.incomplete() == {} and table.warnings == [] and "incomplete" not in table.to_json()["total"]


def test_a_won_deal_without_a_rate_leaves_revenue_incomplete(make_warehouse):
    wh = make_warehouse(
        {
            **FILES,
            "leads.csv": "lead_id,created_at,client_id,utm_source,utm_medium,utm_campaign,status\nL1,2026-10-01,c,yandex,cpc,y,new\n",
            "deals.csv": "deal_id,lead_id,created_at,status,closed_at,amount,currency\nD1,L1,2026-10-01,won,2026-10-02,30000,RUB\nD2,L1,2026-10-01,won,2026-10-03,100,EUR\n",
        }
    )
    table = compute(wh, ["sales", "revenue", "average_check"], [], "2026-10")
    # The EUR deal stays out of the count (as attribution leaves it out) and its 100 EUR are named.
    assert table.total["sales"] == 1 and table.total["revenue"] == 30000
    found = table.incomplete()
    assert found["revenue"].known == 30000 and found["revenue"].without_rate == {"EUR": 100.0}
    assert found["average_check"].known is None and "sales" not in found
    assert any(w.startswith("1 won deal(s) in EUR") and "revenue 100.00 EUR" in w for w in table.warnings)

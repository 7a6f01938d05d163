"""Revenue three ways, the money received, the gap lists, match quality and the new catalog metrics.

Hand computation for October 2026 (deals and payments in tests/link/money_data.py):

Won in October, by channel (won / invoiced / paid / unpaid):
  yandex_direct  D1 50 000 + D8 8 000 + D9 7 000 + D16 2 500 = 67 500; all four have invoice numbers -> 67 500;
                 paid D1 50 000 + D16 2 500 (D9 refunded, D8 never paid) = 52 500; unpaid 8 000 + 7 000 = 15 000
  google_ads     D2 30 000 + D12 6 000 + D17 4 000 = 40 000; invoiced D2 + D17 (quoted by deal number) = 34 000;
                 paid 30 000 + 4 000 = 34 000; unpaid D12 6 000
  direct         D3 20 000 + D13 6 000 = 26 000; invoiced 20 000; paid 20 000; unpaid 6 000
  telegram       D4 40 000 + D6 15 000 = 55 000; invoiced D4 40 000; paid 55 000; unpaid 0
  vk_ads         D7 12 345.67 + D14 9 900 = 22 245.67; invoiced 0; paid 22 245.67; unpaid 0
  total          won 210 745.67, invoiced 161 500, paid 183 745.67, unpaid 27 000 (= won - paid: no overpaid)
Received in October (16 payments, 207 745.67):
  to deals won in October  P1 50 000 + P2 50 000 + P3 20 000 + P4 20 000 + P6 15 000 + P7 12 345.67 + P9 7 000
                           + P14 9 900 + P16 2 500 + P17 4 000 = 190 745.67
  to a September deal      P15 5 500;   to an open deal  P11 4 500;   refunds  P10 -7 000
  to no deal               P8 5 000 + P12 3 000 + P13 6 000 = 14 000
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from kassa.link.money import money_view
from kassa.link.money_trail import MoneyTrail
from kassa.link.quality import match_quality
from kassa.metrics import compute
from kassa.period import Period

OCT = Period.parse("2026-10")
BY_CHANNEL = {
    "yandex_direct": {"won_deals": 4, "won": 67500, "invoiced": 67500, "paid": 52500, "unpaid": 15000},
    "google_ads": {"won_deals": 3, "won": 40000, "invoiced": 34000, "paid": 34000, "unpaid": 6000},
    "direct": {"won_deals": 2, "won": 26000, "invoiced": 20000, "paid": 20000, "unpaid": 6000},
    "telegram": {"won_deals": 2, "won": 55000, "invoiced": 40000, "paid": 55000, "unpaid": 0},
    "vk_ads": {"won_deals": 2, "won": 22245.67, "invoiced": 0, "paid": 22245.67, "unpaid": 0},
}


def close(a: Any, b: Any) -> bool:
    if b is None:
        return a is None
    return a is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


@pytest.fixture(scope="module")
def view(money_chain: MoneyTrail, money_wh):
    return money_view(money_chain, money_wh, OCT)


def test_revenue_three_ways_by_channel(view) -> None:
    rows = {r["channel"]: r for r in view.by_channel.to_dicts()}
    assert set(rows) == set(BY_CHANNEL)
    for ch, expected in BY_CHANNEL.items():
        for k, v in expected.items():
            assert close(rows[ch][k], v), (ch, k, rows[ch][k], v)
    assert close(rows["yandex_direct"]["paid_share"], 52500 / 67500)


def test_totals_and_the_bridge_from_won_to_paid(view) -> None:
    t = view.total
    assert close(t["won"], 210745.67) and close(t["invoiced"], 161500) and close(t["paid"], 183745.67)
    assert close(t["unpaid"], 27000) and close(t["overpaid"], 0)
    assert close(t["won"] - t["paid"], t["unpaid"] - t["overpaid"])


def test_money_received_and_where_it_went(view) -> None:
    expected = {
        "won_in_period": 190745.67,
        "won_other_period": 5500,
        "not_won": 4500,
        "refunds": -7000,
        "unmatched": 14000,
        "received": 207745.67,
    }
    for k, v in expected.items():
        assert close(view.cash[k], v), (k, view.cash[k], v)


def test_gap_lists_name_every_unpaid_deal_and_unmatched_payment(
    view, money_chain: MoneyTrail, money_wh
) -> None:
    unpaid = [(r["deal_id"], r["outstanding"], r["paid_state"]) for r in view.unpaid_deals.to_dicts()]
    # Largest first, ties by id.
    assert unpaid == [
        ("D8", 8000, "unpaid"),
        ("D9", 7000, "refunded"),
        ("D12", 6000, "unpaid"),
        ("D13", 6000, "unpaid"),
    ]
    assert [r["payment_id"] for r in view.unmatched_payments.to_dicts()] == ["P13", "P8", "P12"]
    short = money_view(money_chain, money_wh, OCT, limit=2)
    assert short.unpaid_deals.height == 2 and close(
        short.total["unpaid"], 27000
    )  # the total still counts all


def test_match_quality(money_chain: MoneyTrail) -> None:
    q = match_quality(money_chain, OCT)
    # Leads created in October: A1, A2, A3, A4, A6, A7, A8, A9 (A5 and A10 are older).
    assert q.leads == 8
    assert q.leads_by_method == {"click_id": 2, "client_id": 2, "contact": 1, "lead_utm": 1, "none": 2}
    assert q.known_source_share == 0.75  # A7 and A9 unknown
    assert close(q.revenue, 210745.67) and close(q.paid_revenue, 183745.67)
    # purpose_invoice: D1 50 000 + D2 30 000 + D3 20 000 + D4 40 000 + D9 (7 000 - 7 000) = 140 000
    expected = {
        "deal_id": 0,
        "invoice": 2500,
        "purpose_invoice": 140000,
        "purpose_deal": 4000,
        "inn_amount": 24900,
        "amount_date": 12345.67,
    }
    for m, v in expected.items():
        assert close(q.paid_by_method[m], v), m
    assert close(q.matched_share, 183745.67 / 210745.67)
    assert q.payments_count == 16 and close(q.payments_amount, 207745.67)
    # P1, P2, P3, P4, P9, P10, P11, P15: 50 000 + 50 000 + 20 000 + 20 000 + 7 000 - 7 000 + 4 500 + 5 500
    assert q.payments_by_method["purpose_invoice"] == {"count": 8, "amount": 150000}
    assert q.payments_by_method["unmatched"] == {"count": 3, "amount": 14000}
    assert close(q.unmatched_payments_share, 14000 / 207745.67)


def test_new_catalog_metrics_agree_with_the_money_view(money_wh, view) -> None:
    t = compute(
        money_wh,
        ["revenue", "paid_revenue", "unpaid_won", "romi_paid", "unknown_source_share", "payments"],
        "channel",
        "2026-10",
    )
    rows = {r["channel"]: r for r in t.rows()}
    for ch, expected in BY_CHANNEL.items():
        assert close(rows[ch]["revenue"], expected["won"]), ch
        assert close(rows[ch]["paid_revenue"], expected["paid"]), ch
        assert close(rows[ch]["unpaid_won"], expected["unpaid"]), ch
    # Only yandex_direct has a cost (10 000): ROMI on paid (52 500 - 10 000) / 10 000 = 4.25.
    assert close(rows["yandex_direct"]["romi_paid"], 4.25) and rows["telegram"]["romi_paid"] is None
    # Unknown-source leads: A7 and A9 of 8 October leads; their channel is all unknown.
    assert close(t.total["unknown_source_share"], 2 / 8) and close(
        rows["unknown"]["unknown_source_share"], 1.0
    )
    # Payments follow the matched deal's channel; unmatched ones are "unknown" (P8 + P12 + P13).
    assert close(rows["unknown"]["payments"], 14000)
    assert close(rows["telegram"]["payments"], 60500)  # P3 + P4 + P6 + P15 (a September sale of customer A4)
    assert close(t.total["paid_revenue"], 183745.67) and close(t.total["payments"], 207745.67)


def test_cohort_paid_revenue_within_settle_days(money_wh) -> None:
    # Cohort of October leads, settle 10 days: A1's D1 (won 10-10, 7 days after the lead) counts as revenue;
    # its payment P1 (10-11 10:00) is 7 days 23.5 hours after the lead: in. D9 (won 10-25) is out.
    t = compute(
        money_wh,
        ["revenue", "paid_revenue", "unpaid_won"],
        "channel",
        "2026-10",
        view="cohort",
        settle_days=10,
    )
    ya = {r["channel"]: r for r in t.rows()}["yandex_direct"]
    # A1: D1 50 000 (paid 50 000); A8 (lead 10-06): D8 (10-21) and D16 (10-23) are more than 10 days later.
    assert close(ya["revenue"], 50000) and close(ya["paid_revenue"], 50000) and close(ya["unpaid_won"], 0)
    t = compute(
        money_wh,
        ["revenue", "paid_revenue", "unpaid_won"],
        "channel",
        "2026-10",
        view="cohort",
        settle_days=7,
    )
    ya = {r["channel"]: r for r in t.rows()}["yandex_direct"]
    # 7 days: D1 closed 10-10 12:00 is 7 days 1.5 hours after A1 (10-03 10:30): out.
    assert close(ya["revenue"], 0) and close(ya["paid_revenue"], 0)

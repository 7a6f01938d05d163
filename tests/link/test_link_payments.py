"""Deal → payment: every matching rule on the money-trail company, and the edge cases on small ones."""

from __future__ import annotations

import math
from typing import Any

import pytest
from tests.link.conftest import shares

from kassa.link.money_trail import MoneyTrail

# payment -> [(deal, method, amount credited)], worked out in tests/link/money_data.py
EXPECTED = {
    "P1": [("D1", "purpose_invoice", 50000.0)],  # invoice 123 is also D18's (2025): the nearer deal D1
    "P2": [
        ("D2", "purpose_invoice", 30000.0),
        ("D3", "purpose_invoice", 20000.0),
    ],  # 50 000 x 30/50 and x 20/50
    "P3": [("D4", "purpose_invoice", 20000.0)],
    "P4": [("D4", "purpose_invoice", 20000.0)],
    "P5": [("D5", "deal_id", 10000.0)],
    "P6": [("D6", "inn_amount", 15000.0)],  # INN 7701234567 paid D5 (customer A4) before; D6 is A4's
    "P7": [("D7", "amount_date", 12345.67)],  # the only unpaid won deal of 12 345.67 within the window
    "P8": [(None, "unmatched", 5000.0)],  # "по счету от 21.10.2026": a date, no number
    "P9": [("D9", "purpose_invoice", 7000.0)],
    "P10": [("D9", "purpose_invoice", -7000.0)],  # the refund quotes the same invoice
    "P11": [("D11", "purpose_invoice", 4500.0)],  # prepayment of an open deal
    "P12": [(None, "unmatched", 3000.0)],  # deal_id D999 does not exist
    "P13": [(None, "unmatched", 6000.0)],  # D12 and D13 are both 6 000: ambiguous, never guessed
    "P14": [("D14", "inn_amount", 9900.0)],  # the deal's own INN
    "P15": [("D15", "purpose_invoice", 5500.0)],
    "P16": [("D16", "invoice", 2500.0)],  # invoice field "№ 0078" = invoice 78
    "P17": [("D17", "purpose_deal", 4000.0)],
}
CONFIDENCE = {
    "deal_id": 1.0,
    "invoice": 0.95,
    "purpose_invoice": 0.9,
    "purpose_deal": 0.85,
    "inn_amount": 0.8,
    "amount_date": 0.5,
    "unmatched": None,
}


@pytest.mark.parametrize("payment", sorted(EXPECTED, key=lambda p: int(p[1:])))
def test_each_payment_is_matched_by_its_rule(linked: dict[str, Any], payment: str) -> None:
    got = shares(linked["payments"])[payment]
    assert [(d, m) for d, m, _ in got] == [(d, m) for d, m, _ in EXPECTED[payment]]
    for (_, _, a), (_, _, e) in zip(got, EXPECTED[payment], strict=True):
        assert math.isclose(a, e, abs_tol=1e-6)


def test_confidence_follows_the_method(linked: dict[str, Any]) -> None:
    for r in linked["payments"].to_dicts():
        assert r["match_confidence"] == CONFIDENCE[r["match_method"]], r


def test_shares_of_a_payment_add_up_to_the_payment(linked: dict[str, Any]) -> None:
    frame = linked["payments"]
    for pid, rows in shares(frame).items():
        total = next(r["payment_amount"] for r in frame.to_dicts() if r["payment_id"] == pid)
        assert math.isclose(sum(a for _, _, a in rows), total, abs_tol=1e-6), pid


# deal -> (paid, outstanding, state)
DEAL_STATE = {
    "D1": (50000, 0, "paid"),
    "D4": (40000, 0, "paid"),  # D4 in two parts: 20 000 + 20 000
    "D8": (0, 8000, "unpaid"),
    "D9": (0, 7000, "refunded"),  # 7 000 - 7 000
    "D11": (4500, 0, "partial"),  # open: nothing is outstanding until it is won
    "D12": (0, 6000, "unpaid"),
    "D13": (0, 6000, "unpaid"),
    "D18": (0, 1000, "unpaid"),
}


@pytest.mark.parametrize("deal", sorted(DEAL_STATE))
def test_deal_paid_outstanding_and_state(linked: dict[str, Any], deal: str) -> None:
    r = linked["deals"][deal]
    assert (r["paid"], r["outstanding"], r["paid_state"]) == DEAL_STATE[deal]


def test_repeat_purchases_of_one_customer_are_numbered(linked: dict[str, Any]) -> None:
    # Customer A4 (leads A4 and A5 share a phone): D5 09-25, D15 09-28, D4 10-15, D6 10-20.
    got = {d: linked["deals"][d]["purchase_number"] for d in ("D5", "D15", "D4", "D6")}
    assert got == {"D5": 1, "D15": 2, "D4": 3, "D6": 4}
    assert linked["deals"]["D10"]["purchase_number"] is None  # lost: not a purchase


def _match(make_warehouse, deals: str, payments: str) -> dict[str, list[tuple[Any, str, float]]]:
    wh = make_warehouse({"deals.csv": deals, "payments.csv": payments})
    with MoneyTrail(wh, materialize=True) as chain:
        return shares(chain.payments.to_polars())


DEALS = """
    deal_id,lead_id,created_at,status,closed_at,amount,payer_inn
    D1,L1,2026-10-01,won,2026-10-10 12:00,5000,
    D2,L2,2026-10-01,won,2026-10-10 12:00,7000,7700000001
"""


def test_one_payment_two_deals_of_its_amount_stays_unmatched(make_warehouse) -> None:
    got = _match(
        make_warehouse,
        DEALS.replace("7000,7700000001", "5000,"),
        """
        payment_id,paid_at,amount
        P1,2026-10-11,5000
    """,
    )
    assert got == {"P1": [(None, "unmatched", 5000.0)]}


def test_two_payments_one_deal_of_their_amount_stay_unmatched(make_warehouse) -> None:
    got = _match(
        make_warehouse,
        DEALS,
        """
        payment_id,paid_at,amount
        P1,2026-10-11,5000
        P2,2026-10-12,5000
    """,
    )
    assert got == {"P1": [(None, "unmatched", 5000.0)], "P2": [(None, "unmatched", 5000.0)]}


def test_a_different_inn_rules_out_an_amount_match(make_warehouse) -> None:
    got = _match(
        make_warehouse,
        DEALS,
        """
        payment_id,paid_at,amount,payer_inn
        P1,2026-10-11,7000,7700000999
        P2,2026-10-11,5000,7700000999
    """,
    )
    # P1's amount fits D2 but D2 pays from another INN; D1 has no INN, so P2 may take it.
    assert got == {"P1": [(None, "unmatched", 7000.0)], "P2": [("D1", "amount_date", 5000.0)]}


@pytest.mark.parametrize(
    ("paid_at", "method"),
    [
        ("2026-09-10 12:00", "amount_date"),  # 30 days before closing: prepayment, in the window
        ("2026-09-10 11:59", "unmatched"),
        ("2026-12-09 12:00", "amount_date"),  # 60 days after
        ("2026-12-09 12:01", "unmatched"),
    ],
)
def test_date_window_is_30_days_before_to_60_after(make_warehouse, paid_at: str, method: str) -> None:
    got = _match(
        make_warehouse,
        DEALS,
        f"""
        payment_id,paid_at,amount
        P1,{paid_at},5000
    """,
    )
    assert got["P1"][0][1] == method


def test_deal_id_wins_over_a_quoted_number_and_amounts_must_match_to_the_kopeck(make_warehouse) -> None:
    got = _match(
        make_warehouse,
        """
        deal_id,lead_id,created_at,status,closed_at,amount,invoice
        D1,L1,2026-10-01,won,2026-10-10,5000,11
        D2,L2,2026-10-01,won,2026-10-10,7000,22
        D3,L3,2026-10-01,won,2026-10-10,3000.50,
    """,
        """
        payment_id,paid_at,amount,deal_id,purpose
        P1,2026-10-11,5000,D1,Оплата по счету № 22
        P2,2026-10-11,3000.49,,Оплата
    """,
    )
    assert got == {"P1": [("D1", "deal_id", 5000.0)], "P2": [(None, "unmatched", 3000.49)]}


def test_a_refund_alone_is_never_matched_by_amount(make_warehouse) -> None:
    got = _match(
        make_warehouse,
        DEALS,
        """
        payment_id,paid_at,amount,payer_inn
        P1,2026-10-11,-7000,7700000001
    """,
    )
    assert got == {"P1": [(None, "unmatched", -7000.0)]}

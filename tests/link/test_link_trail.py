"""``trail``: one item's chain from the first click to the money, following links both ways."""

from __future__ import annotations

import pytest

from kassa.link.money_trail import MoneyTrail
from kassa.link.trail import NotFound, trail


def test_a_payment_for_two_invoices_leads_back_to_two_leads(money_chain: MoneyTrail) -> None:
    tr = trail(money_chain, "P2")
    assert tr.kind == "payment" and tr.also_found_as == []
    assert [(d["deal_id"], d["lead_id"], d["paid_state"]) for d in tr.deals] == [
        ("D2", "A2", "paid"),
        ("D3", "A3", "paid"),
    ]
    assert [(r["lead_id"], r["link_method"], r["link_visit_id"]) for r in tr.leads] == [
        ("A2", "client_id", "v3"),
        ("A3", "client_id", "v5"),
    ]
    assert [(t["conversion_id"], t["visit_id"]) for t in tr.touches] == [
        ("A2", "v3"),
        ("A2", "v4"),
        ("A3", "v5"),
    ]
    assert [(p["payment_id"], p["deal_id"], p["amount"], p["payment_amount"]) for p in tr.payments] == [
        ("P2", "D2", 30000.0, 50000.0),
        ("P2", "D3", 20000.0, 50000.0),
    ]


def test_a_refunded_deal_shows_both_payments(money_chain: MoneyTrail) -> None:
    tr = trail(money_chain, "D9")
    assert tr.kind == "deal" and [d["paid_state"] for d in tr.deals] == ["refunded"]
    assert [(p["payment_id"], p["amount"], p["match_method"]) for p in tr.payments] == [
        ("P9", 7000.0, "purpose_invoice"),
        ("P10", -7000.0, "purpose_invoice"),
    ]
    assert [r["link_method"] for r in tr.leads] == ["click_id"]


def test_a_repeat_customer_lead_found_by_phone(money_chain: MoneyTrail) -> None:
    tr = trail(money_chain, "A4")
    assert [(r["link_method"], r["channel"]) for r in tr.leads] == [("contact", "telegram")]
    assert [t["visit_id"] for t in tr.touches] == ["v6"]  # the other cookie's visit
    assert [d["deal_id"] for d in tr.deals] == ["D4", "D6"]
    assert [(p["payment_id"], p["match_method"]) for p in tr.payments] == [
        ("P3", "purpose_invoice"),
        ("P4", "purpose_invoice"),
        ("P6", "inn_amount"),
    ]


def test_an_unmatched_payment_says_so(money_chain: MoneyTrail) -> None:
    tr = trail(money_chain, "P8")
    assert tr.deals == [] and tr.leads == [] and tr.notes == ["payment_unmatched"]
    assert [(p["payment_id"], p["match_method"]) for p in tr.payments] == [("P8", "unmatched")]


def test_unknown_id_and_wrong_kind(money_chain: MoneyTrail) -> None:
    with pytest.raises(NotFound, match="no lead, deal or payment with id 'X1'"):
        trail(money_chain, "X1")
    with pytest.raises(NotFound, match=r"no deal with id 'P8' \(found as: payment\)"):
        trail(money_chain, "P8", "deal")

"""The trail of one lead, deal or payment: from the first click to the money, with how each link was made.

``trail(money_trail, "P-17")`` finds the id among leads, deals and payments (in that order, or only the
``kind`` asked for) and follows the links both ways: a payment → the deal(s) it paid → their leads →
the visits before each lead; a deal → its lead and visits, and every payment matched to it; a lead →
its visits, deals and their payments. Every row carries the method of its link (``link_method``,
``match_method`` with ``match_confidence``), and leads and deals their customer (``customer_id`` with
``customer_method`` and ``customer_confidence``; a won deal's ``purchase_number``, ``is_new`` and the
customer's ``acquisition_channel``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import ibis

from kassa.errors import KassaError
from kassa.link.journeys import journey_touches
from kassa.link.money_trail import MoneyTrail

RecordKind = Literal["lead", "deal", "payment"]
RECORD_KINDS: tuple[RecordKind, ...] = ("lead", "deal", "payment")
"""What ``kassa trail ID`` can start from, in the order an id is looked for (not the canonical tables:
those are :data:`kassa.schema.KINDS`)."""


class NotFound(KassaError):
    """No lead, deal or payment has the id asked for."""


@dataclass
class Trail:
    """One item's money_trail, earliest first: touches → leads → deals → payments (plain rows)."""

    kind: RecordKind
    item_id: str
    also_found_as: list[str]
    touches: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    # Codes a front end words in its language: "lead_missing" (a deal whose lead is not loaded),
    # "payment_unmatched" (a payment tied to no deal).
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.item_id,
            "also_found_as": self.also_found_as,
            "touches": self.touches,
            "leads": self.leads,
            "deals": self.deals,
            "payments": self.payments,
            "notes": self.notes,
        }


_LEAD_COLS = (
    "lead_id",
    "created_at",
    "status",
    "customer_id",
    "customer_method",
    "customer_confidence",
    "channel",
    "campaign",
    "link_method",
    "link_visit_id",
    "link_visit_ts",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "click_id",
)
_DEAL_COLS = (
    "deal_id",
    "lead_id",
    "status",
    "created_at",
    "closed_at",
    "amount",
    "currency",
    "invoice",
    "channel",
    "campaign",
    "link_method",
    "customer_id",
    "customer_method",
    "customer_confidence",
    "purchase_number",
    "is_new",
    "acquisition_channel",
    "paid",
    "outstanding",
    "paid_state",
)
_PAY_COLS = (
    "payment_id",
    "paid_at",
    "payment_amount",
    "amount",
    "currency",
    "deal_id",
    "match_method",
    "match_confidence",
    "payer_inn",
    "purpose",
)
_TOUCH_COLS = ("conversion_id", "touch_order", "touch_kind", "visit_id", "ts", "channel", "campaign")


def _rows(t: Any, cols: tuple[str, ...], order: list[str]) -> list[dict[str, Any]]:
    present = [c for c in cols if c in t.columns]
    return t.select(*present).order_by(order).to_pyarrow().to_pylist()


def find(money_trail: MoneyTrail, item_id: str) -> list[RecordKind]:
    """The kinds of item that carry ``item_id`` (one small query)."""
    hits = (
        ibis.union(
            money_trail.leads.filter(money_trail.leads.lead_id == item_id).select(kind=ibis.literal("lead")),
            money_trail.deals.filter(money_trail.deals.deal_id == item_id).select(kind=ibis.literal("deal")),
            money_trail.payments.filter(money_trail.payments.payment_id == item_id).select(
                kind=ibis.literal("payment")
            ),
            distinct=True,
        )
        .to_pyarrow()
        .column("kind")
        .to_pylist()
    )
    return [k for k in RECORD_KINDS if k in hits]


def trail(money_trail: MoneyTrail, item_id: str, kind: RecordKind | None = None) -> Trail:
    """Follow ``item_id`` through the money trail (see the module docstring); :class:`NotFound` if unknown."""
    found = find(money_trail, item_id)
    if kind is not None:
        if kind not in found:
            raise NotFound(
                f"no {kind} with id {item_id!r}" + (f" (found as: {', '.join(found)})" if found else "")
            )
        chosen: RecordKind = kind
    elif not found:
        raise NotFound(f"no lead, deal or payment with id {item_id!r}")
    else:
        chosen = found[0]
    pays = money_trail.payments
    deals = money_trail.deal_status
    if chosen == "payment":
        deal_ids = pays.filter(pays.payment_id == item_id).deal_id.to_pyarrow().to_pylist()
        deal_ids = [d for d in deal_ids if d is not None]
    elif chosen == "deal":
        deal_ids = [item_id]
    else:
        deal_ids = deals.filter(deals.lead_id == item_id).deal_id.to_pyarrow().to_pylist()
    deal_rows = (
        _rows(deals.filter(deals.deal_id.isin(deal_ids)), _DEAL_COLS, ["closed_at", "deal_id"])
        if deal_ids
        else []
    )
    lead_ids = [item_id] if chosen == "lead" else sorted({d["lead_id"] for d in deal_rows if d["lead_id"]})
    lead_rows = (
        _rows(
            money_trail.leads.filter(money_trail.leads.lead_id.isin(lead_ids)),
            _LEAD_COLS,
            ["created_at", "lead_id"],
        )
        if lead_ids
        else []
    )
    for lead in lead_rows:
        # A lead's deals may know its customer better (the payer's INN on their payments): say that one.
        merged = [d for d in deal_rows if d["lead_id"] == lead["lead_id"] and d.get("customer_id")]
        if merged and merged[0]["customer_id"] != lead.get("customer_id"):
            for k in ("customer_id", "customer_method", "customer_confidence"):
                lead[k] = merged[0].get(k)
    if chosen == "payment":
        pay_filter = (
            (pays.payment_id == item_id) | pays.deal_id.isin(deal_ids)
            if deal_ids
            else pays.payment_id == item_id
        )
    else:
        pay_filter = pays.deal_id.isin(deal_ids) if deal_ids else ibis.literal(False)
    pay_rows = _rows(pays.filter(pay_filter), _PAY_COLS, ["paid_at", "payment_id", "deal_id"])
    known = [r["lead_id"] for r in lead_rows]
    touches: list[dict[str, Any]] = []
    if known:
        t = journey_touches(money_trail, "lead")
        touches = _rows(
            t.filter(t.conversion_id.isin(known)), _TOUCH_COLS, ["ts", "conversion_id", "touch_order"]
        )
    notes = []
    if chosen in ("deal", "payment") and deal_rows and not lead_rows:
        notes.append("lead_missing")
    if chosen == "payment" and not deal_ids:
        notes.append("payment_unmatched")
    return Trail(
        kind=chosen,
        item_id=item_id,
        also_found_as=[k for k in found if k != chosen],
        touches=touches,
        leads=lead_rows,
        deals=deal_rows,
        payments=pay_rows,
        notes=notes,
    )

"""Whose deal is it, and is it their first: the customer of every deal, new or repeat, and how they came.

A deal starts with the customer of its lead (:mod:`kassa.link.customers`: CRM contact, phone, e-mail,
cookie). Then deals are merged further by what only deals and the bank know: the CRM contact id on the
deal itself, and the **payer's INN** — the deal's ``payer_inn``, else the INN of a payment matched to it
(:mod:`kassa.link.payments`). A firm that paid two orders from one account is one customer even when
its leads came from two phones. The merge is the same "min label" propagation, over deals.

Per deal: ``customer_id``, ``lead_customer_id`` (the lead's customer, before the deals' evidence: the
one its visits carry, which journeys follow), ``customer_method`` (how the deal was tied to the customer's other deals:
the lead's method, ``crm_contact``, ``inn``, or ``own`` when it is the customer's only deal) and
``customer_confidence`` (:data:`kassa.link.customers.CUSTOMER_METHODS`). Per won deal:
``purchase_number`` (1, 2, … by ``closed_at``), ``is_new`` (the customer's first won deal: a new
customer) and the customer's acquisition — ``acquired_at`` (the close of that first won deal) and
``acquisition_channel`` / ``_campaign`` / ``_source_medium`` / ``_manager``, the channel credited with
it. A deal not won has no purchase number and no acquisition.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.link.customers import MERGE_ROUNDS, blank_to_null, method_confidence, optional

ACQUISITION = ("channel", "campaign", "source_medium", "manager")
CUSTOMER_COLUMNS = (
    "customer_id",
    "lead_customer_id",
    "customer_method",
    "customer_confidence",
    "purchase_number",
    "is_new",
    "acquired_at",
    *(f"acquisition_{a}" for a in ACQUISITION),
)


def _inn(e: ir.Value) -> ir.StringValue:
    return e.cast("string").re_replace(r"[^0-9]", "").nullif("")


def deal_customers(deals: ir.Table, allocations: ir.Table, rounds: int = MERGE_ROUNDS) -> ir.Table:
    """``deal_id`` → the columns of :data:`CUSTOMER_COLUMNS`.

    ``deals``: :func:`kassa.link.deals.link_deals` (with the lead's ``customer_id`` and
    ``customer_method``; ``crm_customer_id`` and ``payer_inn`` when loaded); ``allocations``:
    :func:`kassa.link.payments.match_payments`.
    """
    paid_from = allocations.filter(allocations.deal_id.notnull())
    paid_from = paid_from.group_by(pf_deal=paid_from.deal_id).aggregate(
        pf_inn=_inn(paid_from.payer_inn).min()
    )
    j = deals.left_join(paid_from, deals.deal_id == paid_from.pf_deal)
    lead_customer = j.customer_id.cast("string")
    t = j.select(
        deal_id=j.deal_id,
        status=j.status,
        closed_at=j.closed_at,
        lead_customer=lead_customer,
        lead_method=optional(j, "customer_method"),
        customer_id=lead_customer.fill_null(ibis.literal("deal:").concat(j.deal_id)),
        k_crm=blank_to_null(optional(j, "crm_customer_id")),
        k_inn=ibis.coalesce(_inn(optional(j, "payer_inn")), j.pf_inn),
        **{f"d_{a}": j[a] for a in ACQUISITION},
    )
    for _ in range(rounds):
        for k in ("k_crm", "k_inn"):
            t = t.mutate(
                customer_id=ibis.ifelse(t[k].isnull(), t.customer_id, t.customer_id.min().over(group_by=t[k]))
            )

    def shares(key: ir.Value) -> ir.BooleanValue:
        return key.notnull() & (t.deal_id.count().over(group_by=[t.customer_id, key]) > 1)

    alone = t.deal_id.count().over(group_by=t.customer_id) == 1
    lead_method = t.lead_method.fill_null("own")
    method = ibis.cases(
        (alone, ibis.literal("own")),
        (shares(t.lead_customer) & (lead_method != "own"), lead_method),
        (shares(t.k_crm), ibis.literal("crm_contact")),
        (shares(t.k_inn), ibis.literal("inn")),
        # The same lead's second deal: the customer is that lead's, as sure as the lead itself.
        else_=ibis.literal("own"),
    )
    t = t.mutate(customer_method=method)
    won = t.status == "won"
    order = ibis.row_number().over(group_by=[t.customer_id, won], order_by=[t.closed_at, t.deal_id]) + 1
    t = t.mutate(purchase_number=ibis.ifelse(won, order, ibis.null("int64")))
    first = t.filter(t.purchase_number == 1).select(
        f_customer=t.customer_id,
        f_at=t.closed_at,
        **{f"f_{a}": t[f"d_{a}"] for a in ACQUISITION},
    )
    out = t.left_join(first, t.customer_id == first.f_customer)
    return out.select(
        deal_id=out.deal_id,
        customer_id=out.customer_id,
        lead_customer_id=out.lead_customer,
        customer_method=out.customer_method,
        customer_confidence=method_confidence(out.customer_method),
        purchase_number=out.purchase_number,
        is_new=out.purchase_number.fill_null(0) == 1,
        acquired_at=ibis.ifelse(won, out.f_at, ibis.null("timestamp")),
        **{
            f"acquisition_{a}": ibis.ifelse(won, out[f"f_{a}"], ibis.null(out[f"f_{a}"].type()))
            for a in ACQUISITION
        },
    )


def with_customers(deals: ir.Table, customers: ir.Table) -> ir.Table:
    """``deals`` (any table with ``deal_id``) with the columns of :func:`deal_customers`, which replace
    any ``customer_id`` / ``purchase_number`` they had from their lead."""
    c = customers.rename(c_deal="deal_id")
    # A select, not drop(): Ibis writes a drop of several columns as EXCLUDE (...) in set order, which
    # changes with the process's hash seed, so two processes would keep different SQL under one key.
    d = deals.select(*[col for col in deals.columns if col not in CUSTOMER_COLUMNS])
    j = d.left_join(c, d.deal_id == c.c_deal)
    return j.select(*d.columns, *CUSTOMER_COLUMNS)

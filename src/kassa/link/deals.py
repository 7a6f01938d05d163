"""Lead → deal: each deal belongs to its lead (by ``lead_id``), and through it to a customer and channel.

A lead may have several deals (an upsell, a second order). Repeat purchases of one customer are tied
through the customer (:mod:`kassa.link.customers`): leads left with the same phone or e-mail hash share
a ``customer_id``, so a customer's won deals are numbered in the order they closed
(``purchase_number`` 1, 2, …) whichever lead each came from.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.link.channels import NOT_SET, UNKNOWN
from kassa.link.customers import crm_customer, optional


def link_deals(deals: ir.Table, leads: ir.Table) -> ir.Table:
    """Deals with their lead's customer (and how the lead was recognised: ``customer_method``), channel, campaign, source/medium, manager and creation time.

    ``leads`` is the output of :func:`kassa.link.visit_lead.link_leads`. Adds ``link_method``
    (``lead_id``, or ``none`` when the lead is not in the warehouse — channel ``unknown``) and
    ``purchase_number`` (the n-th won deal of the customer by ``closed_at``; NULL for deals not won).
    """
    deals = crm_customer(deals)
    ld = leads.select(
        l_lead=leads.lead_id,
        customer_id=leads.customer_id,
        customer_method=optional(leads, "customer_method"),
        channel=leads.channel,
        campaign=leads.campaign,
        source_medium=leads.source_medium,
        manager=leads.manager,
        lead_created_at=leads.created_at,
    )
    j = deals.left_join(ld, deals.lead_id == ld.l_lead)
    out = j.select(
        *deals.columns,
        customer_id=j.customer_id,
        customer_method=j.customer_method,
        channel=j.channel.fill_null(UNKNOWN),
        campaign=j.campaign.fill_null(NOT_SET),
        source_medium=j.source_medium.fill_null(NOT_SET),
        manager=j.manager,
        lead_created_at=j.lead_created_at,
        link_method=ibis.ifelse(j.l_lead.notnull(), ibis.literal("lead_id"), ibis.literal("none")),
    )
    won = out.status == "won"
    # Deals without a known customer are their own customer: numbered alone, so always purchase 1.
    who = out.customer_id.fill_null(ibis.literal("deal:").concat(out.deal_id))
    number = ibis.row_number().over(group_by=[who, won], order_by=[out.closed_at, out.deal_id]) + 1
    return out.mutate(purchase_number=ibis.ifelse(won, number, ibis.null("int64")))

"""Visit → lead: which site visit (and so which ad click) produced each lead, and how we know.

Every lead is linked to at most one visit, the first of these that exists (``link_method``):

1. ``click_id`` — a visit with the lead's own ad click id (``yclid:…``, ``gclid:…``): exact, whatever
   the channel and the clock difference between CRM and counter;
2. ``client_id`` — the last *marketing* (non-direct) visit of the lead's cookie at or before the lead,
   within ``lookback_days``;
3. ``contact`` — the last marketing visit, in the same window, of another cookie of the same customer
   (leads sharing a phone or e-mail hash, :mod:`kassa.link.customers`): a repeat customer who calls
   instead of filling the form is still credited to the ad that brought them;
4. ``lead_utm`` — no marketing visit, but the lead carries UTM fields of its own (as CRMs store them):
   the channel of those fields, no visit;
5. ``client_id`` / ``contact`` to a *direct* visit — the person only ever typed the address: ``direct``;
6. ``none`` — nothing at all: the channel is ``unknown``, never silently ``direct``.

A lead's channel, campaign and source/medium are those of the linked visit (or of its own UTM fields).
Ties between visits of the same rank go to the latest visit, then the larger ``visit_id``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.link.channels import NOT_SET, UNKNOWN, classify, source_medium, visits_with_channel
from kassa.link.customers import (
    blank_to_null,
    client_customers,
    crm_customer,
    lead_customers,
    optional,
    visit_customer,
)
from kassa.settings import Settings

LINK_METHODS = ("click_id", "client_id", "contact", "lead_utm", "none")

# Rank of each kind of evidence (lower wins); the method name each rank is reported as.
_RANKS: dict[int, str] = {
    1: "click_id",
    2: "client_id",
    3: "contact",
    4: "lead_utm",
    5: "client_id",
    6: "contact",
}


def normalise_click_id(e: ir.StringValue) -> ir.StringValue:
    """Click ids compare as lower-case trimmed text (``YCLID:123`` = ``yclid:123``); empty is NULL."""
    return blank_to_null(e.cast("string").lower())


def _blank(e: ir.StringValue) -> ir.BooleanValue:
    return e.fill_null("").strip() == ""


def link_leads(
    leads: ir.Table,
    visits: ir.Table,
    settings: Settings,
    lookback_days: int | None = None,
    customers: ir.Table | None = None,
) -> ir.Table:
    """Leads with the visit that produced them.

    Parameters
    ----------
    leads, visits : canonical tables (``Warehouse.table("leads")`` …)
    settings : channel rules and ``direct_channels``
    lookback_days : how far before the lead a visit may be; default ``settings.lookback_days``
    customers : ``lead_id → customer_id`` (default: :func:`kassa.link.customers.lead_customers`)

    Returns
    -------
    Every lead column plus ``customer_id`` (with ``customer_method``, ``customer_confidence``), ``channel``, ``campaign``, ``source_medium``,
    ``link_method`` (see the module docstring), ``link_visit_id`` and ``link_visit_ts`` (NULL without a
    visit).
    """
    days = lookback_days if lookback_days is not None else settings.lookback_days
    leads = crm_customer(leads)
    cust = customers if customers is not None else lead_customers(leads)
    v = visits_with_channel(visits, settings)
    direct = list(settings.direct_channels)
    vt = v.select(
        v_id=v.visit_id,
        v_client=blank_to_null(v.client_id),
        v_ts=v.ts,
        v_channel=v.channel,
        v_campaign=v.campaign,
        v_sm=v.source_medium,
        v_click=normalise_click_id(optional(v, "click_id")),
        v_direct=v.channel.isin(direct),
    )
    c = cust.select(
        cu_lead=cust.lead_id,
        cu_customer=cust.customer_id,
        cu_method=cust.customer_method,
        cu_confidence=cust.customer_confidence,
    )
    lc = leads.join(c, leads.lead_id == c.cu_lead)
    base = lc.select(
        c_lead=lc.lead_id,
        c_ts=lc.created_at,
        c_client=blank_to_null(lc.client_id),
        c_click=normalise_click_id(optional(lc, "click_id")),
        c_customer=lc.cu_customer,
    ).view()  # a fresh relation: joins below must not reach into the lead/customer join
    cand_cols = ("c_lead", "v_id", "v_ts", "v_channel", "v_campaign", "v_sm", "rank")

    def in_window(b: ir.Table, t: ir.Table) -> list[ir.BooleanValue]:
        return [t.v_ts <= b.c_ts, t.v_ts >= b.c_ts - ibis.interval(days=days)]

    clicked = base.filter(base.c_click.notnull())
    by_click = clicked.join(vt, clicked.c_click == vt.v_click)
    by_click = by_click.mutate(rank=ibis.literal(1)).select(*cand_cols)

    with_client = base.filter(base.c_client.notnull())
    by_client = with_client.join(vt, [with_client.c_client == vt.v_client, *in_window(with_client, vt)])
    by_client = by_client.mutate(rank=ibis.ifelse(by_client.v_direct, 5, 2)).select(*cand_cols)

    # Other cookies of the same customer (another device, an earlier lead's browser).
    cookies = client_customers(leads, cust)
    other = cookies.select(o_client=cookies.client_id, o_customer=cookies.customer_id)
    siblings = base.join(
        other, [base.c_customer == other.o_customer, base.c_client.fill_null("") != other.o_client]
    )
    by_contact = siblings.join(vt, [siblings.o_client == vt.v_client, *in_window(siblings, vt)])
    by_contact = by_contact.mutate(rank=ibis.ifelse(by_contact.v_direct, 6, 3)).select(*cand_cols)

    has_utm = ~(_blank(leads.utm_source) & _blank(leads.utm_medium) & _blank(leads.utm_campaign))
    own = leads.filter(has_utm)
    by_utm = own.select(
        c_lead=own.lead_id,
        v_id=ibis.null("string"),
        v_ts=ibis.null(vt.v_ts.type()),  # the engine's own timestamp type (DuckDB's has a scale, Spark's not)
        v_channel=classify(settings.channel_rules, own.utm_source, own.utm_medium),
        v_campaign=ibis.ifelse(_blank(own.utm_campaign), ibis.literal(NOT_SET), own.utm_campaign.strip()),
        v_sm=source_medium(own.utm_source, own.utm_medium),
        rank=ibis.literal(4),
    )

    cands = ibis.union(by_click, by_client, by_contact, by_utm, distinct=False)
    cands = cands.mutate(
        rn=ibis.row_number().over(
            group_by=cands.c_lead, order_by=[cands["rank"], ibis.desc(cands.v_ts), ibis.desc(cands.v_id)]
        )
    )
    best = cands.filter(cands.rn == 0).select(
        b_lead=cands.c_lead,
        b_visit=cands.v_id,
        b_ts=cands.v_ts,
        b_channel=cands.v_channel,
        b_campaign=cands.v_campaign,
        b_sm=cands.v_sm,
        b_rank=cands["rank"],
    )
    j = lc.left_join(best, lc.lead_id == best.b_lead)
    method = ibis.cases(
        *[(j.b_rank == r, ibis.literal(m)) for r, m in _RANKS.items()], else_=ibis.literal("none")
    )
    return j.select(
        *leads.columns,
        customer_id=j.cu_customer,
        customer_method=j.cu_method,
        customer_confidence=j.cu_confidence,
        channel=j.b_channel.fill_null(UNKNOWN),
        campaign=j.b_campaign.fill_null(NOT_SET),
        source_medium=j.b_sm.fill_null(NOT_SET),
        link_method=method,
        link_visit_id=j.b_visit,
        link_visit_ts=j.b_ts,
    )


def link_visits(
    visits: ir.Table, leads: ir.Table, linked: ir.Table, customers: ir.Table, settings: Settings
) -> ir.Table:
    """Visits with channel, campaign, source/medium and ``customer_id``.

    A visit belongs to the customer its cookie maps to; the cookie of a visit that a lead's click id
    points to joins that lead's customer too (the lead may have been left from another device).
    """
    v = visits_with_channel(visits, settings)
    lv = linked.filter(linked.link_method == "click_id").select(
        x_visit=linked.link_visit_id, x_customer=linked.customer_id
    )
    vc = v.select(y_visit=v.visit_id, y_client=blank_to_null(v.client_id))
    extra = lv.join(vc, lv.x_visit == vc.y_visit).select(
        client_id=ibis._.y_client, customer_id=ibis._.x_customer
    )
    cookies = client_customers(leads, customers, extra)
    m = cookies.select(m_client=cookies.client_id, m_customer=cookies.customer_id)
    j = v.left_join(m, blank_to_null(v.client_id) == m.m_client)
    return j.select(*v.columns, customer_id=visit_customer(j.client_id, j.m_customer))

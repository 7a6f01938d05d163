"""Who is the same customer: leads that share a cookie (client id), a phone hash or an e-mail hash.

A customer is a connected component of the graph "lead — shared identifier — lead". It is found with
label propagation inside the engine: every lead starts labelled with its own ``lead_id``, then, round
after round, takes the smallest label among the leads that share its client id, its phone hash or its
e-mail hash. After ``rounds`` rounds every chain of up to ``3 * rounds`` links is merged (one link per
identifier per round); real customers rarely need more than two. Only window ``min`` over a partition
is used, so the same expression compiles for DuckDB and PySpark.

``customer_id`` is the smallest ``lead_id`` of the customer's leads; a visitor who never left a lead is
the customer ``client:<client_id>``.

Reference: label propagation for connected components, e.g. Rastogi et al., "Finding connected
components in map-reduce in logarithmic rounds", ICDE 2013 (kassa uses the simple "min label" variant
with a fixed number of rounds).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

MERGE_ROUNDS = 4
ANONYMOUS_PREFIX = "client:"
IDENTIFIERS = ("client_id", "phone_hash", "email_hash")


def blank_to_null(e: ir.StringValue) -> ir.StringValue:
    """Trimmed text, or NULL when empty: an empty identifier must never join two customers."""
    return e.cast("string").strip().nullif("")


def optional(t: ir.Table, name: str) -> ir.StringValue:
    """A text column that an older warehouse or a narrow test table may lack (then NULL)."""
    return t[name].cast("string") if name in t.columns else ibis.null("string")


def lead_customers(leads: ir.Table, rounds: int = MERGE_ROUNDS) -> ir.Table:
    """``lead_id`` → ``customer_id`` (the smallest lead id among leads linked by a shared identifier)."""
    t = leads.select(
        lead_id=leads.lead_id,
        customer_id=leads.lead_id,
        **{f"k_{k}": blank_to_null(optional(leads, k)) for k in IDENTIFIERS},
    )
    for _ in range(rounds):
        for k in IDENTIFIERS:
            key = t[f"k_{k}"]
            t = t.mutate(
                customer_id=ibis.ifelse(key.isnull(), t.customer_id, t.customer_id.min().over(group_by=key))
            )
    return t.select("lead_id", "customer_id")


def client_customers(leads: ir.Table, customers: ir.Table, extra: ir.Table | None = None) -> ir.Table:
    """``client_id`` → ``customer_id`` for every cookie seen on a lead (and in ``extra`` pairs).

    ``extra`` holds further ``(client_id, customer_id)`` pairs, e.g. the cookie of the visit a lead's
    click id points to. A cookie that ended up with two customers keeps the smaller id.
    """
    c = customers.select(c_lead=customers.lead_id, c_customer=customers.customer_id)
    j = leads.join(c, leads.lead_id == c.c_lead)
    pairs = j.select(client_id=blank_to_null(j.client_id), customer_id=j.c_customer)
    if extra is not None:
        pairs = ibis.union(pairs, extra.select("client_id", "customer_id"), distinct=False)
    pairs = pairs.filter(pairs.client_id.notnull())
    return pairs.group_by("client_id").aggregate(customer_id=pairs.customer_id.min())


def visit_customer(client_id: ir.StringValue, mapped: ir.StringValue) -> ir.StringValue:
    """The customer of a visit: the one its cookie maps to, else the anonymous ``client:<id>``."""
    return ibis.coalesce(
        mapped, ibis.literal(ANONYMOUS_PREFIX).concat(client_id.cast("string").fill_null(""))
    )

"""Who is the same customer: leads that share a CRM contact id, a phone hash, an e-mail hash or a cookie.

A customer is a connected component of the graph "lead — shared identifier — lead". It is found with
label propagation inside the engine: every lead starts labelled with its own ``lead_id``, then, round
after round, takes the smallest label among the leads that share its client id, its phone hash or its
e-mail hash. After ``rounds`` rounds every chain of up to ``4 * rounds`` links is merged (one link per
identifier per round); real customers rarely need more than two. Only window ``min`` over a partition
is used, so the same expression compiles for DuckDB and PySpark.

``customer_id`` is the smallest ``lead_id`` of the customer's leads; a visitor who never left a lead is
the customer ``client:<client_id>``. The CRM's own contact id (the canonical ``customer_id`` column of
leads, read as ``crm_customer_id``: :func:`crm_customer`) is one identifier among the others.

Each lead also gets ``customer_method`` — the strongest identifier it shares with another lead of its
customer (:data:`CUSTOMER_METHODS`, in order) or ``own`` (the customer's only lead) — and its
``customer_confidence``, levels assigned by rule as the payment matches' are. Deals add the payer's INN
(:mod:`kassa.link.customer_deals`).

Reference: label propagation for connected components, e.g. Rastogi et al., "Finding connected
components in map-reduce in logarithmic rounds", ICDE 2013 (kassa uses the simple "min label" variant
with a fixed number of rounds).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

MERGE_ROUNDS = 4
ANONYMOUS_PREFIX = "client:"
IDENTIFIERS = ("crm_customer_id", "phone_hash", "email_hash", "client_id")
# How a record was recognised as its customer's, strongest first, with the confidence of each (a level
# by rule, not a probability). ``inn`` ties deals (the payer's INN on the deal or on its payments).
CUSTOMER_METHODS: dict[str, float] = {
    "own": 1.0,  # the customer's only record: nothing to be wrong about
    "crm_contact": 1.0,
    "phone": 0.9,
    "email": 0.85,
    "inn": 0.8,
    "cookie": 0.6,  # a shared browser is weaker evidence than a phone
}
_METHOD_OF = {
    "crm_customer_id": "crm_contact",
    "phone_hash": "phone",
    "email_hash": "email",
    "client_id": "cookie",
}


def crm_customer(t: ir.Table) -> ir.Table:
    """``t`` with the canonical ``customer_id`` column (the CRM's contact id) named ``crm_customer_id``:
    ``customer_id`` is the customer kassa recognises, of which the CRM's id is one piece of evidence."""
    return t.rename(crm_customer_id="customer_id") if "customer_id" in t.columns else t


def method_confidence(method: ir.StringValue) -> ir.FloatingValue:
    """The confidence of a ``customer_method`` (:data:`CUSTOMER_METHODS`)."""
    return ibis.cases(
        *[(method == m, ibis.literal(c)) for m, c in CUSTOMER_METHODS.items()], else_=ibis.null("float64")
    )


def blank_to_null(e: ir.StringValue) -> ir.StringValue:
    """Trimmed text, or NULL when empty: an empty identifier must never join two customers."""
    return e.cast("string").strip().nullif("")


def optional(t: ir.Table, name: str) -> ir.StringValue:
    """A text column that an older warehouse or a narrow test table may lack (then NULL)."""
    return t[name].cast("string") if name in t.columns else ibis.null("string")


def lead_customers(leads: ir.Table, rounds: int = MERGE_ROUNDS) -> ir.Table:
    """``lead_id`` → ``customer_id`` (the smallest lead id among leads linked by a shared identifier),
    ``customer_method`` and ``customer_confidence``."""
    leads = crm_customer(leads)
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
    # The strongest identifier the lead shares with another lead of the same customer.
    shared = [
        (t[f"k_{k}"].notnull() & (t.lead_id.count().over(group_by=[t.customer_id, t[f"k_{k}"]]) > 1), m)
        for k, m in _METHOD_OF.items()
    ]
    method = ibis.cases(*[(c, ibis.literal(m)) for c, m in shared], else_=ibis.literal("own"))
    t = t.mutate(customer_method=method)
    return t.select(
        "lead_id", "customer_id", "customer_method", customer_confidence=method_confidence(t.customer_method)
    )


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

"""The rows of the customer metrics: won deals of a cohort of customers, within their horizon.

A customer's lifetime is counted in calendar months from the month of their first won deal (month 0)
— the customer horizon is ``settings.customer_horizon_months`` such months — so LTV over the horizon is
the sum of the cohort triangle's cells 0 … horizon − 1 (:mod:`kassa.metrics.customers`). A customer
whose horizon does not end by the last date of the data (``horizon_open``) has an LTV "so far": shown
as a lower bound, never extrapolated.

Every expression is Ibis (the last date of the data is a scalar subquery), so the same rows compile
for DuckDB and Spark.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from kassa.link.customer_deals import ACQUISITION


def month_index(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Months since year 0: two of them subtract to whole calendar months apart."""
    return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1


def moments(leads: ir.Table, deals: ir.Table, payments: ir.Table) -> ir.Table:
    """Every moment the data knows of (``ts``): a lead created, a deal created or closed, a payment."""
    return ibis.union(
        leads.select(ts=leads.created_at.cast("timestamp")),
        deals.select(ts=deals.created_at.cast("timestamp")),
        deals.select(ts=deals.closed_at.cast("timestamp")),
        payments.select(ts=payments.paid_at.cast("timestamp")),
        distinct=False,
    )


def data_through(leads: ir.Table, deals: ir.Table, payments: ir.Table) -> ir.TimestampValue:
    """The last of :func:`moments`: the "now" against which a horizon is complete or not. A scalar
    subquery, not a date baked into the SQL (compiled SQL is kept and reused as the data grows)."""
    return moments(leads, deals, payments).ts.max().as_scalar()


def cohort_deals(won: ir.Table, horizon_months: int, through: ir.TimestampValue) -> ir.Table:
    """Won deals (with :mod:`kassa.link.customer_deals`' columns) of acquired customers, within
    ``horizon_months`` of the acquisition month, credited to the acquisition channel, campaign,
    source/medium and manager; plus ``months_since`` (0 = the month of acquisition) and
    ``horizon_open`` (the customer's horizon ends after ``through``)."""
    t = won.filter(won.acquired_at.notnull())
    since = month_index(t.closed_at) - month_index(t.acquired_at)
    t = t.mutate(
        months_since=since,
        horizon_open=month_index(through) - month_index(t.acquired_at) < horizon_months,
        **{a: t[f"acquisition_{a}"] for a in ACQUISITION},
    )
    return t.filter(t.months_since < horizon_months)

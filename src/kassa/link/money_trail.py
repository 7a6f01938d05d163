"""The whole money trail of a warehouse as lazy Ibis expressions: visits → leads → deals → payments.

``MoneyTrail(wh)`` builds every link once (nothing runs until a result is pulled), so the metrics, the
``kassa money`` view, the match-quality report, journeys and ``kassa trail`` all read one money trail and
can never disagree.

A materialized money trail (``materialize=True``) keeps each link in a temporary table named for what the
stitching is built from (settings, lookback, match rules), so there is one per warehouse and shape: get it
from :func:`kassa.metrics.compute.base_tables` (built once per open warehouse, released before the
connection closes), or use it as a context manager on a warehouse nothing else stitches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from kassa.link.customer_deals import deal_customers, with_customers
from kassa.link.customers import crm_customer, lead_customers
from kassa.link.deals import link_deals
from kassa.link.payments import MatchRules, deal_payments, match_payments, payments_with_deals
from kassa.link.visit_lead import link_leads, link_visits
from kassa.settings import Settings
from kassa.store.compiled import materialize as materialize_table

if TYPE_CHECKING:
    from kassa.store import Warehouse


class MoneyTrail:
    """Every canonical entity with its links.

    Attributes
    ----------
    visits : visits with ``channel``, ``campaign``, ``source_medium``, ``customer_id``
    leads : leads with ``customer_id``, ``channel``…, ``link_method``, ``link_visit_id``, ``link_visit_ts``
    deals : deals with the lead's ``customer_id``, ``channel``… (before the payer's INN is known)
    deal_customers : per deal its customer, new or repeat, and the customer's acquisition
        (:mod:`kassa.link.customer_deals`)
    payments : one row per payment share: ``deal_id``, ``match_method``, ``match_confidence``, ``amount``
        plus the deal's ``channel``… (:func:`kassa.link.payments.payments_with_deals`)
    deal_status : deals with ``paid``, ``outstanding``, ``overpaid``, ``paid_state``… and the columns of
        ``deal_customers`` (the customer as the INN on the payments completes it)
    """

    def __init__(
        self,
        wh: Warehouse,
        settings: Settings | None = None,
        *,
        lookback_days: int | None = None,
        rules: MatchRules | None = None,
        materialize: bool = False,
    ) -> None:
        self.settings = settings or wh.settings
        self.lookback_days = lookback_days if lookback_days is not None else self.settings.lookback_days
        self.rules = rules or MatchRules()
        # Materialized, each link is computed once into a temporary table of the engine (DuckDB temp
        # table, Spark temp view) and every later query reads it: many small queries instead of
        # re-deriving the whole trail in each. Visits, the one big table, stay lazy.
        self._wh = wh if materialize else None
        self._temporary: list[str] = []
        # What the stitching is built from besides the rows: the compiled SQL is kept under it
        # (kassa.store.compiled), and it names the temporary tables, so the kept SQL of one link reads
        # the tables of the links before it by the same names on every warehouse.
        self.shape = (self.settings.model_dump_json(), self.lookback_days, self.rules)
        tag = hashlib.sha256(repr(self.shape).encode()).hexdigest()[:16]

        def keep(step: str, build: Callable[[], ir.Table]) -> ir.Table:
            if not materialize:
                return build()
            name = f"kassa_trail_{tag}_{step}"
            self._temporary.append(name)
            return materialize_table(wh, name, ("money_trail", step, self.shape), build)

        raw_leads, raw_visits = crm_customer(wh.table("leads")), wh.table("visits")
        try:
            self.customers: ir.Table = keep("customers", lambda: lead_customers(raw_leads))
            self.leads: ir.Table = keep(
                "leads",
                lambda: link_leads(raw_leads, raw_visits, self.settings, self.lookback_days, self.customers),
            )
            self.visits: ir.Table = link_visits(
                raw_visits, raw_leads, self.leads, self.customers, self.settings
            )
            self.deals: ir.Table = keep("deals", lambda: link_deals(wh.table("deals"), self.leads))
            allocations = keep(
                "allocations", lambda: match_payments(wh.table("payments"), self.deals, self.rules)
            )
            self.deal_customers: ir.Table = keep(
                "deal_customers", lambda: deal_customers(self.deals, allocations)
            )
            self.payments: ir.Table = keep(
                "payments",
                lambda: payments_with_deals(allocations, with_customers(self.deals, self.deal_customers)),
            )
            self.deal_status: ir.Table = keep(
                "deal_status",
                lambda: with_customers(
                    deal_payments(self.deals, allocations, self.rules.tolerance), self.deal_customers
                ),
            )
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Drop the temporary tables of a materialized money trail (before the connection closes)."""
        while self._temporary:
            assert self._wh is not None
            self._wh.drop_temporary(self._temporary.pop())

    def __enter__(self) -> MoneyTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

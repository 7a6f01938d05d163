"""The whole money trail of a warehouse as lazy Ibis expressions: visits → leads → deals → payments.

``MoneyTrail(wh)`` builds every link once (nothing runs until a result is pulled), so the metrics, the
``kassa money`` view, the match-quality report, journeys and ``kassa trail`` all read one money trail and
can never disagree.

Use a materialized money trail as a context manager (``with MoneyTrail(wh, materialize=True) as mt:``) so its
temporary tables are dropped while the connection is still open.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import ibis.expr.types as ir

from kassa.link.customers import lead_customers
from kassa.link.deals import link_deals
from kassa.link.payments import MatchRules, deal_payments, match_payments, payments_with_deals
from kassa.link.visit_lead import link_leads, link_visits
from kassa.settings import Settings

if TYPE_CHECKING:
    from kassa.store import Warehouse


class MoneyTrail:
    """Every canonical entity with its links.

    Attributes
    ----------
    visits : visits with ``channel``, ``campaign``, ``source_medium``, ``customer_id``
    leads : leads with ``customer_id``, ``channel``…, ``link_method``, ``link_visit_id``, ``link_visit_ts``
    deals : deals with the lead's ``customer_id``, ``channel``…, ``purchase_number``
    payments : one row per payment share: ``deal_id``, ``match_method``, ``match_confidence``, ``amount``
        plus the deal's ``channel``… (:func:`kassa.link.payments.payments_with_deals`)
    deal_status : deals with ``paid``, ``outstanding``, ``overpaid``, ``paid_state``…
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
        self._backend = wh.ibis if materialize else None
        self._temporary: list[str] = []

        def keep(t: ir.Table) -> ir.Table:
            if not materialize:
                return t
            # A table of its own, not Ibis ``cache()``: the cache shares one table among equal expressions,
            # so one trail's release would drop another's.
            name = f"kassa_trail_{uuid.uuid4().hex}"
            self._temporary.append(name)
            assert self._backend is not None
            return self._backend.create_table(name, t, temp=True)

        raw_leads, raw_visits = wh.table("leads"), wh.table("visits")
        try:
            self.customers: ir.Table = keep(lead_customers(raw_leads))
            self.leads: ir.Table = keep(
                link_leads(raw_leads, raw_visits, self.settings, self.lookback_days, self.customers)
            )
            self.visits: ir.Table = link_visits(
                raw_visits, raw_leads, self.leads, self.customers, self.settings
            )
            self.deals: ir.Table = keep(link_deals(wh.table("deals"), self.leads))
            allocations = keep(match_payments(wh.table("payments"), self.deals, self.rules))
            self.payments: ir.Table = keep(payments_with_deals(allocations, self.deals))
            self.deal_status: ir.Table = keep(deal_payments(self.deals, allocations, self.rules.tolerance))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Drop the temporary tables of a materialized money trail (before the connection closes)."""
        while self._temporary:
            assert self._backend is not None
            self._backend.drop_table(self._temporary.pop(), force=True)

    def __enter__(self) -> MoneyTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

"""How much of the money trail rests on solid links: the match-quality report.

A ROMI built on 40 % matched revenue must say so. For a period (calendar months):

* **leads** created in it, by the way each was linked to a visit (``click_id``, ``client_id``,
  ``contact``, ``lead_utm``, ``none``) and the share whose channel is known
  (``known_source_share`` = 1 − leads of channel ``unknown`` / leads);
* **revenue** of the deals won in it, and the part of it the bank confirms, by the method that matched
  each payment share (``matched_share`` = paid revenue / revenue; per method likewise);
* **payments** received in it, by match method (count and amount), ``unmatched`` included.

Shares are ``None`` when their denominator is 0. Amounts in another currency than the business's are
left out here (the share of a mixed-currency total would mean nothing) and counted in ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir

from kassa.link.channels import UNKNOWN
from kassa.link.money_trail import MoneyTrail
from kassa.link.payments import MATCH_METHODS
from kassa.link.visit_lead import LINK_METHODS
from kassa.period import Period


@dataclass
class MatchQuality:
    """The figures of the match-quality report (see the module docstring)."""

    period: Period
    leads: int
    leads_by_method: dict[str, int]
    unknown_source_leads: int
    revenue: float
    paid_revenue: float
    paid_by_method: dict[str, float]
    payments_count: int
    payments_amount: float
    payments_by_method: dict[str, dict[str, float]]
    warnings: list[str] = field(default_factory=list)

    @property
    def known_source_share(self) -> float | None:
        return None if self.leads == 0 else 1 - self.unknown_source_leads / self.leads

    @property
    def matched_share(self) -> float | None:
        return None if self.revenue == 0 else self.paid_revenue / self.revenue

    def matched_share_by_method(self) -> dict[str, float | None]:
        return {m: (None if self.revenue == 0 else v / self.revenue) for m, v in self.paid_by_method.items()}

    @property
    def unmatched_payments_share(self) -> float | None:
        unmatched = self.payments_by_method.get("unmatched", {}).get("amount", 0.0)
        return None if self.payments_amount == 0 else unmatched / self.payments_amount

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "leads": self.leads,
            "leads_by_method": self.leads_by_method,
            "unknown_source_leads": self.unknown_source_leads,
            "known_source_share": self.known_source_share,
            "revenue": self.revenue,
            "paid_revenue": self.paid_revenue,
            "matched_share": self.matched_share,
            "paid_by_method": self.paid_by_method,
            "matched_share_by_method": self.matched_share_by_method(),
            "payments_count": self.payments_count,
            "payments_amount": self.payments_amount,
            "payments_by_method": self.payments_by_method,
            "unmatched_payments_share": self.unmatched_payments_share,
            "warnings": self.warnings,
        }


def _in(col: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    return (col >= period.start_ts()) & (col < period.end_ts())


def match_quality(money_trail: MoneyTrail, period: Period) -> MatchQuality:
    """The match-quality report for ``period`` (three small grouped queries)."""
    cur = money_trail.settings.currency
    leads = money_trail.leads.filter(_in(money_trail.leads.created_at, period))
    rows = (
        leads.group_by("link_method")
        .aggregate(n=leads.lead_id.count(), unknown=(leads.channel == UNKNOWN).cast("int64").sum())
        .to_pyarrow()
        .to_pylist()
    )
    by_method = {m: 0 for m in LINK_METHODS}
    unknown = 0
    for r in rows:
        by_method[r["link_method"]] = int(r["n"])
        unknown += int(r["unknown"] or 0)

    ds = money_trail.deal_status
    won = ds.filter((ds.status == "won") & _in(ds.closed_at, period))
    revenue_rows = (
        won.group_by(in_cur=won.currency == cur)
        .aggregate(revenue=won.amount.sum(), n=won.deal_id.count())
        .to_pyarrow()
        .to_pylist()
    )
    revenue = sum(float(r["revenue"] or 0) for r in revenue_rows if r["in_cur"])
    other_deals = sum(int(r["n"]) for r in revenue_rows if not r["in_cur"])
    shares = money_trail.payments.filter(
        money_trail.payments.deal_id.notnull() & (money_trail.payments.currency == cur)
    )
    shares = shares.semi_join(won.filter(won.currency == cur), shares.deal_id == won.deal_id)
    paid_rows = shares.group_by("match_method").aggregate(amount=shares.amount.sum()).to_pyarrow().to_pylist()
    paid_by_method = {m: 0.0 for m in MATCH_METHODS if m != "unmatched"}
    for r in paid_rows:
        paid_by_method[r["match_method"]] = float(r["amount"] or 0)

    pay = money_trail.payments.filter(_in(money_trail.payments.paid_at, period))
    pay_rows = (
        pay.group_by([pay.match_method, (pay.currency == cur).name("in_cur")])
        .aggregate(n=pay.payment_id.nunique(), amount=pay.amount.sum())
        .to_pyarrow()
        .to_pylist()
    )
    payments_by_method = {m: {"count": 0.0, "amount": 0.0} for m in MATCH_METHODS}
    other_payments = 0
    for r in pay_rows:
        if not r["in_cur"]:
            other_payments += int(r["n"])
            continue
        payments_by_method[r["match_method"]] = {"count": float(r["n"]), "amount": float(r["amount"] or 0)}
    # A payment split across deals is one payment: count it once.
    count_rows = pay.filter(pay.currency == cur).aggregate(
        n=pay.payment_id.nunique(), amount=pay.amount.sum()
    )
    totals = count_rows.to_pyarrow().to_pylist()[0]

    warnings = []
    if other_deals:
        warnings.append(f"{other_deals} won deal(s) in a currency other than {cur} are not in the shares")
    if other_payments:
        warnings.append(f"{other_payments} payment(s) in a currency other than {cur} are not in the shares")
    return MatchQuality(
        period=period,
        leads=sum(by_method.values()),
        leads_by_method=by_method,
        unknown_source_leads=unknown,
        revenue=revenue,
        paid_revenue=sum(paid_by_method.values()),
        paid_by_method=paid_by_method,
        payments_count=int(totals["n"] or 0),
        payments_amount=float(totals["amount"] or 0),
        payments_by_method=payments_by_method,
        warnings=warnings,
    )

"""Revenue three ways — CRM "won", invoiced, paid (confirmed by the bank) — and where the gaps are.

For the deals **won** in the period (``closed_at`` in it), per channel:

* ``won`` — their amount as the CRM has it (the ``revenue`` metric);
* ``invoiced`` — the part of them for which an invoice exists: the deal records an invoice number, or a
  payment quoted its invoice or deal number;
* ``paid`` — what the bank confirms for them: payments matched to them (:mod:`kassa.link.payments`),
  refunds deducted, whenever they arrived (the ``paid_revenue`` metric);
* ``unpaid`` — Σ max(amount − paid, 0) (the ``unpaid_won`` metric), and ``overpaid`` — Σ max(paid −
  amount, 0); so ``won − paid = unpaid − overpaid`` exactly.

For the money **received** in the period (``paid_at`` in it), where it went: to deals won in the period,
to deals won in another period, to deals not won (open or lost: prepayments the CRM does not show as
sales), refunds (negative amounts), and payments matched to no deal at all. These five add up to the
money received.

Amounts in another currency are converted with the month's rate from ``fx_rates`` (as the metrics do);
rows without a rate are left out and counted in ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import polars as pl

from kassa.link.money_trail import MoneyTrail
from kassa.period import Period

if TYPE_CHECKING:
    from kassa.store import Warehouse

CASH_PARTS = ("won_in_period", "won_other_period", "not_won", "refunds", "unmatched")
_QUOTED = ("invoice", "purpose_invoice", "purpose_deal")


def to_business_currency(
    t: ir.Table, amounts: list[str], day: ir.Value, fx: ir.Table, currency: str
) -> tuple[ir.Table, ir.Table]:
    """(rows with ``amounts`` in the business currency, rows of another currency without a month rate)."""
    rates = fx.select(r_month=fx.month, r_currency=fx.currency, r_rate=fx.rate)
    j = t.left_join(rates, [t.currency == rates.r_currency, day.truncate("M").cast("date") == rates.r_month])
    rate = ibis.ifelse(j.currency.fill_null(currency) == currency, ibis.literal(1.0), j.r_rate)
    j = j.mutate(**{a: j[a] * rate for a in amounts}, r_ok=rate.notnull())
    return j.filter(j.r_ok).select(*t.columns), j.filter(~j.r_ok).select(*t.columns)


@dataclass
class MoneyView:
    """Revenue three ways by channel, the money received and the lists behind the gaps."""

    period: Period
    currency: str
    by_channel: pl.DataFrame
    total: dict[str, float]
    cash: dict[str, float]
    unpaid_deals: pl.DataFrame
    unmatched_payments: pl.DataFrame
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "currency": self.currency,
            "by_channel": self.by_channel.to_dicts(),
            "total": self.total,
            "cash": self.cash,
            "unpaid_deals": self.unpaid_deals.to_dicts(),
            "unmatched_payments": self.unmatched_payments.to_dicts(),
            "warnings": self.warnings,
        }


def _in(col: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    return (col >= period.start_ts()) & (col < period.end_ts())


def money_view(
    money_trail: MoneyTrail, wh: Warehouse, period: Period, *, limit: int | None = None
) -> MoneyView:
    """Compute :class:`MoneyView` for ``period`` (calendar months, as ``kassa metrics``).

    ``limit`` caps the two lists (largest amounts first); totals always cover every row.
    """
    cur = money_trail.settings.currency
    fx = wh.table("fx_rates")
    tol = money_trail.rules.tolerance
    warnings: list[str] = []

    quoted = money_trail.payments.filter(money_trail.payments.match_method.isin(_QUOTED)).select(
        q_deal=money_trail.payments.deal_id
    )
    quoted = quoted.distinct()
    ds = money_trail.deal_status
    won = ds.filter((ds.status == "won") & _in(ds.closed_at, period))
    won = won.left_join(quoted, won.deal_id == quoted.q_deal)
    has_invoice = (won.invoice.fill_null("").strip() != "") | won.q_deal.notnull()
    won = won.select(*ds.columns, invoiced=ibis.ifelse(has_invoice, won.amount, 0.0))
    won, won_foreign = to_business_currency(
        won, ["amount", "invoiced", "paid", "outstanding", "overpaid"], won.closed_at, fx, cur
    )
    per = won.group_by("channel").aggregate(
        won_deals=won.deal_id.count(),
        won=won.amount.sum(),
        invoiced=won.invoiced.sum(),
        paid=won.paid.sum(),
        unpaid=won.outstanding.sum(),
        overpaid=won.overpaid.sum(),
    )
    by_channel = per.to_polars().sort("channel")
    by_channel = by_channel.with_columns(
        paid_share=pl.when(pl.col("won") > 0).then(pl.col("paid") / pl.col("won")).otherwise(None)
    )
    sums = {c: float(by_channel[c].sum()) for c in ("won", "invoiced", "paid", "unpaid", "overpaid")}
    total: dict[str, float] = {"won_deals": float(by_channel["won_deals"].sum()), **sums}
    total["paid_share"] = sums["paid"] / sums["won"] if sums["won"] > 0 else None  # type: ignore[assignment]

    pay = money_trail.payments.filter(_in(money_trail.payments.paid_at, period))
    pay, pay_foreign = to_business_currency(pay, ["amount", "payment_amount"], pay.paid_at, fx, cur)
    won_here = (pay.deal_status == "won") & _in(pay.deal_closed_at, period)
    part = ibis.cases(
        (pay.amount < 0, ibis.literal("refunds")),
        (pay.deal_id.isnull(), ibis.literal("unmatched")),
        (won_here, ibis.literal("won_in_period")),
        (pay.deal_status == "won", ibis.literal("won_other_period")),
        else_=ibis.literal("not_won"),
    )
    cash_rows = (
        pay.mutate(part=part).group_by("part").aggregate(amount=ibis._.amount.sum()).to_pyarrow().to_pylist()
    )
    cash = {p: 0.0 for p in CASH_PARTS}
    for r in cash_rows:
        cash[r["part"]] = float(r["amount"])
    cash["received"] = sum(cash[p] for p in CASH_PARTS)

    unpaid = won.filter(won.outstanding > tol).select(
        "deal_id", "lead_id", "channel", "closed_at", "amount", "paid", "outstanding", "paid_state", "invoice"
    )
    unpaid = unpaid.order_by([ibis.desc(unpaid.outstanding), unpaid.deal_id])
    unmatched = pay.filter(pay.deal_id.isnull()).select(
        "payment_id", "paid_at", amount=pay.payment_amount, payer_inn=pay.payer_inn, purpose=pay.purpose
    )
    unmatched = unmatched.order_by([ibis.desc(unmatched.amount.abs()), unmatched.payment_id])
    if limit is not None:
        unpaid, unmatched = unpaid.limit(limit), unmatched.limit(limit)

    counts = (
        ibis.union(
            won_foreign.select(what=ibis.literal("won deal(s)")),
            pay_foreign.select("payment_id").distinct().select(what=ibis.literal("payment(s)")),
            distinct=False,
        )
        .group_by("what")
        .aggregate(n=ibis._.count())
        .to_pyarrow()
        .to_pylist()
    )
    for row in sorted(counts, key=lambda r: r["what"]):
        warnings.append(
            f"{row['n']} {row['what']} in a currency other than {cur} without an exchange rate for their month were left out"
        )
    return MoneyView(
        period=period,
        currency=cur,
        by_channel=by_channel,
        total=total,
        cash=cash,
        unpaid_deals=unpaid.to_polars(),
        unmatched_payments=unmatched.to_polars(),
        warnings=warnings,
    )

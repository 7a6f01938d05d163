"""Deal → payment: which bank payment paid which deal, how it was matched and how sure kassa is.

Payments are matched in four stages; a payment matched at one stage is not looked at again:

=================  ==========  ===========================================================================
``match_method``   confidence  rule
=================  ==========  ===========================================================================
``deal_id``        1.00        the payment row names an existing deal (CRM-side payment records)
``invoice``        0.95        the payment's ``invoice`` field quotes the deal's invoice number
``purpose_invoice`` 0.90       the purpose text (``НазначениеПлатежа``) quotes the deal's invoice number:
                               "Оплата по счету № 123 от 01.10.2026"
``purpose_deal``   0.85        the purpose quotes the deal's number ("по заказу № 4512"), or an invoice
                               number equal to the number of a deal that has no invoice number recorded
``inn_amount``     0.80        a won deal of the same payer INN (the deal's ``payer_inn``, or an INN the
                               same customer paid from before) whose unpaid remainder equals the payment,
                               closed within the date window; the nearest such deal
``amount_date``    0.50        the only won, still unpaid deal of exactly this amount (same currency) in
                               the date window, and this payment the only candidate for that deal
``unmatched``      —           none of the above: listed, never hidden
=================  ==========  ===========================================================================

Confidences are levels assigned by rule, not estimated probabilities: they order the evidence and let
reports show how much of the revenue rests on weak matches.

A payment quoting several invoices ("по счетам № 101, 102") is split across those deals in proportion to
their amounts (so a payment equal to their sum pays each in full). A deal may be paid in parts: its
paid amount is the sum of its shares. Refunds are negative payments: they match by ``deal_id`` or by a
quoted number only (an amount alone says nothing about which sale is refunded) and reduce the paid
amount.

Numbers are read from the purpose text inside the engine (regular expressions with no look-around, so
DuckDB's RE2 and Spark's Java regex give the same answer): a keyword (счет/счёт/сч./invoice, or
заказ/сделка/order/deal), then optionally "на оплату" or "от <date> №", then one or more numbers
separated by commas, "и" or №. A number that is a date (``01.10.2026``) or a 20-digit bank account is
never taken for an invoice.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from kassa.link.customers import blank_to_null, optional

CONFIDENCE: dict[str, float] = {
    "deal_id": 1.0,
    "invoice": 0.95,
    "purpose_invoice": 0.9,
    "purpose_deal": 0.85,
    "inn_amount": 0.8,
    "amount_date": 0.5,
}
MATCH_METHODS = (*CONFIDENCE, "unmatched")


@dataclass(frozen=True)
class MatchRules:
    """How far a payment may be from its deal's ``closed_at`` and how close amounts must be.

    ``days_before`` allows prepayment before the CRM marks the deal won; ``days_after`` covers
    payment terms. ``tolerance`` is in currency units: half a kopeck by default, so amounts must be
    equal to the kopeck (bank amounts are exact; the tolerance only absorbs floating-point noise).
    """

    days_before: int = 30
    days_after: int = 60
    tolerance: float = 0.005


# -- reading numbers out of purpose text ----------------------------------------------------------------
# Whole word forms only: "счетчик" (a meter) and "заказчик" (a customer) must not announce a number.
_INVOICE_WORDS = r"счет(?:ам|ами|ах|ов|ом|у|а|е)?(?:-оферт[а-я]*)?|сч\.|сч\s*№|инвойс[а-я]*|invoices?|inv\."
_DEAL_WORDS = r"сделк(?:ам|ами|ах|а|е|у|и)?|заказ(?:ам|ами|ах|ов|ом|у|а|е|ы)?|orders?|deals?"
_TOKEN = r"[a-zа-я]{0,4}-?[0-9][0-9a-zа-я./-]*"
_SIGN = r"(?:№|n|no\.?|#)"
_DATE = r"[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}\s*(?:г\.?)?"
CLAUSE = rf"^\s*(?:на\s+оплату\s*)?(?:от\s+{_DATE}\s*{_SIGN}\s*|{_SIGN}?\s*)({_TOKEN}(?:\s*(?:,|;|\sи|\sand|№)\s*{_SIGN}?\s*{_TOKEN})*)"
_SEP = "\x01"


def ref_key(e: ir.StringValue) -> ir.StringValue:
    """An invoice or deal number as compared: lower case, no spaces or №, leading zeros of a pure number dropped.

    ``"№ 00123"`` and ``"123"`` are the same number; ``"БП-000045"`` stays ``"бп-000045"``.
    """
    k = e.cast("string").lower().replace("ё", "е").re_replace(r"[\s№]+", "").re_replace(r"[./-]+$", "")
    # "^0*([0-9]+)$" keeps at least one digit: "000" -> "0"; anything not purely digits stays as it is.
    number = k.re_extract(r"^0*([0-9]+)$", 1).nullif("")
    return ibis.coalesce(number, k).nullif("")


def _mark(text: ir.StringValue) -> ir.StringValue:
    """Lower-case text with every keyword replaced by a separator and its kind (``i`` invoice, ``d`` deal)."""
    low = text.fill_null("").lower().replace("ё", "е")
    # A keyword counts only at the start of a word ("расчетный" is not "счет").
    low = low.re_replace(rf"(?:^|[^а-яa-z])(?:{_INVOICE_WORDS})", f" {_SEP}i")
    return low.re_replace(rf"(?:^|[^а-яa-z])(?:{_DEAL_WORDS})", f" {_SEP}d")


def _numbers_after_keywords(t: ir.Table, marked: ir.StringValue, source: str) -> ir.Table:
    """Rows (payment_id, source, kind, ref) for each number following a keyword in ``marked`` text."""
    # "x " first: the text before the first keyword becomes a segment that never starts with a kind.
    segs = t.select(payment_id=t.payment_id, seg=(ibis.literal("x ") + marked).re_split(_SEP).unnest())
    segs = segs.mutate(kind=segs.seg.substr(0, 1), clause=segs.seg.substr(1).re_extract(CLAUSE, 1))
    segs = segs.filter(segs.kind.isin(["i", "d"]) & (segs.clause != ""))
    toks = segs.select("payment_id", "kind", tok=segs.clause.re_split(r"[\s,;№]+").unnest())
    toks = toks.mutate(tok=toks.tok.re_replace(r"[./-]+$", ""))
    keep = (
        toks.tok.re_search(r"[0-9]")
        & ~toks.tok.re_search(r"^[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}$")  # a date
        & ~toks.tok.re_search(r"^[0-9]{20}$")  # a bank account
    )
    toks = toks.filter(keep)
    return toks.select(
        "payment_id",
        source=ibis.literal(source),
        kind=ibis.ifelse(toks.kind == "i", ibis.literal("invoice"), ibis.literal("deal")),
        ref=ref_key(toks.tok),
    ).distinct()


def quoted_numbers(payments: ir.Table) -> ir.Table:
    """Every invoice or deal number a payment quotes: ``payment_id, source (field|purpose), kind, ref``.

    The ``invoice`` field is read as a list of invoice numbers (keywords optional); the purpose text only
    where a keyword announces the number.
    """
    p = payments.filter(payments.payment_id.notnull())
    field = optional(p, "invoice")
    # The invoice field needs no keyword: it is an invoice number by definition.
    field_marked = ibis.ifelse(
        field.fill_null("").strip() == "", ibis.literal(""), ibis.literal(f" {_SEP}i ").concat(_mark(field))
    )
    from_field = _numbers_after_keywords(p, field_marked, "field")
    from_purpose = _numbers_after_keywords(p, _mark(optional(p, "purpose")), "purpose")
    return ibis.union(from_field, from_purpose, distinct=True)


def deal_invoice_numbers(deals: ir.Table) -> ir.Table:
    """``deal_id, ref``: each invoice number recorded on a deal (a field may list several: "101, 102")."""
    inv = optional(deals, "invoice")
    t = deals.filter(inv.fill_null("").strip() != "").select(
        deal_id=deals.deal_id, tok=inv.re_split(r"[,;]+").unnest()
    )
    t = t.select("deal_id", ref=ref_key(t.tok))
    return t.filter(t.ref.notnull()).distinct()


def _inn(e: ir.StringValue) -> ir.StringValue:
    return e.cast("string").re_replace(r"[^0-9]", "").nullif("")


def _seconds_apart(a: ir.TimestampValue, b: ir.TimestampValue) -> ir.IntegerValue:
    return (a.epoch_seconds() - b.epoch_seconds()).abs()


# -- matching --------------------------------------------------------------------------------------------
# Every stage returns its matches as rows (p_id, d_id, method, share): the payment, the deal it pays, the
# rule (a key of CONFIDENCE) and the share of the payment credited to that deal.
MATCH_COLUMNS = ("p_id", "d_id", "method", "share")


def _payments_side(payments: ir.Table) -> ir.Table:
    """The payment columns the rules compare, prefixed ``p_`` so they never clash with the deal's."""
    return payments.select(
        p_id=payments.payment_id,
        p_deal=blank_to_null(optional(payments, "deal_id")),
        p_amount=payments.amount,
        p_at=payments.paid_at,
        p_inn=_inn(optional(payments, "payer_inn")),
        p_cur=payments.currency,
    )


def _deals_side(deals: ir.Table) -> ir.Table:
    """The deal columns the rules compare, prefixed ``d_``; ``d_ts`` is when the deal closed (or opened)."""
    return deals.select(
        d_id=deals.deal_id,
        d_key=ref_key(deals.deal_id),
        d_status=deals.status,
        d_ts=ibis.coalesce(deals.closed_at, deals.created_at),
        d_amount=deals.amount,
        d_cur=deals.currency,
        d_inn=_inn(optional(deals, "payer_inn")),
        d_has_invoice=optional(deals, "invoice").fill_null("").strip() != "",
        d_customer=deals.customer_id if "customer_id" in deals.columns else ibis.null("string"),
    )


def _confidence(method: ir.StringValue, otherwise: ir.Value) -> ir.Value:
    """The confidence of a ``match_method`` (:data:`CONFIDENCE`); ``otherwise`` for any other value."""
    return ibis.cases(*[(method == m, ibis.literal(c)) for m, c in CONFIDENCE.items()], else_=otherwise)


def _within_days(t: ir.Table, rules: MatchRules) -> list[ir.BooleanValue]:
    """Paid no earlier than ``days_before`` the deal closed and no later than ``days_after``."""
    return [
        t.p_at >= t.d_ts - ibis.interval(days=rules.days_before),
        t.p_at <= t.d_ts + ibis.interval(days=rules.days_after),
    ]


def by_deal_id(p: ir.Table, d: ir.Table) -> ir.Table:
    """Stage 1, ``deal_id``: the payment row names an existing deal (CRM-side payment records)."""
    return (
        p.join(d, p.p_deal == d.d_id)
        .mutate(method=ibis.literal("deal_id"), share=ibis.literal(1.0))
        .select(*MATCH_COLUMNS)
    )


def _deals_quoted(payments: ir.Table, deals: ir.Table, rest: ir.Table, d: ir.Table) -> ir.Table:
    """Every deal a number quoted by a payment of ``rest`` points at, with the rule that found it.

    An invoice number points at the deal that records it (``invoice`` when read from the payment's
    invoice field, ``purpose_invoice`` from its purpose); a deal number at the deal of that number, and
    so does an invoice number equal to the number of a deal that records no invoice (``purpose_deal``).
    """
    q = quoted_numbers(payments)
    rp = rest.select("p_id", "p_at")
    q = q.join(rp, q.payment_id == rp.p_id)
    invoice_numbers = q.filter(q.kind == "invoice")
    deal_numbers = q.filter(q.kind == "deal")
    invs = deal_invoice_numbers(deals)
    invs = invs.select(i_deal=invs.deal_id, i_ref=invs.ref)
    invs = invs.join(d, invs.i_deal == d.d_id)
    by_invoice = invoice_numbers.join(invs, invoice_numbers.ref == invs.i_ref)
    by_invoice = by_invoice.mutate(
        method=ibis.ifelse(
            by_invoice.source == "field", ibis.literal("invoice"), ibis.literal("purpose_invoice")
        )
    )
    by_deal_no = deal_numbers.join(d, deal_numbers.ref == d.d_key).mutate(method=ibis.literal("purpose_deal"))
    # An invoice number equal to a deal's own number, when that deal records no invoice number.
    bare = d.filter(~d.d_has_invoice)
    by_inv_as_deal = invoice_numbers.join(bare, invoice_numbers.ref == bare.d_key).mutate(
        method=ibis.literal("purpose_deal")
    )
    ref_cols = ("p_id", "p_at", "ref", "d_id", "d_ts", "d_amount", "method")
    return ibis.union(
        *(t.select(*ref_cols) for t in (by_invoice, by_deal_no, by_inv_as_deal)), distinct=False
    )


def by_quoted_number(
    payments: ir.Table, deals: ir.Table, p: ir.Table, d: ir.Table, matched: ir.Table
) -> ir.Table:
    """Stage 2, ``invoice`` / ``purpose_invoice`` / ``purpose_deal``: the payment quotes invoice or deal
    numbers (its invoice field or its purpose text), among the payments not in ``matched``.

    One number that fits several deals (invoice numbers restart every year) goes to the strongest rule,
    then the deal nearest in time; a payment quoting several deals is split in proportion to their
    amounts (equally when they are all zero).
    """
    quoted = _deals_quoted(payments, deals, p.anti_join(matched, p.p_id == matched.p_id), d)
    quoted = quoted.mutate(conf=_confidence(quoted.method, ibis.literal(0.0)))
    quoted = quoted.mutate(
        rn=ibis.row_number().over(
            group_by=[quoted.p_id, quoted.ref],
            order_by=[ibis.desc(quoted.conf), _seconds_apart(quoted.p_at, quoted.d_ts), quoted.d_id],
        )
    )
    quoted = quoted.filter(quoted.rn == 0)
    # Two numbers of one payment pointing at the same deal count once, by the stronger rule.
    quoted = quoted.mutate(
        rn=ibis.row_number().over(
            group_by=[quoted.p_id, quoted.d_id], order_by=[ibis.desc(quoted.conf), quoted.method]
        )
    )
    quoted = quoted.filter(quoted.rn == 0)
    weight = quoted.d_amount.abs()
    total = weight.sum().over(group_by=quoted.p_id)
    n = quoted.d_id.count().over(group_by=quoted.p_id)
    return quoted.mutate(
        share=ibis.ifelse(total > 0, weight / total, ibis.literal(1.0) / n.cast("float64"))
    ).select(*MATCH_COLUMNS)


def _won_outstanding(p: ir.Table, d: ir.Table, matched: ir.Table) -> ir.Table:
    """Won deals with ``outstanding``: their amount less what the payments in ``matched`` paid them."""
    paid = matched.join(p, matched.p_id == p.p_id)
    paid = paid.select(x_deal=paid.d_id, x_paid=paid.p_amount * paid.share)
    paid = paid.group_by("x_deal").aggregate(x_paid=paid.x_paid.sum())
    won = d.filter(d.d_status == "won").left_join(paid, d.d_id == paid.x_deal)
    return won.mutate(outstanding=won.d_amount - won.x_paid.fill_null(0.0)).drop("x_deal")


def _inns_customers_paid_from(p: ir.Table, d: ir.Table, matched: ir.Table) -> ir.Table:
    """``l_customer, l_inn``: the INNs each customer paid from in the payments already matched."""
    known = matched.join(p, matched.p_id == p.p_id)
    known = known.join(d, known.d_id == d.d_id)
    return (
        known.filter(known.p_inn.notnull() & known.d_customer.notnull())
        .select(l_customer=known.d_customer, l_inn=known.p_inn)
        .distinct()
    )


def by_inn_and_amount(p: ir.Table, d: ir.Table, matched: ir.Table, rules: MatchRules) -> ir.Table:
    """Stage 3, ``inn_amount``: a won deal of the payer's INN whose unpaid remainder equals the payment.

    The INN is the deal's ``payer_inn``, or one its customer paid from in ``matched``; the deal closed
    within the date window. Each payment takes the nearest such deal, and each deal the nearest payment.
    Refunds and payments without an INN are not looked at.
    """
    tol = rules.tolerance
    won = _won_outstanding(p, d, matched)
    learned = _inns_customers_paid_from(p, d, matched)
    rest = p.anti_join(matched, p.p_id == matched.p_id).filter((p.p_amount > 0) & p.p_inn.notnull())
    fits = [
        rest.p_cur == won.d_cur,
        (rest.p_amount - won.outstanding).abs() <= tol,
        won.outstanding > tol,
    ]
    own_inn = rest.join(won, [rest.p_inn == won.d_inn, *fits])
    via = rest.join(learned, rest.p_inn == learned.l_inn)
    via_inn = via.join(won, [via.l_customer == won.d_customer, via.p_cur == won.d_cur])
    via_inn = via_inn.filter(
        [(via_inn.p_amount - via_inn.outstanding).abs() <= tol, via_inn.outstanding > tol]
    )
    c = ibis.union(
        own_inn.select("p_id", "p_at", "d_id", "d_ts"),
        via_inn.select("p_id", "p_at", "d_id", "d_ts"),
        distinct=True,
    )
    c = c.filter(_within_days(c, rules))
    c = c.mutate(gap=_seconds_apart(c.p_at, c.d_ts))
    c = c.mutate(rn=ibis.row_number().over(group_by=c.p_id, order_by=[c.gap, c.d_id]))
    c = c.filter(c.rn == 0)
    c = c.mutate(rn=ibis.row_number().over(group_by=c.d_id, order_by=[c.gap, c.p_id]))
    return (
        c.filter(c.rn == 0)
        .mutate(method=ibis.literal("inn_amount"), share=ibis.literal(1.0))
        .select(*MATCH_COLUMNS)
    )


def by_amount_and_date(p: ir.Table, d: ir.Table, matched: ir.Table, rules: MatchRules) -> ir.Table:
    """Stage 4, ``amount_date``: the only won, still unpaid deal of exactly this amount and currency in the
    date window, when this payment is also that deal's only candidate. Refunds are not looked at.
    """
    tol = rules.tolerance
    rest = p.anti_join(matched, p.p_id == matched.p_id).filter(p.p_amount > 0)
    unpaid = d.filter(d.d_status == "won").anti_join(matched, d.d_id == matched.d_id)
    c = rest.join(
        unpaid,
        [
            rest.p_cur == unpaid.d_cur,
            (rest.p_amount - unpaid.d_amount).abs() <= tol,
            # Two different INNs on both sides rule the pair out.
            rest.p_inn.isnull() | unpaid.d_inn.isnull() | (rest.p_inn == unpaid.d_inn),
        ],
    )
    c = c.filter(_within_days(c, rules))
    c = c.mutate(np=c.d_id.count().over(group_by=c.p_id), nd=c.p_id.count().over(group_by=c.d_id))
    found = c.filter((c.np == 1) & (c.nd == 1)).mutate(
        method=ibis.literal("amount_date"), share=ibis.literal(1.0)
    )
    return found.select(*MATCH_COLUMNS)


def _allocations(payments: ir.Table, matched: ir.Table) -> ir.Table:
    """Every payment with its matches in ``matched`` (one row per share), or once as ``unmatched``."""
    matched = matched.mutate(match_confidence=_confidence(matched.method, ibis.null("float64")))
    pay = payments.select(
        payment_id=payments.payment_id,
        paid_at=payments.paid_at,
        payment_amount=payments.amount,
        currency=payments.currency,
        payer_inn=optional(payments, "payer_inn"),
        purpose=optional(payments, "purpose"),
    )
    m = matched.select(
        m_p=matched.p_id,
        m_d=matched.d_id,
        m_method=matched.method,
        m_conf=matched.match_confidence,
        m_share=matched.share,
    )
    j = pay.left_join(m, pay.payment_id == m.m_p)
    return j.select(
        *pay.columns,
        deal_id=j.m_d,
        match_method=j.m_method.fill_null("unmatched"),
        match_confidence=j.m_conf,
        amount=j.payment_amount * j.m_share.fill_null(1.0),
    )


def match_payments(payments: ir.Table, deals: ir.Table, rules: MatchRules | None = None) -> ir.Table:
    """Match every payment to the deal(s) it pays (see the module docstring for the rules).

    The stages run in order of confidence — :func:`by_deal_id`, :func:`by_quoted_number`,
    :func:`by_inn_and_amount`, :func:`by_amount_and_date` — each one looking only at the payments the
    stages before it left unmatched.

    Parameters
    ----------
    payments : the canonical payments table
    deals : deals with ``customer_id`` (:func:`kassa.link.deals.link_deals`) or the canonical table
    rules : date window and amount tolerance

    Returns
    -------
    One row per (payment, deal) share, and one row for each unmatched payment: ``payment_id, paid_at,
    payment_amount, currency, payer_inn, purpose, deal_id`` (NULL when unmatched), ``match_method,
    match_confidence`` (NULL when unmatched), ``amount`` (the share of the payment credited to the deal;
    the whole payment when unmatched). Shares of a payment always sum to the payment.
    """
    r = rules or MatchRules()
    p = _payments_side(payments)
    d = _deals_side(deals)
    matched = by_deal_id(p, d)
    matched = ibis.union(matched, by_quoted_number(payments, deals, p, d, matched), distinct=False)
    matched = ibis.union(matched, by_inn_and_amount(p, d, matched, r), distinct=False)
    matched = ibis.union(matched, by_amount_and_date(p, d, matched, r), distinct=False)
    return _allocations(payments, matched)


def payments_with_deals(allocations: ir.Table, deals: ir.Table) -> ir.Table:
    """Allocations (:func:`match_payments`) with their deal's customer, channel, campaign and status.

    One row per payment share, with the deal's channel and campaign (``amount`` is the share credited to
    the deal); an unmatched payment is ``unknown`` / ``(not set)``.
    """
    from kassa.link.channels import NOT_SET, UNKNOWN

    dd = deals.select(
        x_deal=deals.deal_id,
        customer_id=deals.customer_id,
        channel=deals.channel,
        campaign=deals.campaign,
        source_medium=deals.source_medium,
        manager=deals.manager,
        lead_id=deals.lead_id,
        lead_created_at=deals.lead_created_at,
        deal_status=deals.status,
        deal_closed_at=deals.closed_at,
    )
    j = allocations.left_join(dd, allocations.deal_id == dd.x_deal)
    return j.select(
        *allocations.columns,
        customer_id=j.customer_id,
        lead_id=j.lead_id,
        channel=j.channel.fill_null(UNKNOWN),
        campaign=j.campaign.fill_null(NOT_SET),
        source_medium=j.source_medium.fill_null(NOT_SET),
        manager=j.manager,
        lead_created_at=j.lead_created_at,
        deal_status=j.deal_status,
        deal_closed_at=j.deal_closed_at,
    )


def deal_payments(
    deals: ir.Table, allocations: ir.Table, tolerance: float = 0.005, *, paid_within_days: int | None = None
) -> ir.Table:
    """Deals with what the bank confirms for each.

    With ``paid_within_days`` only payments within that many days of the deal's lead count (the cohort
    view's ``settle_days``; ``allocations`` must then carry ``lead_created_at``, as
    :func:`payments_with_deals` gives it).

    Adds ``paid`` (sum of the deal's payment shares, refunds negative; 0 when none), ``refunded``
    (sum of the negative shares, ≤ 0), ``payments`` (how many payments), ``first_paid_at``,
    ``last_paid_at``, ``weakest_confidence`` (the lowest match confidence among its payments),
    ``outstanding`` = max(amount − paid, 0) for a won deal (0 for open and lost ones), ``overpaid`` = max(paid − amount, 0) and ``paid_state``:
    ``paid`` (paid ≥ amount − tolerance), ``partial``, ``refunded`` (refunds brought it back to ≤ 0) or
    ``unpaid``.
    """
    a = allocations.filter(allocations.deal_id.notnull())
    if paid_within_days is not None:
        a = a.filter(a.paid_at <= a.lead_created_at + ibis.interval(days=paid_within_days))
    agg = a.group_by(a.deal_id).aggregate(
        paid=a.amount.sum(),
        refunded=ibis.ifelse(a.amount < 0, a.amount, 0.0).sum(),
        payments=a.payment_id.nunique(),
        first_paid_at=a.paid_at.min(),
        last_paid_at=a.paid_at.max(),
        weakest_confidence=a.match_confidence.min(),
    )
    agg = agg.rename(a_deal="deal_id")
    j = deals.left_join(agg, deals.deal_id == agg.a_deal)
    paid = j.paid.fill_null(0.0)
    refunded = j.refunded.fill_null(0.0)
    state = ibis.cases(
        (paid >= j.amount - tolerance, ibis.literal("paid")),
        (paid > tolerance, ibis.literal("partial")),
        (refunded < 0, ibis.literal("refunded")),
        else_=ibis.literal("unpaid"),
    )
    return j.select(
        *deals.columns,
        paid=paid,
        refunded=refunded,
        payments=j.payments.fill_null(0),
        first_paid_at=j.first_paid_at,
        last_paid_at=j.last_paid_at,
        weakest_confidence=j.weakest_confidence,
        outstanding=ibis.ifelse(j.status == "won", ibis.greatest(j.amount - paid, 0.0), 0.0),
        overpaid=ibis.greatest(paid - j.amount, 0.0),
        paid_state=state,
    )

"""``kassa money`` and ``kassa trail`` for people: revenue three ways, where the cash went, the gaps,
match quality, and one item's chain — as grids and prose laid out for the terminal (:mod:`kassa.report.layout`).

The command only parses options, computes the views (:mod:`kassa.link.money`, :mod:`kassa.link.quality`,
:mod:`kassa.link.trail`) and prints what this module builds.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree

from kassa.i18n import Translator, fmt_money, fmt_number, fmt_percent
from kassa.link.money import MoneyView
from kassa.link.quality import MatchQuality
from kassa.link.trail import Trail
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import MetricTable
from kassa.names import campaign_name, channel_name
from kassa.report.layout import Column, Grid, wrap
from kassa.report.terminal import fmt_cell

_ = Translator("money")

# Below this share of revenue matched to a bank payment, ROMI on paid revenue is flagged as shaky.
WEAK_MATCH_SHARE = 0.8
# What `kassa money` computes from the metric catalog beside the money view.
METRICS = ["marketing_cost", "revenue", "paid_revenue", "unpaid_won", "romi", "romi_paid"]
GUIDE = 4  # columns a rich Tree indents each level by


def lead_method_label(method: str, lang: str, direct: bool = False) -> str:
    """How a lead was linked to a visit; ``direct`` when the visit found is a direct one."""
    if direct and method in ("client_id", "contact"):
        return _("cookie or contact: direct visits only", lang)
    return {
        "click_id": _("ad click id", lang),
        "client_id": _("cookie: last marketing visit", lang),
        "contact": _("phone or e-mail: another device's visit", lang),
        "lead_utm": _("the lead's own UTM fields", lang),
        "none": _("no visit, no UTM: source unknown", lang),
    }.get(method, method)


def match_method_label(method: str, lang: str) -> str:
    return {
        "deal_id": _("deal id on the payment", lang),
        "invoice": _("invoice number on the payment", lang),
        "purpose_invoice": _("invoice number in the purpose", lang),
        "purpose_deal": _("deal number in the purpose", lang),
        "inn_amount": _("payer INN + amount + date", lang),
        "amount_date": _("amount + date only", lang),
        "unmatched": _("not matched to any deal", lang),
    }.get(method, method)


def customer_method_label(method: str | None, lang: str) -> str:
    """How a lead or deal was recognised as its customer's (:data:`kassa.link.customers.CUSTOMER_METHODS`)."""
    return {
        "own": _("their only record", lang),
        "crm_contact": _("CRM contact id", lang),
        "phone": _("phone", lang),
        "email": _("e-mail", lang),
        "inn": _("payer INN", lang),
        "cookie": _("shared cookie", lang),
    }.get(method or "", method or "—")


def customer_text(row: dict[str, Any], lang: str) -> str:
    """``customer L1 (phone, confidence 0.90)``, and for a won deal ``· purchase 2, repeat``."""
    if row.get("customer_id") is None:
        return ""
    conf = row.get("customer_confidence")
    how = customer_method_label(row.get("customer_method"), lang)
    if conf is not None:
        how += ", " + _("confidence {c}", lang, c=fmt_number(conf, lang, 2))
    text = _("customer {id} ({how})", lang, id=row["customer_id"], how=how)
    n = row.get("purchase_number")
    if n is not None:
        if row.get("is_new"):
            text += " · " + _("purchase 1: new customer", lang)
        else:
            acquired = channel_name(row.get("acquisition_channel"), lang)
            text += " · " + _("purchase {n}: repeat (acquired by {channel})", lang, n=n, channel=acquired)
    return text


def _share(part: float | None, whole: float | None, lang: str) -> str:
    if part is None or not whole:
        return fmt_percent(None, lang)
    return fmt_percent(part / whole, lang)


# -- kassa money ------------------------------------------------------------------------------------------
def revenue_grid(view: MoneyView, metrics: MetricTable, lang: str) -> Grid:
    """Per channel: won in the CRM, invoiced, paid by the bank, the gap, and ROMI both ways."""
    cur = view.currency
    grid = Grid(
        _("Revenue three ways — {period}", lang, period=view.period.label),
        [
            Column("channel", _("Channel", lang), number=False, key=True),
            Column("won", _("Won (CRM)", lang)),
            Column("invoiced", _("Invoiced", lang)),
            Column("paid", _("Paid (bank)", lang)),
            Column("unpaid", _("Won but unpaid", lang)),
            Column("paid_share", _("Paid share", lang)),
            Column("marketing_cost", _("Marketing cost", lang)),
            Column("romi", _("ROMI", lang)),
            Column("romi_paid", _("ROMI on paid", lang)),
        ],
        default=("won", "paid", "unpaid", "paid_share", "romi_paid"),
    )
    money = {r["channel"]: r for r in view.by_channel.to_dicts()}
    romi = {r["channel"]: r for r in metrics.rows()}

    def row(name: str, m: dict[str, Any], k: dict[str, Any], total: bool = False) -> dict[str, str]:
        # Marketing cost and ROMI lacking amounts without an exchange rate say so ("≥ …", "?").
        # and those from a whole-period report the period cuts are estimates ("≈").
        group = None if total else k
        missing = metrics.incomplete(group) if k or total else {}
        guessed = metrics.estimated(group) if k or total else set()
        shown: dict[str, str] = {
            n: fmt_cell(
                k.get(n), CATALOG[n].unit, lang, cur, estimated=n in guessed, incomplete=missing.get(n)
            )
            for n in ("marketing_cost", "romi", "romi_paid")
            if n in missing or n in guessed
        }
        return {
            "channel": name,
            "won": fmt_money(m.get("won", 0.0), cur, lang),
            "invoiced": fmt_money(m.get("invoiced", 0.0), cur, lang),
            "paid": fmt_money(m.get("paid", 0.0), cur, lang),
            "unpaid": fmt_money(m.get("unpaid", 0.0), cur, lang),
            "paid_share": fmt_percent(m.get("paid_share"), lang),
            "marketing_cost": fmt_money(k.get("marketing_cost"), cur, lang),
            "romi": fmt_number(k.get("romi"), lang, 2),
            "romi_paid": fmt_number(k.get("romi_paid"), lang, 2),
            **shown,
        }

    shown = sorted(set(money) | {c for c, r in romi.items() if r["marketing_cost"] or r["revenue"]})
    grid.add_rows(row(channel_name(ch, lang), money.get(ch, {}), romi.get(ch, {})) for ch in shown)
    grid.total = row(_("Total", lang), view.total, metrics.total, total=True)
    return grid


def balance_line(view: MoneyView, lang: str) -> str:
    """The identity that ties the CRM to the bank: won − paid = unpaid − overpaid."""
    cur = view.currency
    return _(
        "Won − paid = unpaid − overpaid: {won} − {paid} = {unpaid} − {over}",
        lang,
        won=fmt_money(view.total["won"], cur, lang),
        paid=fmt_money(view.total["paid"], cur, lang),
        unpaid=fmt_money(view.total["unpaid"], cur, lang),
        over=fmt_money(view.total["overpaid"], cur, lang),
    )


def cash_grid(view: MoneyView, lang: str) -> Grid:
    """The money received in the period, split by what it paid for."""
    cur = view.currency
    grid = Grid(
        _("Money received in {period}: where it went", lang, period=view.period.label),
        [Column("part", _("Part", lang), number=False, key=True), Column("amount", _("Amount", lang))],
    )
    labels = {
        "won_in_period": _("paid deals won in this period", lang),
        "won_other_period": _("paid deals won in another period", lang),
        "not_won": _("paid deals not won (open or lost): prepayments", lang),
        "refunds": _("refunds", lang),
        "unmatched": _("matched to no deal", lang),
    }
    grid.add_rows(
        {"part": label, "amount": fmt_money(view.cash[part], cur, lang)} for part, label in labels.items()
    )
    grid.total = {"part": _("Received", lang), "amount": fmt_money(view.cash["received"], cur, lang)}
    return grid


def gap_grids(view: MoneyView, lang: str) -> list[Grid]:
    """Deals won but not (fully) paid, and payments matched to no deal: the two lists to chase."""
    cur = view.currency
    unpaid = Grid(
        _("Won but unpaid: {amount}", lang, amount=fmt_money(view.total["unpaid"], cur, lang)),
        [
            Column("deal", _("Deal", lang), number=False, key=True),
            Column("channel", _("Channel", lang), number=False),
            Column("won_on", _("Won on", lang)),
            Column("amount", _("Amount", lang)),
            Column("paid", _("Paid", lang)),
            Column("unpaid", _("Unpaid", lang)),
            Column("state", _("State", lang), number=False),
            Column("invoice", _("Invoice", lang), number=False),
        ],
        default=("channel", "won_on", "amount", "unpaid", "state"),
    )
    unpaid.add_rows(
        {
            "deal": r["deal_id"],
            "channel": channel_name(r["channel"], lang),
            "won_on": f"{r['closed_at']:%Y-%m-%d}",
            "amount": fmt_money(r["amount"], cur, lang),
            "paid": fmt_money(r["paid"], cur, lang),
            "unpaid": fmt_money(r["outstanding"], cur, lang),
            "state": _(r["paid_state"], lang),
            "invoice": r["invoice"] or "—",
        }
        for r in view.unpaid_deals.to_dicts()
    )
    loose = Grid(
        _("Paid but matched to no deal: {amount}", lang, amount=fmt_money(view.cash["unmatched"], cur, lang)),
        [
            Column("payment", _("Payment", lang), number=False, key=True),
            Column("date", _("Date", lang)),
            Column("amount", _("Amount", lang)),
            Column("payer_inn", _("Payer INN", lang)),
            Column("purpose", _("Purpose", lang), number=False),
        ],
    )
    loose.add_rows(
        {
            "payment": r["payment_id"],
            "date": f"{r['paid_at']:%Y-%m-%d}",
            "amount": fmt_money(r["amount"], cur, lang),
            "payer_inn": r["payer_inn"] or "—",
            "purpose": r["purpose"] or "—",
        }
        for r in view.unmatched_payments.to_dicts()
    )
    return [unpaid, loose]


def quality_grid(q: MatchQuality, currency: str, lang: str) -> Grid:
    """How each link of the chain was made (visit → lead, revenue → payment, payment → deal), with shares."""
    grid = Grid(
        _("Match quality — {period}", lang, period=q.period.label),
        [
            Column("link", _("Link", lang), number=False, key=True),
            Column("method", _("Method", lang), number=False),
            Column("count", _("Count", lang)),
            Column("amount", _("Amount", lang)),
            Column("share", _("Share", lang)),
        ],
    )
    grid.add_rows(
        {
            "link": _("visit → lead", lang),
            "method": lead_method_label(m, lang),
            "count": fmt_number(n, lang),
            "share": _share(n, q.leads, lang),
        }
        for m, n in q.leads_by_method.items()
    )
    grid.add_rows(
        {
            "link": _("revenue → payment", lang),
            "method": match_method_label(m, lang),
            "amount": fmt_money(amount, currency, lang),
            "share": _share(amount, q.revenue, lang),
        }
        for m, amount in q.paid_by_method.items()
    )
    grid.add_rows(
        {
            "link": _("payment → deal", lang),
            "method": match_method_label(m, lang),
            "count": fmt_number(v["count"], lang),
            "amount": fmt_money(v["amount"], currency, lang),
            "share": _share(v["amount"], q.payments_amount, lang),
        }
        for m, v in q.payments_by_method.items()
    )
    return grid


def money_grids(view: MoneyView, metrics: MetricTable, quality: MatchQuality, lang: str) -> list[Grid]:
    """Every table of ``kassa money`` after the revenue one, in the order they print."""
    return [cash_grid(view, lang), *gap_grids(view, lang), quality_grid(quality, view.currency, lang)]


def quality_sentences(q: MatchQuality, lang: str) -> list[str]:
    """What the match quality means for the numbers above, in one or two sentences."""
    out = [
        _(
            "Leads with a known source: {share} ({known} of {leads}).",
            lang,
            share=fmt_percent(q.known_source_share, lang),
            known=q.leads - q.unknown_source_leads,
            leads=q.leads,
        ),
        _("Revenue matched to a bank payment: {share}.", lang, share=fmt_percent(q.matched_share, lang)),
    ]
    if q.matched_share is not None and q.matched_share < WEAK_MATCH_SHARE:
        out.append(
            _(
                "ROMI on paid revenue rests on only {share} of the revenue: read it as a lower bound.",
                lang,
                share=fmt_percent(q.matched_share, lang),
            )
        )
    return out


def _ts(v: Any) -> str:
    return "—" if v is None else f"{v:%Y-%m-%d %H:%M}"


def trail_tree(tr: Trail, currency: str, lang: str, direct_channels: list[str], width: int = 80) -> Tree:
    """One item's chain as a tree: each lead with its visits, deals and payments, and how each link was made.

    Labels are wrapped for ``width`` at their depth, so rich never breaks one inside a number.
    """

    def label(text: str, depth: int) -> Text:
        return Text(wrap(text, max(width - GUIDE * depth, 20)), no_wrap=True)

    kind = {"lead": _("lead", lang), "deal": _("deal", lang), "payment": _("payment", lang)}[tr.kind]
    root = Tree(label(_("Trail of {kind} {id}", lang, kind=kind, id=tr.item_id), 0), guide_style="dim")
    pays_by_deal: dict[str | None, list[dict[str, Any]]] = {}
    for p in tr.payments:
        pays_by_deal.setdefault(p["deal_id"], []).append(p)
    deals_by_lead: dict[str | None, list[dict[str, Any]]] = {}
    for d in tr.deals:
        deals_by_lead.setdefault(d["lead_id"], []).append(d)

    def add_payments(node: Tree, deal_id: str | None, depth: int) -> None:
        for p in pays_by_deal.get(deal_id, []):
            conf = (
                ""
                if p["match_confidence"] is None
                else " · " + _("confidence {c}", lang, c=fmt_number(p["match_confidence"], lang, 2))
            )
            part = fmt_money(p["amount"], currency, lang)
            if p["payment_amount"] != p["amount"]:
                part = _(
                    "{part} of {whole}", lang, part=part, whole=fmt_money(p["payment_amount"], currency, lang)
                )
            node.add(
                label(
                    f"{_('Payment', lang)} {p['payment_id']} · {p['paid_at']:%Y-%m-%d} · {part} · "
                    f"{match_method_label(p['match_method'], lang)}{conf}",
                    depth,
                )
            )

    def add_deals(node: Tree, lead_id: str | None, depth: int) -> None:
        for d in deals_by_lead.get(lead_id, []):
            closed = "" if d["closed_at"] is None else f" {d['closed_at']:%Y-%m-%d}"
            text = (
                f"{_('Deal', lang)} {d['deal_id']} · {_(d['status'], lang)}{closed} · {fmt_money(d['amount'], currency, lang)}"
                f" · {_('Paid', lang)} {fmt_money(d['paid'], currency, lang)} ({_(d['paid_state'], lang)})"
            )
            who = customer_text(d, lang)
            text += f" · {who}" if who else ""
            add_payments(node.add(label(text, depth)), d["deal_id"], depth + 1)

    touches_by_lead: dict[str, list[dict[str, Any]]] = {}
    for t in tr.touches:
        touches_by_lead.setdefault(t["conversion_id"], []).append(t)
    for lead in tr.leads:
        via = lead_method_label(lead["link_method"], lang, lead["channel"] in direct_channels)
        if lead["link_visit_id"]:
            via += f" ({lead['link_visit_id']})"
        node = root.add(
            label(
                f"{_('Lead', lang)} {lead['lead_id']} · {_ts(lead['created_at'])} · "
                f"{campaign_name(lead['channel'], lead['campaign'], lang)} · {_('linked by', lang)}: {via}"
                + (f" · {customer_text(lead, lang)}" if lead.get("customer_id") else ""),
                1,
            )
        )
        visits = node.add(label(_("Visits before the lead", lang), 2))
        for t in touches_by_lead.get(lead["lead_id"], []):
            if t["touch_kind"] == "visit":
                visits.add(
                    label(
                        f"{_ts(t['ts'])} · {t['visit_id']} · {campaign_name(t['channel'], t['campaign'], lang)}",
                        3,
                    )
                )
        if not any(t["touch_kind"] == "visit" for t in touches_by_lead.get(lead["lead_id"], [])):
            visits.add(label(_("none in the lookback window", lang), 3))
        add_deals(node, lead["lead_id"], 2)
    known_leads = {lead["lead_id"] for lead in tr.leads}
    for lead_id in deals_by_lead:
        if lead_id not in known_leads:
            add_deals(
                root.add(label(_("Lead {id} is not in the warehouse", lang, id=lead_id), 1)), lead_id, 2
            )
    add_payments(root, None, 1)
    return root

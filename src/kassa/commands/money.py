"""``kassa money`` (revenue three ways, the gaps, match quality) and ``kassa trail`` (one item's chain)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.tree import Tree

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    PeriodOption,
    check_lang,
    console,
    open_warehouse,
    print_json,
)
from kassa.i18n import Translator, fmt_money, fmt_number, fmt_percent
from kassa.period import Period

if TYPE_CHECKING:  # the money trail is Ibis over DuckDB: only `kassa money` and `kassa trail` load it
    from kassa.link.money import MoneyView
    from kassa.link.quality import MatchQuality
    from kassa.link.trail import Trail
    from kassa.metrics.compute import MetricTable

_ = Translator("money")

LIST_LIMIT = 10
# Below this share of revenue matched to a bank payment, ROMI on paid revenue is flagged as shaky.
WEAK_MATCH_SHARE = 0.8
_METRICS = ["marketing_cost", "revenue", "paid_revenue", "unpaid_won", "romi", "romi_paid"]


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


def _share(part: float | None, whole: float | None, lang: str) -> str:
    if part is None or not whole:
        return fmt_percent(None, lang)
    return fmt_percent(part / whole, lang)


# -- kassa money ------------------------------------------------------------------------------------------
def _revenue_table(view: MoneyView, metrics: MetricTable, lang: str) -> Table:
    cur = view.currency
    t = Table(title=_("Revenue three ways — {period}", lang, period=view.period.label), title_justify="left")
    for head in (
        _("Channel", lang),
        _("Won (CRM)", lang),
        _("Invoiced", lang),
        _("Paid (bank)", lang),
        _("Won but unpaid", lang),
        _("Paid share", lang),
        _("Marketing cost", lang),
        _("ROMI", lang),
        _("ROMI on paid", lang),
    ):
        t.add_column(head, justify="left" if head == _("Channel", lang) else "right")
    money = {r["channel"]: r for r in view.by_channel.to_dicts()}
    romi = {r["channel"]: r for r in metrics.rows()}
    for ch in sorted(set(money) | {c for c, r in romi.items() if r["marketing_cost"] or r["revenue"]}):
        m, k = money.get(ch, {}), romi.get(ch, {})
        t.add_row(
            ch,
            fmt_money(m.get("won", 0.0), cur, lang),
            fmt_money(m.get("invoiced", 0.0), cur, lang),
            fmt_money(m.get("paid", 0.0), cur, lang),
            fmt_money(m.get("unpaid", 0.0), cur, lang),
            fmt_percent(m.get("paid_share"), lang),
            fmt_money(k.get("marketing_cost"), cur, lang),
            fmt_number(k.get("romi"), lang, 2),
            fmt_number(k.get("romi_paid"), lang, 2),
        )
    tot, kt = view.total, metrics.total
    t.add_section()
    t.add_row(
        _("Total", lang),
        fmt_money(tot["won"], cur, lang),
        fmt_money(tot["invoiced"], cur, lang),
        fmt_money(tot["paid"], cur, lang),
        fmt_money(tot["unpaid"], cur, lang),
        fmt_percent(tot["paid_share"], lang),
        fmt_money(kt.get("marketing_cost"), cur, lang),
        fmt_number(kt.get("romi"), lang, 2),
        fmt_number(kt.get("romi_paid"), lang, 2),
        style="bold",
    )
    return t


def _cash_table(view: MoneyView, lang: str) -> Table:
    cur = view.currency
    t = Table(
        title=_("Money received in {period}: where it went", lang, period=view.period.label),
        title_justify="left",
    )
    t.add_column(_("Part", lang))
    t.add_column(_("Amount", lang), justify="right")
    labels = {
        "won_in_period": _("paid deals won in this period", lang),
        "won_other_period": _("paid deals won in another period", lang),
        "not_won": _("paid deals not won (open or lost): prepayments", lang),
        "refunds": _("refunds", lang),
        "unmatched": _("matched to no deal", lang),
    }
    for part, label in labels.items():
        t.add_row(label, fmt_money(view.cash[part], cur, lang))
    t.add_section()
    t.add_row(_("Received", lang), fmt_money(view.cash["received"], cur, lang), style="bold")
    return t


def _gap_tables(view: MoneyView, lang: str) -> list[Table]:
    cur = view.currency
    out = []
    unpaid = Table(
        title=_("Won but unpaid: {amount}", lang, amount=fmt_money(view.total["unpaid"], cur, lang)),
        title_justify="left",
    )
    for head in (
        _("Deal", lang),
        _("Channel", lang),
        _("Won on", lang),
        _("Amount", lang),
        _("Paid", lang),
        _("Unpaid", lang),
        _("State", lang),
        _("Invoice", lang),
    ):
        unpaid.add_column(head)
    for r in view.unpaid_deals.to_dicts():
        unpaid.add_row(
            r["deal_id"],
            r["channel"],
            f"{r['closed_at']:%Y-%m-%d}",
            fmt_money(r["amount"], cur, lang),
            fmt_money(r["paid"], cur, lang),
            fmt_money(r["outstanding"], cur, lang),
            _(r["paid_state"], lang),
            r["invoice"] or "—",
        )
    out.append(unpaid)
    loose = Table(
        title=_(
            "Paid but matched to no deal: {amount}", lang, amount=fmt_money(view.cash["unmatched"], cur, lang)
        ),
        title_justify="left",
    )
    for head in (
        _("Payment", lang),
        _("Date", lang),
        _("Amount", lang),
        _("Payer INN", lang),
        _("Purpose", lang),
    ):
        loose.add_column(head)
    for r in view.unmatched_payments.to_dicts():
        loose.add_row(
            r["payment_id"],
            f"{r['paid_at']:%Y-%m-%d}",
            fmt_money(r["amount"], cur, lang),
            r["payer_inn"] or "—",
            r["purpose"] or "—",
        )
    out.append(loose)
    return out


def _quality_table(q: MatchQuality, currency: str, lang: str) -> Table:
    t = Table(title=_("Match quality — {period}", lang, period=q.period.label), title_justify="left")
    t.add_column(_("Link", lang))
    t.add_column(_("Method", lang))
    t.add_column(_("Count", lang), justify="right")
    t.add_column(_("Amount", lang), justify="right")
    t.add_column(_("Share", lang), justify="right")
    for m, n in q.leads_by_method.items():
        t.add_row(
            _("visit → lead", lang),
            lead_method_label(m, lang),
            fmt_number(n, lang),
            "",
            _share(n, q.leads, lang),
        )
    t.add_section()
    for m, amount in q.paid_by_method.items():
        t.add_row(
            _("revenue → payment", lang),
            match_method_label(m, lang),
            "",
            fmt_money(amount, currency, lang),
            _share(amount, q.revenue, lang),
        )
    t.add_section()
    for m, v in q.payments_by_method.items():
        t.add_row(
            _("payment → deal", lang),
            match_method_label(m, lang),
            fmt_number(v["count"], lang),
            fmt_money(v["amount"], currency, lang),
            _share(v["amount"], q.payments_amount, lang),
        )
    return t


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


# -- kassa trail ------------------------------------------------------------------------------------------
def _ts(v: Any) -> str:
    return "—" if v is None else f"{v:%Y-%m-%d %H:%M}"


def _trail_tree(tr: Trail, currency: str, lang: str, direct_channels: list[str]) -> Tree:
    kind = {"lead": _("lead", lang), "deal": _("deal", lang), "payment": _("payment", lang)}[tr.kind]
    root = Tree(_("Trail of {kind} {id}", lang, kind=kind, id=tr.item_id), guide_style="dim")
    pays_by_deal: dict[str | None, list[dict[str, Any]]] = {}
    for p in tr.payments:
        pays_by_deal.setdefault(p["deal_id"], []).append(p)
    deals_by_lead: dict[str | None, list[dict[str, Any]]] = {}
    for d in tr.deals:
        deals_by_lead.setdefault(d["lead_id"], []).append(d)

    def add_payments(node: Tree, deal_id: str | None) -> None:
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
                f"{_('Payment', lang)} {p['payment_id']} · {p['paid_at']:%Y-%m-%d} · {part} · "
                f"{match_method_label(p['match_method'], lang)}{conf}"
            )

    def add_deals(node: Tree, lead_id: str | None) -> None:
        for d in deals_by_lead.get(lead_id, []):
            closed = "" if d["closed_at"] is None else f" {d['closed_at']:%Y-%m-%d}"
            text = (
                f"{_('Deal', lang)} {d['deal_id']} · {_(d['status'], lang)}{closed} · {fmt_money(d['amount'], currency, lang)}"
                f" · {_('Paid', lang)} {fmt_money(d['paid'], currency, lang)} ({_(d['paid_state'], lang)})"
            )
            add_payments(node.add(text), d["deal_id"])

    touches_by_lead: dict[str, list[dict[str, Any]]] = {}
    for t in tr.touches:
        touches_by_lead.setdefault(t["conversion_id"], []).append(t)
    for lead in tr.leads:
        via = lead_method_label(lead["link_method"], lang, lead["channel"] in direct_channels)
        if lead["link_visit_id"]:
            via += f" ({lead['link_visit_id']})"
        node = root.add(
            f"{_('Lead', lang)} {lead['lead_id']} · {_ts(lead['created_at'])} · {lead['channel']} / {lead['campaign']}"
            f" · {_('linked by', lang)}: {via}"
        )
        visits = node.add(_("Visits before the lead", lang))
        for t in touches_by_lead.get(lead["lead_id"], []):
            if t["touch_kind"] == "visit":
                visits.add(f"{_ts(t['ts'])} · {t['visit_id']} · {t['channel']} / {t['campaign']}")
        if not any(t["touch_kind"] == "visit" for t in touches_by_lead.get(lead["lead_id"], [])):
            visits.add(_("none in the lookback window", lang))
        add_deals(node, lead["lead_id"])
    known_leads = {lead["lead_id"] for lead in tr.leads}
    for lead_id in deals_by_lead:
        if lead_id not in known_leads:
            add_deals(root.add(_("Lead {id} is not in the warehouse", lang, id=lead_id)), lead_id)
    add_payments(root, None)
    return root


def register(app: typer.Typer) -> None:
    @app.command("money")
    def money(
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        show_all: Annotated[
            bool,
            typer.Option(
                "--all", help="List every unpaid deal and unmatched payment (default: the 10 largest)."
            ),
        ] = False,
        as_json: JsonOption = False,
        lang: LangOption = "en",
    ) -> None:
        """Revenue three ways — CRM won, invoiced, paid (confirmed by the bank) — with the gaps and match quality.

        Example: kassa money --db shop.duckdb --period 2026-10
        """
        from kassa.link.money import money_view
        from kassa.link.quality import match_quality
        from kassa.metrics.compute import compute, sources

        check_lang(lang)
        p = Period.parse(period)
        with open_warehouse(db, config) as wh:
            metrics = compute(wh, _METRICS, "channel", p)
            # The stitching the metrics just built (memoised on the open warehouse): one chain for all.
            chain = sources(wh, wh.settings).chain
            view = money_view(chain, wh, p, limit=None if show_all or as_json else LIST_LIMIT)
            quality = match_quality(chain, p)
        if as_json:
            print_json(
                {
                    "period": p.label,
                    "money": view.to_json(),
                    "metrics": metrics.to_json(),
                    "quality": quality.to_json(),
                }
            )
            return
        cur = view.currency
        console.print(_revenue_table(view, metrics, lang))
        console.print(
            _(
                "Won − paid = unpaid − overpaid: {won} − {paid} = {unpaid} − {over}",
                lang,
                won=fmt_money(view.total["won"], cur, lang),
                paid=fmt_money(view.total["paid"], cur, lang),
                unpaid=fmt_money(view.total["unpaid"], cur, lang),
                over=fmt_money(view.total["overpaid"], cur, lang),
            )
        )
        console.print(_cash_table(view, lang))
        for t in _gap_tables(view, lang):
            console.print(t)
        console.print(_quality_table(quality, cur, lang))
        for line in quality_sentences(quality, lang):
            console.print(line)
        for w in view.warnings + quality.warnings + metrics.warnings:
            console.print(f"[yellow]{_('warning', lang)}:[/] {w}")

    @app.command("trail")
    def trail_cmd(
        item_id: Annotated[
            str, typer.Argument(help="A lead, deal or payment id.", metavar="LEAD_OR_DEAL_OR_PAYMENT_ID")
        ],
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        kind: Annotated[
            str | None, typer.Option("--kind", help="lead, deal or payment, when the id is ambiguous.")
        ] = None,
        as_json: JsonOption = False,
        lang: LangOption = "en",
    ) -> None:
        """The whole chain of one lead, deal or payment: visits, lead, deals, payments, and how each link was made.

        Example: kassa trail --db shop.duckdb P-1042
        """
        from kassa.link.chain import Chain
        from kassa.link.trail import KINDS, trail

        check_lang(lang)
        if kind is not None and kind not in KINDS:
            raise typer.BadParameter(f"use one of {', '.join(KINDS)}", param_hint="--kind")
        with open_warehouse(db, config) as wh, Chain(wh, materialize=True) as chain:
            tr = trail(chain, item_id, kind)
            cur, direct = wh.settings.currency, list(wh.settings.direct_channels)
        if as_json:
            print_json(tr.to_json())
            return
        console.print(_trail_tree(tr, cur, lang, direct))
        notes = {
            "lead_missing": _("The deal's lead is not in the warehouse: its visits cannot be traced.", lang),
            "payment_unmatched": _(
                "This payment is matched to no deal: see `kassa money` for the list.", lang
            ),
        }
        for n in tr.notes:
            console.print(notes.get(n, n))
        if tr.also_found_as:
            console.print(
                _("The id is also a {kinds}: use --kind to choose.", lang, kinds=", ".join(tr.also_found_as))
            )

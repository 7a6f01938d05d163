"""``kassa money`` (revenue three ways, the gaps, match quality) and ``kassa trail`` (one record's part of the money trail).

The tables and the tree are built in :mod:`kassa.report.money_tables`; this module parses options,
computes, prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ColumnsOption,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    PeriodOption,
    WideOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator
from kassa.period import Period
from kassa.report.layout import check_columns, parse_columns, print_grids, print_prose

_ = Translator("money")

LIST_LIMIT = 10


@COMMANDS.register(name="money")
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
        columns: ColumnsOption = None,
        wide: WideOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Revenue three ways — CRM won, invoiced, paid (confirmed by the bank) — with the gaps and match quality.

        Example: kassa money --db shop.duckdb --period 2026-10
        """
        from kassa.link.money import money_view
        from kassa.link.quality import match_quality
        from kassa.metrics.compute import base_tables, compute
        from kassa.report.money_tables import (
            METRICS,
            balance_line,
            money_grids,
            quality_sentences,
            revenue_grid,
        )
        from kassa.report.terminal import footnotes

        p = Period.parse(period)
        with open_warehouse(db, config) as wh:
            metrics = compute(wh, METRICS, "channel", p)
            # The money trail the metrics just built (memoised on the open warehouse): one for all.
            chain = base_tables(wh, wh.settings).chain
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
        revenue, rest = revenue_grid(view, metrics, lang), money_grids(view, metrics, quality, lang)
        shown = parse_columns(columns)
        check_columns([revenue, *rest], shown)
        print_grids(console, [revenue], columns=shown, wide=wide)
        print_prose(console, balance_line(view, lang), hanging="  ")
        console.print()
        print_grids(console, rest, columns=shown, wide=wide)
        console.print()
        for line in quality_sentences(quality, lang):
            print_prose(console, line)
        for line in footnotes(metrics, lang=lang, currency=wh.settings.currency):
            print_prose(console, line, hanging="  ", style="yellow")
        for w in view.warnings + quality.warnings + metrics.warnings:
            print_prose(console, f"{_('warning', lang)}: {w}", hanging="  ", style="yellow")

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
        lang: LangOption = Lang.EN,
    ) -> None:
        """The whole trail of one lead, deal or payment: visits, lead, deals, payments, and how each link was made.

        Example: kassa trail --db shop.duckdb P-1042
        """
        from kassa.link.trail import RECORD_KINDS, trail
        from kassa.metrics.compute import base_tables
        from kassa.report.money_tables import trail_tree

        if kind is not None and kind not in RECORD_KINDS:
            raise typer.BadParameter(f"use one of {', '.join(RECORD_KINDS)}", param_hint="--kind")
        with open_warehouse(db, config) as wh:
            tr = trail(base_tables(wh, wh.settings).chain, item_id, kind)
            cur, direct = wh.settings.currency, list(wh.settings.direct_channels)
        if as_json:
            print_json(tr.to_json())
            return
        console.print(trail_tree(tr, cur, lang, direct, console.width), highlight=False)
        notes = {
            "lead_missing": _("The deal's lead is not in the warehouse: its visits cannot be traced.", lang),
            "payment_unmatched": _(
                "This payment is matched to no deal: see `kassa money` for the list.", lang
            ),
        }
        for n in tr.notes:
            print_prose(console, notes.get(n, n))
        if tr.also_found_as:
            print_prose(
                console,
                _("The id is also a {kinds}: use --kind to choose.", lang, kinds=", ".join(tr.also_found_as)),
            )

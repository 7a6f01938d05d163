"""``kassa fx sync``: official exchange rates for the months the warehouse's foreign amounts need.

What is fetched and how it is stored is :mod:`kassa.store.fx` (docs/currency.md); this module parses
options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator, fmt_number
from kassa.report.layout import Column, Grid, print_grids, print_prose

_ = Translator("cli")


@COMMANDS.register(name="fx")
def register(app: typer.Typer) -> None:
    fx = typer.Typer(help="Exchange rates for amounts in other currencies.", no_args_is_help=True)

    @fx.command("sync")
    def fx_sync(
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        cbr_url: Annotated[
            str | None,
            typer.Option(
                "--cbr-url",
                help="Base URL of the Bank of Russia's XML scripts (a mirror; default: www.cbr.ru/scripts).",
                envvar="KASSA_CBR_URL",
            ),
        ] = None,
        ecb_url: Annotated[
            str | None,
            typer.Option(
                "--ecb-url",
                help="Base URL of the ECB's SDMX data API (a mirror; default: data-api.ecb.europa.eu/service).",
                envvar="KASSA_ECB_URL",
            ),
        ] = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Fetch official rates (Bank of Russia for RUB, ECB for EUR) for every currency and month the data needs.

        Each month's rate is the mean of its daily official rates; rates loaded from a file are kept.
        Example: kassa fx sync --db shop.duckdb
        """
        from kassa.store.fx import sync

        with open_warehouse(db, config, write=True) as wh:
            url = cbr_url if wh.settings.currency == "RUB" else ecb_url
            report = sync(wh, base_url=url)
        if as_json:
            print_json(report.to_json())
            return
        if report.stored:
            grid = Grid(
                _("Rates stored from the {service}", lang, service=report.service),
                [
                    Column("month", _("month", lang), number=False, key=True),
                    Column("currency", _("currency", lang), number=False),
                    Column("rate", _("rate", lang)),
                    Column("days", _("daily rates", lang)),
                ],
            )
            grid.add_rows(
                {
                    "month": f"{r.month:%Y-%m}",
                    "currency": r.currency,
                    "rate": fmt_number(r.rate, lang, 4),
                    "days": fmt_number(r.days, lang),
                }
                for r in report.stored
            )
            print_grids(console, [grid])
        elif not report.not_published:
            print_prose(console, _("Every rate the data needs is already in fx_rates.", lang))
        if report.kept and report.stored:
            print_prose(console, _("{n} rate(s) already in fx_rates were kept.", lang, n=len(report.kept)))
        if report.not_published:
            pairs = ", ".join(f"{c} {m:%Y-%m}" for c, m in report.not_published)
            print_prose(
                console,
                _(
                    "warning: the {service} has no rate for {pairs}; amounts in them stay out of the totals"
                    " (load fx_rates from a file)",
                    lang,
                    service=report.service,
                    pairs=pairs,
                ),
                hanging="  ",
                style="yellow",
            )
        if report.batch and report.batch.already_imported_as:
            print_prose(
                console,
                _(
                    "Nothing changed: the same rates are batch {batch}.",
                    lang,
                    batch=report.batch.already_imported_as,
                ),
            )

    app.add_typer(fx, name="fx")

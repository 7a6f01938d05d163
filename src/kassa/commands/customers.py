"""``kassa customers``: new vs repeat customers, CAC, LTV, LTV/CAC and payback per channel, and the cohort
triangle behind them (:mod:`kassa.metrics.customers`)."""

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
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator
from kassa.report.layout import check_columns, parse_columns, print_grids, print_prose

_ = Translator("cli")

# Written out (not imported): importing kassa.metrics loads Ibis, and `kassa --help` must not.
GROUPINGS = ("channel", "campaign", "source_medium", "manager")
TRIANGLES = ("customers", "revenue", "gross_profit")


@COMMANDS.register(name="customers")
def register(app: typer.Typer) -> None:
    @app.command("customers")
    def customers(
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        by: Annotated[
            str, typer.Option("--by", help="Group by: channel, campaign, source_medium, manager, or none.")
        ] = "channel",
        horizon: Annotated[
            int | None,
            typer.Option(
                "--horizon", help="Months of a customer's life LTV and payback count (default: settings, 12)."
            ),
        ] = None,
        triangle: Annotated[
            str,
            typer.Option(
                "--triangle", help="What the cohort triangle shows: customers, revenue, gross_profit."
            ),
        ] = "customers",
        cohort: Annotated[
            bool,
            typer.Option(
                "--cohort", help="New and repeat customers of the period's leads (LTV is always by cohort)."
            ),
        ] = False,
        as_json: JsonOption = False,
        columns: ColumnsOption = None,
        wide: WideOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """New vs repeat customers, CAC, LTV, LTV/CAC and payback per channel, and the cohort triangle.

        A customer is acquired by the channel of their first won deal; LTV is the gross profit (revenue
        when margins are unknown) of the customers acquired in the period over the horizon.

        Example: kassa customers --db shop.duckdb --period 2026-01..2026-06 --triangle revenue
        """
        from kassa.metrics.customers import customer_table
        from kassa.report.customer_tables import economics_grid, economics_notes, triangle_grid

        keys = [] if by.strip() in ("", "none") else [b.strip() for b in by.split(",") if b.strip()]
        for k in keys:
            if k not in GROUPINGS:
                raise typer.BadParameter(f"use {', '.join(GROUPINGS)} or none", param_hint="--by")
        if triangle not in TRIANGLES:
            raise typer.BadParameter(f"use one of {', '.join(TRIANGLES)}", param_hint="--triangle")
        if horizon is not None and not 1 <= horizon <= 120:
            raise typer.BadParameter("between 1 and 120 months", param_hint="--horizon")
        with open_warehouse(db, config) as wh:
            st = wh.settings
            if horizon is not None:
                st = st.model_copy(update={"customer_horizon_months": horizon})
            try:
                table = customer_table(wh, period, keys, view="cohort" if cohort else "calendar", settings=st)
            except ValueError as e:
                raise KassaError(str(e)) from e
            currency = st.currency
        if as_json:
            print_json(table.to_json())
            return
        grids = [economics_grid(table, lang=lang, currency=currency)]
        shown = parse_columns(columns)
        check_columns(grids, shown)
        print_grids(console, grids, columns=shown, wide=wide)
        for line in economics_notes(table, lang=lang):
            print_prose(console, line, hanging="  ", style="yellow")
        console.print()
        print_grids(console, [triangle_grid(table, triangle, lang=lang, currency=currency)], wide=wide)  # type: ignore[arg-type]
        for w in table.warnings:
            print_prose(console, _("warning: {text}", lang, text=w), hanging="  ", style="yellow")

"""``kassa metrics``: the catalog's metrics for any grouping and period."""

from __future__ import annotations

import sys
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
from kassa.report.layout import Column, Grid, check_columns, parse_columns, print_grids, print_prose

_ = Translator("cli")


@COMMANDS.register(name="metrics")
def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics(
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        by: Annotated[
            str,
            typer.Option(
                # DIMENSIONS written out: importing it loads Ibis (tests/test_cli_startup.py checks the list).
                "--by",
                help="Group by: channel, campaign, source_medium, month, manager (comma-separated).",
            ),
        ] = "channel",
        metric: Annotated[
            str | None, typer.Option("--metrics", help="Comma-separated metric names (default: all).")
        ] = None,
        cohort: Annotated[
            bool, typer.Option("--cohort", help="Cohort view: what the period's leads became, whenever.")
        ] = False,
        settle_days: Annotated[
            int | None,
            typer.Option("--settle-days", help="Cohort view: count outcomes within N days of the lead."),
        ] = None,
        as_json: JsonOption = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
        columns: ColumnsOption = None,
        wide: WideOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Money KPIs next to activity metrics, per channel, campaign, source/medium, month or manager.

        Example: kassa metrics --db shop.duckdb --by channel --period 2026-10
        """
        from kassa.metrics.catalog import get_metric
        from kassa.metrics.compute import compute
        from kassa.report.terminal import footnotes, money_and_activity

        names = [get_metric(m).name for m in parse_columns(metric) or []] or None
        shown = [get_metric(m).name for m in parse_columns(columns) or []] or None
        if shown and names and set(shown) - set(names):
            raise KassaError(f"--columns {', '.join(sorted(set(shown) - set(names)))}: not among --metrics")
        if shown and not names and not (as_json or as_csv):
            names = shown  # only what is shown needs computing
        with open_warehouse(db, config) as wh:
            table = compute(
                wh, names, by, period, view="cohort" if cohort else "calendar", settle_days=settle_days
            )
            currency = wh.settings.currency
        if as_json:
            print_json(table.to_json())
            return
        if as_csv:
            from kassa.report.blocks import metric_row
            from kassa.report.csvfile import MARK_COLUMNS, marked_cells, rows_csv

            keys = list(table.frame.columns)
            rows = (marked_cells(metric_row(table, r, keys), keys) for r in table.rows())
            # Text that starts like a formula is quoted; which figures are estimates or incomplete is in
            # two trailing columns, so every number stays a number.
            sys.stdout.write(rows_csv([*keys, *MARK_COLUMNS], rows))
            return
        print_grids(
            console, money_and_activity(table, lang=lang, currency=currency, columns=shown), wide=wide
        )
        for line in footnotes(table, lang=lang, currency=currency):
            print_prose(console, line, hanging="  ", style="yellow")
        for w in table.warnings:
            print_prose(console, _("warning: {text}", lang, text=w), hanging="  ", style="yellow")

    @app.command("catalog")
    def catalog(
        lang: LangOption = Lang.EN,
        as_json: JsonOption = False,
        columns: ColumnsOption = None,
        wide: WideOption = False,
    ) -> None:
        """List every metric with its tier, unit, formula and meaning.

        Example: kassa catalog --lang ru
        """
        from kassa.metrics.catalog import visible_metrics

        ms = visible_metrics()
        if as_json:
            print_json(
                [
                    {
                        "name": m.name,
                        "tier": m.tier.value,
                        "unit": m.unit,
                        "better": m.better,
                        "formula": m.rule(),
                        "label": m.label(lang),
                        "explain": m.explain(lang),
                    }
                    for m in ms
                ]
            )
            return
        grid = Grid(
            _("Metric catalog", lang),
            [
                Column("name", _("Name", lang), number=False, key=True),
                Column("tier", _("Tier", lang), number=False),
                Column("label", _("Label", lang), number=False),
                Column("formula", _("Formula", lang), number=False),
                Column("meaning", _("Meaning", lang), number=False),
            ],
            default=("tier", "label", "meaning"),
        )
        grid.add_rows(
            {
                "name": m.name,
                "tier": m.tier.value,
                "label": m.label(lang),
                "formula": m.rule() or _("(measured)", lang),
                "meaning": m.explain(lang),
            }
            for m in ms
        )
        shown = parse_columns(columns)
        check_columns([grid], shown)
        print_grids(console, [grid], columns=shown, wide=wide)

"""``kassa metrics``: the catalog's metrics for any grouping and period."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

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


def register(app: typer.Typer) -> None:
    @app.command("metrics")
    def metrics(
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        by: Annotated[
            str,
            # DIMENSIONS written out: importing it loads Ibis (tests/test_cli.py checks the list).
            typer.Option(
                "--by", help="Group by: channel, campaign, source_medium, month, manager (comma-separated)."
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
        lang: LangOption = "en",
    ) -> None:
        """Money KPIs next to activity metrics, per channel, campaign, source/medium, month or manager.

        Example: kassa metrics --db shop.duckdb --by channel --period 2026-10
        """
        from kassa.metrics.compute import compute
        from kassa.report.terminal import money_and_activity

        check_lang(lang)
        names = [m.strip() for m in metric.split(",")] if metric else None
        with open_warehouse(db, config) as wh:
            table = compute(
                wh, names, by, period, view="cohort" if cohort else "calendar", settle_days=settle_days
            )
            currency = wh.settings.currency
        if as_json:
            print_json(table.to_json())
            return
        if as_csv:
            table.frame.write_csv(sys.stdout)
            return
        for t in money_and_activity(table, lang=lang, currency=currency):
            console.print(t)
        for w in table.warnings:
            console.print(f"[yellow]warning:[/] {w}")

    @app.command("catalog")
    def catalog(lang: LangOption = "en", as_json: JsonOption = False) -> None:
        """List every metric with its tier, unit, formula and meaning.

        Example: kassa catalog --lang ru
        """
        from kassa.metrics.catalog import visible_metrics

        check_lang(lang)
        ms = visible_metrics()
        if as_json:
            print_json(
                [
                    {
                        "name": m.name,
                        "tier": m.tier.value,
                        "unit": m.unit,
                        "better": m.better,
                        "formula": m.formula,
                        "label": m.label(lang),
                        "explain": m.explain(lang),
                    }
                    for m in ms
                ]
            )
            return
        from rich.table import Table

        t = Table(title="Metric catalog")
        for c in ("name", "tier", "label", "formula", "meaning"):
            t.add_column(c)
        for m in ms:
            t.add_row(m.name, m.tier.value, m.label(lang), m.formula or "(measured)", m.explain(lang))
        console.print(t)

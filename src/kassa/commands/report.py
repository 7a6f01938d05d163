"""``kassa report``: the month-end report as one self-contained HTML file or a spreadsheet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    LangOption,
    PeriodOption,
    console,
    open_warehouse,
)
from kassa.commands import COMMANDS
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator
from kassa.report.layout import print_prose

_ = Translator("report")

FORMATS = ("html", "xlsx", "json")


def output_format(out: Path | None, fmt: str | None) -> str:
    """``--format`` if given, else the output file's extension, else html."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
        return fmt
    if out is not None and out.suffix.lower() in (".xlsx", ".json"):
        return out.suffix.lower()[1:]
    return "html"


@COMMANDS.register(name="report")
def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Output file (default: report-PERIOD.html, .xlsx or .json)."),
        ] = None,
        fmt: Annotated[
            str | None, typer.Option("--format", help="html, xlsx or json (default: from --out's extension).")
        ] = None,
        lang: LangOption = Lang.EN,
        cohort: Annotated[
            bool, typer.Option("--cohort", help="Cohort view: what the period's leads became, whenever.")
        ] = False,
        settle_days: Annotated[
            int | None,
            typer.Option("--settle-days", help="Cohort view: count outcomes within N days of the lead."),
        ] = None,
        title: Annotated[
            str | None, typer.Option("--title", help="Report title (default: from the warehouse file name).")
        ] = None,
        charts: Annotated[
            str,
            typer.Option(
                "--charts",
                help="HTML charts: js (interactive, inline JavaScript) or svg (static, no JavaScript).",
            ),
        ] = "js",
        contract: Annotated[
            list[str] | None,
            typer.Option(
                "--contract",
                # kassa.kpi.EXAMPLES written out: importing it loads Ibis (tests/test_cli_startup.py checks the list).
                help="KPI contract to score, side by side with the others (a YAML file or a shipped example: pays_for_activity, pays_for_money); repeatable.",
            ),
        ] = None,
        no_diagnosis: Annotated[
            bool, typer.Option("--no-diagnosis", help="Leave out the diagnosis section.")
        ] = False,
    ) -> None:
        """The month-end report: headline, diagnosis, funnel per channel, spend vs revenue, money vs activity,
        KPI scorecards, activity apart.

        One HTML file that opens with no network (or --format xlsx: the same tables as sheets; --format json:
        the same report as data).

        Example: kassa report --db shop.duckdb --period 2026-10 --out reports/2026-10.html --lang ru
        --contract pays_for_activity --contract pays_for_money
        """
        from kassa.kpi.saved import resolve_contract
        from kassa.report.html import render_html
        from kassa.report.model import build_report
        from kassa.report.xlsx import render_xlsx

        kind = output_format(out, fmt)
        if charts not in ("js", "svg"):
            raise typer.BadParameter("use js or svg", param_hint="--charts")
        contracts = [resolve_contract(c) for c in contract or []]  # a bad contract fails before any query
        target = out or Path(f"report-{period.replace('..', '_')}.{kind}")
        with open_warehouse(db, config) as wh:
            data = build_report(
                wh,
                period,
                lang,
                view="cohort" if cohort else "calendar",
                settle_days=settle_days,
                title=title,
                diagnosis=not no_diagnosis,
                contracts=contracts,
            )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if kind == "xlsx":
                render_xlsx(data, target)
            elif kind == "json":
                target.write_text(
                    json.dumps(data.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
                )
            else:
                target.write_text(
                    render_html(data, charts="svg" if charts == "svg" else "js"), encoding="utf-8"
                )
        except OSError as exc:
            raise KassaError(f"cannot write {target}: {exc.strerror or exc}") from None
        print_prose(console, _("Wrote {path} ({period})", lang, path=str(target), period=data.period.label))
        for w in data.warnings:
            print_prose(console, _("warning: {text}", lang, text=w), hanging="  ", style="yellow")

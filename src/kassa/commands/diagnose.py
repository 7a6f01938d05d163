"""``kassa diagnose``: the activity illusion and where the funnel breaks, significant findings first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    PeriodOption,
    console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator, fmt_percent
from kassa.report.layout import print_prose

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
    from kassa.diagnose import Diagnosis, Finding

_ = Translator("diagnose")


@COMMANDS.register(name="diagnose")
def register(app: typer.Typer) -> None:
    @app.command("diagnose")
    def diagnose(
        period: PeriodOption,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        vs: Annotated[
            str | None, typer.Option("--vs", help="Compare with this period (default: the one just before).")
        ] = None,
        kind: Annotated[
            str | None,
            typer.Option("--kind", help="Only these finding kinds, comma-separated (default: all)."),
        ] = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Where did the money go? Activity illusion, funnel breaks, vanity activity and junk traffic, per
        channel, campaign and sales manager, against the previous period; findings that could be noise are
        marked as such.

        Example: kassa diagnose --db shop.duckdb --period 2026-10 --vs 2026-09
        """
        from kassa.diagnose import run

        kinds = [k.strip() for k in kind.split(",") if k.strip()] if kind else None
        with open_warehouse(db, config) as wh:
            result = run(wh, period, vs, lang=lang, kinds=kinds)
        if as_json:
            print_json([f.to_json() for f in result.findings])
            return
        print_diagnosis(result, lang)


def print_diagnosis(result: Diagnosis, lang: str) -> None:
    """Significant findings first, numbered; then the likely noise, dimmed, and how many there were.

    Every line is wrapped to the terminal's width, a finding's text under its number (hanging indent).
    """
    from kassa.diagnose import get_rules

    print_prose(
        console,
        _("Diagnosis: {period} against {vs}", lang, period=result.period.label, vs=result.vs.label),
        style="bold",
    )
    for label in result.empty_periods:
        print_prose(
            console, _("No data in {period}: nothing to compare.", lang, period=label), style="yellow"
        )
    for w in result.warnings:
        print_prose(console, f"{_('warning', lang)}: {w}", hanging="  ", style="yellow")
    sig, noise = result.significant, result.noise
    summary = _(
        "{significant} finding(s) stand out from noise, {noise} more could be noise ({tests} tests, false discovery rate {alpha}).",
        lang,
        significant=len(sig),
        noise=len(noise),
        tests=result.tests,
        alpha=fmt_percent(result.alpha, lang, 0),
    )
    print_prose(console, summary)
    if not result.findings:
        print_prose(console, _("Nothing stands out: every change is within noise.", lang))
        return
    titles = {r.kind: r.title(lang) for r in get_rules()}
    for i, f in enumerate(sig, 1):
        console.print()
        number = f"{i}. "
        hang = " " * len(number)
        print_prose(
            console,
            f"{titles.get(f.kind, f.kind)} · {_header(f, lang)}",
            indent=number,
            hanging=hang,
            style="bold",
        )
        print_prose(console, f.message, indent=hang, hanging=hang)
    if noise:
        console.print()
        print_prose(console, _("Likely noise ({count}):", lang, count=len(noise)), style="dim")
        for f in noise:
            print_prose(
                console,
                f"{titles.get(f.kind, f.kind)}: {f.message}",
                indent="   · ",
                hanging="     ",
                style="dim",
            )


def _header(f: Finding, lang: str) -> str:
    from kassa.diagnose.text import responsible_label, stage_label

    return _(
        "step: {stage} · whose side: {who}",
        lang,
        stage=stage_label(f.stage, lang),
        who=responsible_label(f.responsible, lang),
    )

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
    check_lang,
    console,
    open_warehouse,
    print_json,
)
from kassa.i18n import Translator, fmt_percent

if TYPE_CHECKING:  # the rules import SciPy and Ibis: only `kassa diagnose` loads them
    from kassa.diagnose import Diagnosis, Finding

_ = Translator("diagnose")


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
        lang: LangOption = "en",
    ) -> None:
        """Where did the money go? Activity illusion, funnel breaks, vanity activity and junk traffic, per
        channel, campaign and sales manager, against the previous period; findings that could be noise are
        marked as such.

        Example: kassa diagnose --db shop.duckdb --period 2026-10 --vs 2026-09
        """
        from kassa.diagnose import run

        check_lang(lang)
        kinds = [k.strip() for k in kind.split(",") if k.strip()] if kind else None
        with open_warehouse(db, config) as wh:
            result = run(wh, period, vs, lang=lang, kinds=kinds)
        if as_json:
            print_json([f.to_json() for f in result.findings])
            return
        print_diagnosis(result, lang)


def print_diagnosis(result: Diagnosis, lang: str) -> None:
    """Significant findings first, numbered; then the likely noise, dimmed, and how many there were."""
    from kassa.diagnose import get_rules

    console.print(
        f"[bold]{_('Diagnosis: {period} against {vs}', lang, period=result.period.label, vs=result.vs.label)}[/]"
    )
    for label in result.empty_periods:
        console.print(f"[yellow]{_('No data in {period}: nothing to compare.', lang, period=label)}[/]")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    sig, noise = result.significant, result.noise
    summary = _(
        "{significant} finding(s) stand out from noise, {noise} more could be noise ({tests} tests, false discovery rate {alpha}).",
        lang,
        significant=len(sig),
        noise=len(noise),
        tests=result.tests,
        alpha=fmt_percent(result.alpha, lang, 0),
    )
    console.print(summary, highlight=False)
    if not result.findings:
        console.print(_("Nothing stands out: every change is within noise.", lang))
        return
    titles = {r.kind: r.title(lang) for r in get_rules()}
    for i, f in enumerate(sig, 1):
        console.print()
        console.print(f"[bold]{i}. {titles.get(f.kind, f.kind)}[/] · {_header(f, lang)}", highlight=False)
        console.print(f"   {f.message}", highlight=False, soft_wrap=True)
    if noise:
        console.print()
        console.print(f"[dim]{_('Likely noise ({count}):', lang, count=len(noise))}[/]")
        for f in noise:
            console.print(
                f"[dim]   · {titles.get(f.kind, f.kind)}: {f.message}[/]", highlight=False, soft_wrap=True
            )


def _header(f: Finding, lang: str) -> str:
    from kassa.diagnose.text import responsible_label, stage_label

    return _(
        "step: {stage} · whose side: {who}",
        lang,
        stage=stage_label(f.stage, lang),
        who=responsible_label(f.responsible, lang),
    )

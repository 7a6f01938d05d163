"""``kassa demo``: the embedded demo company, end to end — generate, load, report, headline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kassa.cli_common import LangOption, check_lang, console
from kassa.i18n import Translator
from kassa.metrics.compute import compute
from kassa.report.terminal import money_and_activity

_ = Translator("cli")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        db: Annotated[Path, typer.Option("--db", help="Where to build the demo warehouse.")] = Path(
            "kassa-demo.duckdb"
        ),
        out: Annotated[Path, typer.Option("--out", help="Folder for the month-end report.")] = Path(
            "reports"
        ),
        lang: LangOption = "en",
        seed: Annotated[
            int, typer.Option("--seed", help="Random seed of the generator (same seed, same company).")
        ] = 7,
        healthy: Annotated[
            bool, typer.Option("--healthy", help="A company without the planted story, for comparison.")
        ] = False,
        no_serve: Annotated[
            bool, typer.Option("--no-serve", help="Do not start the dashboard afterwards.")
        ] = False,
    ) -> None:
        """Build the demo company, load it like user data, write its month-end report and print the headline.

        Example: kassa demo --lang ru --no-serve
        """
        check_lang(lang)
        from kassa import demo as company
        from kassa.kpi import EXAMPLES, example_path, load_contract
        from kassa.report.html import render_html
        from kassa.report.model import build_report

        started = time.perf_counter()
        csv_dir = db.with_suffix("").with_name(db.stem + "-csv")
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(_("Generating the demo company", lang), total=3)
            wh = company.load(
                db,
                seed=seed,
                plant=not healthy,
                folder=csv_dir,
                progress=lambda message: progress.update(task, description=message),
            )
            try:
                progress.update(task, advance=1, description=_("Computing the month", lang))
                period = company.LAST_MONTH
                table = compute(wh, None, "channel", period)
                progress.update(task, advance=1, description=_("Writing the report", lang))
                # Both shipped contracts side by side: the one paying for activity and the one paying for money.
                contracts = [load_contract(example_path(name)) for name in EXAMPLES]
                data = build_report(wh, period, lang, title=_("Demo company", lang), contracts=contracts)
                out.mkdir(parents=True, exist_ok=True)
                report_path = out / f"kassa-demo-{period}.{lang}.html"
                report_path.write_text(render_html(data), encoding="utf-8")
                progress.update(task, advance=1)
            finally:
                wh.close()
        for t in money_and_activity(table, lang=lang, currency=data.currency):
            console.print(t)
        headline = next(
            (b for s in data.sections if s.key == "headline" for b in s.blocks if hasattr(b, "items")), None
        )
        if headline is not None:
            console.print()
            console.print(_("Where is the money — {period}", lang, period=period), style="bold")
            for line in headline.items:
                console.print(f"  • {line.text}", highlight=False, markup=False)
        console.print()
        console.print(
            _(
                "Report: {path}   Warehouse: {db}   ({seconds:.1f} s)",
                lang,
                path=str(report_path),
                db=str(db),
                seconds=time.perf_counter() - started,
            ),
            highlight=False,
            markup=False,
        )
        console.print(
            _(
                "Next: kassa metrics --db {db} --by campaign --period {period}",
                lang,
                db=str(db),
                period=period,
            ),
            highlight=False,
            markup=False,
        )

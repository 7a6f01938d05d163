"""``kassa demo``: the embedded demo company, end to end — generate, load, report, headline, dashboard.

Unless ``--no-serve``, the demo ends by serving the dashboard on 127.0.0.1 (only this computer can open
it) to a dashboard user ``demo`` (owner) with a new random password, printed in the terminal.
"""

from __future__ import annotations

import contextlib
import errno
import secrets
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kassa.cli_common import LangOption, console, settings_for
from kassa.commands import COMMANDS
from kassa.errors import KassaError
from kassa.i18n import Lang, Translator
from kassa.report.layout import print_grids, print_prose

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
    from kassa.metrics.compute import MetricTable

_ = Translator("cli")

HOST = "127.0.0.1"  # the demo's password is printed in the terminal: nobody else may reach the dashboard
DEMO_USER = "demo"


def take_port(port: int, lang: str) -> socket.socket:
    """The dashboard's port, taken before the company is built: a taken port is said at once, not later."""
    from kassa.commands.serve import open_port

    try:
        return open_port(HOST, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise KassaError(
                _(
                    "Port {port} on {host} is already in use (another kassa demo or kassa serve?). "
                    "Stop it, or choose another port: kassa demo --port {other}",
                    lang,
                    port=port,
                    host=HOST,
                    other=port + 1,
                )
            ) from None
        raise KassaError(
            _("Cannot listen on {host}:{port}: {reason}", lang, host=HOST, port=port, reason=exc.strerror)
        ) from None


def serve_demo(db: Path, sock: socket.socket, port: int, lang: str) -> None:
    """Serve the dashboard of the demo warehouse to the user ``demo`` (owner), with a new password each run."""
    from kassa.commands.serve import run_dashboard
    from kassa.web import create_app
    from kassa.web.users import UserStore

    password = secrets.token_urlsafe(12)
    UserStore.for_db(db).add(DEMO_USER, password, "owner", None, lang)
    web = create_app(db, settings_for(db, None), users_required=True, port=port)
    console.print()
    console.print(
        _(
            "Dashboard: http://{host}:{port}/  (only this computer can open it; Ctrl+C stops it)",
            lang,
            host=HOST,
            port=port,
        ),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    # One line, never wrapped: people copy the password from it (and the tests read it).
    console.print(
        _("Login: {name}   Password: {password}", lang, name=DEMO_USER, password=password),
        style="bold",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    run_dashboard(web, HOST, port, sock)


@COMMANDS.register(name="demo")
def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        db: Annotated[Path, typer.Option("--db", help="Where to build the demo warehouse.")] = Path(
            "kassa-demo.duckdb"
        ),
        out: Annotated[Path, typer.Option("--out", help="Folder for the month-end report.")] = Path(
            "reports"
        ),
        lang: LangOption = Lang.EN,
        seed: Annotated[
            int, typer.Option("--seed", help="Random seed of the generator (same seed, same company).")
        ] = 7,
        healthy: Annotated[
            bool, typer.Option("--healthy", help="A company without the planted story, for comparison.")
        ] = False,
        no_serve: Annotated[
            bool, typer.Option("--no-serve", help="Do not start the dashboard afterwards.")
        ] = False,
        port: Annotated[
            int, typer.Option("--port", help="TCP port of the dashboard (on 127.0.0.1 only).")
        ] = 8000,
    ) -> None:
        """Build the demo company, load it like user data, write its month-end report, print the headline,
        then serve the dashboard on 127.0.0.1 with a printed login (Ctrl+C stops it).

        Example: kassa demo --lang ru --no-serve
        """
        from kassa.store import Warehouse

        if db.exists():
            # A demo dashboard still running holds the warehouse: say so before generating the company for nothing.
            Warehouse.open(db).close()
        with contextlib.ExitStack() as stack:
            sock = None if no_serve else stack.enter_context(take_port(port, lang))
            _build(db, out, lang, seed, healthy)
            if sock is not None:
                serve_demo(db, sock, port, lang)


def _build(db: Path, out: Path, lang: str, seed: int, healthy: bool) -> None:
    """Generate and load the company, write its report, print the money trail and the headline."""
    from kassa import demo as company
    from kassa.kpi import EXAMPLES, example_path, load_contract
    from kassa.kpi.saved import ContractFolder
    from kassa.metrics.compute import compute
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
            # …and saved with the warehouse, so the dashboard's KPI page and `kassa kpi score NAME` have them.
            folder = ContractFolder.for_db(db)
            for name in EXAMPLES:
                folder.save(example_path(name).read_text(encoding="utf-8"))
            data = build_report(wh, period, lang, title=_("Demo company", lang), contracts=contracts)
            out.mkdir(parents=True, exist_ok=True)
            report_path = out / f"kassa-demo-{period}.{lang}.html"
            report_path.write_text(render_html(data), encoding="utf-8")
            progress.update(task, advance=1)
        finally:
            wh.close()
    headline = next(
        (b for s in data.sections if s.key == "headline" for b in s.blocks if hasattr(b, "items")), None
    )
    print_summary(
        table,
        [line.text for line in headline.items] if headline is not None else [],
        lang=lang,
        currency=data.currency,
    )
    console.print()
    print_prose(
        console,
        _(
            "Report: {path}   Warehouse: {db}   ({seconds:.1f} s)",
            lang,
            path=str(report_path),
            db=str(db),
            seconds=time.perf_counter() - started,
        ),
    )
    print_prose(
        console,
        _("Next: kassa metrics --db {db} --by campaign --period {period}", lang, db=str(db), period=period),
        hanging="  ",
    )


def print_summary(table: MetricTable, headline: list[str], *, lang: str, currency: str) -> None:
    """The demo month in the terminal: the money trail and its groups, then the report's headline lines."""
    from kassa.report.terminal import footnotes, money_and_activity

    print_grids(console, money_and_activity(table, lang=lang, currency=currency))
    for line in footnotes(table, lang=lang, currency=currency):
        print_prose(console, line, hanging="  ", style="yellow")
    if headline:
        console.print()
        print_prose(
            console, _("Where is the money — {period}", lang, period=table.period.label), style="bold"
        )
        for text in headline:
            print_prose(console, text, indent="  • ", hanging="    ")

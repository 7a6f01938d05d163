"""The ``kassa`` command line: parses options, calls the library, prints. Behaviour lives elsewhere."""

from __future__ import annotations

import os
import sys

import typer

from kassa import __version__
from kassa.cli_common import err_console
from kassa.commands import COMMANDS
from kassa.errors import KassaError

app = typer.Typer(
    name="kassa",
    help="Follow every ruble from ad spend to money in the bank. Start with: kassa demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kassa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """kassa: where is the money? Money KPIs next to activity metrics, KPI contracts, diagnosis."""


for _add_commands in COMMANDS.values():
    _add_commands(app)


def _interrupts() -> tuple[type[BaseException], ...]:
    """Ctrl+C, and the exception DuckDB raises for Ctrl+C mid-query: only if DuckDB was imported at all
    (``kassa --help`` does not import it, and an exception of a module never imported cannot occur)."""
    duckdb = sys.modules.get("duckdb")
    return (KeyboardInterrupt,) if duckdb is None else (KeyboardInterrupt, duckdb.InterruptException)


def private_files() -> None:
    """Every file kassa creates from here on is its owner's only (umask 077): the warehouse and the WAL
    DuckDB writes beside it (and recreates after every checkpoint, so a chmod once would not hold),
    uploads, contracts, reports and exports all hold the business's numbers or its customers."""
    os.umask(os.umask(0o077) | 0o077)


def main() -> None:
    """Entry point: people get a clear message, not a traceback, for every condition kassa knows."""
    private_files()
    try:
        # With standalone_mode off, click returns a command's exit code instead of exiting.
        rc = app(standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except KassaError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(1)
    except _interrupts():  # Ctrl+C mid-query: DuckDB raises its own
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # click's usage errors (typer 0.29 vendors click as typer._click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
            sys.exit(int(getattr(exc, "exit_code", 2)))
        raise


if __name__ == "__main__":
    main()

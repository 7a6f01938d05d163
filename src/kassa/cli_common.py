"""Options and helpers shared by every command: the warehouse path, settings, language, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.i18n import Lang
from kassa.report.layout import FittedConsole

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
    from kassa.settings import Settings
    from kassa.store import Warehouse

# Their width follows the output at each print: the terminal's, or COLUMNS (else 80) when piped.
console = FittedConsole()
err_console = FittedConsole(stderr=True)

DEFAULT_DB = "kassa.duckdb"

DbOption = Annotated[
    Path,
    typer.Option(
        "--db", help="Warehouse: a DuckDB file, or spark:DATABASE (docs/scale.md).", envvar="KASSA_DB"
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings YAML (default: kassa.yaml beside the warehouse, if present).",
        envvar="KASSA_CONFIG",
    ),
]
# Typer checks the value against the enum: "--lang de" is a usage error naming en and ru.
LangOption = Annotated[
    Lang, typer.Option("--lang", help="Language of labels and messages.", envvar="KASSA_LANG")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Show these table columns, comma-separated (names as in --json); default: a few that fit.",
    ),
]
WideOption = Annotated[
    bool, typer.Option("--wide", help="Show every column (stacked, one block per row, if they do not fit).")
]
PeriodOption = Annotated[
    str,
    typer.Option(
        "--period", help="YYYY-MM, YYYY-MM..YYYY-MM, YYYY-MM-DD..YYYY-MM-DD or an ISO week YYYY-Www."
    ),
]


def settings_for(db: Path, config: Path | None) -> Settings:
    from kassa.settings import load_settings

    if config is not None:
        return load_settings(config)
    beside = db.parent / "kassa.yaml"
    return load_settings(beside if beside.is_file() else None)


@contextmanager
def open_warehouse(db: Path, config: Path | None, *, write: bool = False) -> Iterator[Warehouse]:
    from kassa.store import Warehouse

    wh = Warehouse.open(db, settings=settings_for(db, config), read_only=not write, create=write)
    for line in wh.recovered:  # a killed write put right at open: people must hear of it
        sys.stderr.write(f"kassa: {db}: {line}\n")
    try:
        yield wh
    finally:
        wh.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")

"""CLI commands, one module per concern.

Each module registers the function that adds its commands to the app (``@COMMANDS.register(name=…)``
on its ``register(app)``); :data:`COMMANDS` imports every module of this package the first time it is
read, and :mod:`kassa.cli` calls them in :data:`HELP_ORDER`, so a feature adds its commands without
touching the others. Keep the imports of these modules cheap: ``kassa --help`` imports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kassa.registry import Registry

if TYPE_CHECKING:
    import typer

HELP_ORDER = (
    "data",
    "fx",
    "metrics",
    "connect",
    "money",
    "customers",
    "report",
    "attribute",
    "kpi",
    "plan",
    "diagnose",
    "digest",
    "conversions",
    "schedule",
    "demo",
    "serve",
)
"""The order of ``kassa --help``: load, look, explain, judge, then the demo and the dashboard. A module
not listed comes last."""


def _help_position(name: str, add: object) -> int:
    return HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER)


COMMANDS: Registry[Callable[[typer.Typer], None]] = Registry(
    "command module", package="kassa.commands", order=_help_position
)
"""Functions that add one module's commands to the ``kassa`` app, in :data:`HELP_ORDER`."""

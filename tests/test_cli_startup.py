"""`kassa --help` starts at once: the commands import the heavy libraries only when they run."""

from __future__ import annotations

import json
import subprocess
import sys

import typer.main

from kassa.attribution import MODELS
from kassa.cli import app
from kassa.kpi import EXAMPLES
from kassa.metrics.compute import DIMENSIONS

# What `kassa --help` must not load: each costs a tenth of a second to a second of start-up.
HEAVY = ("fastapi", "starlette", "uvicorn", "scipy", "numpy", "ibis", "duckdb", "polars", "pyarrow", "altair")
HEAVY_KASSA = ("kassa.report", "kassa.web", "kassa.store", "kassa.metrics", "kassa.attribution")
# The terminal layout every command prints through needs only rich (and so does the package's __init__).
LIGHT_KASSA = {"kassa.report", "kassa.report.layout"}

LOADED = """
import json, sys
sys.argv = ["kassa", *sys.argv[1:]]
from kassa.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_modules(*args: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``kassa ARGS``."""
    res = subprocess.run([sys.executable, "-c", LOADED, *args], capture_output=True, text=True, timeout=120)
    return set(json.loads(res.stderr.strip().splitlines()[-1]))


def test_help_imports_none_of_the_heavy_modules() -> None:
    for args in (["--help"], ["--version"], ["metrics", "--help"]):
        modules = loaded_modules(*args)
        heavy = sorted(
            m
            for m in modules
            if m.split(".")[0] in HEAVY or (m.startswith(HEAVY_KASSA) and m not in LIGHT_KASSA)
        )
        assert not heavy, f"kassa {' '.join(args)} imports {heavy}"


def _option_help(command: str, option: str) -> str:
    group = typer.main.get_command(app)
    cmd = group
    for name in command.split():
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    (param,) = [p for p in cmd.params if option in (*p.opts, p.name)]  # type: ignore[attr-defined]
    return " ".join((param.help or "").split())


def test_help_lists_every_name_the_option_takes() -> None:
    """The help of these options writes the names out (reading them would import the libraries)."""
    assert f"or all: {', '.join(MODELS)}." in _option_help("attribute", "--model")
    assert f"Group by: {', '.join(DIMENSIONS)} " in _option_help("metrics", "--by")
    assert _option_help("kpi score", "contract").endswith(f"a shipped example: {', '.join(EXAMPLES)}.")
    assert f"a shipped example: {', '.join(EXAMPLES)})" in _option_help("report", "--contract")

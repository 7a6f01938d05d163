"""``kassa ARGS`` run inside the test process, through the same entry point as the installed command.

A subprocess pays about three seconds of imports (Ibis, Polars, DuckDB, the report layer) before it does
anything; in process those are imported once per test session. :func:`run_kassa` calls
:func:`kassa.cli.main` itself, so a test sees what a person sees: the exit code (``KassaError`` → 2 and
"error: …" on stderr, a bad option → click's usage message and 2, Ctrl+C → 130) and both streams as text.

Tests that need a real process still start one: a signal (Ctrl+C), a second process holding the
warehouse's lock, ``kassa serve`` / ``kassa demo`` serving a port, a real pseudo-terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

from kassa import cli
from kassa.cli_common import console, err_console

DEFAULT_COLUMNS = 80  # what rich assumes when the output is a pipe and COLUMNS is not set


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _plain_consoles(width: int) -> Iterator[None]:
    """The shared rich consoles as a child process would set them up with its output piped: ``width``
    columns, no colour or styles (the consoles were created once, when ``kassa.cli_common`` was imported,
    and would otherwise keep whatever they saw then; they write to whatever ``sys.stdout`` is now)."""
    saved = [(c, c._width, c._height, c._color_system, c._force_terminal) for c in (console, err_console)]
    for c in (console, err_console):
        c._width, c._height = width, 25
        c._color_system = None
        c._force_terminal = False
    try:
        yield
    finally:
        for c, w, h, colors, force in saved:
            c._width, c._height, c._color_system, c._force_terminal = w, h, colors, force


def run_kassa(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """``kassa ARGS`` in this process: its exit code, stdout and stderr, as ``subprocess.run`` returns them.

    ``env`` adds environment variables for the run (``COLUMNS`` sets the width of the tables), ``cwd`` is
    the working directory, ``stdin`` what the command reads from standard input. An exception kassa does
    not handle prints its traceback on stderr and exits 1, as the interpreter would.
    """
    argv = ["kassa", *map(str, args)]
    env = dict(env or {})
    width = int(env.get("COLUMNS", DEFAULT_COLUMNS))
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_streams, saved_cwd = sys.argv, (sys.stdin, sys.stdout, sys.stderr), Path.cwd()
    code: int
    try:
        sys.argv = argv
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
        if cwd is not None:
            os.chdir(cwd)
        with _environment(env), _plain_consoles(width):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc, err)
            except Exception:
                traceback.print_exc(file=err)
                code = 1
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        sys.stdin, sys.stdout, sys.stderr = saved_streams
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _exit_code(exc: SystemExit, err: io.StringIO) -> int:
    """The exit status the interpreter gives ``sys.exit(code)``."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=err)
    return 1

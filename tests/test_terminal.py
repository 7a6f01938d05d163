"""A terminal people can read: at 80, 100 and 160 columns, in English and Russian, piped and in a real
pseudo-terminal, no line is longer than the width, no table cell is cut with "…", and no number is broken
over two lines (every number printed is found whole, compared with the command's ``--json``).

The demo company is built once for the module, by ``kassa demo`` itself (its summary is one of the outputs
checked); every other command runs in-process on it (Typer's CliRunner), a few in a real pty.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kassa.cli import app
from kassa.i18n import fmt_money, fmt_number, fmt_value
from kassa.metrics.catalog import CATALOG
from kassa.names import channel_name
from kassa.report.layout import Column, FittedConsole, Grid, render, wrap
from kassa.report.terminal import DEFAULT_COLUMNS

WIDTHS = (80, 100, 160)
LANGS = ("en", "ru")
PERIOD = "2026-10"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
# Two or more ordinary spaces part the cells of a table row and a stacked label from its value.
CELL_GAP = re.compile(r" {2,}")


@pytest.fixture(scope="module")
def demo_by_the_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The demo warehouse, built by ``kassa demo --no-serve --lang ru`` piped at 80 columns, and its output."""
    tmp = tmp_path_factory.mktemp("demo")
    db = tmp / "demo.duckdb"
    res = CliRunner().invoke(
        app,
        ["demo", "--no-serve", "--db", str(db), "--out", str(tmp / "reports"), "--lang", "ru"],
        env={"COLUMNS": "80"},
    )
    assert res.exit_code == 0, res.output
    yield db, res.stdout


def kassa(*args: str, width: int | None) -> str:
    """Run the CLI in-process with its output piped: ``COLUMNS=width``, or no COLUMNS at all."""
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": None if width is None else str(width)})
    assert res.exit_code == 0, res.output
    return res.stdout


_JSON: dict[tuple[str, ...], Any] = {}


def kassa_json(*args: str) -> Any:
    """``--json`` of a command, run once per module (it depends on neither width nor language)."""
    if args not in _JSON:
        _JSON[args] = json.loads(kassa(*args, "--json", width=200))
    return _JSON[args]


def check_readable(text: str, width: int) -> list[str]:
    """The lines of ``text``, after checking none is wider than ``width``, no cell is cut and no number
    is split at a line end."""
    lines = text.splitlines()
    # A file path alone on its line cannot be wrapped (and must not be cut): the terminal folds it.
    too_long = [line for line in lines if len(line.rstrip()) > width and " " in line.strip()]
    assert not too_long, f"{len(too_long)} line(s) over {width} columns, e.g. {too_long[0]!r}"
    assert "…" not in text, next(line for line in lines if "…" in line)
    for above, below in zip(lines, lines[1:], strict=False):
        a, b = above.rstrip(), below.strip()
        # "400" / "943 ₽", "RUB" / "5,392,800", "12" / "%": the pieces of one number on two lines.
        split = (
            (re.search(r"\d$", a) and re.match(r"\d{3}(\D|$)", b))
            or a.endswith("RUB")
            or re.match(r"[₽%]", b)
        )
        assert not split, f"a number broken over two lines:\n{above}\n{below}"
    return lines


def cells(lines: list[str]) -> set[str]:
    """Every cell of every line: the text between runs of two or more spaces."""
    return {c for line in lines for c in CELL_GAP.split(line.strip()) if c}


def flat(lines: list[str]) -> str:
    """The lines as one paragraph: a text wrapped at spaces reads whole again (no-break spaces are kept)."""
    return re.sub(" +", " ", " ".join(line.strip() for line in lines))


def assert_whole(expected: set[str], lines: list[str]) -> None:
    missing = expected - cells(lines)
    assert not missing, f"not printed whole: {sorted(missing)[:8]}"


# Each command at every width, and at 80 in both languages.
WIDTH_LANGS = [(80, "ru"), (100, "en"), (160, "ru"), (80, "en")]


# -- kassa metrics ----------------------------------------------------------------------------------------
def metric_cells(data: dict[str, Any], names: list[str], lang: str) -> set[str]:
    """The formatted values the terminal must show for ``names``, from ``kassa metrics --json``."""
    rows = [*data["rows"], data["total"]]
    # LTV so far (a horizon not over) is printed "≥ …", as its JSON row lists it under "partial".
    return {
        ("≥ " if n in r.get("partial", ()) else "") + fmt_value(r[n], CATALOG[n].unit, lang)
        for r in rows
        for n in names
    }


# By channel at every width in both languages; each other grouping where it is hardest to fit.
METRIC_CASES = [("channel", lang, width) for width, lang in WIDTH_LANGS] + [
    ("campaign", "ru", 80),
    ("campaign", "en", 100),
    ("campaign", "en", 160),
    ("month", "ru", 100),
    ("manager", "en", 80),
]


@pytest.mark.parametrize(("by", "lang", "width"), METRIC_CASES)
def test_metrics_fit_and_show_every_number_whole(demo_by_the_cli, by, lang, width):
    db, _ = demo_by_the_cli
    args = ("metrics", "--db", str(db), "--period", PERIOD, "--by", by)
    lines = check_readable(kassa(*args, "--lang", lang, width=width), width)
    data = kassa_json(*args)
    assert_whole(metric_cells(data, list(DEFAULT_COLUMNS["money"]), lang), lines)
    if by == "channel":
        names = {channel_name(r["channel"], lang) for r in data["rows"]}
        # A channel's name: a whole cell, the heading of its stacked block, or wrapped at a space.
        assert all(n in flat(lines) for n in names)


@pytest.mark.parametrize(("width", "lang"), [(80, "ru"), (160, "en")])
def test_metrics_wide_shows_every_metric_whole(demo_by_the_cli, lang, width):
    db, _ = demo_by_the_cli
    args = ("metrics", "--db", str(db), "--period", PERIOD, "--by", "channel")
    lines = check_readable(kassa(*args, "--wide", "--lang", lang, width=width), width)
    data = kassa_json(*args)
    assert_whole(metric_cells(data, [m["name"] for m in data["metrics"]], lang), lines)


@pytest.mark.parametrize("lang", LANGS)
def test_a_free_channels_cost_per_lead_is_a_dash_not_zero(demo_by_the_cli, lang):
    db, _ = demo_by_the_cli
    args = ("metrics", "--db", str(db), "--period", PERIOD, "--metrics", "marketing_cost,leads,cpl")
    rows = {r["channel"]: r for r in kassa_json(*args)["rows"]}
    assert rows["seo"]["marketing_cost"] == 0 and rows["seo"]["leads"] > 0 and rows["seo"]["cpl"] is None
    assert rows["yandex_direct"]["cpl"] > 0
    lines = check_readable(kassa(*args, "--columns", "cpl", "--lang", lang, width=80), 80)
    seo = next(line for line in lines if line.startswith("SEO"))
    assert CELL_GAP.split(seo.strip()) == ["SEO", "—"]


def test_columns_choose_the_table(demo_by_the_cli):
    db, _ = demo_by_the_cli
    out = kassa("metrics", "--db", str(db), "--period", PERIOD, "--columns", "leads,romi", width=100)
    header = check_readable(out, 100)[1]
    assert CELL_GAP.split(header.strip()) == ["Channel", "Leads", "ROMI"]


# -- kassa money, imports ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("width", "lang"), WIDTH_LANGS)
def test_money_fits_and_shows_every_number_whole(demo_by_the_cli, lang, width):
    db, _ = demo_by_the_cli
    args = ("money", "--db", str(db), "--period", PERIOD)
    lines = check_readable(kassa(*args, "--lang", lang, width=width), width)
    money = kassa_json(*args)["money"]
    cur = money["currency"]
    rows = [*money["by_channel"], money["total"]]
    expected = {fmt_money(r[k], cur, lang) for r in rows for k in ("won", "paid", "unpaid")}
    expected |= {fmt_money(v, cur, lang) for v in money["cash"].values()}
    assert_whole(expected, lines)


@pytest.mark.parametrize(("width", "lang"), WIDTH_LANGS)
def test_imports_fit(demo_by_the_cli, lang, width):
    db, _ = demo_by_the_cli
    lines = check_readable(kassa("imports", "--db", str(db), "--lang", lang, width=width), width)
    batches = kassa_json("imports", "--db", str(db))
    assert_whole({fmt_number(b["rows_loaded"], lang) for b in batches}, lines)


# -- prose and the other tables ---------------------------------------------------------------------------
OTHERS = {
    "diagnose": ("diagnose", "--period", PERIOD),
    "kpi score": ("kpi", "score", "pays_for_money", "--period", PERIOD),
    "attribute": ("attribute", "--period", PERIOD, "--model", "linear,markov"),
}


@pytest.mark.parametrize(("width", "lang"), WIDTH_LANGS)
@pytest.mark.parametrize("command", list(OTHERS))
def test_commands_on_the_warehouse_fit(demo_by_the_cli, command, lang, width):
    db, _ = demo_by_the_cli
    lines = check_readable(kassa(*OTHERS[command], "--db", str(db), "--lang", lang, width=width), width)
    assert len(lines) > 5


@pytest.mark.parametrize(("width", "lang"), [(80, "ru"), (100, "en"), (160, "ru")])
def test_a_trail_fits(demo_by_the_cli, lang, width):
    db, _ = demo_by_the_cli
    deal = kassa_json("money", "--db", str(db), "--period", PERIOD)["money"]["unpaid_deals"][0]
    lines = check_readable(
        kassa("trail", deal["deal_id"], "--db", str(db), "--lang", lang, width=width), width
    )
    assert_whole(
        {fmt_money(deal["amount"], "RUB", lang)},
        [CELL_GAP.sub("  ", line.replace(" · ", "  ")) for line in lines],
    )


@pytest.mark.parametrize("width", [*WIDTHS, None])
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("command", ["catalog", "kpi lint"])
def test_commands_without_a_warehouse_fit(command, lang, width):
    args = ["catalog"] if command == "catalog" else ["kpi", "lint", "pays_for_activity"]
    # No COLUMNS at all: a piped output is 80 columns wide.
    lines = check_readable(kassa(*args, "--lang", lang, width=width), width or 80)
    assert len(lines) > 5


def test_the_demo_prints_its_summary_readably(demo_by_the_cli):
    _, out = demo_by_the_cli
    lines = check_readable(out, 80)
    assert any(line.startswith("Где деньги") for line in lines)
    assert any(line.startswith("  • ") for line in lines) and any(line.startswith("    ") for line in lines)


@pytest.fixture(scope="module")
def summaries(demo_by_the_cli) -> dict[str, tuple[Any, list[str]]]:
    """Per language: the demo month's metric table and the report's headline lines, as ``kassa demo`` has them."""
    from kassa.metrics.compute import compute
    from kassa.report.model import build_report
    from kassa.store import Warehouse

    db, _ = demo_by_the_cli
    out = {}
    wh = Warehouse.open(db, read_only=True)
    try:
        table = compute(wh, None, "channel", PERIOD)
        for lang in LANGS:
            report = build_report(wh, PERIOD, lang, diagnosis=False)
            (headline,) = [b for s in report.sections if s.key == "headline" for b in s.blocks]
            out[lang] = (table, [line.text for line in headline.items])
    finally:
        wh.close()
    return out


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_the_demo_summary_fits_every_width(summaries, lang, width, monkeypatch):
    """The demo's closing summary (the function ``kassa demo`` prints it with) at every width and language."""
    from kassa.commands import demo as demo_command

    table, headline = summaries[lang]
    buf = io.StringIO()
    monkeypatch.setattr(demo_command, "console", FittedConsole(file=buf))
    monkeypatch.setenv("COLUMNS", str(width))
    demo_command.print_summary(table, headline, lang=lang, currency="RUB")
    lines = check_readable(buf.getvalue(), width)
    assert len(headline) >= 3 and headline[0] in flat(lines)
    assert_whole({fmt_value(v, "money", lang) for v in table.frame["revenue"]}, lines)


# -- a real terminal --------------------------------------------------------------------------------------
def in_pty(args: list[str], width: int) -> str:
    """Run the CLI in a pseudo-terminal ``width`` columns wide; its output with colours removed.

    COLUMNS is set to something else on purpose: the terminal's own width wins over it.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    env = {**os.environ, "COLUMNS": "300", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kassa.cli", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return ANSI.sub("", b"".join(chunks).decode("utf-8")).replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("args", "lang", "width"),
    [
        (["metrics", "--by", "campaign"], "ru", 80),
        (["money"], "en", 100),
        (["diagnose"], "ru", 80),
    ],
)
def test_in_a_real_terminal(demo_by_the_cli, args, lang, width):
    db, _ = demo_by_the_cli
    out = in_pty([*args, "--db", str(db), "--period", PERIOD, "--lang", lang], width)
    lines = check_readable(out, width)
    if args[0] == "metrics":
        data = kassa_json("metrics", "--db", str(db), "--period", PERIOD, "--by", "campaign")
        assert_whole(metric_cells(data, list(DEFAULT_COLUMNS["money"]), lang), lines)


# -- the layout on its own --------------------------------------------------------------------------------
def test_a_grid_too_wide_for_the_width_is_stacked_and_numbers_stay_whole():
    grid = Grid(
        "Money", [Column("c", "Channel", number=False, key=True), Column("v", "Revenue", "Revenue won")]
    )
    grid.add_rows([{"c": "Яндекс Директ", "v": "3\xa0427\xa0300\xa0₽"}])
    console = FittedConsole(file=io.StringIO(), width=12)
    table, stacked = render(grid, 40), render(grid, 12)
    for part in table:
        console.print(part)
    assert "Revenue won" not in console.file.getvalue()
    out = io.StringIO()
    narrow = FittedConsole(file=out, width=12)
    for part in stacked:
        narrow.print(part, soft_wrap=True)
    assert "3\xa0427\xa0300\xa0₽" in out.getvalue() and "Revenue" in out.getvalue()


def test_prose_wraps_at_spaces_only():
    text = (
        "Revenue 5\xa0392\xa0800\xa0₽ (−10% vs 2026-09), payments received 5\xa0508\xa0590\xa0₽, ROMI 1,92."
    )
    lines = wrap(text, 30, indent="  • ", hanging="    ").split("\n")
    assert all(len(line) <= 30 for line in lines) and lines[0].startswith("  • ")
    assert all(line.startswith("    ") for line in lines[1:])
    assert "5\xa0392\xa0800\xa0₽" in "\n".join(lines) and "5\xa0508\xa0590\xa0₽" in "\n".join(lines)

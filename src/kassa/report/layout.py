"""Tables and prose that fit the terminal: nothing cut with "…", no number broken over two lines.

Every table kassa prints is a :class:`Grid` — its columns, its rows as formatted text — laid out by
:func:`render` for the width of the output:

* the columns shown are every column when they all fit, else the grid's default few; every column with
  ``wide``, or the ones named (``--columns``);
* a number is never wrapped or truncated: its column is as wide as its widest value;
* a text cell (a campaign name) wraps at word boundaries, never inside a word, never with "…";
* when the chosen columns do not fit even so, the grid is *stacked*: one block per row, a label and a
  value per line, which fits any terminal.

Prose (diagnosis findings, KPI explanations, the demo's headline) is wrapped by :func:`wrap` with a
hanging indent. Both break lines at ordinary spaces only: the no-break spaces inside ``5 392 800 ₽`` and
``RUB 5,392,800`` keep a number on one line.

The width is the terminal's when the output is one; when it is piped to a file or ``less``, the ``COLUMNS``
environment variable if set, else 80 (:func:`output_width`).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleDimensions, RenderableType
from rich.table import Table
from rich.text import Text

from kassa.errors import KassaError

DEFAULT_WIDTH = 80
GAP = 3  # between two table columns: padding, a space, padding
STACK_INDENT = "  "
TITLE_STYLE = "bold"


def output_width(stream: IO[str] | None = None) -> int:
    """Columns available on ``stream`` (default stdout): the terminal's width when it is a terminal;
    otherwise ``COLUMNS`` if set, else 80."""
    stream = stream if stream is not None else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        if columns > 0:
            return columns
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return DEFAULT_WIDTH


class FittedConsole(Console):
    """A rich console whose width is :func:`output_width` of the stream it writes to *at the time of
    printing* (rich reads ``COLUMNS`` once, at creation, and takes a piped output's width from the
    terminal stdin is attached to)."""

    def __init__(self, *args: Any, width: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, width=width, **kwargs)
        # Only a width given here is fixed: rich also sets _width from COLUMNS, which must not beat a terminal.
        self._fixed_width = width

    @property
    def size(self) -> ConsoleDimensions:
        width = self._fixed_width if self._fixed_width is not None else output_width(self.file)
        return ConsoleDimensions(width, self._height or 25)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._fixed_width, self._height = new_size

    @property
    def width(self) -> int:
        return self.size.width

    @width.setter
    def width(self, width: int) -> None:
        self._fixed_width = width


# -- prose -------------------------------------------------------------------------------------------------
def wrap(text: str, width: int, indent: str = "", hanging: str | None = None) -> str:
    """``text`` wrapped to ``width`` at spaces, each line after the first indented by ``hanging``.

    Lines already in ``text`` are kept; a word longer than the width (a long file path) stays whole.
    Python's textwrap breaks only at ASCII whitespace, so the no-break spaces inside formatted numbers hold.
    """
    rest = indent if hanging is None else hanging
    out: list[str] = []
    for i, line in enumerate(text.split("\n")):
        first = indent if i == 0 else rest
        if not line.strip():
            out.append("")
            continue
        out.append(
            textwrap.fill(
                line,
                width=max(width, len(first) + 1),
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)


def print_prose(
    console: Console, text: str, *, indent: str = "", hanging: str | None = None, style: str | None = None
) -> None:
    """Print ``text`` wrapped to the console's width (see :func:`wrap`), as plain text (no markup)."""
    console.print(
        Text(wrap(text, console.width, indent, hanging), style=style or ""),
        soft_wrap=True,
        highlight=False,
    )


# -- tables ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column of a :class:`Grid`.

    ``header`` is the short label over the column (``Metric.short``); ``label`` the full one, used where
    there is room (the stacked layout). ``number`` columns are right-aligned and never wrapped; text
    columns wrap at word boundaries. ``key`` columns name the row (channel, campaign) and are always shown.
    """

    name: str
    header: str
    label: str = ""
    number: bool = True
    key: bool = False
    style: str | None = None

    @property
    def long(self) -> str:
        return self.label or self.header


@dataclass
class Grid:
    """A table as data: columns, rows of formatted cells (column name -> text), an optional total.

    ``default`` names the value columns shown unless the reader asks for more (``wide``) or others
    (``columns``); ``None`` shows every column. ``groups`` splits the rows into sections (a blank line
    between them in a table).
    """

    title: str
    columns: list[Column]
    groups: list[list[dict[str, str]]] = field(default_factory=list)
    total: dict[str, str] | None = None
    default: Sequence[str] | None = None
    caption: str | None = None

    def add_rows(self, rows: Iterable[dict[str, str]]) -> None:
        self.groups.append(list(rows))

    @property
    def rows(self) -> list[dict[str, str]]:
        return [r for g in self.groups for r in g]

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.key]

    def chosen(self, columns: Sequence[str] | None = None, wide: bool = False) -> list[Column]:
        """The columns to show: key columns, then the named ones (in their order), every one, or the default."""
        keys = [c for c in self.columns if c.key]
        values = {c.name: c for c in self.value_columns}
        named = [values[n] for n in columns or () if n in values]
        if named:  # a grid none of whose columns is named shows its default ones
            picked = named
        elif wide or self.default is None:
            picked = list(values.values())
        else:
            picked = [values[n] for n in self.default if n in values]
        return keys + picked


def check_columns(grids: Sequence[Grid], columns: Sequence[str] | None) -> None:
    """Refuse a ``--columns`` name that no table of the command has, listing the ones they have."""
    if not columns:
        return
    known = {c.name for g in grids for c in g.value_columns}
    unknown = [n for n in columns if n not in known]
    if unknown:
        names = ", ".join(dict.fromkeys(c.name for g in grids for c in g.value_columns))
        raise KassaError(f"--columns: no column {', '.join(unknown)}; the tables have: {names}")


def parse_columns(text: str | None) -> list[str] | None:
    """``--columns a,b,c`` as a list of names (``None`` when not given)."""
    if not text:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def _words(text: str) -> list[str]:
    return text.split() if text.strip() else [""]


def _min_width(c: Column, cells: list[str]) -> int:
    """Narrowest the column can be: a number whole, a text cell's longest word, a header's longest word."""
    head = max(cell_len(w) for w in _words(c.header))
    if c.number:
        return max([head, *(cell_len(v) for v in cells)])
    return max([head, *(cell_len(w) for v in cells for w in _words(v))])


def _full_width(c: Column, cells: list[str]) -> int:
    return max([cell_len(c.header), *(cell_len(line) for v in cells for line in v.split("\n"))])


def _widths(cols: list[Column], cells: list[list[str]], width: int) -> list[int] | None:
    """Column widths that fit ``width`` with every number whole and every word whole; ``None`` if none do."""
    lo = [_min_width(c, v) for c, v in zip(cols, cells, strict=True)]
    hi = [_full_width(c, v) for c, v in zip(cols, cells, strict=True)]
    room = width - GAP * (len(cols) - 1)
    if sum(lo) > room:
        return None
    widths = list(lo)
    spare = room - sum(widths)
    # Text cells first (a wrapped cell makes its row, and so every row, taller), then number headers.
    for numbers in (False, True):
        for i, c in enumerate(cols):
            if c.number == numbers and spare > 0:
                grow = min(hi[i] - widths[i], spare)
                widths[i] += grow
                spare -= grow
    return widths


def render(
    grid: Grid, width: int, *, columns: Sequence[str] | None = None, wide: bool = False
) -> list[RenderableType]:
    """The grid laid out for ``width`` columns: a table when it fits, else stacked; the title first."""
    rows = grid.rows + ([grid.total] if grid.total else [])

    def fit(cols: list[Column]) -> list[int] | None:
        return _widths(cols, [[r.get(c.name, "") for r in rows] for c in cols], width) if cols else None

    cols = grid.chosen(columns, wide)
    widths = fit(cols)
    if not (columns or wide) and grid.default is not None:
        # Unasked, a wide terminal shows every column when they all fit; a narrow one the default few.
        every = grid.chosen(wide=True)
        widths_every = fit(every)
        if widths_every is not None:
            cols, widths = every, widths_every
    out: list[RenderableType] = [Text(wrap(grid.title, width), style=TITLE_STYLE)] if grid.title else []
    if widths is None:
        out.extend(_stacked(grid, cols, width))
    else:
        out.append(_table(grid, cols, widths))
    if grid.caption:
        out.append(Text(wrap(grid.caption, width), style="dim"))
    return out


def _table(grid: Grid, cols: list[Column], widths: list[int]) -> Table:
    wraps = any(
        not c.number and cell_len(r.get(c.name, "")) > w
        for c, w in zip(cols, widths, strict=True)
        for r in grid.rows
    )
    t = Table(
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        show_footer=grid.total is not None,
        leading=1 if wraps else 0,  # rows of several lines read apart
    )
    for c, w in zip(cols, widths, strict=True):
        t.add_column(
            # The header wraps at its words even over a number column that never wraps.
            Text(wrap(c.header, w), no_wrap=False, overflow="fold", justify="right" if c.number else "left"),
            footer=(grid.total or {}).get(c.name, ""),
            width=w,
            justify="right" if c.number else "left",
            no_wrap=c.number,
            # Never "…": widths hold every number and every word whole, so neither crop nor fold cuts anything.
            overflow="crop" if c.number else "fold",
            header_style=c.style or "bold",
            footer_style="bold",
        )
    for gi, group in enumerate(grid.groups):
        if gi and group:
            t.add_section()
        for r in group:
            t.add_row(*[r.get(c.name, "") for c in cols])
    return t


def _stacked(grid: Grid, cols: list[Column], width: int) -> list[RenderableType]:
    """One block per row: its key cells as a heading, then ``label  value`` lines, values aligned right."""
    keys = [c for c in cols if c.key]
    values = [c for c in cols if not c.key]
    records = [(r, False) for r in grid.rows] + ([(grid.total, True)] if grid.total else [])
    value_w = max([cell_len(r.get(c.name, "")) for r, _ in records for c in values] or [0])
    label_w = max([cell_len(c.long) for c in values] or [0])
    label_w = max(8, min(label_w, width - len(STACK_INDENT) - 2 - value_w))
    out: list[RenderableType] = []
    for r, is_total in records:
        head = " · ".join(r.get(c.name, "") for c in keys if r.get(c.name, "")) if keys else ""
        lines = Text()
        if head:
            lines.append(wrap(head, width) + "\n", style="bold")
        for c in values:
            label = wrap(c.long, label_w).split("\n")
            value = r.get(c.name, "")
            for i, part in enumerate(label):
                lines.append(STACK_INDENT + part.ljust(label_w), style=c.style or "")
                if i == len(label) - 1:
                    lines.append("  " + value.rjust(value_w), style="bold" if is_total else "")
                lines.append("\n")
        lines.rstrip()
        out.append(lines)
        out.append(Text(""))
    return out[:-1] if out else out


def print_grids(
    console: Console,
    grids: Sequence[Grid],
    *,
    columns: Sequence[str] | None = None,
    wide: bool = False,
) -> None:
    """Print each grid laid out for the console's width (see :func:`render`), a blank line between them."""
    for i, g in enumerate(grids):
        if i:
            console.print()
        for part in render(g, console.width, columns=columns, wide=wide):
            console.print(part, soft_wrap=isinstance(part, Text), highlight=False)


def cells(values: dict[str, Any]) -> dict[str, str]:
    """A row of already formatted values as grid cells (``None`` -> "")."""
    return {k: "" if v is None else str(v) for k, v in values.items()}

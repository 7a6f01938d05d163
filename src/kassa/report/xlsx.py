"""The report as a spreadsheet: a summary sheet, then one sheet per table, numbers kept as numbers.

Cells hold the raw values with an Excel number format (money, count, percent, ratio), so the owner can
sum, sort and chart them; the header row is frozen and filterable. Charts are not copied: the HTML report
has them, and a spreadsheet is where people make their own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import xlsxwriter
from babel.numbers import get_currency_symbol
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from kassa.i18n import locale_of
from kassa.metrics.incomplete import Incomplete
from kassa.names import key_name
from kassa.report.blocks import estimated_note, incomplete_note, partial_note
from kassa.report.model import Cards, Column, Lines, ReportData, Table
from kassa.report.terminal import ESTIMATE, fmt_incomplete

SO_FAR = "≥"

_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def number_formats(lang: str, currency: str) -> dict[str, str]:
    """Excel number formats per unit; Excel localises separators itself, the currency sign is ours."""
    symbol = get_currency_symbol(currency, locale_of(lang))
    money = f'#,##0 "{symbol}"' if lang == "ru" else f'"{symbol} "#,##0'
    return {
        "money": money,
        "money_cents": money.replace("#,##0", "#,##0.00"),
        "count": "#,##0",
        "percent": "0.0%",
        "percent_small": "0.00%",
        "ratio": "0.00",
    }


def sheet_name(wanted: str, taken: set[str]) -> str:
    """A valid, unique sheet name: Excel allows 31 characters and none of ``[]:*?/\\``."""
    base = _SHEET_CHARS.sub(" ", wanted).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


class _Writer:
    def __init__(self, wb: Workbook, data: ReportData) -> None:
        self.wb = wb
        self.data = data
        self.taken: set[str] = set()
        nf = number_formats(data.lang, data.currency)
        self.bold = wb.add_format({"bold": True})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.muted = wb.add_format({"font_color": "#6b7280", "text_wrap": True, "valign": "top"})
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#f3f4f6", "bottom": 1, "text_wrap": True, "valign": "bottom"}
        )
        self.header_activity = wb.add_format(
            {
                "bold": True,
                "bg_color": "#f3f4f6",
                "bottom": 1,
                "text_wrap": True,
                "valign": "bottom",
                "font_color": "#6b7280",
            }
        )
        self.text = wb.add_format({"valign": "top", "text_wrap": True})
        self.nums: dict[tuple[str, bool], Format] = {}
        for unit, fmt in nf.items():
            for total in (False, True):
                props: dict[str, Any] = {"num_format": fmt}
                if total:
                    props.update({"bold": True, "top": 1})
                self.nums[(unit, total)] = wb.add_format(props)
        self.total_text = wb.add_format({"bold": True, "top": 1})
        # "≥ " before a value so far (LTV while a horizon is open), in the number format: the cell
        # stays a number that sums and sorts, and reads as the page shows it.
        self.so_far: dict[tuple[str, bool], Format] = {}
        for unit, fmt in nf.items():
            for total in (False, True):
                props = {"num_format": f'"{SO_FAR} "{fmt}'}
                if total:
                    props.update({"bold": True, "top": 1})
                self.so_far[(unit, total)] = wb.add_format(props)

    def number_format(self, unit: str, value: Any, total: bool, *, so_far: bool = False) -> Format:
        small = isinstance(value, int | float) and not float(value).is_integer()
        if unit == "money" and small and abs(value) < 100:
            unit = "money_cents"  # as the page shows it: CPC of 12.50, not 13
        elif unit == "percent" and small and 0 < abs(value) < 0.01:
            unit = "percent_small"  # CTR 0.55 %, not 0.6 %
        return (self.so_far if so_far else self.nums)[(unit, total)]

    def summary(self) -> None:
        d = self.data
        ws = self.wb.add_worksheet(sheet_name(d.labels["summary"], self.taken))
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, 100)
        ws.write(0, 0, d.title, self.title)
        row = 2
        for label, value in d.facts:
            ws.write(row, 0, label, self.bold)
            ws.write(row, 1, value)
            row += 1
        for section in d.sections:
            for block in section.blocks:
                if isinstance(block, Lines) and block.items:
                    row += 1
                    ws.write(row, 0, section.title, self.bold)
                    row += 1
                    for line in block.items:
                        ws.write(row, 1, line.text + (f" — {line.detail}" if line.detail else ""), self.text)
                        row += 1
        if d.warnings:
            row += 1
            ws.write(row, 0, d.labels.get("warnings", "Warnings"), self.bold)
            for w in d.warnings:
                row += 1
                ws.write(row, 1, w, self.muted)
        ws.write(
            row + 2, 0, d.labels["generated"].format(date=f"{d.generated_at:%Y-%m-%d %H:%M}"), self.muted
        )

    def table(self, t: Table, notes: list[str] | None = None) -> None:
        ws: Worksheet = self.wb.add_worksheet(sheet_name(t.sheet or t.title, self.taken))
        for j, c in enumerate(t.columns):
            fmt = self.header_activity if c.tier == "activity" else self.header
            label = c.label
            if c.tier == "activity":
                label += f" ({self.data.labels['activity']})"
            ws.write(0, j, label, fmt)
            width = (
                44
                if c.unit == "text" and c.key in ("meaning", "formula")
                else (18 if c.unit == "text" else 15)
            )
            ws.set_column(j, j, width)
        for i, r in enumerate(t.rows, start=1):
            self._row(ws, i, t.columns, r, total=False)
        last = len(t.rows)
        if t.total and t.rows:
            last += 1
            self._row(
                ws, last, t.columns, {**t.total, t.columns[0].key: self.data.labels["total"]}, total=True
            )
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(t.rows), 1), len(t.columns) - 1)
        below = [x for x in (t.note, *(notes or [])) if x]
        for k, note in enumerate(below):
            ws.write(last + 2 + k, 0, note, self.muted)

    def _mark(self, ws: Worksheet, i: int, j: int, c: Column, r: dict[str, Any]) -> Any:
        """The number a metric cell holds, with a comment on the cell when it is not exact: an estimate
        ("≈", a day-prorated share of a whole-period report the period cuts), incomplete (the counted
        part, with what had no exchange rate in the comment; empty when a ratio has no bound) or so far
        ("≥", LTV whose horizon has not ended: :meth:`_row` shows the mark in the number format). The
        cell stays a number, so sums and charts of the sheet still work."""
        v = r.get(c.key)
        lang, unit = self.data.lang, c.unit_in(r)
        notes = []
        incomplete = (r.get("incomplete") or {}).get(c.key)
        if incomplete is not None:
            inc = Incomplete.from_json(incomplete)
            v = inc.known
            notes.append(f"{fmt_incomplete(inc, unit, lang, self.data.currency)}: {incomplete_note(lang)}")
        if c.key in (r.get("estimated") or ()) and v is not None:
            notes.append(f"{ESTIMATE} {estimated_note(lang)}")
        if c.key in (r.get("partial") or ()) and v is not None:
            notes.append(f"{SO_FAR} {partial_note(lang)}")
        if notes:
            ws.write_comment(i, j, "\n".join(notes), {"x_scale": 2, "y_scale": 1.5})
        return v

    def _row(self, ws: Worksheet, i: int, columns: list[Column], r: dict[str, Any], *, total: bool) -> None:
        for j, c in enumerate(columns):
            v = r.get(c.key)
            unit = c.unit_in(r)
            if unit != "text":
                v = self._mark(ws, i, j, c, r)
            if unit == "text":
                # Channels by the name people read; the report's JSON keeps the ids.
                text = "" if v is None else key_name(c.key, v, self.data.lang)
                ws.write_string(i, j, text, self.total_text if total else self.text)
            elif v is None or (isinstance(v, float) and v != v):
                ws.write_blank(
                    i, j, None, self.number_format(unit, v, total)
                )  # "no value" stays empty, never 0
            else:
                so_far = c.key in (r.get("partial") or ())
                ws.write_number(i, j, float(v), self.number_format(unit, v, total, so_far=so_far))


def render_xlsx(data: ReportData, path: str | Path) -> Path:
    """Write the report's tables to ``path`` (.xlsx) and return the path."""
    out = Path(path)
    wb = xlsxwriter.Workbook(
        str(out), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    try:
        w = _Writer(wb, data)
        w.summary()
        for section in data.sections:
            for block in section.blocks:
                if isinstance(block, Table):
                    w.table(block)
                elif isinstance(block, Cards):
                    for card in block.cards:
                        w.table(
                            card.table,
                            [
                                card.subtitle,
                                card.verdict.text if card.verdict else "",
                                card.verdict.detail if card.verdict else "",
                                *[n.text for n in card.notes],
                            ],
                        )
    finally:
        wb.close()
    return out

"""The blocks a report is made of: sections of tables, charts, plain-words lines and cards.

A section is an ordered list of blocks (:class:`Lines`, :class:`Table`, :class:`Chart`, :class:`Cards`),
so a new section plugs in as one more :class:`Section` without touching the renderers. Every
human-readable string in a block is already in the report's language; every number is kept raw (renderers
format it by its unit), so a spreadsheet gets numbers and a web page gets ``1 000 ₽`` from the same object.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from kassa.i18n import Translator
from kassa.metrics.catalog import CATALOG
from kassa.metrics.compute import MetricTable, View
from kassa.period import Period

_ = Translator("report")

# "row": the values of the column differ in unit (a scorecard's targets); each row names its own in ``unit``.
Unit = Literal["money", "count", "ratio", "percent", "text", "row"]
Tone = Literal["good", "bad", "warning", "neutral"]


@dataclass(frozen=True)
class Column:
    """A table column: ``unit`` tells renderers how to format; ``tier`` (None for labels) how to badge it."""

    key: str
    label: str
    unit: Unit
    tier: str | None = None
    explain: str = ""

    @classmethod
    def metric(cls, name: str, lang: str) -> Column:
        m = CATALOG[name]
        return cls(name, m.label(lang), m.unit, m.tier.value, m.explain(lang))

    @classmethod
    def text(cls, key: str, label: str) -> Column:
        return cls(key, label, "text")

    def unit_in(self, row: dict[str, Any]) -> str:
        """The unit of this column's value in ``row``: the column's, or for a ``row`` column the row's ``unit``."""
        return str(row.get("unit") or "count") if self.unit == "row" else self.unit


@dataclass
class Table:
    """Rows of raw values (numbers stay numbers), a total row if it means something, and a sheet name."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None
    note: str = ""
    sheet: str = ""  # spreadsheet tab (≤ 31 characters); defaults to the title

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def metric_row(table: MetricTable, row: dict[str, Any] | None, keys: list[str]) -> dict[str, Any]:
    """A table row of ``keys`` from a metric table's ``row`` (None: its total), in the JSON form: an
    incomplete value is ``None`` with ``incomplete`` saying why (its counted part in ``known``), and
    ``estimated`` lists the estimated metrics; both only when there are any. Renderers mark those cells."""
    values = table.json_row(row)
    out = {k: values.get(k) for k in keys}
    estimated = [n for n in values.get("estimated", []) if n in keys]
    incomplete = {n: v for n, v in values.get("incomplete", {}).items() if n in keys}
    if estimated:
        out["estimated"] = estimated
    if incomplete:
        out["incomplete"] = incomplete
    partial = [n for n in values.get("partial", []) if n in keys]
    if partial:
        out["partial"] = partial  # LTV so far: a horizon not yet over (shown "≥")
    not_yet = [n for n in values.get("not_yet", []) if n in keys]
    if not_yet:
        out["not_yet"] = not_yet  # payback: the cohort has not covered its cost yet (no value)
    return out


@dataclass
class Chart:
    """A Vega-Lite spec from :mod:`kassa.report.charts` with the words around it."""

    key: str
    title: str
    spec: dict[str, Any]
    caption: str = ""


@dataclass(frozen=True)
class Line:
    """One sentence in plain words: a headline line, a finding, a note."""

    text: str
    tone: Tone = "neutral"
    detail: str = ""


@dataclass
class Lines:
    key: str
    items: list[Line]
    style: Literal["headline", "findings", "notes"] = "notes"


@dataclass
class Card:
    """A small titled table with a verdict, drawn next to its siblings (a KPI contract's scorecard)."""

    title: str
    table: Table
    subtitle: str = ""
    verdict: Line | None = None
    notes: list[Line] = field(default_factory=list)
    # One row of the comparison table above the cards: contract, weight per tier, score, bonus.
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cards:
    key: str
    cards: list[Card]


Block = Lines | Table | Chart | Cards


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""
    badge: str = ""  # e.g. "activity — not money": shown next to the title, and never omitted for activity

    def tables(self) -> list[Table]:
        out: list[Table] = []
        for b in self.blocks:
            if isinstance(b, Table):
                out.append(b)
            elif isinstance(b, Cards):
                out.extend(c.table for c in b.cards)
        return out

    def charts(self) -> list[Chart]:
        return [b for b in self.blocks if isinstance(b, Chart)]


@dataclass
class ReportData:
    """Everything a renderer needs; nothing it would have to look up."""

    title: str
    lang: str
    currency: str
    period: Period
    view: View
    facts: list[tuple[str, str]]  # the header: (label, value), already in words
    sections: list[Section]
    generated_at: dt.datetime
    warnings: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # fixed words of the page (badges, "Total")

    def section(self, key: str) -> Section:
        try:
            return next(s for s in self.sections if s.key == key)
        except StopIteration:
            raise KeyError(
                f"no section {key!r}; sections: {', '.join(s.key for s in self.sections)}"
            ) from None

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables()]

    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts()]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (the HTML page's twin): blocks tagged with their ``type``."""

        def block(b: Block) -> dict[str, Any]:
            kind = {Lines: "lines", Table: "table", Chart: "chart", Cards: "cards"}[type(b)]
            return {"type": kind, **_jsonable(dataclasses.asdict(b))}

        return {
            "title": self.title,
            "lang": self.lang,
            "currency": self.currency,
            "period": self.period.label,
            "view": self.view,
            "facts": [list(f) for f in self.facts],
            "generated_at": self.generated_at.isoformat(),
            "warnings": self.warnings,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "intro": s.intro,
                    "badge": s.badge,
                    "blocks": [block(b) for b in s.blocks],
                }
                for s in self.sections
            ],
        }

    def add(self, section: Section | None, *, before: str | None = None) -> None:
        """Add a section (``None`` is ignored), before the section ``before`` if it exists."""
        if section is None:
            return
        keys = [s.key for s in self.sections]
        self.sections.insert(keys.index(before) if before in keys else len(self.sections), section)


def _jsonable(v: Any) -> Any:
    """NaN and infinity never leave kassa as numbers: they are "no value" (``null``)."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def page_labels(lang: str) -> dict[str, str]:
    """The fixed words of a report page (badges, "Total", the footer) in ``lang``: :attr:`ReportData.labels`."""
    return {
        "total": _("Total", lang),
        "summary": _("Summary", lang),
        "activity_badge": _("activity — not money", lang),
        "activity": _("activity", lang),
        "intermediate": _("intermediate", lang),
        "outcome": _("outcome", lang),
        "generated": _("Generated by kassa on {date}", lang),
        "no_js": _("Charts need JavaScript; the tables below hold the same numbers.", lang),
        "contents": _("Contents", lang),
        "warnings": _("Warnings", lang),
        "no_rows": _("No data for this period.", lang),
    }


def estimated_note(lang: str) -> str:
    """What "≈" on a figure means: the title of a marked cell on a page, the comment on it in a spreadsheet."""
    return _(
        "An estimate: a day-prorated share of a whole-period report that this period cuts. "
        "Import a report segmented by day for exact figures.",
        lang,
    )


def not_yet_text(lang: str) -> str:
    """A payback whose cohort has not covered its cost within the months seen (no value, never 0)."""
    return _("not yet", lang)


def partial_note(lang: str) -> str:
    """What "≥" on LTV (and LTV / CAC) means, as :func:`estimated_note` says "≈": a value so far."""
    return _(
        "So far: the horizon of some customers acquired has not ended by the last date of the data; "
        "a lower bound, not extrapolated.",
        lang,
    )


def incomplete_note(lang: str) -> str:
    """What "≥ … + 22.88 USD" (or "?") on a figure means, as :func:`estimated_note` says "≈"."""
    return _(
        "Amounts without an exchange rate for their month are not counted: at least the converted "
        "part, plus the rest in its own currency; run kassa fx sync.",
        lang,
    )

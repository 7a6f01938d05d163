"""What a catalog declaration is: a :class:`Metric`, and for a base measure the :class:`Measure` and the
:class:`Rows` it is summed from. The declarations themselves are in :mod:`kassa.metrics.catalog`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from kassa.metrics.formula import formula_names, parse


class Tier(StrEnum):
    ACTIVITY = "activity"
    INTERMEDIATE = "intermediate"
    OUTCOME = "outcome"


Unit = Literal["money", "count", "ratio", "percent"]
Better = Literal["higher", "lower", "neutral"]
SHORT_LABEL = 10  # characters: a column of an 80-column terminal


@dataclass(frozen=True, kw_only=True)
class Rows:
    """A set of warehouse rows base measures are summed from (:mod:`kassa.metrics.compute` builds each).

    ``date`` puts a row in a period (and a month) in the calendar view; ``cohort_date``, when the rows
    have one, does so in the cohort view (the date of the lead they came from); without it the rows
    count by ``date`` in both views.
    """

    name: str
    date: str
    cohort_date: str | None = None
    # The date whose month's exchange rate converts the rows' money (default: ``date``).
    money_date: str | None = None


@dataclass(frozen=True, kw_only=True)
class Measure:
    """How a base measure is counted: the sum over ``rows`` of ``column`` (``None``: count the rows),
    only where the condition ``where`` holds (formula syntax over the rows' columns).

    ``distinct``: count each value of that column once per group (where ``where`` holds) instead of
    every row: customers, not their deals.

    ``nullable``: "no value", not 0, when no row reported it (a margin of 0 is not "no margin data").
    ``additive``: the sum over groups is the value of the whole; reach is not (audiences overlap), kassa
    sums it as an upper bound. ``net_of_vat``: the column may include VAT (the row's ``vat_included``)
    and is shown net or gross as the settings ask. Money columns are converted into the business
    currency where the rows carry a currency.
    """

    rows: Rows
    column: str | None = None
    where: str | None = None
    nullable: bool = False
    additive: bool = True
    net_of_vat: bool = False
    distinct: str | None = None

    def __post_init__(self) -> None:
        if self.where is not None:
            parse(self.where)
        if self.distinct is not None and self.column is not None:
            raise ValueError("a distinct count counts rows: it has no column to sum")

    def describe(self) -> str:
        """The rule in one line, as docs/metrics.md shows it: ``sum(amount) of won_deals``."""
        what = "count" if self.column is None else f"sum({self.column})"
        if self.distinct is not None:
            what = f"count distinct {self.distinct}"
        where = "" if self.where is None else f" where {self.where}"
        return f"{what} of {self.rows.name}{where}"


@dataclass(frozen=True, kw_only=True)
class Cover:
    """A metric that is neither a sum nor a formula: the months until a cohort's running sum of ``gain``
    (month 0 = the month of acquisition) covers ``cost`` — payback. :mod:`kassa.metrics.payback` counts
    it from the cohort's months; "not yet" (no value, marked) when no month seen within the horizon does.
    ``needs``: the metrics it reads besides the months (what decides the cohort and its basis)."""

    cost: str
    gain: str
    needs: tuple[str, ...] = ()

    def describe(self) -> str:
        """The rule in one line, as docs/metrics.md shows it."""
        return f"months until cumulative {self.gain} covers {self.cost}"


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One declared metric: a base ``measure`` or a derived ``formula``, never both.

    ``formula`` is arithmetic over other metric names (:mod:`kassa.metrics.formula`); ``cover`` is payback
    (:class:`Cover`), which is neither. ``hidden``
    metrics are internal steps not shown to people. ``short_en``/``short_ru`` label narrow columns
    (≤ 10 characters; default: the label).
    """

    name: str
    tier: Tier
    unit: Unit
    better: Better
    label_en: str
    label_ru: str
    explain_en: str
    explain_ru: str
    short_en: str = ""
    short_ru: str = ""
    formula: str | None = None
    measure: Measure | None = None
    cover: Cover | None = None
    hidden: bool = False

    def __post_init__(self) -> None:
        kinds = [k for k in (self.formula, self.measure, self.cover) if k is not None]
        if len(kinds) != 1:
            raise ValueError(f"metric {self.name!r} needs a formula or a measure (or a cover), and only one")
        if self.formula is not None:
            parse(self.formula)
        for lang in ("en", "ru"):
            if len(self.short(lang)) > SHORT_LABEL:
                raise ValueError(
                    f"metric {self.name!r}: short label {self.short(lang)!r} is over {SHORT_LABEL}"
                )

    def label(self, lang: str = "en") -> str:
        return self.label_ru if lang == "ru" else self.label_en

    def short(self, lang: str = "en") -> str:
        """The label for a narrow column: the short label, else the label."""
        return (self.short_ru if lang == "ru" else self.short_en) or self.label(lang)

    def explain(self, lang: str = "en") -> str:
        return self.explain_ru if lang == "ru" else self.explain_en

    @property
    def depends_on(self) -> list[str]:
        if self.cover is not None:
            return [self.cover.cost, *self.cover.needs]
        return [] if self.formula is None else formula_names(self.formula)

    def rule(self) -> str | None:
        """How a derived metric is computed, in one line (None for a base measure): its formula, or
        for payback the rule of its :class:`Cover`."""
        if self.cover is not None:
            return self.cover.describe()
        return self.formula

"""The shared interface of attribution models, their result, and the registry by name.

A model reads a :class:`~kassa.attribution.paths.PathTable` and returns an :class:`Attribution`:
credited conversions and value per channel, plus what the model alone knows (Markov: removal effects
and the transition matrix; Shapley: the method and its error). Every model credits conversions and
value at once, so ``--value`` only chooses which one is shown.

Adding a model: subclass :class:`AttributionModel` with a ``name``, decorate it with
``@MODELS.register``, describe it in ``docs/attribution.md`` (``tests/attribution/test_attribution_cli_docs.py``
fails otherwise). A model in a new module also needs that module in the import of
:mod:`kassa.attribution` (the package holds the warehouse readers too, which discovery must not import).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl

from kassa.attribution.paths import PathTable
from kassa.errors import KassaError
from kassa.registry import Registry

CREDIT_SCHEMA = {"channel": pl.String, "conversions": pl.Float64, "value": pl.Float64}


class UnknownModel(KassaError):
    """An attribution model name that is not registered (the message lists the valid ones)."""


class BadModelParameter(KassaError):
    """A model parameter outside its range (order 1..4, shares that do not add up…)."""


@dataclass
class Attribution:
    """Credits of one model.

    ``credits``: Polars frame ``channel, conversions, value`` — one row per channel that appears in
    any path, sorted by channel; the columns sum to the path table's total conversions and value.
    ``extras``: model-specific results (JSON-ready lists/dicts or Polars frames).
    """

    model: str
    params: dict[str, Any]
    credits: pl.DataFrame
    extras: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def credit(self, channel: str, column: str = "conversions") -> float:
        """Credit of one channel; 0 for a channel that appears in no path."""
        hit = self.credits.filter(pl.col("channel") == channel)
        return float(hit[column][0]) if hit.height else 0.0

    def as_dict(self, column: str = "conversions") -> dict[str, float]:
        return dict(zip(self.credits["channel"].to_list(), self.credits[column].to_list(), strict=True))

    def to_json(self) -> dict[str, Any]:
        extras = {k: (v.to_dicts() if isinstance(v, pl.DataFrame) else v) for k, v in self.extras.items()}
        return {
            "model": self.model,
            "params": self.params,
            "credits": self.credits.to_dicts(),
            **extras,
            "warnings": self.warnings,
        }


def credits_frame(frame: pl.DataFrame, channels: list[str]) -> pl.DataFrame:
    """Credits for every channel in ``channels`` (0 where a model gave none), sorted by channel."""
    base = pl.DataFrame({"channel": channels}, schema={"channel": pl.String})
    out = base.join(frame, on="channel", how="left").with_columns(
        pl.col("conversions").fill_null(0.0).cast(pl.Float64), pl.col("value").fill_null(0.0).cast(pl.Float64)
    )
    return out.select(list(CREDIT_SCHEMA)).sort("channel")


class AttributionModel(ABC):
    """One attribution model. Subclasses set ``name`` and ``title`` and implement :meth:`attribute`."""

    name: ClassVar[str]
    title: ClassVar[str]  # English; the Russian title is in locale/ru/LC_MESSAGES/attribution.po
    short: ClassVar[str]  # a column header that fits a terminal

    @abstractmethod
    def attribute(self, paths: PathTable) -> Attribution:
        """Credit the conversions and value of ``paths`` to channels."""

    @property
    def params(self) -> dict[str, Any]:
        return {}

    def _result(self, paths: PathTable, frame: pl.DataFrame, **extras: Any) -> Attribution:
        return Attribution(
            model=self.name,
            params=self.params,
            credits=credits_frame(frame, paths.channels()),
            extras=extras,
            warnings=list(paths.warnings),
        )


MODELS: Registry[type[AttributionModel]] = Registry("attribution model", error=UnknownModel, hint="(or all)")
"""Model classes by name (``@MODELS.register``), in the order they are registered: the import order of
:mod:`kassa.attribution` (heuristic, markov, shapley), then their order in the module."""


def model_names() -> list[str]:
    """Registered models in the order people compare them: heuristics first, then the data-driven two."""
    return MODELS.names()


def get_model(name: str, **params: Any) -> AttributionModel:
    """An instance of the model called ``name`` with the parameters it accepts (others are ignored).

    Raises
    ------
    UnknownModel
        With the list of valid names.
    """
    cls = MODELS[name.strip().lower().replace("-", "_")]
    factory: Callable[..., AttributionModel] = cls
    accepted = getattr(cls, "PARAMS", ())
    return factory(**{k: v for k, v in params.items() if k in accepted and v is not None})


def parse_model_list(text: str) -> list[str]:
    """``"all"`` or ``"linear, markov"`` -> registered names (validated, duplicates dropped)."""
    names = [n.strip().lower().replace("-", "_") for n in text.split(",") if n.strip()]
    if not names or names == ["all"]:
        return model_names()
    out: list[str] = []
    for n in names:
        if n == "all":
            out.extend(m for m in model_names() if m not in out)
            continue
        MODELS[n]  # raises UnknownModel with the valid names
        if n not in out:
            out.append(n)
    return out

"""A KPI contract: what a business agreed to pay its marketer or agency for, as a YAML file.

.. code-block:: yaml

    name: "Agency Pedal — Yandex Direct"
    scope: {channels: [yandex_direct]}        # or campaigns: [...]; default: everything
    view: calendar                            # or cohort (then settle_days: 45)
    period: month                             # targets are per month (or quarter)
    kpis:
      - {metric: qualified_leads, target: 120, weight: 0.4, floor: 0.7, cap: 1.2}
      - {metric: cost_per_qualified_lead, target: 3500, weight: 0.2}
      - {metric: revenue, target: 2500000, weight: 0.4}
    bonus: {base: 60000, gate: {metric: romi, min: 0.0}}

Every field is validated when the file is loaded (:func:`load_contract`); a mistake is reported as
``file:line: field kpis[1].weight: …`` by :mod:`kassa.yamlfile`, never discovered at payout time.
Metric names are those of :data:`kassa.metrics.catalog.CATALOG` (aliases such as ``cpql`` resolve to
their metric); an unknown name lists the valid ones.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kassa.errors import ConfigError, UnknownMetric
from kassa.metrics.catalog import Metric, get_metric, visible_metrics
from kassa.yamlfile import parse_yaml_model, read_yaml_text

Direction = Literal["higher", "lower"]
PERIOD_MONTHS = {"month": 1, "quarter": 3}
# How close to 1 the weights must sum: YAML decimals such as 0.1 + 0.2 are not exact in binary.
WEIGHT_TOLERANCE = 1e-6


def _catalog_metric(name: str) -> Metric:
    """The visible catalog metric for a name or alias; ``ValueError`` (for Pydantic) listing valid names."""
    try:
        m = get_metric(name)
    except UnknownMetric as exc:
        raise ValueError(str(exc)) from None
    if m.hidden:
        shown = ", ".join(v.name for v in visible_metrics())
        raise ValueError(f"metric {name!r} is internal; metrics: {shown}")
    return m


class Scope(BaseModel):
    """Which part of the business the contract covers; both lists given means campaigns of those channels."""

    model_config = ConfigDict(extra="forbid")
    channels: list[str] | None = Field(default=None, min_length=1)
    campaigns: list[str] | None = Field(default=None, min_length=1)

    def where(self) -> dict[str, list[str]] | None:
        """The ``where`` filter of :func:`kassa.metrics.compute`; ``None`` is the whole business."""
        out: dict[str, list[str]] = {}
        if self.channels:
            out["channel"] = list(self.channels)
        if self.campaigns:
            out["campaign"] = list(self.campaigns)
        return out or None

    @property
    def is_everything(self) -> bool:
        return not self.channels and not self.campaigns


class Kpi(BaseModel):
    """One line of the contract: a catalog metric, its target per contract period, weight, floor and cap.

    ``better`` may be set only for metrics the catalog calls neutral (spend, clicks, posts…), whose
    direction the catalog does not decide; without it a target on a neutral metric is a quota
    (more is better).
    """

    model_config = ConfigDict(extra="forbid")
    metric: str
    target: float = Field(gt=0, allow_inf_nan=False)
    weight: float = Field(gt=0, le=1, allow_inf_nan=False)
    floor: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    cap: float = Field(default=1.5, gt=0, allow_inf_nan=False)
    better: Direction | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        return _catalog_metric(v).name

    @model_validator(mode="after")
    def _consistent(self) -> Kpi:
        if self.floor > self.cap:
            raise ValueError(f"floor {self.floor:g} is above cap {self.cap:g}: no attainment could count")
        m = self.catalog
        if self.better is not None and m.better != "neutral":
            raise ValueError(
                f"better: {self.better} is not allowed for {m.name}: the catalog says {m.better} is better; "
                "better may be set only for neutral metrics"
            )
        return self

    @property
    def catalog(self) -> Metric:
        return get_metric(self.metric)

    @property
    def direction(self) -> Direction:
        """Which way is better when scoring: the catalog's, the contract's for neutral metrics, else higher."""
        m = self.catalog
        if m.better != "neutral":
            return m.better
        return self.better or "higher"


class Gate(BaseModel):
    """The bonus is paid only when ``min <= fact <= max`` (either bound may be omitted, not both)."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        return _catalog_metric(v).name

    @model_validator(mode="after")
    def _bounds(self) -> Gate:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}: the gate could never pass")
        return self

    @property
    def catalog(self) -> Metric:
        return get_metric(self.metric)

    def passes(self, fact: float | None) -> bool:
        if fact is None or math.isnan(fact):
            return False
        return (self.min is None or fact >= self.min) and (self.max is None or fact <= self.max)


class Bonus(BaseModel):
    """Bonus = ``base`` × score, or 0 when the gate fails or its metric has no value."""

    model_config = ConfigDict(extra="forbid")
    base: float = Field(ge=0, allow_inf_nan=False)
    gate: Gate | None = None


class Contract(BaseModel):
    """A validated KPI contract. Load one with :func:`load_contract`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    notes: str | None = None
    scope: Scope = Field(default_factory=Scope)
    view: Literal["calendar", "cohort"] = "calendar"
    settle_days: int | None = Field(default=None, ge=0)
    period: Literal["month", "quarter"] = "month"
    kpis: list[Kpi] = Field(min_length=1)
    bonus: Bonus | None = None

    _source: str | None = PrivateAttr(default=None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("settle_days")
    @classmethod
    def _cohort_only(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and info.data.get("view", "calendar") != "cohort":
            raise ValueError(
                "settle_days applies to view: cohort only (calendar counts what happened in the period)"
            )
        return v

    @field_validator("kpis")
    @classmethod
    def _weights_sum_to_one(cls, v: list[Kpi]) -> list[Kpi]:
        seen: set[str] = set()
        for k in v:
            if k.metric in seen:
                raise ValueError(
                    f"metric {k.metric} appears twice; give it one line with the combined weight"
                )
            seen.add(k.metric)
        total = math.fsum(k.weight for k in v)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            parts = " + ".join(f"{k.weight:g}" for k in v)
            raise ValueError(f"weights must sum to 1, these sum to {total:g} ({parts})")
        return v

    @property
    def months(self) -> int:
        """How many calendar months one contract period (and so every target) covers."""
        return PERIOD_MONTHS[self.period]

    @property
    def source(self) -> str | None:
        """The file the contract was read from, if any."""
        return self._source

    def where_is(self, path: str) -> str | None:
        """``file:line`` of a field such as ``kpis[1]`` or ``bonus.gate``, when the contract came from a file."""
        line = self._lines.get(path)
        if self._source is None:
            return None
        return f"{self._source}:{line}" if line else self._source

    def metrics(self) -> list[str]:
        """Every metric the contract needs: its KPIs and the gate's."""
        names = [k.metric for k in self.kpis]
        if self.bonus and self.bonus.gate and self.bonus.gate.metric not in names:
            names.append(self.bonus.gate.metric)
        return names


def _field_lines(
    node: yaml.Node | None, prefix: str = "", out: dict[str, int] | None = None
) -> dict[str, int]:
    """Field path (``kpis[0].target``) -> 1-based line, for pointing lint warnings at the file."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            path = f"{prefix}.{k.value}" if prefix else str(k.value)
            out[path] = k.start_mark.line + 1
            _field_lines(v, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}[{i}]"
            out[path] = item.start_mark.line + 1
            _field_lines(item, path, out)
    return out


def parse_contract(text: str, source: str = "<string>") -> Contract:
    """Validate contract YAML text; :class:`~kassa.errors.ConfigError` names ``source:line`` and the field."""
    return _located(parse_yaml_model(text, Contract, source=source), text, source)


def _located(contract: Contract, text: str, source: str) -> Contract:
    contract._source = source
    contract._lines = _field_lines(yaml.compose(text))
    return contract


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract file.

    Examples
    --------
    >>> c = load_contract(example_path("pays_for_money"))
    >>> [k.metric for k in c.kpis]
    ['qualified_leads', 'cost_per_qualified_lead', 'revenue']
    """
    p = Path(path)
    text = read_yaml_text(p)  # missing, too large or not UTF-8 -> ConfigError naming the file
    return _located(parse_yaml_model(text, Contract, source=str(p)), text, str(p))


# The shipped examples: one pays for turning the wheel (the article's contract), one for arriving.
EXAMPLES = ("pays_for_activity", "pays_for_money")


def example_path(name: str) -> Path:
    """Path of a shipped example contract (see :data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise ConfigError(f"no example contract {name!r}; examples: {', '.join(EXAMPLES)}")
    return Path(str(resources.files("kassa") / "kpi" / "examples" / f"{name}.yaml"))

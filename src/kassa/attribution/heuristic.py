r"""Rule-based models: each touch of a converting path gets a fixed share of its conversions and value.

For a path :math:`(c_1, \dots, c_n)` with :math:`C` conversions and value :math:`V`, a rule gives
touch :math:`i` a weight :math:`w_i \ge 0` with :math:`\sum_i w_i = 1`; channel :math:`k` is credited

.. math:: \text{credit}_k = \sum_{\text{paths}} C \sum_{i:\, c_i = k} w_i \qquad (\text{and the same with } V).

Non-converting paths carry no credit in these models.

References
----------
* Google Analytics Help, "Attribution models" (first/last interaction, linear, time decay with a
  7-day half-life, position-based 40/20/40).
* Yandex Metrica Help, "Attribution models" ("last significant source": the last non-direct touch).
* Berman, R. (2018). Beyond the Last Touch: Attribution in Online Advertising. *Marketing Science*
  37(5), 771–792 (why rule-based credit misleads when channels interact).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import polars as pl

from kassa.attribution.base import MODELS, Attribution, AttributionModel, BadModelParameter
from kassa.attribution.paths import Note, PathTable

STEPS_NOT_DAYS = (
    "time_decay: the paths have no touch times; the half-life of {half_life} counts steps, not days"
)


def touches(paths: PathTable) -> pl.DataFrame:
    """Touches of converting paths: ``_row, channel, pos`` (0 = first), ``n`` (path length),
    ``days`` (days before the end, null without times), ``conversions``, ``value``."""
    f = paths.frame.filter((pl.col("conversions") > 0) | (pl.col("value") > 0))
    f = f.with_row_index("_row").with_columns(n=pl.col("path").list.len().cast(pl.Int64))
    f = f.with_columns(_start=pl.col("n").cum_sum() - pl.col("n"))
    list_cols = ["path", "days_before"] if paths.has_times else ["path"]
    t = f.explode(list_cols).rename({"path": "channel"})
    if not paths.has_times:
        t = t.with_columns(days_before=pl.lit(None, dtype=pl.Float64))
    return t.with_columns(pos=pl.int_range(pl.len(), dtype=pl.Int64) - pl.col("_start")).rename(
        {"days_before": "days"}
    )


class TouchWeightModel(AttributionModel):
    """A model defined by a per-touch weight expression over :func:`touches`' columns."""

    PARAMS: ClassVar[tuple[str, ...]] = ()

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        raise NotImplementedError

    def attribute(self, paths: PathTable) -> Attribution:
        t = touches(paths)
        t = t.with_columns(_w=self.weight(t, paths))
        credited = t.group_by("channel").agg(
            conversions=(pl.col("conversions") * pl.col("_w")).sum(),
            value=(pl.col("value") * pl.col("_w")).sum(),
        )
        result = self._result(paths, credited)
        result.warnings.extend(self.notes(paths))
        return result

    def notes(self, paths: PathTable) -> list[str]:
        return []


@MODELS.register
class FirstTouch(TouchWeightModel):
    r"""First touch: :math:`w_1 = 1`. Rewards channels that start journeys (awareness)."""

    name = "first_touch"
    title = "First touch"
    short = "First"

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        return (pl.col("pos") == 0).cast(pl.Float64)


@MODELS.register
class LastTouch(TouchWeightModel):
    r"""Last touch: :math:`w_n = 1`. What most ad cabinets report for themselves."""

    name = "last_touch"
    title = "Last touch"
    short = "Last"

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        return (pl.col("pos") == pl.col("n") - 1).cast(pl.Float64)


@MODELS.register
class LastNonDirect(TouchWeightModel):
    r"""Last non-direct touch: :math:`w_j = 1` for the last touch not of a direct channel; a path of
    direct touches only gives its last touch. Yandex Metrica's default ("last significant source")."""

    name = "last_non_direct"
    title = "Last non-direct touch"
    short = "Last non-direct"

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        direct = list(paths.direct)
        last_nd = pl.when(~pl.col("channel").is_in(direct)).then(pl.col("pos")).max().over("_row")
        target = pl.coalesce(last_nd, pl.col("n") - 1)
        return (pl.col("pos") == target).cast(pl.Float64)


@MODELS.register
class Linear(TouchWeightModel):
    r"""Linear: :math:`w_i = 1/n` for every touch (a channel touched twice gets two shares)."""

    name = "linear"
    title = "Linear"
    short = "Linear"

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        return 1.0 / pl.col("n").cast(pl.Float64)


@MODELS.register
class TimeDecay(TouchWeightModel):
    r"""Time decay: :math:`w_i \propto 2^{-d_i / h}`, normalised per path, where :math:`d_i` is the
    days from touch :math:`i` to the conversion and :math:`h` the half-life (default 7 days, as in
    Google Analytics): a touch :math:`h` days earlier counts half as much.

    Without per-touch times (a ChannelAttribution file) :math:`d_i = n - i` steps is used instead and
    the result says so.
    """

    name = "time_decay"
    title = "Time decay"
    short = "Decay"
    PARAMS = ("half_life_days",)

    def __init__(self, half_life_days: float = 7.0) -> None:
        if not (half_life_days > 0 and math.isfinite(half_life_days)):
            raise BadModelParameter(
                f"time_decay: the half-life must be a positive number of days, not {half_life_days}"
            )
        self.half_life_days = float(half_life_days)

    @property
    def params(self) -> dict[str, Any]:
        return {"half_life_days": self.half_life_days}

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        d = pl.col("days") if paths.has_times else (pl.col("n") - 1 - pl.col("pos")).cast(pl.Float64)
        # Shift by the path's smallest distance before exponentiating: same ratios, no underflow to 0/0.
        raw = 2.0 ** (-(d - d.min().over("_row")) / self.half_life_days)
        return raw / raw.sum().over("_row")

    def notes(self, paths: PathTable) -> list[str]:
        if paths.has_times:
            return []
        return [Note(STEPS_NOT_DAYS, half_life=f"{self.half_life_days:g}")]


@MODELS.register
class PositionBased(TouchWeightModel):
    r"""Position-based ("U-shaped"): first touch :math:`f`, last touch :math:`l` (default 0.4 each),
    the middle touches share :math:`1 - f - l` equally. A path of two touches splits
    :math:`f/(f+l)` and :math:`l/(f+l)`; one touch takes everything.
    """

    name = "position_based"
    title = "Position-based"
    short = "Position"
    PARAMS = ("first", "last")

    def __init__(self, first: float = 0.4, last: float = 0.4) -> None:
        if first < 0 or last < 0 or first + last > 1 + 1e-12 or first + last <= 0:
            raise BadModelParameter(
                f"position_based: first and last shares must be ≥ 0 with 0 < first + last ≤ 1, not {first} and {last}"
            )
        self.first, self.last = float(first), float(last)

    @property
    def params(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.last, "middle": round(1 - self.first - self.last, 12)}

    def weight(self, t: pl.DataFrame, paths: PathTable) -> pl.Expr:
        f, la = self.first, self.last
        n, pos = pl.col("n"), pl.col("pos")
        middle = (1.0 - f - la) / (n - 2).cast(pl.Float64)
        # With n ≥ 3 and f + l = 1 the middle gets 0; the ends keep f and l exactly.
        return (
            pl.when(n == 1)
            .then(1.0)
            .when(n == 2)
            .then(pl.when(pos == 0).then(f / (f + la)).otherwise(la / (f + la)))
            .when(pos == 0)
            .then(f)
            .when(pos == n - 1)
            .then(la)
            .otherwise(middle)
        )

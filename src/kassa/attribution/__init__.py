"""Attribution: which channels earned the conversions and the money, under eight models side by side.

Library use::

    from kassa.attribution import read_path_file, attribute
    results = attribute(read_path_file("paths.csv"), ["last_touch", "markov", "shapley"])
    results["markov"].credits                     # channel, conversions, value
    results["markov"].extras["removal_effects"]   # channel, removal_effect_conversions, removal_effect_value

Models: ``first_touch``, ``last_touch``, ``last_non_direct``, ``linear``, ``time_decay``,
``position_based`` (:mod:`.heuristic`), ``markov`` (:mod:`.markov`, order 1..4, exact) and
``shapley`` (:mod:`.shapley`, exact). ``docs/attribution.md`` gives every formula.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kassa.attribution import heuristic, markov, shapley  # noqa: F401  (importing registers the models)
from kassa.attribution.base import (
    MODELS,
    Attribution,
    AttributionModel,
    BadModelParameter,
    UnknownModel,
    get_model,
    model_names,
    parse_model_list,
)
from kassa.attribution.paths import BadPathFile, PathTable, read_path_file

__all__ = [
    "MODELS",
    "Attribution",
    "AttributionModel",
    "BadModelParameter",
    "BadPathFile",
    "PathTable",
    "UnknownModel",
    "attribute",
    "get_model",
    "model_names",
    "parse_model_list",
    "read_path_file",
]


def attribute(
    paths: PathTable,
    models: Sequence[str] | str = "all",
    *,
    params: Mapping[str, Any] | None = None,
    lookback_days: float | None = None,
    exclude_direct: bool = False,
) -> dict[str, Attribution]:
    """Run several models on the same paths, after the lookback window and "exclude direct".

    Parameters
    ----------
    paths : PathTable
    models : ``"all"``, ``"linear,markov"`` or a list of names
    params : model parameters by name, e.g. ``{"order": 2, "half_life_days": 7, "first": 0.4}``;
        each model takes the ones it knows.
    lookback_days : drop touches older than this before the journey's end (needs per-touch times)
    exclude_direct : drop direct touches from paths that have any other touch

    Returns
    -------
    dict model name -> :class:`Attribution`, in the order asked.
    """
    names = parse_model_list(models) if isinstance(models, str) else parse_model_list(",".join(models))
    prepared = paths.prepared(lookback_days=lookback_days, exclude_direct=exclude_direct)
    return {n: get_model(n, **dict(params or {})).attribute(prepared) for n in names}

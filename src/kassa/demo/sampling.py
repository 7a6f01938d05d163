"""Random shares drawn as fixed-size samples: every item keeps its probability, a group's count its expectation.

The demo company's healthy streams change from month to month only as much as their traffic does, so the
planted stories stand out; binomial scatter of small monthly counts would hide them.
"""

from __future__ import annotations

import numpy as np


def quota(rng: np.random.Generator, p: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli(pᵢ) draws whose number within each group is Σpᵢ rounded up or down (systematic sampling).

    Items are put in random order within their group; with one uniform start ``u`` per group, item *i* is
    drawn when an integer falls in ``(u + Σ_{j<i} pⱼ, u + Σ_{j≤i} pⱼ]``, which happens with probability
    exactly pᵢ (Madow 1949, systematic sampling with unequal probabilities). Each item keeps its own
    chance, but a month's count does not scatter binomially around it.
    """
    n = p.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    g0 = np.zeros(n, dtype=np.int64) if group is None else group
    order = np.lexsort((rng.random(n), g0))
    ps, g = p[order], g0[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    lengths = np.diff(np.r_[starts, n])
    cs = np.cumsum(ps)
    c = cs - np.repeat(cs[starts] - ps[starts], lengths) + np.repeat(rng.random(starts.size), lengths)
    out = np.empty(n, dtype=bool)
    out[order] = np.floor(c) > np.floor(c - ps)
    return out


def stratified_uniform(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """One Uniform(0, 1) value per item, evenly spread within each group (stratified sampling).

    Within a group of n items in random order, item j gets (j + u) / n with one uniform u per group:
    each value is still uniform, but a group's values cover (0, 1) evenly, so quantiles drawn from them
    (a product, a sales cycle) follow their distribution closely even in a group of ten.
    """
    n = group.size
    if n == 0:
        return np.zeros(0)
    order = np.lexsort((rng.random(n), group))
    g = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    lengths = np.diff(np.r_[starts, n])
    position = np.arange(n) - np.repeat(starts, lengths)
    out = np.empty(n)
    out[order] = (position + np.repeat(rng.random(starts.size), lengths)) / np.repeat(lengths, lengths)
    return out


def quota_choice(rng: np.random.Generator, shares: tuple[float, ...], group: np.ndarray) -> np.ndarray:
    """A category per item with the given shares; each group's counts are n·share rounded up or down."""
    cum = np.cumsum(shares) / np.sum(shares)
    return np.minimum(np.searchsorted(cum, stratified_uniform(rng, group), side="right"), len(shares) - 1)

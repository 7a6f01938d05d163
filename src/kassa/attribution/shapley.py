r"""Shapley-value attribution over channel sets.

Characteristic function
-----------------------
For a coalition :math:`S` of channels, :math:`v(S)` is the conversions (or value) of the journeys
whose set of channels is contained in :math:`S`:

.. math:: v(S) = \sum_{T \subseteq S} R(T),

where :math:`R(T)` is the conversions (value) of journeys whose channel set is exactly :math:`T`
(Zhao et al. 2018, eq. 3). Non-converting journeys do not enter :math:`v`. The Shapley value
(Shapley 1953) is

.. math:: \varphi_i = \sum_{S \subseteq N \setminus \{i\}}
          \frac{|S|!\,(|N| - |S| - 1)!}{|N|!}\, \bigl(v(S \cup \{i\}) - v(S)\bigr).

Because :math:`v` is a sum of unanimity games with dividends :math:`R(T) \ge 0`, this equals

.. math:: \varphi_i = \sum_{T \ni i} \frac{R(T)}{|T|}

(Harsanyi dividends; Zhao et al. 2018, "simplified Shapley value"), which kassa computes exactly in
time linear in the data — for any number of channels, with no journey truncated and no credit ever
negative. Two other methods compute the same number and exist to check it and to show the contrast:
``subsets`` evaluates the definition above over all :math:`2^{|N|}` coalitions (up to 16 channels),
``sampling`` averages marginal contributions over ``samples`` random channel orders drawn with a
fixed ``seed`` (Castro, Gómez & Tejada 2009) and reports each channel's standard error.

References
----------
* Shapley, L. S. (1953). A value for n-person games. In *Contributions to the Theory of Games II*,
  Annals of Mathematics Studies 28, 307–317.
* Zhao, K., Mahboobi, S. H., Bagheri, S. R. (2018). Shapley value methods for attribution modeling
  in online advertising. arXiv:1804.05327.
* Harsanyi, J. C. (1963). A simplified bargaining model for the n-person cooperative game.
  *International Economic Review* 4(2), 194–220.
* Castro, J., Gómez, D., Tejada, J. (2009). Polynomial calculation of the Shapley value based on
  sampling. *Computers & Operations Research* 36(5), 1726–1730.
"""

from __future__ import annotations

from math import factorial
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl

from kassa.attribution.base import MODELS, Attribution, AttributionModel, BadModelParameter
from kassa.attribution.encode import encode
from kassa.attribution.paths import PathTable

Method = Literal["exact", "subsets", "sampling"]
MAX_SUBSET_CHANNELS = 16


def channel_sets(paths: PathTable) -> tuple[list[str], list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct channel sets of converting journeys with their conversions and value: (channels, sets, R_conv, R_value)."""
    enc = encode(paths, converting_only=True)
    path_of = enc.path_of_touch
    pairs = pl.DataFrame({"p": path_of, "c": enc.ids}).unique()
    by_path = pairs.group_by("p").agg(pl.col("c").sort()).sort("p")
    frame = pl.DataFrame(
        {
            "set": by_path["c"],
            "conv": enc.conversions[by_path["p"].to_numpy()],
            "value": enc.value[by_path["p"].to_numpy()],
        }
    )
    grouped = frame.group_by("set").agg(pl.col("conv").sum(), pl.col("value").sum()).sort("set")
    sets = [np.asarray(s, dtype=np.int64) for s in grouped["set"].to_list()]
    return enc.channels, sets, grouped["conv"].to_numpy(), grouped["value"].to_numpy()


def shapley_exact(n: int, sets: list[np.ndarray], R: np.ndarray) -> np.ndarray:
    r""":math:`\varphi_i = \sum_{T \ni i} R(T)/|T|` (dividends of unanimity games)."""
    phi = np.zeros(n)
    for s, r in zip(sets, R, strict=True):
        phi[s] += r / len(s)
    return phi


def shapley_subsets(n: int, sets: list[np.ndarray], R: np.ndarray) -> np.ndarray:
    """The Shapley formula over all 2^n coalitions: v by a subset-sum (zeta) transform, then the weighted
    marginal contributions. Exponential; for checking and for up to 16 channels."""
    if n > MAX_SUBSET_CHANNELS:
        raise BadModelParameter(
            f"shapley: method 'subsets' handles up to {MAX_SUBSET_CHANNELS} channels, not {n}"
        )
    size = 1 << n
    masks = np.array([int(sum(1 << int(c) for c in s)) for s in sets], dtype=np.int64)
    v = np.bincount(masks, weights=R, minlength=size).astype(np.float64)
    all_masks = np.arange(size, dtype=np.int64)
    for i in range(n):  # zeta transform: v[S] = sum of R over subsets of S
        has = (all_masks >> i) & 1 == 1
        v[has] += v[all_masks[has] ^ (1 << i)]
    popcount = np.array([bin(m).count("1") for m in range(size)], dtype=np.int64)
    weight = np.array(
        [factorial(k) * factorial(n - k - 1) / factorial(n) if k < n else 0.0 for k in range(n + 1)]
    )
    phi = np.zeros(n)
    for i in range(n):
        without = all_masks[(all_masks >> i) & 1 == 0]
        phi[i] = float(np.sum(weight[popcount[without]] * (v[without | (1 << i)] - v[without])))
    return phi


def shapley_sampling(
    n: int, sets: list[np.ndarray], R: np.ndarray, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean marginal contribution over ``samples`` random orders of the channels (Castro et al. 2009).

    In an order, channel i's marginal contribution is the sum of R(T) over sets T whose last member
    in that order is i. Returns (estimate, standard error of the mean)."""
    if samples < 2:
        raise BadModelParameter("shapley: sampling needs at least 2 samples")
    rng = np.random.default_rng(seed)
    width = max((len(s) for s in sets), default=1)
    padded = np.full((len(sets), width), -1, dtype=np.int64)
    for k, s in enumerate(sets):
        padded[k, : len(s)] = s
    total = np.zeros(n)
    total_sq = np.zeros(n)
    for _ in range(samples):
        rank = rng.permutation(n)
        ranks = np.where(padded >= 0, rank[np.maximum(padded, 0)], -1)
        last = (
            padded[np.arange(len(sets)), np.argmax(ranks, axis=1)]
            if len(sets)
            else np.zeros(0, dtype=np.int64)
        )
        contribution = np.bincount(last, weights=R, minlength=n)
        total += contribution
        total_sq += contribution**2
    mean = total / samples
    var = np.maximum(total_sq / samples - mean**2, 0.0) * samples / (samples - 1)
    return mean, np.sqrt(var / samples)


@MODELS.register
class Shapley(AttributionModel):
    """Shapley value with v(S) = conversions (value) of journeys whose channels are all in S."""

    name = "shapley"
    title = "Shapley value"
    short = "Shapley"
    PARAMS: ClassVar[tuple[str, ...]] = ("method", "samples", "seed")

    def __init__(self, method: Method = "exact", samples: int = 1000, seed: int = 0) -> None:
        if method not in ("exact", "subsets", "sampling"):
            raise BadModelParameter(f"shapley: method must be exact, subsets or sampling, not {method!r}")
        self.method: Method = method
        self.samples = int(samples)
        self.seed = int(seed)

    @property
    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {
            "method": self.method,
            "characteristic": "v(S) = conversions of journeys with channels ⊆ S",
        }
        if self.method == "sampling":
            p |= {"samples": self.samples, "seed": self.seed}
        return p

    def attribute(self, paths: PathTable) -> Attribution:
        channels, sets, r_conv, r_value = channel_sets(paths)
        n = len(channels)
        extras: dict[str, Any] = {}
        if self.method == "exact":
            phi_c, phi_v = shapley_exact(n, sets, r_conv), shapley_exact(n, sets, r_value)
        elif self.method == "subsets":
            phi_c, phi_v = shapley_subsets(n, sets, r_conv), shapley_subsets(n, sets, r_value)
        else:
            phi_c, se_c = shapley_sampling(n, sets, r_conv, self.samples, self.seed)
            phi_v, se_v = shapley_sampling(n, sets, r_value, self.samples, self.seed)
            extras["standard_error"] = pl.DataFrame({"channel": channels, "conversions": se_c, "value": se_v})
        credited = pl.DataFrame(
            {"channel": channels, "conversions": phi_c, "value": phi_v},
            schema={"channel": pl.String, "conversions": pl.Float64, "value": pl.Float64},
        )
        return self._result(paths, credited, **extras)

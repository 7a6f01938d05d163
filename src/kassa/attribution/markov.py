r"""Markov-chain attribution by removal effect, of order :math:`k = 1..4`, solved exactly.

The chain
---------
Each journey is a walk ``(start) → s_1 → … → s_m → (conversion | null)``. For order :math:`k` a
state is a window of :math:`k` consecutive channels of the path (a path shorter than :math:`k` is one
state); consecutive repeats of the same state are merged, as in ChannelAttribution, so a channel seen
twice in a row is one step. Transition probabilities are the observed transition counts, each path
weighted by its conversions + nulls, divided by the state's total outflow:
:math:`p_{ij} = n_{ij} / \sum_{j'} n_{ij'}`.

Conversion probability
----------------------
With :math:`Q` the transitions among transient states (start and channel states) and
:math:`r_i = n_{i,\text{conv}} / n_i` the one-step conversion probability, the probability to convert
from each state solves the absorbing-chain equations (Kemeny & Snell 1960, ch. III)

.. math:: x = Q x + r \iff (I - Q)\, x = r, \qquad P = x_{\text{start}}.

For value, :math:`r_i = V_i / n_i` with :math:`V_i` the value of conversions whose last state is
:math:`i`; then :math:`x_{\text{start}}` is the expected value of a journey.

Removal effect
--------------
Removing channel :math:`c` sends every transition into a state containing :math:`c` to null:
the states containing :math:`c` drop out of the system. With :math:`P_{-c}` the conversion
probability of the reduced system,

.. math:: RE_c = 1 - P_{-c} / P \in [0, 1], \qquad
          \text{credit}_c = C_{\text{total}} \cdot RE_c / \textstyle\sum_{c'} RE_{c'} .

:math:`RE_c` equals the share of converting walks that visit :math:`c`, which is what
ChannelAttribution estimates by simulation (``markov_model``); kassa solves the same linear systems
with a sparse LU factorisation (SciPy/SuperLU), one per channel, so there is no simulation error.

References
----------
* Anderl, E., Becker, I., von Wangenheim, F., Schumann, J. H. (2016). Mapping the customer journey:
  Lessons learned from graph-based online attribution modeling. *International Journal of Research
  in Marketing* 33(3), 457–474.
* Kemeny, J. G., Snell, J. L. (1960). *Finite Markov Chains*. Van Nostrand (absorption probabilities).
* Altomare, D., Loris, D. ChannelAttribution (R/Python package), ``markov_model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from kassa.attribution.base import MODELS, Attribution, AttributionModel, BadModelParameter
from kassa.attribution.encode import EncodedPaths, encode
from kassa.attribution.paths import PathTable

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
MAX_ORDER = 4
DENSE_CODES = 1 << 24  # window codes up to which states are found with a lookup table
DENSE_COUNTS = 1 << 22  # states² up to which transitions are counted in a dense array (32 MiB)


@dataclass(frozen=True)
class Chain:
    """An absorbing Markov chain estimated from paths.

    States ``0..m-1`` are transient: 0 is ``(start)``, the others channel windows. ``W`` holds the
    transition counts among them; ``conv``, ``null`` and ``value`` the counts (value) leaving each
    state to absorption; ``members[s]`` the channel ids in state ``s``.
    """

    channels: list[str]
    order: int
    W: sp.csr_matrix
    conv: np.ndarray
    null: np.ndarray
    value: np.ndarray
    members: list[np.ndarray]

    @property
    def size(self) -> int:
        return self.W.shape[0]

    @property
    def outflow(self) -> np.ndarray:
        return np.asarray(self.W.sum(axis=1)).ravel() + self.conv + self.null

    def state_name(self, s: int) -> str:
        return START if s == 0 else " > ".join(self.channels[i] for i in self.members[s])

    def solve(self, removed: int | None = None) -> tuple[float, float]:
        r"""Conversion probability and expected value per journey from ``(start)``, with channel
        ``removed`` taken out of the chain: :math:`(I - Q)_{KK}\, x_K = r_K` over the kept states K."""
        out = self.outflow
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(out > 0, 1.0 / out, 0.0)
        keep = np.ones(self.size, dtype=bool)
        if removed is not None:
            keep &= ~self._contains(removed)
        idx = np.flatnonzero(keep)
        Q = sp.diags(inv[idx]) @ self.W[idx][:, idx]
        A = (sp.identity(len(idx), format="csc") - Q).tocsc()
        R = np.column_stack([self.conv[idx] * inv[idx], self.value[idx] * inv[idx]])
        x = spsolve(A, R)
        x = np.atleast_2d(x)
        if x.shape[0] != len(idx):
            x = x.T
        return float(x[0, 0]), float(x[0, 1])

    def _contains(self, channel: int) -> np.ndarray:
        return np.array([channel in m for m in self.members], dtype=bool)

    def transition_frame(self) -> pl.DataFrame:
        """Transition probabilities with state names: ``from, to, probability`` (including to
        ``(conversion)`` and ``(null)``), sorted by ``from`` then ``to``."""
        out = self.outflow
        coo = self.W.tocoo()
        names = [self.state_name(s) for s in range(self.size)]
        frm = (
            [names[i] for i in coo.row]
            + [names[i] for i in range(self.size) if self.conv[i] > 0]
            + [names[i] for i in range(self.size) if self.null[i] > 0]
        )
        to = (
            [names[j] for j in coo.col]
            + [CONVERSION] * int((self.conv > 0).sum())
            + [NULL] * int((self.null > 0).sum())
        )
        p = np.concatenate(
            [
                coo.data / out[coo.row],
                self.conv[self.conv > 0] / out[self.conv > 0],
                self.null[self.null > 0] / out[self.null > 0],
            ]
        )
        frame = pl.DataFrame(
            {"from": frm, "to": to, "probability": p},
            schema={"from": pl.String, "to": pl.String, "probability": pl.Float64},
        )
        return frame.filter(pl.col("probability") > 0).sort("from", "to")


def _state_codes(enc: EncodedPaths, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(code of every state occurrence in path order, number of states per path).

    A code holds the window's channel ids + 1 as base-(K+1) digits (0 = no channel), so windows of
    different lengths never collide. Order 1: the code is the channel id + 1.
    """
    ids, lengths = enc.ids, enc.lengths
    if order == 1:
        return ids.astype(np.int64) + 1, lengths
    base = len(enc.channels) + 1
    if float(base) ** order >= 2.0**62:
        raise BadModelParameter(f"markov: {len(enc.channels)} channels are too many for order {order}")
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(len(ids), dtype=np.int64) - np.repeat(starts, lengths)
    n = np.repeat(lengths, lengths)
    padded = np.concatenate([ids.astype(np.int64) + 1, np.zeros(order, dtype=np.int64)])
    code = np.zeros(len(ids), dtype=np.int64)
    for j in range(order):
        # Inside the path only: a short path's window must not borrow the next path's channels.
        code = code * base + np.where(pos + j < n, padded[j : j + len(ids)], 0)
    valid = (pos <= n - order) | ((n < order) & (pos == 0))
    return code[valid], np.maximum(lengths - order + 1, 1)


def estimate_chain(paths: PathTable, order: int = 1) -> Chain:
    """Count transitions of order ``order`` (see the module docstring) into a :class:`Chain`.

    Works on flat arrays, path after path: a state's predecessor is the previous element unless it
    starts a path (then ``(start)``); a repeat of the same state inside a path gets weight 0 (merged).
    """
    if order not in range(1, MAX_ORDER + 1):
        raise BadModelParameter(f"markov: order must be 1..{MAX_ORDER}, not {order}")
    enc = encode(paths)
    K = len(enc.channels)
    code, counts = _state_codes(enc, order)
    if order == 1:
        state = code  # channel i is state i + 1
        members = [np.zeros(0, dtype=np.int64)] + [np.array([i]) for i in range(K)]
    else:
        base = K + 1
        if base**order <= DENSE_CODES:  # a lookup table instead of sorting millions of codes
            present = np.zeros(base**order, dtype=bool)
            present[code] = True
            uniq = np.flatnonzero(present)
            state = (np.cumsum(present) - 1)[code] + 1
        else:
            uniq, inv = np.unique(code, return_inverse=True)
            state = inv.astype(np.int64) + 1
        members = [np.zeros(0, dtype=np.int64)]
        for c in uniq.tolist():
            ds = []
            while c:
                ds.append(c % base - 1)
                c //= base
            members.append(np.array([d for d in reversed(ds) if d >= 0], dtype=np.int64))
    m = len(members)
    starts = np.cumsum(counts) - counts
    prev = np.empty_like(state)
    prev[1:] = state[:-1]
    prev[starts] = 0
    weight = np.repeat(enc.conversions + enc.nulls, counts)
    weight[(prev == state)] = 0.0  # a state repeated in a row is one step (as in ChannelAttribution)
    if m * m <= DENSE_COUNTS:  # few states (order 1, small orders): one bincount beats a sparse sort
        W = sp.csr_matrix(np.bincount(prev * m + state, weights=weight, minlength=m * m).reshape(m, m))
    else:
        W = sp.coo_matrix((weight, (prev, state)), shape=(m, m)).tocsr()
        W.sum_duplicates()
        W.eliminate_zeros()
    end = state[starts + counts - 1]
    conv = np.bincount(end, weights=enc.conversions, minlength=m)
    null = np.bincount(end, weights=enc.nulls, minlength=m)
    value = np.bincount(end, weights=enc.value, minlength=m)
    return Chain(enc.channels, order, W, conv, null, value, members)


@MODELS.register
class Markov(AttributionModel):
    """Markov removal effect of order ``order`` (1..4), computed exactly (see the module docstring)."""

    name = "markov"
    title = "Markov chain (removal effect)"
    short = "Markov"
    PARAMS: ClassVar[tuple[str, ...]] = ("order",)

    def __init__(self, order: int = 1) -> None:
        if order not in range(1, MAX_ORDER + 1):
            raise BadModelParameter(f"markov: order must be 1..{MAX_ORDER}, not {order}")
        self.order = int(order)

    @property
    def params(self) -> dict[str, Any]:
        return {"order": self.order}

    def attribute(self, paths: PathTable) -> Attribution:
        chain = estimate_chain(paths, self.order)
        p_conv, p_value = chain.solve() if chain.size > 1 else (0.0, 0.0)
        rows = []
        for i, ch in enumerate(chain.channels):
            q_conv, q_value = chain.solve(removed=i)
            rows.append(
                {
                    "channel": ch,
                    "removal_effect_conversions": _removal(q_conv, p_conv),
                    "removal_effect_value": _removal(q_value, p_value),
                }
            )
        effects = pl.DataFrame(
            rows,
            schema={
                "channel": pl.String,
                "removal_effect_conversions": pl.Float64,
                "removal_effect_value": pl.Float64,
            },
        )
        total_c, total_v = paths.total("conversions"), paths.total("value")
        credited = effects.select(
            "channel",
            conversions=_share(pl.col("removal_effect_conversions")) * total_c,
            value=_share(pl.col("removal_effect_value")) * total_v,
        )
        return self._result(
            paths,
            credited,
            removal_effects=effects,
            transition_matrix=chain.transition_frame(),
            conversion_probability=p_conv,
            expected_value=p_value,
            states=chain.size - 1,
        )


def _removal(without: float, full: float) -> float:
    if full <= 0:
        return 0.0
    # Rounding can leave -1e-17 or 1 + 1e-16; the quantity is a probability ratio in [0, 1].
    return float(min(1.0, max(0.0, 1.0 - without / full)))


def _share(effect: pl.Expr) -> pl.Expr:
    total = effect.sum()
    return pl.when(total > 0).then(effect / total).otherwise(0.0)

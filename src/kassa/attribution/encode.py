"""Paths as integer arrays: the fast representation Markov and Shapley work on.

Channel ids follow the sorted channel names, so results never depend on the order rows or channels
arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kassa.attribution.paths import PathTable


@dataclass(frozen=True)
class EncodedPaths:
    """``ids``: channel id of every touch, path after path; ``lengths``: touches per path."""

    channels: list[str]
    ids: np.ndarray
    lengths: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    @property
    def path_of_touch(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.lengths), dtype=np.int32), self.lengths)


def encode(paths: PathTable, *, converting_only: bool = False) -> EncodedPaths:
    """Encode a path table; rows that carry nothing (no conversion, value or null) are left out."""
    f = paths.frame
    keep = (pl.col("conversions") > 0) | (pl.col("value") > 0)
    if not converting_only:
        keep = keep | (pl.col("nulls") > 0)
    f = f.filter(keep)
    tokens = f.get_column("path").explode()
    channels = paths.channels()
    if tokens.len() == 0:
        ids = np.zeros(0, dtype=np.int64)
    else:
        ids = tokens.cast(pl.Enum(channels)).to_physical().to_numpy()
    return EncodedPaths(
        channels=channels,
        ids=ids,
        lengths=f.get_column("path").list.len().to_numpy().astype(np.int64, copy=False),
        conversions=f.get_column("conversions").to_numpy().astype(np.float64, copy=False),
        value=f.get_column("value").to_numpy().astype(np.float64, copy=False),
        nulls=f.get_column("nulls").to_numpy().astype(np.float64, copy=False),
    )

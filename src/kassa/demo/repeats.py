"""Planted fact 4: customers who come back (:class:`kassa.demo.company.Returning`).

Some leads of the demo are customers who bought before: their lead carries the phone number of an
earlier buyer (typed their own way: ``+7 (916) …``, ``8916…`` or ``+7916…``), so kassa recognises the
same customer by the phone hash. Nothing else about the lead changes — its visit, channel, deal, amount
and payments stay as drawn — so every count and sum of the demo (and every other planted fact) is
exactly what it was; only *who* bought changes, and with it new vs repeat, CAC, LTV and payback.

* VK Ads customers come back: a share of VK Ads' own won leads (its retargeting reaches past buyers)
  and nearly all the newsletter's won leads are repeat purchases of VK Ads customers, 15–100 days
  after their first purchase. VK Ads is the most expensive channel per sale, yet its cohorts pay back
  within a few months through those repeat purchases.
* The newsletter has the cheapest cost per sale of all, but it mostly sells to customers other
  channels acquired; the few customers it acquires itself never come back, so its own cohorts never
  cover its cost within the horizon.

Choices are deterministic per lead (a hash of the lead's key and the seed), so the healthy and the
planted company differ here only where their won deals do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from kassa.demo.company import STREAMS, Returning

DAY = 86_400
_BLOCK = 100_000_000  # lead_key = (stream index × 100 + month) × 1 000 000 + n (kassa.demo.generate)


def _uniform(keys: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per key: the same key gives the same number in any company."""
    x = (keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(seed * 1_000_003 + salt)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def returning_customers(leads: pl.DataFrame, deals: pl.DataFrame, seed: int, plan: Returning) -> pl.DataFrame:
    """``leads`` (with the generator's ``lead_key``, ``phone_digits``, ``has_phone``) where the repeat
    purchases of :class:`Returning` carry their earlier purchase's phone digits."""
    channel_of = np.array([s.channel for s in STREAMS])
    won = (
        deals.filter(pl.col("status") == 1)
        .group_by("lead_key")
        .agg(first_close=pl.col("closed_at").min())
        .join(leads.select("lead_key", "created_at_s", "phone_digits"), on="lead_key")
        .sort("created_at_s", "lead_key")
    )
    keys = won["lead_key"].to_numpy()
    channel = channel_of[keys // _BLOCK]
    created = won["created_at_s"].to_numpy()
    closed = won["first_close"].to_numpy()
    u = _uniform(keys, seed, 1)
    pick = _uniform(keys, seed, 2)
    own = (channel == plan.acquirer) & (u < plan.own_repeat_share)
    harvested = (channel == plan.harvester) & (u < plan.harvested_share)
    repeat = own | harvested
    # Customers as drawn: the acquirer's, and (for the harvester, before the acquirer has any) anyone's.
    acquired = np.flatnonzero((channel == plan.acquirer) & ~repeat)
    anyone = np.flatnonzero((channel != plan.harvester) & ~repeat)
    uses = np.zeros(keys.size, dtype=np.int64)
    digits = won["phone_digits"].to_numpy().copy()
    changed = np.zeros(keys.size, dtype=bool)

    def candidates(pool: np.ndarray, i: Any, first: int, last: int) -> np.ndarray:
        return pool[
            (closed[pool] <= created[i] - first * DAY)
            & (closed[pool] >= created[i] - last * DAY)
            & (uses[pool] < plan.max_returns)
        ]

    for i in np.flatnonzero(repeat):
        fits = candidates(acquired, i, plan.min_days, plan.max_days)
        if fits.size == 0 and harvested[i]:
            fits = candidates(anyone, i, 1, 365)
        if fits.size == 0:
            continue  # nobody to come back yet: a new customer after all
        j = fits[int(pick[i] * fits.size)]
        uses[j] += 1
        digits[i] = digits[j]
        changed[i] = True
    moved = pl.DataFrame({"lead_key": keys[changed], "r_digits": digits[changed]})
    out = leads.join(moved, on="lead_key", how="left", maintain_order="left")
    back = pl.col("r_digits").is_not_null()
    return out.with_columns(
        phone_digits=pl.when(back).then(pl.col("r_digits")).otherwise(pl.col("phone_digits")),
        has_phone=back | pl.col("has_phone"),
    ).drop("r_digits")

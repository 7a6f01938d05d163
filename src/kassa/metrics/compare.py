"""Comparing a metric's value across two periods: the one relative change every layer above uses."""

from __future__ import annotations

from typing import Any


def relative_change(before: Any, after: Any) -> float | None:
    """The relative change from ``before`` to ``after``: ``after / before − 1``.

    Parameters
    ----------
    before : number or None
        The value in the earlier period (the base).
    after : number or None
        The value in the later period.

    Returns
    -------
    float or None
        ``None`` when either value is missing or the base is zero (there is nothing to compare with).

    Examples
    --------
    >>> relative_change(190000, 270000)  # doctest: +ELLIPSIS
    0.421...
    >>> relative_change(0, 5) is None
    True
    """
    if before is None or after is None or before == 0:
        return None
    return float(after) / float(before) - 1.0

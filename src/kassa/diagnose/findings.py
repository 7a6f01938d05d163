"""What a diagnosis says: findings with their evidence, as data (JSON) and as plain words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kassa.diagnose.funnel import Responsible


@dataclass(frozen=True)
class Evidence:
    """One metric before and after, its relative change, and the test behind it (if any).

    ``change`` is after / before − 1 (``None`` when the earlier value is zero or missing);
    ``tier`` is the catalog's (activity, intermediate, outcome) or ``sales_process`` for response times.
    """

    metric: str
    label: str
    tier: str
    unit: str
    before: float | None
    after: float | None
    change: float | None
    test: str | None = None
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in self.__dict__.items()}


@dataclass
class Finding:
    """One thing the owner should know: what, where, at which funnel step, whose side, how sure.

    ``significant`` is false for changes a small business cannot tell from noise (see
    :mod:`kassa.diagnose.significance`); ``p_value`` is the test's, ``q_value`` its Benjamini–Hochberg
    adjustment over every test of the run, and ``significant`` means ``q_value <= alpha``.
    """

    kind: str
    dimension: str
    value: str
    stage: str
    responsible: Responsible
    evidence: list[Evidence]
    significant: bool
    message: str
    period: str
    vs: str
    channel: str | None = None
    test: str | None = None
    p_value: float | None = None
    q_value: float | None = None
    lang: str = "en"
    title: str = ""  # the kind in words ("Activity illusion")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "dimension": self.dimension,
            "value": self.value,
            "channel": self.channel,
            "stage": self.stage,
            "responsible": self.responsible,
            "significant": self.significant,
            "message": self.message,
            "lang": self.lang,
            "period": self.period,
            "vs": self.vs,
            "test": self.test,
            "p_value": _clean(self.p_value),
            "q_value": _clean(self.q_value),
            "evidence": [e.to_json() for e in self.evidence],
        }


def _clean(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None  # NaN never leaves kassa
    return v

"""KPI contracts that pay for money: load a contract, score it on the warehouse, lint it before signing.

>>> from kassa.kpi import load_contract, score, lint          # doctest: +SKIP
>>> card = score(wh, load_contract("agency.yaml"), "2026-10")  # doctest: +SKIP
>>> card.score, card.bonus, [r.explain("ru") for r in card.rows]  # doctest: +SKIP
"""

from kassa.kpi.contract import (
    EXAMPLES,
    Bonus,
    Contract,
    Gate,
    Kpi,
    Scope,
    example_path,
    load_contract,
    parse_contract,
)
from kassa.kpi.lint import RULES, LintWarning, lint
from kassa.kpi.scoring import GateResult, KpiResult, Scorecard, attainment, effective, score, score_facts

__all__ = [
    "EXAMPLES",
    "RULES",
    "Bonus",
    "Contract",
    "Gate",
    "GateResult",
    "Kpi",
    "KpiResult",
    "LintWarning",
    "Scope",
    "Scorecard",
    "attainment",
    "effective",
    "example_path",
    "lint",
    "load_contract",
    "parse_contract",
    "score",
    "score_facts",
]

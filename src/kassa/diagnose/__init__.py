"""Diagnosis: the activity-illusion detector and where the funnel breaks.

``diagnose(wh, "2026-10")`` compares the period with the one before (or ``vs``) for the company, each
channel, campaign and sales manager, and returns findings — each with its kind, place, funnel step,
whose side it is on, the evidence, and whether it stands out from noise (docs/diagnose.md).
"""

from kassa.diagnose.engine import Diagnosis, diagnose, run
from kassa.diagnose.findings import Evidence, Finding
from kassa.diagnose.rule import RULES, Rule, get_rules

__all__ = ["RULES", "Diagnosis", "Evidence", "Finding", "Rule", "diagnose", "get_rules", "run"]

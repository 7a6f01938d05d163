"""Rules and docs stay in step: every registered rule is documented, states its test and α, speaks Russian."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import kassa.diagnose.rules as rules_pkg
from kassa.diagnose import RULES, get_rules
from kassa.diagnose.funnel import RESPONSIBLE, RESULTS, STAGES
from kassa.errors import KassaError
from kassa.metrics.catalog import CATALOG

DOC = (Path(__file__).resolve().parents[2] / "docs" / "diagnose.md").read_text(encoding="utf-8")


def test_every_rule_module_registers_its_rule():
    modules = {m.name for m in pkgutil.iter_modules(rules_pkg.__path__) if not m.name.startswith("_")}
    get_rules()
    assert modules == set(RULES)


@pytest.mark.parametrize("kind", sorted(RULES))
def test_every_rule_is_documented_with_its_test_and_alpha(kind):
    assert f"### `{kind}`" in DOC, f"docs/diagnose.md has no section for {kind}"
    doc = RULES[kind].__doc__ or ""
    assert "α" in doc or "alpha" in doc, f"{kind}: the docstring must state the significance level"
    assert "test" in doc.lower()
    assert RULES[kind]().title("ru") != RULES[kind]().title("en")


def test_an_unknown_kind_names_the_valid_ones():
    with pytest.raises(
        KassaError, match="unknown finding kind 'illusion'; choose from: activity_illusion, funnel_break"
    ):
        get_rules(["illusion"])


def test_the_funnel_reads_the_catalog():
    # Each step's rate is a catalog ratio of its numerator and denominator; results are "better higher".
    for s in STAGES:
        assert CATALOG[s.rate].formula == f"{s.numerator} / {s.denominator}"
        assert s.responsible in RESPONSIBLE
        assert f"`{s.name}`" in DOC
    for r in RESULTS:
        assert CATALOG[r].better == "higher" and CATALOG[r].unit in ("count", "money")

"""What a diagnosis rule is, the registry of rules by name, and how a finding is placed.

A rule proposes *candidates* (a place where its pattern shows, with the tests it rests on), the run
corrects all tests at once (Benjamini–Hochberg), and then each rule's candidates are *placed*:

* :meth:`Rule.settle` drops the tests a company-wide break already explains (a sales team that stopped
  closing makes every channel's sales fall; that is one sales finding, not one per channel);
* :func:`localise` walks company → channel → campaign (or company → manager) and reports each problem
  once, at the level where it lives: the parent when the parts showing it hold at least ⅔ of its
  volume (``BROAD``) and there are at least two of them, else the significant parts themselves (a
  channel with one campaign is reported as that campaign: the most specific name of the same place).

Adding a rule: one module in :mod:`kassa.diagnose.rules` with a class decorated by ``@RULES.register``
(it registers itself: the registry imports every module of the package), its test in ``tests/diagnose``
and its section in ``docs/diagnose.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

from kassa.diagnose.comparison import COMPANY_NODE, Comparison, Node, Tree
from kassa.diagnose.findings import Evidence
from kassa.diagnose.funnel import BROAD, Responsible
from kassa.diagnose.significance import ALPHA
from kassa.errors import KassaError
from kassa.link.channels import NOT_SET
from kassa.registry import Registry


@dataclass(frozen=True)
class Component:
    """One test a candidate rests on, and the funnel steps whose company-wide break would explain it."""

    key: Hashable
    depends: tuple[str, ...] = ()


@dataclass
class Candidate:
    """A place where a rule's pattern shows; significance is filled in once all tests are corrected."""

    kind: str
    node: Node
    stage: str
    responsible: Responsible
    components: list[Component]
    weight: float
    group: str = ""  # candidates are placed within a group (funnel_break: one per stage)
    tree: Tree = "marketing"
    info: dict[str, Any] = field(default_factory=dict)
    test: str | None = None
    p_value: float = 1.0
    q_value: float = 1.0
    significant: bool = False


class Rule:
    """Base of every diagnosis rule. Subclasses set ``kind`` and ``order`` and implement
    :meth:`title`, :meth:`candidates`, :meth:`weight` and :meth:`describe`; the docstring states the rule exactly."""

    kind: ClassVar[str]
    order: ClassVar[int]  # rules run in this order; later rules see earlier findings
    tree: ClassVar[Tree] = "marketing"
    # Kinds that say more about the same place: a finding of this rule there (at the same funnel step,
    # when ``yields_on_same_stage``) is a repeat and is dropped, unless it is significant and they are not.
    yields_to: ClassVar[tuple[str, ...]] = ()
    yields_on_same_stage: ClassVar[bool] = False

    def title(self, lang: str) -> str:
        """The kind's name for people ("Activity illusion")."""
        raise NotImplementedError

    def candidates(self, cmp: Comparison) -> list[Candidate]:
        raise NotImplementedError

    def weight(self, group: str, node: Node, cmp: Comparison) -> float:
        """The volume a place holds within its parent, for the ⅔ rule of :func:`localise`."""
        raise NotImplementedError

    def describe(self, cand: Candidate, cmp: Comparison, lang: str) -> tuple[str, list[Evidence]]:
        """The message in ``lang`` and the evidence."""
        raise NotImplementedError

    def settle(
        self, cand: Candidate, cmp: Comparison, explained: set[str], alpha: float = ALPHA
    ) -> Candidate | None:
        """Keep the tests not explained by a company-wide break; the best of them decides significance."""
        kept = [c for c in cand.components if not set(c.depends) & explained]
        if not kept:
            return None
        best = min(kept, key=lambda c: (cmp.tests.results[c.key].p_value, str(c.key)))
        cand.components = kept
        cand.test = cmp.tests.results[best.key].test
        cand.p_value = cmp.tests.results[best.key].p_value
        cand.q_value = min(cmp.tests.q_value(c.key) for c in kept)
        cand.significant = cand.q_value <= alpha
        return cand

    def localise(self, cands: list[Candidate], cmp: Comparison) -> list[Candidate]:
        out: list[Candidate] = []
        for group in sorted({c.group for c in cands}):
            out += localise(
                [c for c in cands if c.group == group], cmp, self.tree, partial(self._weight_in, group, cmp)
            )
        return out

    def _weight_in(self, group: str, cmp: Comparison, node: Node) -> float:
        return self.weight(group, node, cmp)


def localise(
    cands: list[Candidate], cmp: Comparison, tree: Tree, weight: Callable[[Node], float]
) -> list[Candidate]:
    """Report each problem once, at the level where it lives (see the module docstring)."""
    at = {c.node: c for c in cands}

    def visit(node: Node) -> list[Candidate]:
        here = at.get(node)
        kids = cmp.children(node, tree)
        found = [r for k in kids if k.value != NOT_SET for r in visit(k)]
        sig = [r for r in found if r.significant]
        if here is not None and here.significant:
            direct = [at[k] for k in kids if k in at and at[k].significant and k.value != NOT_SET]
            total = sum(weight(k) for k in kids)
            if len(direct) >= 2 and total > 0 and sum(weight(d.node) for d in direct) >= BROAD * total:
                return [here]
            return sig or [here]
        if here is not None:  # likely noise: keep it only when nothing below is significant
            return found if sig else [here]
        return found

    return visit(COMPANY_NODE)


RULES: Registry[type[Rule]] = Registry(
    "finding kind",
    package="kassa.diagnose.rules",
    key="kind",
    order=lambda kind, r: r.order,
    error=KassaError,
)
"""Rule classes by finding kind (``@RULES.register``), in run order; every module of
:mod:`kassa.diagnose.rules` registers itself."""


def get_rules(kinds: list[str] | None = None) -> list[Rule]:
    """The registered rules (all, or those named), in their run order; an unknown name lists the valid ones."""
    chosen = RULES.names() if kinds is None else [k for k in RULES.names() if k in kinds]
    for k in kinds or ():
        RULES[k]  # raises with the valid kinds
    return [RULES[k]() for k in chosen]

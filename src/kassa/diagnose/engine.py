"""One diagnosis run: load both periods, let every rule propose, correct all tests, place, describe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kassa.diagnose.comparison import Comparison, Node, load
from kassa.diagnose.findings import Finding
from kassa.diagnose.rule import Candidate, Rule, get_rules
from kassa.diagnose.significance import ALPHA
from kassa.errors import BadPeriod
from kassa.i18n import check_lang
from kassa.period import Period

if TYPE_CHECKING:
    from kassa.store import Warehouse


@dataclass
class Diagnosis:
    """The findings of a run (significant first) and what the run rests on."""

    period: Period
    vs: Period
    findings: list[Finding]
    tests: int  # how many tests the Benjamini–Hochberg correction covered
    alpha: float
    empty_periods: list[str] = field(default_factory=list)  # periods without a single lead, visit or cost
    warnings: list[str] = field(default_factory=list)  # rows the metrics left out (other currencies)

    @property
    def significant(self) -> list[Finding]:
        return [f for f in self.findings if f.significant]

    @property
    def noise(self) -> list[Finding]:
        return [f for f in self.findings if not f.significant]


def run(
    wh: Warehouse,
    period: Period | str,
    vs: Period | str | None = None,
    *,
    lang: str = "en",
    alpha: float = ALPHA,
    kinds: list[str] | None = None,
) -> Diagnosis:
    """Diagnose ``period`` against ``vs`` (default: the period just before). See :func:`diagnose`."""
    check_lang(lang)
    p = Period.parse(period) if isinstance(period, str) else period
    v = p.previous() if vs is None else (Period.parse(vs) if isinstance(vs, str) else vs)
    if v.start < p.end and p.start < v.end:
        raise BadPeriod(f"cannot compare {p.label} with {v.label}: the periods overlap")
    rules = get_rules(kinds)
    cmp = load(wh, p, v)
    proposed = {r.kind: r.candidates(cmp) for r in rules}
    cmp.tests.adjust()

    findings: list[Finding] = []
    explained: set[str] = set()
    for r in rules:
        settled = [s for c in proposed[r.kind] if (s := r.settle(c, cmp, explained, alpha)) is not None]
        placed = r.localise(settled, cmp)
        for c in placed:
            message, evidence = r.describe(c, cmp, lang)
            findings.append(_finding(c, cmp, message, evidence, lang, r.title(lang)))
        # A break held by the whole company or by a manager explains what later rules see in channels.
        explained |= {c.stage for c in placed if c.significant and c.node.dimension in ("company", "manager")}
    findings = _without_repeats(findings, rules)
    order = {r.kind: i for i, r in enumerate(rules)}
    findings.sort(
        key=lambda f: (not f.significant, f.q_value if f.q_value is not None else 1.0, order[f.kind])
    )
    empty = [x.label for x, side in ((v, cmp.before), (p, cmp.after)) if _empty(side)]
    return Diagnosis(p, v, findings, len(cmp.tests.family), alpha, empty, cmp.warnings)


def diagnose(
    wh: Warehouse,
    period: Period | str,
    vs: Period | str | None = None,
    *,
    lang: str = "en",
    alpha: float = ALPHA,
    kinds: list[str] | None = None,
) -> list[Finding]:
    """Where did the money go between two periods? Findings, significant first.

    Parameters
    ----------
    wh : Warehouse
        An open warehouse (read-only is enough).
    period : Period or text like ``2026-10``
        The period under review.
    vs : Period or text, optional
        The period to compare with; default the one just before (``2026-09``).
    lang : ``en`` or ``ru``
        Language of the messages and labels.
    alpha : float
        False discovery rate of the Benjamini–Hochberg correction over every test of the run.
    kinds : list of finding kinds, optional
        Run only these rules (default: every registered rule).

    Returns
    -------
    list of Finding
        Each with ``kind``, ``dimension``, ``value``, ``stage``, ``responsible``, ``evidence``,
        ``significant`` and ``message``; ``Finding.to_json()`` gives the JSON form.

    Examples
    --------
    >>> for f in diagnose(wh, "2026-10"):  # doctest: +SKIP
    ...     print(f.message)
    """
    return run(wh, period, vs, lang=lang, alpha=alpha, kinds=kinds).findings


def _finding(
    c: Candidate, cmp: Comparison, message: str, evidence: list[Any], lang: str, title: str
) -> Finding:
    return Finding(
        kind=c.kind,
        dimension=c.node.dimension,
        value=c.node.value,
        channel=c.node.channel,
        stage=c.stage,
        responsible=c.responsible,
        evidence=evidence,
        significant=c.significant,
        message=message,
        period=cmp.period.label,
        vs=cmp.vs.label,
        test=c.test,
        p_value=c.p_value,
        q_value=c.q_value,
        lang=lang,
        title=title,
    )


def _lineage(f: Finding) -> tuple[str, str | None]:
    if f.dimension == "campaign":
        return "channel", f.channel
    return f.dimension, f.value


def _without_repeats(findings: list[Finding], rules: list[Rule]) -> list[Finding]:
    """Drop a finding when a kind its rule yields to reports the same place (the same channel, or one
    of its campaigns) — at the same funnel step if the rule says so — and is at least as sure."""
    by_kind = {r.kind: r for r in rules}

    def repeated(f: Finding) -> bool:
        r = by_kind[f.kind]
        return any(
            o.kind in r.yields_to
            and _lineage(o) == _lineage(f)
            and (o.stage == f.stage or not r.yields_on_same_stage)
            and o.significant >= f.significant
            for o in findings
        )

    return [f for f in findings if not repeated(f)]


def _empty(side: dict[Node, Any]) -> bool:
    company = next((s for n, s in side.items() if n.is_company), None)
    if company is None:
        return True
    return not any(company.value(m) for m in ("visits", "leads", "marketing_cost", "sales", "payments"))

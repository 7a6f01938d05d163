"""``junk_traffic``: more clicks or visits, and the share that leaves a request collapses."""

from __future__ import annotations

from kassa.diagnose.comparison import Comparison, Node
from kassa.diagnose.findings import Evidence
from kassa.diagnose.outcomes import metric_evidence
from kassa.diagnose.rule import RULES, Candidate, Component, Rule
from kassa.diagnose.text import change, noise_note, where
from kassa.i18n import Translator, fmt_change, fmt_number, fmt_percent
from kassa.link.channels import NOT_SET
from kassa.metrics import relative_change
from kassa.metrics.catalog import CATALOG

_ = Translator("diagnose")

TRAFFIC_UP = 0.25
"""Traffic is "up" when it grew by at least 25 % (a normal month wobbles by ±10 %)."""
COLLAPSE = 0.30
"""The lead rate "collapses" when it falls by at least 30 %."""


def traffic_metric(cmp: Comparison, node: Node) -> str | None:
    """Visits when the site counts them in both periods, else the ad platforms' clicks."""
    for metric in ("visits", "clicks"):
        a, b = cmp.pair(node, metric)
        if a and b:
            return metric
    return None


@RULES.register
class JunkTraffic(Rule):
    """Traffic grew while the share of it that becomes a lead collapsed: the extra traffic is junk.

    For each channel and each campaign: traffic (visits, or clicks where no visits are
    counted) grew by ≥ 25 % (``TRAFFIC_UP``) and leads per unit of traffic fell by ≥ 30 % (``COLLAPSE``).
    Test: leads / traffic before vs after — Fisher's exact test (conditional Poisson test when leads
    outnumber visits, e.g. calls); significant when its Benjamini–Hochberg q ≤ α = 0.05. Stage
    ``visit_to_lead``, owner marketing. Set aside when a company-wide visit → lead break (the site or
    the offer) explains it; left to ``activity_illusion`` when that reports the same place (the
    illusion is the headline there, and its evidence shows the same fall).
    """

    kind = "junk_traffic"
    order = 20
    yields_to = ("activity_illusion",)

    def title(self, lang: str) -> str:
        return _("Junk traffic", lang)

    def candidates(self, cmp: Comparison) -> list[Candidate]:
        out = []
        for node in cmp.nodes("channel", "campaign"):
            traffic = traffic_metric(cmp, node)
            if node.value == NOT_SET or traffic is None:
                continue
            grown = relative_change(*cmp.pair(node, traffic))
            if grown is None or grown < TRAFFIC_UP:
                continue
            key, res = cmp.rate_test(node, "leads", traffic)
            rate = _rate_change(cmp, node, traffic)
            if res.test == "none" or rate is None or rate > -COLLAPSE:
                continue
            out.append(
                Candidate(
                    kind=self.kind,
                    node=node,
                    stage="visit_to_lead",
                    responsible="marketing",
                    components=[Component(key, ("visit_to_lead",))],
                    weight=self.weight(self.kind, node, cmp),
                    group=self.kind,
                    info={"traffic": traffic},
                )
            )
        return out

    def weight(self, group: str, node: Node, cmp: Comparison) -> float:
        metric = traffic_metric(cmp, node) or "visits"
        a, b = cmp.pair(node, metric)
        return (a or 0.0) + (b or 0.0)

    def describe(self, cand: Candidate, cmp: Comparison, lang: str) -> tuple[str, list[Evidence]]:
        traffic = cand.info["traffic"]
        before, after = _rates(cmp, cand.node, traffic)
        rel = relative_change(before, after)
        if traffic == "visits":
            rate = change("visit_to_lead", before, after, lang, cmp.currency)
            shown = f"{fmt_percent(before, lang)} → {fmt_percent(after, lang)}"
        else:
            rate = _("leads per click {change}", lang, change=fmt_change(rel, lang))
            shown = f"{fmt_number(before, lang, 4)} → {fmt_number(after, lang, 4)}"
        text = _(
            "{where}: {traffic}, but {rate} ({shown}) — the extra traffic does not leave requests: junk traffic.",
            lang,
            where=where(cand.node, lang),
            traffic=change(traffic, *cmp.pair(cand.node, traffic), lang, cmp.currency),
            rate=rate,
            shown=shown,
        )
        if not cand.significant:
            text = f"{text} {noise_note(lang)}"
        evidence = [metric_evidence(cmp, cand.node, m, lang) for m in (traffic, "leads", "qualified_leads")]
        evidence.append(
            Evidence(
                metric=f"leads_per_{traffic}" if traffic != "visits" else "visit_to_lead",
                label=_("Leads per click", lang)
                if traffic != "visits"
                else CATALOG["visit_to_lead"].label(lang),
                tier="intermediate",
                unit="percent" if traffic == "visits" else "ratio",
                before=before,
                after=after,
                change=rel,
                test=cand.test,
                p_value=cand.p_value,
            )
        )
        return text, evidence


def _rates(cmp: Comparison, node: Node, traffic: str) -> tuple[float | None, float | None]:
    (lb, la), (tb, ta) = cmp.pair(node, "leads"), cmp.pair(node, traffic)
    return (lb / tb if tb and lb is not None else None), (la / ta if ta and la is not None else None)


def _rate_change(cmp: Comparison, node: Node, traffic: str) -> float | None:
    return relative_change(*_rates(cmp, node, traffic))

"""``vanity_activity``: more activity (posts ×2), no more outcome behind it."""

from __future__ import annotations

from kassa.diagnose.comparison import Comparison
from kassa.diagnose.findings import Evidence
from kassa.diagnose.funnel import ACTIVITY_STAGE
from kassa.diagnose.outcomes import (
    ActivityRule,
    activity_evidence,
    activity_phrase,
    biggest_rise,
    green_efficiency,
    grown_volume,
    results_behind,
    results_phrase,
)
from kassa.diagnose.rule import RULES, Candidate
from kassa.diagnose.text import noise_note, responsible_label, stage_label, where
from kassa.i18n import Translator
from kassa.link.channels import NOT_SET

_ = Translator("diagnose")

VOLUME_UP = 0.25
"""Activity volume "up": at least +25 % (posts ×2 is +100 %)."""


@RULES.register
class VanityActivity(ActivityRule):
    """Activity volume grew while no outcome grew behind it — turning the wheel in the garage.

    For each channel and each campaign (not the company: its results are not "per post" of one channel)
    where no activity metric with a better direction improved (else it is an ``activity_illusion``):

    1. an activity volume (a catalog activity count without a better direction: posts, impressions,
       reach, clicks) grew by ≥ 25 % (``VOLUME_UP``);
    2. no result (qualified leads, sales, revenue) rose by ≥ 10 %;
    3. the results fell behind by ≥ 20 %: per unit of the volume that grew most (sales per post:
       Fisher/conditional Poisson) or on their own per day (conditional Poisson; revenue:
       compound-Poisson z-test).

    Significant when the best test's Benjamini–Hochberg q ≤ α = 0.05; sales and revenue tests are set
    aside when a company- or manager-level sales-step or average-check break explains them. Stage and
    owner as for ``activity_illusion`` (``activity`` and marketing unless a funnel step clearly broke).
    Where ``junk_traffic`` reports the same place, it says more and this finding is dropped.
    """

    kind = "vanity_activity"
    order = 40
    yields_to = ("junk_traffic",)  # more bought clicks that never leave a request: junk says more

    def title(self, lang: str) -> str:
        return _("Vanity activity", lang)

    def candidates(self, cmp: Comparison) -> list[Candidate]:
        out = []
        for node in cmp.nodes("channel", "campaign"):
            if node.value == NOT_SET or green_efficiency(cmp, node):
                continue
            volume = grown_volume(cmp, node, VOLUME_UP)
            if not volume:
                continue
            check = results_behind(cmp, node, biggest_rise(cmp, node, volume))
            if check.any_improved or not check.components:
                continue
            out.append(
                Candidate(
                    kind=self.kind,
                    node=node,
                    stage=ACTIVITY_STAGE,
                    responsible="marketing",
                    components=check.components,
                    weight=self.weight(self.kind, node, cmp),
                    group=self.kind,
                    info={"activity": volume, "exposure": check.exposure},
                )
            )
        return out

    def describe(self, cand: Candidate, cmp: Comparison, lang: str) -> tuple[str, list[Evidence]]:
        params = {
            "where": where(cand.node, lang),
            "activity": activity_phrase(cmp, cand.node, cand.info["activity"], lang),
            "results": results_phrase(cmp, cand.node, lang),
            "stage": stage_label(cand.stage, lang),
            "who": responsible_label(cand.responsible, lang),
        }
        if cand.stage == ACTIVITY_STAGE:
            text = _("{where}: {activity} — {results}: more activity, no more money.", lang, **params)
        else:
            text = _(
                "{where}: {activity} — {results}: more activity, no more money; it breaks at {stage} ({who}).",
                lang,
                **params,
            )
        if not cand.significant:
            text = f"{text} {noise_note(lang)}"
        return text, activity_evidence(cmp, cand, cand.info["activity"], lang)

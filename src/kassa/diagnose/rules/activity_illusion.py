"""``activity_illusion``: the activity report is green, the money is not."""

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


@RULES.register
class ActivityIllusion(ActivityRule):
    """Activity metrics improved while the results did not — the article's "CPC −15 %, reach ×2".

    For each channel and each campaign (not the company: its results are not "per click" of one channel):

    1. at least one activity metric *with a better direction* in the catalog improved by ≥ 10 %
       (``IMPROVED``): CTR up, CPC or CPM down; activity volumes that grew ≥ 10 % (reach, clicks,
       impressions, posts) are shown beside them;
    2. no result (qualified leads, sales, revenue) rose by ≥ 10 %;
    3. the results fell behind by ≥ 20 % (``DROP``) in at least one test: a result's own fall per day
       (conditional Poisson test; revenue: compound-Poisson z-test over the deals), or its fall per unit
       of the activity volume that grew most (qualified leads per click: Fisher/conditional Poisson).

    Significant when the best of those tests has a Benjamini–Hochberg q ≤ α = 0.05. Tests of sales and
    revenue are set aside when a company- or manager-level break of the sales step or the average check
    explains them (then it is a sales or price finding, not an illusion of this channel). The finding's
    stage is the funnel step whose rate fell most significantly (p ≤ 0.05, ≥ 20 %), its owner the
    step's; without one, stage ``activity`` and owner marketing: the activity brings nothing more.
    """

    kind = "activity_illusion"
    order = 30

    def title(self, lang: str) -> str:
        return _("Activity illusion", lang)

    def candidates(self, cmp: Comparison) -> list[Candidate]:
        out = []
        for node in cmp.nodes("channel", "campaign"):
            green = green_efficiency(cmp, node)
            if node.value == NOT_SET or not green:
                continue
            volume = grown_volume(cmp, node)
            exposure = biggest_rise(cmp, node, volume)
            check = results_behind(cmp, node, exposure)
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
                    info={"activity": green + volume, "exposure": exposure},
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
            text = _(
                "{where}: {activity} — {results}. A green report without the money: the activity does not turn into results.",
                lang,
                **params,
            )
        else:
            text = _(
                "{where}: {activity} — {results}. A green report without the money: it breaks at {stage} ({who}).",
                lang,
                **params,
            )
        if not cand.significant:
            text = f"{text} {noise_note(lang)}"
        return text, activity_evidence(cmp, cand, cand.info["activity"], lang)

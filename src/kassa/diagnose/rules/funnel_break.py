"""``funnel_break``: the step of the money trail where conversion fell, and whose side it is on."""

from __future__ import annotations

from collections.abc import Hashable

from kassa.diagnose.comparison import Comparison, Node
from kassa.diagnose.findings import Evidence
from kassa.diagnose.funnel import DROP, STAGE, STAGES, Stage
from kassa.diagnose.rule import RULES, Candidate, Component, Rule, localise
from kassa.diagnose.significance import ALPHA, TestResult
from kassa.diagnose.text import change, from_to, noise_note, responsible_label, where
from kassa.i18n import Translator, fmt_percent
from kassa.link.channels import NOT_SET
from kassa.metrics import relative_change
from kassa.metrics.catalog import CATALOG

_ = Translator("diagnose")


@RULES.register
class FunnelBreak(Rule):
    """A funnel step's rate fell by at least 20 % (``DROP``) from the earlier period to the later one.

    Steps (catalog rates) and who answers for them:

    * ``visit_to_lead`` = leads / visits — the traffic, the site, the offer: **marketing**;
    * ``lead_to_qualified`` = qualified leads / leads — lead quality: **marketing**;
    * ``qualified_to_sale`` = sales / qualified leads — how sales handle leads: **sales**;
    * ``average_check`` = revenue / sales — price, discounts, product mix: **product_price**.

    Tested for the company, every channel and campaign (and every manager for the sales step); a step
    needs a non-zero rate before and a denominator in both periods. Tests: Fisher's exact test for
    shares, the conditional Poisson test when the numerator can exceed the denominator, Welch's t-test
    from Σx and Σx² of the deal amounts for the average check; significant when the Benjamini–Hochberg
    q-value over the run's tests is ≤ α = 0.05.

    Placement (:func:`kassa.diagnose.rule.localise`): every step is placed over company → channel →
    campaign. The sales step is also placed over company → managers, and when the company has two or more
    managers: a drop on every channel at once (channels holding ⅔ of the qualified leads) is one
    sales finding — the managers holding it, or the company ("a sales problem, not a channel problem"),
    never one per channel; else a significant drop of particular managers is theirs; else a drop of
    particular channels or campaigns is theirs. Evidence of the sales step adds the share of
    leads answered within an hour (``FAST_RESPONSE_HOURS``) and the mean hours to the first response.
    """

    kind = "funnel_break"
    order = 10
    # The same step at the same place, told by a more specific kind, is a repeat.
    yields_to = ("junk_traffic", "activity_illusion", "vanity_activity")
    yields_on_same_stage = True

    def title(self, lang: str) -> str:
        return _("Funnel break", lang)

    def candidates(self, cmp: Comparison) -> list[Candidate]:
        out: list[Candidate] = []
        for stage in STAGES:
            nodes = cmp.tree_nodes("marketing") + (cmp.nodes("manager") if stage.by_manager else [])
            for node in nodes:
                if node.value == NOT_SET:
                    continue  # a place nobody can act on
                key, res = self._test(cmp, node, stage)
                before, after = cmp.pair(node, stage.rate)
                rel = relative_change(before, after)
                if res.test == "none" or rel is None or rel > -DROP:
                    continue
                out.append(
                    Candidate(
                        kind=self.kind,
                        node=node,
                        stage=stage.name,
                        responsible=stage.responsible,
                        components=[Component(key)],
                        weight=self.weight(stage.name, node, cmp),
                        group=stage.name,
                        tree="sales" if node.dimension == "manager" else "marketing",
                    )
                )
        return out

    @staticmethod
    def _test(cmp: Comparison, node: Node, stage: Stage) -> tuple[Hashable, TestResult]:
        if stage.name == "average_check":
            return cmp.check_test(node)
        return cmp.rate_test(node, stage.numerator, stage.denominator)

    def weight(self, group: str, node: Node, cmp: Comparison) -> float:
        a, b = cmp.pair(node, STAGE[group].denominator)
        return (a or 0.0) + (b or 0.0)

    def localise(self, cands: list[Candidate], cmp: Comparison) -> list[Candidate]:
        out: list[Candidate] = []
        for stage in STAGES:
            group = [c for c in cands if c.group == stage.name]
            if not group:
                continue

            def w(n: Node, g: str = stage.name) -> float:
                return self.weight(g, n, cmp)

            marketing = localise([c for c in group if c.node.dimension != "manager"], cmp, "marketing", w)
            if not stage.by_manager:
                out += marketing
                continue
            sales = localise(
                [c for c in group if c.node.dimension in ("company", "manager")], cmp, "sales", w
            )
            out += self._sales_or_channels(sales, marketing, cmp)
        return out

    @staticmethod
    def _sales_or_channels(
        sales: list[Candidate], marketing: list[Candidate], cmp: Comparison
    ) -> list[Candidate]:
        """The sales step: a manager, the whole company, or a channel?

        With fewer than two managers the manager slice cannot tell anything apart, so channels decide.
        Otherwise a drop on every channel at once (the channel walk ends at the company) is a sales finding
        — the manager(s) holding it, or the company; a significant drop of particular managers is theirs;
        only then a drop of particular channels or campaigns is reported as theirs.
        """
        managers = [n for n in cmp.nodes("manager") if n.value != NOT_SET]
        if len(managers) < 2:
            return marketing
        significant = [c for c in sales if c.significant]
        if any(c.node.is_company and c.significant for c in marketing):
            return significant or [c for c in marketing if c.node.is_company]
        if any(c.node.dimension == "manager" for c in significant):
            return [c for c in significant if c.node.dimension == "manager"]
        if any(c.significant for c in marketing):
            return marketing
        return marketing or sales

    def describe(self, cand: Candidate, cmp: Comparison, lang: str) -> tuple[str, list[Evidence]]:
        stage = STAGE[cand.stage]
        before, after = cmp.pair(cand.node, stage.rate)
        params = {
            "where": where(cand.node, lang),
            "change": change(stage.rate, before, after, lang, cmp.currency),
            "from_to": from_to(stage.rate, before, after, lang, cmp.currency),
            "who": responsible_label(stage.responsible, lang),
        }
        company, manager = cand.node.is_company, cand.node.dimension == "manager"
        if stage.name == "visit_to_lead":
            text = (
                _(
                    "{where}: {change} ({from_to}) on every channel at once — the site or the offer, not one channel's traffic.",
                    lang,
                    **params,
                )
                if company
                else _(
                    "{where}: {change} ({from_to}) — the traffic or its landing page stopped converting ({who}).",
                    lang,
                    **params,
                )
            )
        elif stage.name == "lead_to_qualified":
            text = (
                _(
                    "{where}: {change} ({from_to}) on every channel at once — lead quality fell everywhere, or sales qualify leads more strictly.",
                    lang,
                    **params,
                )
                if company
                else _("{where}: {change} ({from_to}) — lead quality fell ({who}).", lang, **params)
            )
        elif stage.name == "qualified_to_sale":
            if company:
                text = _(
                    "{where}: {change} ({from_to}) on every channel at once — a sales problem, not a channel problem.",
                    lang,
                    **params,
                )
            elif manager:
                text = _(
                    "{where}: {change} ({from_to}) while the other managers hold — a sales problem, not a channel problem.",
                    lang,
                    **params,
                )
            else:
                text = _(
                    "{where}: {change} ({from_to}) — these qualified leads stopped buying, while sales convert other channels as before.",
                    lang,
                    **params,
                )
        else:
            text = (
                _(
                    "{where}: {change} ({from_to}) across the company — price, discounts or product mix.",
                    lang,
                    **params,
                )
                if company
                else _(
                    "{where}: {change} ({from_to}) — smaller deals here: price, discounts or product mix.",
                    lang,
                    **params,
                )
            )

        evidence = [self._evidence(cmp, cand, stage.rate, lang)]
        evidence += [self._evidence(cmp, cand, m, lang) for m in (stage.numerator, stage.denominator)]
        if stage.by_manager and (company or manager):
            speed, extra = self._response(cmp, cand.node, lang)
            evidence += speed
            text = f"{text} {extra}" if extra else text
        if not cand.significant:
            text = f"{text} {noise_note(lang)}"
        return text, evidence

    @staticmethod
    def _evidence(cmp: Comparison, cand: Candidate, metric: str, lang: str) -> Evidence:
        m = CATALOG[metric]
        before, after = cmp.pair(cand.node, metric)
        main = metric == STAGE[cand.stage].rate
        return Evidence(
            metric=metric,
            label=m.label(lang),
            tier=m.tier.value,
            unit=m.unit,
            before=before,
            after=after,
            change=relative_change(before, after),
            test=cand.test if main else None,
            p_value=cand.p_value if main else None,
        )

    @staticmethod
    def _response(cmp: Comparison, node: Node, lang: str) -> tuple[list[Evidence], str]:
        a, b = cmp.side(node, "before").response, cmp.side(node, "after").response
        tested = cmp.response_test(node)
        if a is None or b is None or tested is None or a.fast_share is None or b.fast_share is None:
            return [], ""
        _key, res = tested
        evidence = [
            Evidence(
                "answered_within_1h",
                _("Leads answered within an hour", lang),
                "sales_process",
                "percent",
                a.fast_share,
                b.fast_share,
                relative_change(a.fast_share, b.fast_share),
                res.test,
                res.p_value,
            ),
            Evidence(
                "first_response_hours",
                _("Mean hours to the first response", lang),
                "sales_process",
                "ratio",
                a.mean_hours,
                b.mean_hours,
                relative_change(a.mean_hours, b.mean_hours),
            ),
        ]
        rel = relative_change(a.fast_share, b.fast_share)
        shares = f"{fmt_percent(a.fast_share, lang, 0)} → {fmt_percent(b.fast_share, lang, 0)}"
        if rel is not None and rel <= -DROP and res.p_value <= ALPHA:
            return evidence, _(
                "Leads answered within an hour: {shares} — slower first responses.", lang, shares=shares
            )
        return evidence, _(
            "Leads answered within an hour: {shares} — response speed is not the cause.", lang, shares=shares
        )

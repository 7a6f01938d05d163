"""Plain words for findings, in English and Russian (catalog: ``locale/ru/LC_MESSAGES/diagnose.po``)."""

from __future__ import annotations

from kassa.diagnose.comparison import Node
from kassa.diagnose.funnel import ACTIVITY_STAGE, IMPROVED, STAGE, Responsible
from kassa.diagnose.significance import ALPHA
from kassa.i18n import Translator, fmt_change, fmt_value
from kassa.metrics.catalog import CATALOG
from kassa.names import campaign_name, channel_name

_ = Translator("diagnose")


def where(node: Node, lang: str) -> str:
    """The place a finding points at, as the owner says it."""
    if node.dimension == "company":
        return _("All channels", lang)
    if node.dimension == "campaign":
        return campaign_name(node.channel, node.value, lang)
    if node.dimension == "manager":
        return _("Manager {name}", lang, name=node.value)
    return channel_name(node.value, lang) if node.dimension == "channel" else node.value


def label(metric: str, lang: str) -> str:
    """A catalog label to use mid-sentence: "Qualified leads" -> "qualified leads", "CPC" stays."""
    text = CATALOG[metric].label(lang)
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def stage_label(stage: str, lang: str) -> str:
    if stage == ACTIVITY_STAGE:
        return _("activity → results", lang)
    return label(STAGE[stage].rate, lang)


def responsible_label(who: Responsible, lang: str) -> str:
    if who == "marketing":
        return _("marketing", lang)
    if who == "sales":
        return _("the sales team", lang)
    if who == "product_price":
        return _("price or product", lang)
    return _("cause unclear", lang)


def value(metric: str, v: float | None, lang: str, currency: str) -> str:
    return fmt_value(v, CATALOG[metric].unit, lang, currency)


def change(
    metric: str,
    before: float | None,
    after: float | None,
    lang: str,
    currency: str,
    p_value: float | None = None,
) -> str:
    """ "CPC −15%", "reach ×2", "revenue flat", "sales −50% (within noise)", "posts 0 → 12"."""
    name = label(metric, lang)
    if before is None or after is None:
        return _("{metric} no data", lang, metric=name)
    if before == 0:
        return f"{name} {value(metric, before, lang, currency)} → {value(metric, after, lang, currency)}"
    rel = after / before - 1
    if abs(rel) < IMPROVED:
        return _("{metric} flat", lang, metric=name)
    text = f"{name} {fmt_change(rel, lang)}"
    if p_value is not None and p_value > ALPHA:
        text = _("{change} (within noise)", lang, change=text)
    return text


def from_to(metric: str, before: float | None, after: float | None, lang: str, currency: str) -> str:
    return f"{value(metric, before, lang, currency)} → {value(metric, after, lang, currency)}"


def noise_note(lang: str) -> str:
    return _("Could be noise: too few events to tell.", lang)

"""English and Russian: messages from Babel catalogs, numbers, money and dates formatted per locale.

Messages are written in English in the code and translated in ``locale/ru/LC_MESSAGES/<domain>.po``,
one catalog per layer (``cli``, ``report``, ``kpi``, ``diagnose``, ``web``), so each layer owns its
own catalog. Catalogs are read with Babel at first use; an untranslated message falls back to English
(and ``tests/test_i18n.py`` fails on any message used in code without a Russian entry).
"""

from __future__ import annotations

import math
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Babel is imported where used: `kassa --help` needs neither catalogs nor numbers
    from babel import Locale


class Lang(StrEnum):
    """A language kassa speaks. A ``str``, so ``Lang.RU == "ru"``; Typer validates ``--lang`` against it."""

    EN = "en"
    RU = "ru"


LANGS = tuple(lang.value for lang in Lang)
_LOCALES = {Lang.EN: "en_US", Lang.RU: "ru_RU"}


def check_lang(lang: str) -> Lang:
    """``lang`` as a :class:`Lang`; ``ValueError`` naming the languages for anything else."""
    try:
        return Lang(lang)
    except ValueError:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}") from None


@cache
def catalog(domain: str, lang: str) -> dict[str, str]:
    """msgid -> translation for a domain; empty for English."""
    if lang == "en":
        return {}
    ref = resources.files("kassa") / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
    if not ref.is_file():
        return {}
    from babel.messages.pofile import read_po

    with ref.open("rb") as f:
        cat = read_po(f, locale=lang)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def translate(domain: str, message: str, lang: str = "en", **params: Any) -> str:
    """The message in ``lang``, with ``{name}`` placeholders filled from ``params``."""
    text = catalog(domain, lang).get(message, message) if lang != "en" else message
    return text.format(**params) if params else text


class Translator:
    """``_ = Translator("report")`` then ``_("Revenue", lang)``."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    def __call__(self, message: str, lang: str = "en", **params: Any) -> str:
        return translate(self.domain, message, lang, **params)


def locale_of(lang: str) -> Locale:
    from babel import Locale

    return Locale.parse(_LOCALES[check_lang(lang)])


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))


NO_VALUE = "—"


def fmt_money(v: Any, currency: str = "RUB", lang: str = "en", decimals: int = 0) -> str:
    if _missing(v):
        return NO_VALUE
    from babel.numbers import format_currency

    fmt = "¤\xa0#,##0" if decimals == 0 else "¤\xa0#,##0." + "0" * decimals
    if lang == "ru":
        fmt = fmt.replace("¤\xa0", "") + "\xa0¤"
    return format_currency(v, currency, format=fmt, locale=_LOCALES[check_lang(lang)], currency_digits=False)


def fmt_number(v: Any, lang: str = "en", decimals: int = 0) -> str:
    if _missing(v):
        return NO_VALUE
    from babel.numbers import format_decimal

    fmt = "#,##0" if decimals == 0 else "#,##0." + "0" * decimals
    return format_decimal(v, format=fmt, locale=_LOCALES[check_lang(lang)])


def fmt_percent(v: Any, lang: str = "en", decimals: int = 1) -> str:
    if _missing(v):
        return NO_VALUE
    from babel.numbers import format_percent

    fmt = "#,##0%" if decimals == 0 else "#,##0." + "0" * decimals + "%"
    return format_percent(v, format=fmt, locale=_LOCALES[check_lang(lang)])


def fmt_change(ratio: Any, lang: str = "en") -> str:
    """A relative change (0.15 -> ``+15 %``; 1.0 -> ``×2``) as the article writes it."""
    if _missing(ratio):
        return NO_VALUE
    if ratio >= 1.0:
        return "×" + fmt_number(1 + ratio, lang, 1 if (1 + ratio) % 1 else 0)
    sign = "+" if ratio > 0 else ("−" if ratio < 0 else "±")
    return sign + fmt_percent(abs(ratio), lang, 0)


def fmt_value(v: Any, unit: str, lang: str = "en", currency: str = "RUB") -> str:
    """Format a metric value by its catalog unit."""
    if unit == "money":
        whole = _missing(v) or abs(v) >= 100 or float(v).is_integer()
        return fmt_money(v, currency, lang, 0 if whole else 2)
    if unit == "percent":
        return fmt_percent(v, lang, 1)
    if unit == "ratio":
        return fmt_number(v, lang, 2)
    return fmt_number(v, lang, 0)

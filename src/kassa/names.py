"""Display names of channels and traffic sources, in English and Russian: the one vocabulary people read.

Data keeps ids (``yandex_direct``, ``vk_ads``): JSON, CSV, URLs, settings and contracts use them, so a
name can change without breaking anything. Everything people read — the terminal, the report, the
dashboard — shows :func:`channel_name` instead. An id this vocabulary does not know (a partner that the
channel classifier named after its ``utm_source``) is shown as it is.

The ids are those of the default channel rules (:data:`kassa.settings.DEFAULT_CHANNEL_RULES`), the
classifier's fallback :data:`kassa.link.channels.UNKNOWN`, and the states of a Markov chain.
"""

from __future__ import annotations

# id -> (English, Russian). Brand names stay brand names in both languages.
CHANNELS: dict[str, tuple[str, str]] = {
    "yandex_direct": ("Yandex Direct", "Яндекс Директ"),
    "vk_ads": ("VK Ads", "VK Реклама"),
    "google_ads": ("Google Ads", "Google Ads"),
    "meta_ads": ("Meta", "Meta"),
    "seo": ("SEO", "SEO"),
    "telegram": ("Telegram", "Telegram"),
    "email": ("E-mail newsletter", "E-mail рассылка"),
    "referral": ("Referring sites", "Переходы с сайтов"),
    "direct": ("Direct visits", "Прямые заходы"),
    "unknown": ("Unknown source", "Источник неизвестен"),
    # The states a Markov chain adds around the channels (kassa.attribution.markov).
    "(start)": ("(start)", "(начало)"),
    "(conversion)": ("(conversion)", "(конверсия)"),
    "(null)": ("(no conversion)", "(без конверсии)"),
}

# A source / medium pair as Yandex Metrica and GA show it (kassa.link.channels.source_medium).
SOURCE_MEDIUMS: dict[str, tuple[str, str]] = {
    "(direct) / (none)": ("Direct visits", "Прямые заходы"),
}

# Between a channel and its campaign when both name one row ("Яндекс Директ / ya_search").
CAMPAIGN_JOINER = " / "


def channel_name(channel_id: object, lang: str = "en") -> str:
    """The name people read for a channel id; an unknown id (or ``None``: "—") as it is.

    >>> channel_name("yandex_direct", "ru"), channel_name("partner_x", "ru")
    ('Яндекс Директ', 'partner_x')
    """
    if channel_id is None:
        return "—"
    key = str(channel_id)
    names = CHANNELS.get(key)
    if names is None:
        return key
    return names[1] if lang == "ru" else names[0]


def source_name(source_medium: object, lang: str = "en") -> str:
    """The name people read for a ``source / medium`` value; any other value as it is."""
    if source_medium is None:
        return "—"
    names = SOURCE_MEDIUMS.get(str(source_medium))
    if names is None:
        return str(source_medium)
    return names[1] if lang == "ru" else names[0]


def campaign_name(channel_id: object, campaign: object, lang: str = "en") -> str:
    """``Channel name / campaign``: campaign names are the advertiser's own and are shown as they are."""
    return f"{channel_name(channel_id, lang)}{CAMPAIGN_JOINER}{campaign}"


# The grouping keys whose values are ids with a display name, and how to name them.
NAMERS = {"channel": channel_name, "source_medium": source_name}


def key_name(key: str, value: object, lang: str = "en") -> str:
    """A grouping key's value as people read it: channels and sources by name, anything else as it is."""
    namer = NAMERS.get(key)
    if namer is not None:
        return namer(value, lang)
    return "—" if value is None else str(value)

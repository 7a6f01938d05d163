"""All formats kassa reads, by name; detection tries them in this order."""

from __future__ import annotations

from pathlib import Path

from kassa.errors import UnknownFormat
from kassa.sources.amocrm import AmoCRM
from kassa.sources.bank_1c import Bank1C
from kassa.sources.bank_csv import BankCSV
from kassa.sources.base import Source
from kassa.sources.bitrix24 import Bitrix24
from kassa.sources.canonical import CanonicalCSV
from kassa.sources.ga4_bigquery import GA4BigQuery
from kassa.sources.generic import Generic
from kassa.sources.google_ads import GoogleAds
from kassa.sources.meta_ads import MetaAds
from kassa.sources.metrica_logs import MetricaLogs
from kassa.sources.vk_ads import VkAds
from kassa.sources.yandex_direct import YandexDirect

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        CanonicalCSV(),
        AmoCRM(),
        Bitrix24(),
        Bank1C(),
        YandexDirect(),
        VkAds(),
        GoogleAds(),
        MetaAds(),
        MetricaLogs(),
        GA4BigQuery(),
        BankCSV(),
        Generic(),
    )
}


def detect_format(path: Path) -> Source:
    """The source whose ``detect`` accepts the file; :class:`UnknownFormat` lists the known ones."""
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    for src in SOURCES.values():
        if src.detect(path, head):
            return src
    raise UnknownFormat(
        f"{path}: format not recognised; known formats: {', '.join(SOURCES)} (use --format NAME to force one)"
    )


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownFormat(f"unknown format {name!r}; known formats: {', '.join(SOURCES)}") from None

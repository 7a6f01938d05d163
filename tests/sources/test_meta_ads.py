"""Meta Ads → spend: saved Insights pages in every shape, currency, options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kassa.errors import ImportFailed
from kassa.settings import Settings
from kassa.sources.base import ReadContext, ReadResult
from kassa.sources.meta_ads import MetaAds

ROW = {
    "campaign_id": "1",
    "campaign_name": "A",
    "impressions": "10",
    "clicks": "2",
    "spend": "1.50",
    "date_start": "2026-11-01",
    "date_stop": "2026-11-01",
}


def read(path: Path, mapping: Path | None = None) -> ReadResult:
    (res,) = MetaAds().read(path, ReadContext(settings=Settings(), salt="s", mapping=mapping))
    return res


@pytest.mark.parametrize(
    "doc",
    [
        {"data": [ROW]},
        [{"data": [ROW]}, {"data": [{**ROW, "date_start": "2026-11-02", "date_stop": "2026-11-02"}]}],
        [ROW],
    ],
    ids=["one page", "list of pages", "bare data list"],
)
def test_saved_responses_in_every_shape(tmp_path: Path, doc: object) -> None:
    p = tmp_path / "i.json"
    p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    assert MetaAds().detect(p, p.read_bytes())
    res = read(p)
    assert res.rows.column("cost").to_pylist()[0] == 1.5 and not res.errors
    # no account_currency and no options: the business currency
    assert set(res.rows.column("currency").to_pylist()) == {"RUB"}


def test_currency_option_and_campaign_names(tmp_path: Path) -> None:
    p = tmp_path / "i.json"
    p.write_text(json.dumps({"data": [ROW]}), encoding="utf-8")
    opts = tmp_path / "o.yaml"
    opts.write_text("currency: usd\ncampaign: name\n", encoding="utf-8")
    (row,) = read(p, opts).rows.to_pylist()
    assert (row["currency"], row["campaign"]) == ("USD", "A")


def test_not_insights_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "i.json"
    p.write_text('{"paging": {}}', encoding="utf-8")
    with pytest.raises(ImportFailed, match='no "data" list'):
        read(p)


def test_ads_manager_russian_export(tmp_path: Path) -> None:
    p = tmp_path / "ru.csv"
    p.write_text(
        "Начало отчетности;Конец отчетности;Название кампании;Показы;Клики по ссылке;Потраченная сумма (RUB)\n"
        "2026-11-01;2026-11-01;Осень;1 000;10;1 234,50\n",
        encoding="utf-8",
    )
    assert MetaAds().detect(p, p.read_bytes())
    (row,) = read(p).rows.to_pylist()
    assert (row["campaign"], row["clicks"], row["cost"], row["currency"]) == ("Осень", 10, 1234.5, "RUB")

"""GA4 BigQuery export → visits: JSON array form, damaged Parquet, sessions re-imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kassa.errors import ImportFailed
from kassa.settings import Settings
from kassa.sources.base import ReadContext
from kassa.sources.ga4_bigquery import GA4BigQuery
from kassa.store import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "ga4_bigquery"


def events() -> list[dict]:
    out = []
    for text in (DATA / "events.jsonl").read_text(encoding="utf-8").splitlines()[:6]:
        out.append(json.loads(text))
    return out


def test_a_json_array_of_events(tmp_path: Path) -> None:
    p = tmp_path / "e.json"
    p.write_text(json.dumps(events(), indent=2), encoding="utf-8")
    assert GA4BigQuery().detect(p, p.read_bytes())
    (res,) = GA4BigQuery().read(p, ReadContext(settings=Settings(), salt="s"))
    assert sorted(res.rows.column("visit_id").to_pylist()) == [
        "1234567.1793527000.1793527100",
        "7654321.1793529000.1793530000",
        "7654321.1793529000.1793533600",
    ]
    assert [e.column for e in res.errors] == ["event_params.ga_session_id"]  # the user_engagement event


def test_time_zone_of_the_business_applies(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps(events()[1]) + "\n", encoding="utf-8")
    (res,) = GA4BigQuery().read(p, ReadContext(settings=Settings(timezone="Asia/Yekaterinburg"), salt="s"))
    # 1793527100 s = 2026-11-01 09:58:20 UTC = 14:58:20 in Yekaterinburg (UTC+5)
    assert res.rows.column("ts").to_pylist()[0].isoformat() == "2026-11-01T14:58:20"


def test_damaged_parquet_is_refused(tmp_path: Path) -> None:
    data = (DATA / "events.parquet").read_bytes()
    p = tmp_path / "e.parquet"
    p.write_bytes(data[:200] + data[-300:])
    with pytest.raises(ImportFailed, match="Parquet"):
        GA4BigQuery().read(p, ReadContext(settings=Settings(), salt="s"))


def test_reimporting_a_longer_export_updates_sessions(tmp_path: Path) -> None:
    first = tmp_path / "day.jsonl"
    first.write_text("\n".join(json.dumps(e) for e in events()[3:4]) + "\n", encoding="utf-8")
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.import_files([first])
        report = wh.import_files([DATA / "events.jsonl"])
        assert (report.files[0].rows_loaded, report.files[0].rows_replaced) == (3, 1)
        assert wh.row_count("visits") == 3  # 1 + 3 - 1 shared session

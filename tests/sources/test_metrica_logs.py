"""Metrica Logs API → visits: streaming in chunks, duplicates across chunks, upserts, damaged logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kassa.errors import ImportFailed
from kassa.settings import Settings
from kassa.sources.base import ReadContext
from kassa.sources.metrica_logs import MetricaLogs
from kassa.store import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "sources" / "metrica_logs"
HEADER = "ym:s:visitID\tym:s:clientID\tym:s:dateTime\tym:s:UTMSource\tym:s:UTMCampaign\tym:s:startURL\n"


def line(i: int, campaign: str = "70001", day: int = 1) -> str:
    return f"{1000 + i}\t{i % 7}\t2026-11-{day:02d} 10:{i % 60:02d}:00\tyandex\t{campaign}\thttps://x.ru/?yclid={i}\n"


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text(HEADER + "".join(lines), encoding="utf-8")
    return p


def test_small_chunks_give_the_same_rows_and_exact_lines(tmp_path: Path) -> None:
    # 40 visits, visit 5 repeated at the end and one broken timestamp; 200-byte chunks cut mid-file often
    lines = [line(i) for i in range(40)] + [line(5)]
    lines[20] = lines[20].replace("2026-11-01", "2026-11-31")
    p = write(tmp_path, "v.tsv", lines)
    results = {}
    for size in (200, 1 << 20):
        (res,) = MetricaLogs(chunk_bytes=size).read(p, ReadContext(settings=Settings(), salt="s"))
        rows = res.rows.read_all().to_pylist()
        results[size] = rows
        assert res.rows_read == 41
        # line 22 = header + 21st visit (index 20); line 42 repeats line 7 (visit 5, the 6th data line)
        assert [(e.line, e.column) for e in res.errors] == [(22, "ts"), (42, "visit_id")]
        assert "duplicate of line 7" in res.errors[1].reason
    assert results[200] == results[1 << 20]
    assert len(results[200]) == 39 and results[200][3]["click_id"] == "yclid:3"


def test_overlapping_logs_update_visits_by_id(tmp_path: Path) -> None:
    first = write(tmp_path, "a.tsv", [line(i) for i in range(3)])
    second = write(tmp_path, "b.tsv", [line(i, campaign="70002", day=2) for i in range(2, 5)])
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.import_files([first])
        report = wh.import_files([second])
        assert (report.files[0].rows_loaded, report.files[0].rows_replaced) == (3, 1)  # visit 1002 updated
        t = wh.table("visits")
        got = t.order_by(t.visit_id).select("visit_id", "utm_campaign").to_pyarrow().to_pylist()
        # 3 + 3 - 1 shared = 5 visits, not 6
        assert [(r["visit_id"], r["utm_campaign"]) for r in got] == [
            ("1000", "70001"),
            ("1001", "70001"),
            ("1002", "70002"),
            ("1003", "70002"),
            ("1004", "70002"),
        ]
        assert wh.batches()[1]["period_start"].isoformat() == "2026-11-02"
        wh.undo(report.files[0].batch_id)
        got = t.order_by(t.visit_id).select("visit_id", "utm_campaign").to_pyarrow().to_pylist()
        assert [(r["visit_id"], r["utm_campaign"]) for r in got] == [
            ("1000", "70001"),
            ("1001", "70001"),
            ("1002", "70001"),
        ]


def test_a_damaged_log_fails_whole_and_names_its_lines(tmp_path: Path) -> None:
    lines = [line(i) for i in range(5)]
    lines[3] = lines[3].rstrip("\n") + "\textra\tcells\n"
    p = write(tmp_path, "bad.tsv", lines)
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.import_files([DATA / "visits.tsv"])
        before = wh.fingerprint()
        with pytest.raises(ImportFailed) as caught:
            wh.import_files([p])
        assert [(e.line, e.reason) for e in caught.value.errors] == [
            (5, "the line has 8 fields but the header has 6")
        ]
        assert wh.fingerprint() == before


def test_strict_reads_a_streamed_file_before_judging(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        with pytest.raises(ImportFailed, match="--strict: 2 refused"):
            wh.import_files([DATA / "visits.tsv"], strict=True)
        assert wh.row_count("visits") == 0
        ok = write(tmp_path, "ok.tsv", [line(i) for i in range(3)])
        assert wh.import_files([ok], strict=True).files[0].rows_loaded == 3


def test_a_cp1251_log_is_read_by_the_general_reader(tmp_path: Path) -> None:
    p = tmp_path / "v.tsv"
    p.write_bytes((HEADER + line(1, campaign="осень") + line(2)).encode("cp1251"))
    (res,) = MetricaLogs().read(p, ReadContext(settings=Settings(), salt="s"))
    assert res.rows.column("utm_campaign").to_pylist() == ["осень", "70001"]


def test_blank_lines_are_not_visits(tmp_path: Path) -> None:
    p = write(tmp_path, "v.tsv", [line(1), "\n", line(2), "\n"])
    (res,) = MetricaLogs().read(p, ReadContext(settings=Settings(), salt="s"))
    assert res.rows.read_all().column("visit_id").to_pylist() == ["1001", "1002"]
    assert res.rows_read == 2 and res.errors == []


def test_repeats_across_chunks_compare_ids_exactly(tmp_path: Path) -> None:
    # "007" and "7" are different visits; a non-numeric id repeated in a later chunk is still caught
    rows = [line(i) for i in range(6)]
    rows[0] = rows[0].replace("1000\t", "007\t", 1)
    rows[1] = rows[1].replace("1001\t", "7\t", 1)
    rows[2] = rows[2].replace("1002\t", "abc\t", 1)
    rows.append(rows[2])
    p = write(tmp_path, "v.tsv", rows)
    (res,) = MetricaLogs(chunk_bytes=120).read(p, ReadContext(settings=Settings(), salt="s"))
    ids = res.rows.read_all().column("visit_id").to_pylist()
    assert ids == ["007", "7", "abc", "1003", "1004", "1005"]
    assert [(e.line, e.value) for e in res.errors] == [(8, "abc")] and "duplicate of line 4" in res.errors[
        0
    ].reason


def test_a_line_without_an_end_is_refused_by_its_number_not_read_whole(tmp_path: Path) -> None:
    # Three visits, then 6 000 characters with no line end (a truncated or hostile file): with 200-byte
    # chunks the reader would otherwise gather the whole rest of the file into one line.
    p = tmp_path / "v.tsv"
    p.write_text(HEADER + line(1) + line(2) + line(3) + "9" * 6000, encoding="utf-8")
    settings = Settings.model_validate({"import_limits": {"line_chars": 2048}})
    (res,) = MetricaLogs(chunk_bytes=200).read(p, ReadContext(settings=settings, salt="s"))
    with pytest.raises(ImportFailed, match=r"v\.tsv, line 5: the line is longer than 2048 characters"):
        res.rows.read_all()
    # A long last line within the limit is a line like any other (here: a visit with a broken timestamp).
    p.write_text(HEADER + line(1) + "1\t2\tx" + "9" * 1500, encoding="utf-8")
    (res,) = MetricaLogs(chunk_bytes=200).read(p, ReadContext(settings=settings, salt="s"))
    assert res.rows.read_all().num_rows == 1 and [e.line for e in res.errors] == [3]


def test_a_short_line_is_the_same_error_wherever_a_chunk_starts(tmp_path: Path) -> None:
    lines = [line(i) for i in range(12)]
    lines[6] = "1006\t6\n"  # two fields of six
    p = write(tmp_path, "v.tsv", lines)
    seen = set()
    for size in range(40, 400, 7):  # some of these sizes start a chunk at the short line
        (res,) = MetricaLogs(chunk_bytes=size).read(p, ReadContext(settings=Settings(), salt="s"))
        ids = res.rows.read_all().column("visit_id").to_pylist()
        seen.add((tuple(ids), tuple((e.line, e.column) for e in res.errors)))
    assert len(seen) == 1
    ((ids, errors),) = seen
    assert "1006" not in ids and len(ids) == 11 and errors == ((8, "ts"),)

"""The shared toolkit for exported files: encodings, delimiters, headers, totals, local numbers and dates."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from kassa.errors import ImportFailed, MissingColumn
from kassa.schema import KINDS
from kassa.settings import Settings
from kassa.sources.helpers.json_files import json_row_lines
from kassa.sources.helpers.text import decode, detect_encoding, sniff_delimiter
from kassa.sources.helpers.values import date_text, epoch_text, micros_text, number_text, timestamp_text
from kassa.sources.tabular import header_of, read_table
from kassa.sources.validate import parse_timestamps, validate

REPORT = "Отчёт\nДата;Кампания;Расход (руб.)\n27.11.2026;Осень;1 234,50\nИтого;;1 234,50\n"


def apply(expr_fn, values: list[str | None], **kw) -> list[str | None]:
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr_fn(pl.col("v"), **kw))["v"].to_list()
    )


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("cp1251", "cp1251"),
        ("cp866", "cp866"),
        ("utf-8", "utf-8"),
        ("utf-16-le", "utf-16-le"),
    ],
)
def test_encodings_are_recognised(encoding: str, expected: str) -> None:
    data = REPORT.encode(encoding)
    assert detect_encoding(data) == expected
    assert decode(data)[0] == REPORT


def test_utf8_cut_inside_a_character_is_still_utf8() -> None:
    data = "Расход".encode()[:-1]  # a head sample can end in the middle of a two-byte letter
    assert detect_encoding(data) == "utf-8"


@pytest.mark.parametrize(
    ("lines", "delimiter"),
    [
        (["Report title", "a;b;c", "1;2,5;3", "4;5,5;6"], ";"),  # decimal commas inside ;-rows do not win
        (["a,b,c", "1,2,3"], ","),
        (["a\tb\tc", "1\t2\t3"], "\t"),
        (['"x, y",b', '"1, 2",3'], ","),
    ],
)
def test_delimiter_sniffing(lines: list[str], delimiter: str) -> None:
    assert sniff_delimiter(lines) == delimiter


def test_title_lines_totals_repeated_header_and_trailing_columns(tmp_path: Path) -> None:
    p = tmp_path / "g.csv"
    p.write_text(
        'Campaign report\n"1 November 2026 - 2 November 2026"\n'
        "Day,Campaign,Impr.,Cost,,\n"
        '2026-11-01,"Multi\nline",10,"1,189.24",,\n'
        "Day,Campaign,Impr.,Cost,,\n"
        "2026-11-02,B,5,2.00,,\n"
        "\n"
        "2026-11-03,C,1,1.00,,extra\n"
        "Total: Account,,15,1191.24,,\n",
        encoding="utf-8",
    )
    t = read_table(p, ["Campaign", "Impr.", "Cost"])
    assert t.header_line == 3
    assert t.title_lines == ["Campaign report", "1 November 2026 - 2 November 2026"]
    assert t.frame.columns == ["day", "campaign", "impr.", "cost", "__line"]
    # the quoted cell spans lines 4-5, so the repeated header is line 6 and B is line 7
    assert t.frame["__line"].to_list() == [4, 7]
    assert t.frame["campaign"].to_list() == ["Multi\nline", "B"]
    assert t.skipped == [(6, "repeated header"), (10, "totals row")]
    assert [(e.line, e.value) for e in t.errors] == [(9, "extra")]
    assert t.rows_read == 3


def test_xlsx_rows_are_spreadsheet_rows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Статистика"])
    ws.append([])
    ws.append(["Дата", "Кампания", "Расход (руб.)"])
    ws.append([dt.date(2026, 11, 27), "Осень", 1234.5])
    ws.append([dt.datetime(2026, 11, 27, 14, 5), "Зима", 7.0])
    p = tmp_path / "x.xlsx"
    wb.save(p)
    t = read_table(p, ["Дата", "Кампания"])
    assert t.encoding == "xlsx" and t.header_line == 3
    assert t.frame.rows() == [("2026-11-27", "Осень", "1234.5", 4), ("2026-11-27 14:05:00", "Зима", "7", 5)]
    assert header_of(p, p.read_bytes()[:100], ["Дата", "Кампания"]) == ["дата", "кампания", "расход (руб.)"]


def test_unreadable_files_are_refused_clearly(tmp_path: Path) -> None:
    bad_xlsx = tmp_path / "bad.xlsx"
    bad_xlsx.write_bytes(b"PK\x03\x04not really a zip")
    with pytest.raises(ImportFailed, match="not a readable XLSX"):
        read_table(bad_xlsx, ["a"])
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(ImportFailed, match="save it as .xlsx"):
        read_table(xls, ["a"])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\xef\xbb\xbf \n")
    with pytest.raises(ImportFailed, match="empty"):
        read_table(empty, ["a"])
    other = tmp_path / "other.csv"
    other.write_text("x;y\n1;2\n", encoding="utf-8")
    with pytest.raises(MissingColumn, match="looked for: a, b"):
        read_table(other, ["a", "b"], format_title="Test")


def test_numbers() -> None:
    values = [
        "1 234 567,89",
        "1\u00a0234,50",
        "1\u202f000",
        "1,204",
        "1,204.50",
        "1.234,50",
        "189,24",
        "₽ 1 500",
        "$172.45",
        "12,5%",
        "−7,5",
        "(3,00)",
        "500 руб.",
        "1.234.567",
        "--",
        "—",
        "",
        None,
        "abc",
        "12,3,4",
    ]
    assert apply(number_text, values) == [
        "1234567.89",
        "1234.50",
        "1000",
        "1204",
        "1204.50",
        "1234.50",
        "189.24",
        "1500",
        "172.45",
        "12.5",
        "-7.5",
        "-3.00",
        "500",
        "1234567",
        None,
        None,
        None,
        None,
        "abc",
        "12,3,4",
    ]
    # a declared decimal comma reads "1,204" as 1.204; a declared dot reads it as 1204
    assert apply(number_text, ["1,204", "1.204"], decimal=",") == ["1.204", "1204"]
    assert apply(number_text, ["1,204", "1.204"], decimal=".") == ["1204", "1.204"]


def test_micros_are_exact() -> None:
    assert apply(micros_text, ["1061083620", "10000", "-2500000", "0", "12.5", None]) == [
        "1061.083620",
        "0.010000",
        "-2.500000",
        "0.000000",
        "12.5",
        None,  # 1061083620 / 10^6; non-whole passes unchanged
    ]


def test_dates() -> None:
    values = [
        "27.11.2026",
        "27.11.2026 14:05",
        "7.1.2026",
        "27.11.26",
        "2026-11-27",
        "2026-11-27T10:00:00+03:00",
        "20261127",
        "46353",
        "1 September 2026",
        "September 1, 2026",
        "31.02.2026",
        "bad",
        "",
        None,
    ]
    assert apply(date_text, values) == [
        "2026-11-27",
        "2026-11-27",
        "2026-01-07",
        "2026-11-27",
        "2026-11-27",
        "2026-11-27",
        # 46353 = 1899-12-30 + 46353 days = 2026-11-27
        "2026-11-27",
        "2026-11-27",
        "2026-09-01",
        "2026-09-01",
        "31.02.2026",
        "bad",
        None,
        None,
    ]
    assert apply(date_text, ["11/27/2026", "27/11/2026"], dayfirst=False) == ["2026-11-27", "27/11/2026"]


def test_timestamps() -> None:
    values = [
        "27.11.2026 14:05",
        "7.1.2026 4:05:09",
        "27.11.2026",
        "46353.5",
        "2026-11-27T10:00:00+03:00",
        "27.11.2026 25:00",
    ]
    assert apply(timestamp_text, values) == [
        "2026-11-27 14:05:00",
        "2026-01-07 04:05:09",
        "2026-11-27 00:00:00",
        "2026-11-27 12:00:00",  # half a day past midnight
        "2026-11-27T10:00:00+03:00",  # ISO passes unchanged: validate converts the zone
        "27.11.2026 25:00",  # no 25th hour: refused later, quoting the file
    ]
    # 1793527100 s after 1970-01-01 UTC = 2026-11-01 09:58:20 UTC
    assert apply(epoch_text, ["1793527100", "-1", "x"]) == ["2026-11-01 09:58:20.000000+00:00", "-1", "x"]
    assert apply(epoch_text, ["1793527100000000"], unit="us") == ["2026-11-01 09:58:20.000000+00:00"]


def test_plain_and_zoned_timestamps_parse_alike() -> None:
    """validate's one-strptime path for plain timestamps gives what the zone-aware parser gives."""
    visits = KINDS["visits"]
    rows = ["2026-11-01 10:00:00", "2026-11-01 23:59:59"]
    frame = pl.DataFrame({"visit_id": ["1", "2"], "client_id": ["c", "c"], "ts": rows})
    plain, _ = validate(frame, visits, file="f", settings=Settings(), salt="s")
    general = (
        pl.DataFrame({"ts": rows}).select(parse_timestamps(pl.col("ts"), "Europe/Moscow"))["ts"].to_list()
    )
    assert (
        plain.column("ts").to_pylist()
        == general
        == [dt.datetime(2026, 11, 1, 10), dt.datetime(2026, 11, 1, 23, 59, 59)]
    )
    mixed = frame.with_columns(pl.Series("ts", ["2026-11-01 10:00:00", "2026-11-01T07:00:00Z"]))
    got, _ = validate(mixed, visits, file="f", settings=Settings(), salt="s")
    # 07:00 UTC = 10:00 in Moscow (UTC+3): the zone-aware path is used when any value needs it
    assert got.column("ts").to_pylist() == [dt.datetime(2026, 11, 1, 10), dt.datetime(2026, 11, 1, 10)]


def test_json_row_lines() -> None:
    pretty = '{"data": [\n  {"date_start": "a"},\n  {"date_start": "b", "x": "\\"date_start\\": no"}\n]}'
    assert json_row_lines(pretty, "date_start", 2) == [2, 3]
    compact = '{"data": [{"date_start": "a"}, {"date_start": "b"}]}'
    assert json_row_lines(compact, "date_start", 2) == [1, 2]  # rows share a line: numbered by position


def test_bom_and_cp1251_header_detection(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_bytes(codecs.BOM_UTF8 + REPORT.encode("utf-8"))
    assert header_of(p, p.read_bytes(), ["Дата", "Кампания"]) == ["дата", "кампания", "расход (руб.)"]
    p.write_bytes(REPORT.encode("cp1251"))
    assert header_of(p, p.read_bytes(), ["Дата", "Кампания"]) == ["дата", "кампания", "расход (руб.)"]

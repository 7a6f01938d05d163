"""Files that cannot take the machine down: streamed reads within the settings' import limits, workbooks
bounded before they are unpacked, detection that opens a workbook once, and errors that say what is wrong
(issue #14, items 2, 9 and 11)."""

from __future__ import annotations

import subprocess
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from tests.kassa_cli import run_kassa

from kassa.errors import ImportFailed, MissingColumn
from kassa.settings import ImportLimits, Settings
from kassa.sources.helpers import xlsx
from kassa.sources.registry import detect_format
from kassa.sources.tabular import read_table
from kassa.store import Warehouse

MIB = 2**20
DIRECT_HEAD = "Дата;Кампания;Расход\n27.11.2026;Осень;1 234,50\n"
SPEND = "date,channel,campaign,impressions,clicks,cost\n"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, env={"COLUMNS": "200", "NO_COLOR": "1"})


def huge_field_file(path: Path, head: str, before: str, size: int, after: str) -> Path:
    """``head`` then a line ``before`` + ``size`` x's + ``after``, written in pieces (never held whole)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + before)
        for _ in range(size // MIB):
            f.write("x" * MIB)
        f.write("x" * (size % MIB) + after)
    return path


def peak_while(fn) -> tuple[int, BaseException | None]:
    """Peak traced memory (bytes) while ``fn`` runs, and what it raised."""
    tracemalloc.start()
    raised: BaseException | None = None
    try:
        fn()
    except Exception as exc:
        raised = exc
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, raised


# --- item 2: one huge field ---------------------------------------------------------------------------


def test_a_field_over_the_limit_is_refused_naming_file_line_and_column(tmp_path: Path) -> None:
    p = huge_field_file(tmp_path / "direct.csv", DIRECT_HEAD, "28.11.2026;", 2 * MIB, ";5\n")
    with pytest.raises(ImportFailed) as refused:
        read_table(p, ["Дата", "Кампания"])
    assert str(refused.value).startswith(
        f"{p}, line 3, column 2 ('Кампания'): the field is {2 * MIB} characters long, more than {MIB} "
        "(import_limits.field_chars in the settings)"
    )


def test_a_50_mb_field_is_refused_with_memory_bounded_by_the_line_limit_not_the_file(tmp_path: Path) -> None:
    size = 50 * MIB
    p = huge_field_file(tmp_path / "direct.csv", DIRECT_HEAD, "28.11.2026;", size, ";5\n")
    peak, raised = peak_while(lambda: read_table(p, ["Дата", "Кампания"]))
    assert isinstance(raised, ImportFailed)
    assert str(raised).startswith(
        f"{p}, line 3: the line is longer than {4 * MIB} characters (import_limits.line_chars in the settings)"
    )
    # Before: the file was read, decoded and split whole (a 1 GB field took 15 GB). Now the reader stops
    # at the line limit: measured 8 MiB here, whatever the field's size.
    assert peak < 4 * ImportLimits().line_chars < size


def test_a_field_within_raised_limits_is_read(tmp_path: Path) -> None:
    size = 5 * MIB
    p = huge_field_file(tmp_path / "direct.csv", DIRECT_HEAD, "28.11.2026;", size, ";5\n")
    table = read_table(p, ["Дата", "Кампания"], limits=ImportLimits(field_chars=8 * MIB, line_chars=8 * MIB))
    assert table.frame["кампания"].str.len_chars().to_list() == [5, size]
    assert table.frame["__line"].to_list() == [2, 3]


def test_a_file_without_newlines_is_refused_at_the_line_limit(tmp_path: Path) -> None:
    p = tmp_path / "one.csv"
    p.write_text("a;" * (3 * MIB), encoding="utf-8")  # 6 MiB, no newline at all
    peak, raised = peak_while(lambda: read_table(p, ["a", "b"]))
    assert isinstance(raised, ImportFailed) and "line 1: the line is longer than" in str(raised)
    assert peak < 4 * ImportLimits().line_chars


def test_an_unclosed_quote_swallowing_the_file_is_refused_at_the_line_limit(tmp_path: Path) -> None:
    p = tmp_path / "quote.csv"
    body = "".join(f"28.11.2026;camp {i};5\n" for i in range(400_000))  # ~8 MiB of short lines
    p.write_text(DIRECT_HEAD + '28.11.2026;"open;5\n' + body, encoding="utf-8")
    with pytest.raises(ImportFailed) as refused:
        read_table(p, ["Дата", "Кампания"])
    assert f"{p}, line 3: the line is longer than" in str(refused.value)
    assert "(an unclosed quote?)" in str(refused.value)


def test_the_settings_limits_apply_to_kassa_import(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "kassa.yaml"  # not beside the warehouse, where it would be read by default
    config.parent.mkdir()
    config.write_text("import_limits:\n  field_chars: 2048\n  line_chars: 8192\n", encoding="utf-8")
    p = tmp_path / "spend.csv"
    p.write_text(SPEND + "2026-10-01,vk_ads," + "c" * 3000 + ",1,1,5\n", encoding="utf-8")
    res = run("import", p, "--db", tmp_path / "w.duckdb", "--config", config)
    assert res.returncode == 2
    assert (
        f"error: {p}, line 2, column 3 ('campaign'): the field is 3000 characters long, more than 2048 "
        "(import_limits.field_chars in the settings)"
    ) in " ".join(res.stderr.split())
    # the same file loads with the default limits
    assert run("import", p, "--db", tmp_path / "w.duckdb").returncode == 0


def test_a_limit_below_its_floor_is_a_settings_error(tmp_path: Path) -> None:
    config = tmp_path / "kassa.yaml"
    config.write_text("import_limits:\n  field_chars: 10\n", encoding="utf-8")
    res = run("import", tmp_path / "x.csv", "--db", tmp_path / "w.duckdb", "--config", config)
    assert res.returncode == 2 and "import_limits.field_chars" in res.stderr


def test_rows_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "direct.csv"
    p.write_text(DIRECT_HEAD + "28.11.2026;b;1\n" * 200, encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"direct\.csv: more than 100 rows \(import_limits\.rows"):
        read_table(p, ["Дата", "Кампания"], limits=ImportLimits(rows=100))
    assert read_table(p, ["Дата", "Кампания"], limits=ImportLimits(rows=201)).frame.height == 201


def test_a_long_file_is_read_in_chunks_with_exact_lines(tmp_path: Path) -> None:
    from kassa.sources import tabular

    n = tabular.CHUNK_ROWS * 2 + 7
    lines = [
        f'28.11.2026;"c{i}\nsecond line";{i}' if i % 1000 == 0 else f"28.11.2026;c{i};{i}" for i in range(n)
    ]
    p = tmp_path / "direct.csv"
    p.write_text("Дата;Кампания;Расход\n" + "\n".join(lines) + "\n", encoding="utf-8")
    frame = read_table(p, ["Дата", "Кампания"]).frame
    assert frame.height == n and frame["расход"][-1] == str(n - 1)
    # each quoted two-line cell moves the following rows down by one line
    assert frame["__line"][1001] == 2 + 1001 + 2


# --- item 9: workbooks ---------------------------------------------------------------------------------


def small_workbook(path: Path, rows: int = 3) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Дата", "№ Кампании", "Кампания", "Показы", "Клики", "Расход (руб.)"])
    for i in range(rows):
        ws.append(["27.11.2026", 70001 + i, f"camp {i}", 100, 5, "1 234,50"])
    wb.save(path)
    return path


def with_padding(src: Path, dst: Path, unpacked: int) -> Path:
    """``src`` plus an entry of ``unpacked`` zero bytes (packs ~1000:1, as a zip bomb's sheet XML does)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        with zout.open("xl/media/padding.bin", "w") as f:
            for _ in range(unpacked // MIB):
                f.write(b"\0" * MIB)
    return dst


def test_a_densely_packed_workbook_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    p = with_padding(small_workbook(tmp_path / "ok.xlsx"), tmp_path / "bomb.xlsx", 40 * MIB)
    with pytest.raises(ImportFailed) as refused:
        detect_format(p)
    message = str(refused.value)
    assert message.startswith(f"{p}: the workbook unpacks to 40 MiB from ")
    assert "kassa reads at most 1024 MiB unpacked and 200 times the file's size" in message


def test_a_workbook_over_the_unpacked_limit_is_refused(tmp_path: Path, make_warehouse) -> None:
    p = with_padding(small_workbook(tmp_path / "ok.xlsx"), tmp_path / "big.xlsx", 3 * MIB)
    wh: Warehouse = make_warehouse(settings=Settings(import_limits=ImportLimits(xlsx_unpacked_bytes=2 * MIB)))
    with pytest.raises(ImportFailed, match=r"the workbook unpacks to 3 MiB .* at most 2 MiB unpacked"):
        wh.import_files([p])
    # under the default limits the same workbook is read (its padding is small: no ratio check below 16 MiB)
    assert detect_format(p).name == "yandex_direct"


def test_a_sheet_over_the_row_limit_is_refused_while_streaming(tmp_path: Path) -> None:
    p = small_workbook(tmp_path / "rows.xlsx", rows=300)
    with pytest.raises(
        ImportFailed, match=r"rows\.xlsx: the sheet has more than 100 rows \(import_limits\.rows"
    ):
        read_table(p, ["Дата", "Кампания"], limits=ImportLimits(rows=100))
    assert read_table(p, ["Дата", "Кампания"]).frame.height == 300


def test_detection_opens_a_workbook_once_for_every_format(tmp_path: Path, monkeypatch) -> None:
    p = small_workbook(tmp_path / "spend.xlsx")
    opened: list[Path] = []
    real = openpyxl.load_workbook

    def counting(path, *args, **kwargs):
        opened.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counting)
    assert detect_format(p).name == "yandex_direct"
    assert opened == [p]  # was one full parse per XLSX-capable format asked (up to 9)
    p.write_bytes(small_workbook(tmp_path / "other.xlsx", rows=5).read_bytes())  # replaced in place
    detect_format(p)
    assert opened == [p, p]


def test_a_workbook_whose_dimension_says_a1_is_read_whole(tmp_path: Path) -> None:
    """Yandex Direct writes ``<dimension ref="A1"/>`` whatever the sheet holds; rows are not cut to it."""
    src = small_workbook(tmp_path / "src.xlsx", rows=50)
    p = tmp_path / "a1.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                start = data.index(b"<dimension ")
                data = data[:start] + b'<dimension ref="A1"/>' + data[data.index(b"/>", start) + 2 :]
            zout.writestr(item, data)
    xlsx._HEADS.clear()
    assert len(xlsx.head_rows(p, 40)) == 40
    assert read_table(p, ["Дата", "Кампания"]).frame.height == 50


def test_a_damaged_workbook_is_refused_by_name_not_as_unrecognised(tmp_path: Path) -> None:
    p = tmp_path / "broken.xlsx"
    p.write_bytes(small_workbook(tmp_path / "ok.xlsx").read_bytes()[:1500])
    with pytest.raises(ImportFailed, match=r"broken\.xlsx: not a readable XLSX workbook"):
        detect_format(p)


# --- item 11: errors that say what is wrong -----------------------------------------------------------


def test_a_ragged_canonical_row_is_refused_with_its_line_and_the_rest_loads(tmp_path: Path) -> None:
    p = tmp_path / "spend.csv"
    p.write_text(
        SPEND
        + '2026-10-01,vk_ads,"two\nlines",1,1,5\n2026-10-02,vk_ads,a,1,1,5,9,9\n2026-10-03,vk_ads,a,1,1,5\n',
        encoding="utf-8",
    )
    res = run("import", p, "--db", tmp_path / "w.duckdb")
    assert res.returncode == 1, res.stderr
    assert f"rejected: {p}, line 4: the row has 8 cells but the header has 6 (value '9')" in " ".join(
        res.stderr.split()
    )
    assert "more fields than defined" not in res.stderr
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        assert wh.row_count("spend") == 2


def test_a_canonical_header_missing_one_column_names_it(tmp_path: Path) -> None:
    p = tmp_path / "spend.csv"
    p.write_text("date,channel,campaign,impressions,clicks\n2026-10-01,vk_ads,a,1,1\n", encoding="utf-8")
    res = run("import", p, "--db", tmp_path / "w.duckdb")
    assert res.returncode == 2
    assert " ".join(res.stderr.split()) == (
        f"error: {p}: the header has the columns of kassa's spend CSV but not 'cost', which spend needs "
        "(date, channel, campaign, impressions, clicks, cost; docs/import-format.md)"
    )
    with pytest.raises(MissingColumn):
        detect_format(p)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "cp1251"])
def test_a_canonical_csv_saved_as_utf16_or_cp1251_loads(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "spend.csv"
    p.write_bytes((SPEND + "2026-10-01,vk_ads,осень,1,1,5\n2026-10-02,vk_ads,осень,2,1,7\n").encode(encoding))
    res = run("import", p, "--db", tmp_path / "w.duckdb")
    assert res.returncode == 0, res.stderr
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        got = wh.table("spend").select("campaign", "cost").to_pyarrow().to_pylist()
    assert got == [{"campaign": "осень", "cost": 5.0}, {"campaign": "осень", "cost": 7.0}]


def test_a_direct_csv_saved_as_utf16_loads(tmp_path: Path) -> None:
    p = tmp_path / "direct.csv"
    p.write_bytes(DIRECT_HEAD.encode("utf-16"))
    assert read_table(p, ["Дата", "Кампания"]).frame["кампания"].to_list() == ["Осень"]


def test_a_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    res = run("import", folder, "--db", tmp_path / "w.duckdb")
    assert res.returncode == 2
    assert " ".join(res.stderr.split()) == (
        f"error: {folder}: is a folder, not a file; kassa import does not read folders: name the files "
        f"(e.g. kassa import {folder}/*.csv)"
    )
    res = run("import", tmp_path / "missing.csv", "--db", tmp_path / "w.duckdb")
    assert "missing.csv: no such file" in res.stderr

"""Property tests: a damaged or odd file either loads valid rows or is refused with a clear KassaError.

Each example takes a sample file of a format (``tests/data/sources/<format>/``) and damages it — random
byte edits, truncation, or one cell replaced by random text — then imports it into a real warehouse.
Whatever the input, the outcome is one of:

* the import succeeds: exactly ``rows_loaded`` rows of the new batch are in the warehouse, each one
  valid for its table, and every refused row names the file, a line and a reason;
* a :class:`KassaError` is raised and the warehouse is exactly as before.

Never another exception, never a partial load.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.errors import ImportFailed, KassaError
from kassa.schema import KINDS
from kassa.settings import ImportLimits, Settings
from kassa.sources.base import ReadContext
from kassa.sources.canonical import CanonicalCSV
from kassa.sources.registry import detect_format
from kassa.sources.tabular import read_table
from kassa.store import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"
FORMATS = ("yandex_direct", "vk_ads", "google_ads", "meta_ads", "metrica_logs", "ga4_bigquery")
SAMPLES = {
    f: sorted(
        p for p in (DATA / f).iterdir() if not p.name.endswith(".expected.json") and p.suffix != ".yaml"
    )
    for f in FORMATS
}
CELL_TEXT = st.one_of(
    st.text(
        alphabet=st.sampled_from(list("0123456789,.;-+ \t\"'\n\\eE₽$%:/TZабв\u00a0\ufeff\x00")), max_size=12
    ),
    st.sampled_from(
        [
            "Итого",
            "Total rows: 9",
            "--",
            "NaN",
            "inf",
            "1e400",
            "-5",
            "",
            "2026-02-30",
            "46353",
            "99999999999999999999",
        ]
    ),
)

pytestmark = pytest.mark.slow  # fuzzing: `make test` runs it, `make test-fast` does not


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    how = draw(st.sampled_from(["bytes", "truncate", "cell", "lines"]))
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "bytes":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 6))):
            pos = draw(st.integers(0, max(len(out) - 1, 0)))
            op = draw(st.sampled_from(["set", "insert", "delete"]))
            byte = draw(st.integers(0, 255))
            if op == "set" and out:
                out[pos] = byte
            elif op == "insert":
                out.insert(pos, byte)
            elif out:
                del out[pos]
        return bytes(out)
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    if how == "lines":
        lines.insert(draw(st.integers(0, len(lines))), lines[i])  # a repeated line (header, data, totals…)
    else:
        sep = "\t" if "\t" in lines[i] else (";" if ";" in lines[i] else ",")
        cells = lines[i].split(sep)
        cells[draw(st.integers(0, len(cells) - 1))] = draw(CELL_TEXT)
        lines[i] = sep.join(cells)
    return "\n".join(lines).encode("utf-8", errors="surrogateescape")


@pytest.fixture(scope="module")
def warehouse() -> Iterator[tuple[Warehouse, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(Path(tmp) / "w.duckdb")
        try:
            yield wh, Path(tmp)
        finally:
            wh.close()


def _valid(kind: str, row: dict) -> bool:
    """The row satisfies its table: required values present, counts ≥ 0, money finite."""
    k = KINDS[kind]
    for col in k.columns:
        if col.personal:
            continue
        v = row[col.name]
        if col.required and v is None:
            return False
        if col.type == "count" and v is not None and v < 0:
            return False
        if col.type == "money" and v is not None and not math.isfinite(v):
            return False
    return True


def _check_import(wh: Warehouse, path: Path, fmt: str) -> None:
    with contextlib.suppress(KassaError):
        detect_format(path)  # may not recognise a damaged file, but must not crash
    before = wh.fingerprint()
    try:
        report = wh.import_files([path], format=fmt)
    except KassaError:
        assert wh.fingerprint() == before
        return
    for f in report.files:
        for e in f.errors:
            assert e.file == str(path) and e.reason and (e.line is None or e.line >= 1)
            if not e.row_kept:
                assert e.line is not None, e
        if f.batch_id is None:  # the same bytes were imported by an earlier example
            continue
        t = wh.table(f.kind)
        rows = t.filter(t.batch_id == f.batch_id).to_pyarrow().to_pylist()
        assert len(rows) == f.rows_loaded
        assert all(_valid(f.kind, r) for r in rows)
        assert f.rows_rejected <= f.rows_read
        # A row of a whole-period report becomes one row per day (sources/helpers/periods.py).
        spread = any(r.get("spread_from") is not None for r in rows)
        if not spread:
            assert f.rows_loaded + f.rows_rejected <= max(f.rows_read, f.rows_loaded)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_samples_load_or_fail_cleanly(
    fmt: str, data: st.DataObject, warehouse: tuple[Warehouse, Path]
) -> None:
    wh, tmp = warehouse
    sample = data.draw(st.sampled_from(SAMPLES[fmt]), label="sample")
    content = data.draw(damaged(sample.read_bytes()), label="content")
    path = tmp / f"{fmt}-{abs(hash(content))}{sample.suffix}"
    path.write_bytes(content)
    _check_import(wh, path, fmt)


LIMITS = ImportLimits(field_chars=1024, line_chars=4096, rows=50)


@settings(max_examples=150, deadline=None)
@given(
    # the edges of both limits, and anything between
    width=st.sampled_from([0, 1, 1023, 1024, 1025, 2000, 4070, 4080, 4096, 5000]) | st.integers(0, 5000),
    quoted=st.booleans(),
    newlines=st.integers(0, 3),
    extra_rows=st.integers(0, 60),
    canonical=st.booleans(),
)
def test_fields_lines_and_rows_around_the_limits_load_exactly_or_are_refused_by_line(
    width: int, quoted: bool, newlines: int, extra_rows: int, canonical: bool
) -> None:
    """A cell of any length, quoted or with line breaks inside quotes, in a file of any row count: it is
    read back exactly, or the file is refused naming the cell's line (field, line) or the row limit."""
    cell = "x" * width
    if newlines:
        quoted = True
        step = max(width // (newlines + 1), 1)
        cell = "\n".join(cell[i : i + step] for i in range(0, width, step)) if width else "\n" * newlines
    shown = f'"{cell}"' if quoted else cell
    with tempfile.TemporaryDirectory() as tmp:
        if canonical:
            path = Path(tmp) / "spend.csv"
            head = "date,channel,campaign,impressions,clicks,cost\n2026-10-01,vk_ads,a,1,1,5\n"
            rows = "".join(f"2026-10-02,vk_ads,r{i},1,1,5\n" for i in range(extra_rows))
            path.write_text(head + f"2026-10-01,vk_ads,{shown},1,1,5\n" + rows, encoding="utf-8")
            read = lambda: CanonicalCSV()._frame(path, ReadContext(Settings(import_limits=LIMITS), "s"))[0]  # noqa: E731
            column = "campaign"
        else:
            path = Path(tmp) / "direct.csv"
            rows = "".join(f"02.10.2026;r{i};5\n" for i in range(extra_rows))
            path.write_text(f"Дата;Кампания;Расход\n01.10.2026;{shown};5\n" + rows, encoding="utf-8")
            read = lambda: read_table(path, ["Дата", "Кампания"], limits=LIMITS).frame  # noqa: E731
            column = "кампания"
        line = 3 if canonical else 2  # the cell's row
        record = len(f"2026-10-01,vk_ads,{shown},1,1,5" if canonical else f"01.10.2026;{shown};5")
        try:
            frame = read()
        except ImportFailed as exc:
            message = str(exc)
            if record > LIMITS.line_chars:
                assert message.startswith(f"{path}, line {line}: the line is longer than 4096"), message
            elif len(cell) > LIMITS.field_chars:
                assert message.startswith(f"{path}, line {line}, column "), message
            else:
                assert not canonical and extra_rows + 1 > LIMITS.rows, message
                assert (
                    message
                    == f"{path}: more than 50 rows (import_limits.rows in the settings); split the file, e.g. by month"
                )
            return
        assert record <= LIMITS.line_chars and len(cell) <= LIMITS.field_chars
        assert canonical or extra_rows + 1 <= LIMITS.rows
        got = frame[column][1 if canonical else 0]
        assert (got or "") == cell

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

from kassa.errors import KassaError
from kassa.schema import KINDS
from kassa.sources.registry import detect_format
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

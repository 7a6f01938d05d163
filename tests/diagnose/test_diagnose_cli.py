"""``kassa diagnose`` as a person uses it: its entry point (tests/kassa_cli.py) on a real warehouse, exact texts, clean errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import write_files
from tests.diagnose.builders import company, illusion_company
from tests.kassa_cli import run_kassa


def kassa(*args: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    files = write_files(folder / "in", company(illusion_company()))
    path = folder / "shop.duckdb"
    res = kassa("import", *map(str, files), "--db", str(path))
    assert res.returncode == 0, res.stderr
    return path


def test_json_is_a_list_of_findings(db):
    res = kassa("diagnose", "--db", str(db), "--period", "2026-10", "--json")
    assert res.returncode == 0, res.stderr
    (f,) = json.loads(res.stdout)
    assert (f["kind"], f["dimension"], f["channel"], f["value"]) == (
        "activity_illusion",
        "campaign",
        "yandex_direct",
        "ya_network",
    )
    assert (f["stage"], f["responsible"], f["significant"]) == ("lead_to_qualified", "marketing", True)
    assert "qualified leads −40%" in f["message"]
    assert {e["metric"] for e in f["evidence"]} >= {"ctr", "cpc", "reach", "qualified_leads", "revenue"}


def test_terminal_output_in_both_languages(db):
    res = kassa("diagnose", "--db", str(db), "--period", "2026-10", "--vs", "2026-09")
    assert res.returncode == 0, res.stderr
    assert "Diagnosis: 2026-10 against 2026-09" in res.stdout
    assert "1 finding(s) stand out from noise, 0 more could be noise" in res.stdout
    assert "1. Activity illusion · step: lead → qualified · whose side: marketing" in res.stdout
    res = kassa("diagnose", "--db", str(db), "--period", "2026-10", "--lang", "ru")
    assert res.returncode == 0, res.stderr
    assert "1. Иллюзия активности · шаг: лид → квал. · чья зона: маркетинг" in res.stdout
    assert "Отчёт зелёный, а денег нет" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "month 13 does not exist"),
        (
            ["--period", "2026-10", "--vs", "2026-10"],
            "cannot compare 2026-10 with 2026-10: the periods overlap",
        ),
        (
            ["--period", "2026-10", "--kind", "nope"],
            "unknown finding kind 'nope'; choose from: activity_illusion",
        ),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(db, args, message):
    res = kassa("diagnose", "--db", str(db), *args)
    assert res.returncode == 2
    assert message in res.stderr.replace("\n", " ")
    assert "Traceback" not in res.stderr

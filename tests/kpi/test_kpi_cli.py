"""`kassa kpi score` and `kassa kpi lint` as a person runs them: the entry point, real files, exact messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import write_files
from tests.golden_data import FILES
from tests.kassa_cli import run_kassa


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(*args, env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("kpi_cli")
    files = write_files(folder / "in", FILES)
    path = folder / "shop.duckdb"
    res = run("import", *map(str, files), "--db", str(path))
    assert res.returncode == 0, res.stderr
    return str(path)


def contract(tmp_path: Path, text: str) -> str:
    p = tmp_path / "agency.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


GOOD = """name: Agency
scope: {channels: [yandex_direct]}
kpis:
  - {metric: qualified_leads, target: 2, weight: 0.5}
  - {metric: revenue, target: 60000, weight: 0.5}
bonus: {base: 10000, gate: {metric: romi, min: 0}}
"""


def test_score_json_and_table(db, tmp_path):
    path = contract(tmp_path, GOOD)
    res = run("kpi", "score", path, "--db", db, "--period", "2026-10", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    # qualified leads 2 / 2 = 1 × 0.5; revenue 90 000 / 60 000 = 1.5 (the default cap) × 0.5 = 0.75 -> 1.25, bonus 12 500
    assert data["score"] == pytest.approx(1.25) and data["bonus"]["amount"] == pytest.approx(12_500)
    assert [k["fact"] for k in data["kpis"]] == [2, 90000]
    res = run("kpi", "score", path, "--db", db, "--period", "2026-10", "--lang", "ru")
    assert res.returncode == 0, res.stderr
    out = res.stdout.replace("\xa0", " ")
    assert "Agency — 2026-10" in out and "Квалифицированные лиды" in out and "Засчитано" in out
    assert "2. Выручка: факт 90 000 ₽, цель 60 000 ₽; факт / цель = 150,0% × вес 0,50 = 0,750." in out
    assert "Бонус = база 10 000 ₽ × оценка 1,250 = 12 500 ₽." in out


def test_lint_exit_codes():
    res = run("kpi", "lint", "pays_for_activity")
    assert res.returncode == 0 and "[activity_weight]" in res.stdout and "6 warning(s)" in res.stdout
    assert run("kpi", "lint", "pays_for_activity", "--strict").returncode == 1
    res = run("kpi", "lint", "pays_for_money", "--strict", "--period", "2026-10", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["warnings"] == []


def test_bad_contract_is_a_message_not_a_traceback(tmp_path):
    path = contract(tmp_path, "name: x\nkpis:\n  - {metric: likes, target: 1, weight: 1}\n")
    res = run("kpi", "lint", path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{path}:3: field kpis[0].metric: Value error, unknown metric 'likes'" in " ".join(
        res.stderr.split()
    )
    res = run("kpi", "lint", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "shipped examples: pays_for_activity, pays_for_money" in " ".join(
        res.stderr.split()
    )

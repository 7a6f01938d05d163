"""Docs that cannot drift: every command, metric and setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from kassa.cli import app
from kassa.metrics.catalog import visible_metrics
from kassa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        names.append(name)
        for sub in getattr(cmd, "commands", {}) or {}:
            names.append(f"{name} {sub}")
    return names


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c for c in _commands() if f"kassa {c}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_command_help_has_an_example():
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        cmds = [(name, cmd)] + [(f"{name} {s}", c) for s, c in (getattr(cmd, "commands", {}) or {}).items()]
        for full, c in cmds:
            if getattr(c, "commands", None):
                continue
            assert "Example:" in (c.help or ""), f"`kassa {full}` help has no Example: line"


def test_every_metric_is_in_docs_with_its_formula():
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for m in visible_metrics():
        row = re.search(rf"^\| `{m.name}` \| {m.tier.value} \|.*$", text, re.M)
        assert row, f"{m.name} missing from docs/metrics.md"
        if m.formula:
            assert f"`{m.formula}`" in row.group(0), f"{m.name}: formula in docs differs from the catalog"


def test_every_metric_has_both_languages():
    for m in visible_metrics():
        assert m.label_ru and m.explain_ru and m.label_ru != m.explain_ru
        assert re.search("[а-яА-Я]", m.explain_ru), m.name


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        assert field in text, f"setting {field} is not documented in docs/metrics.md"

"""Every message a module translates has a Russian entry in its domain's catalog; formatting per locale."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kassa.i18n import catalog, fmt_change, fmt_money, fmt_percent, fmt_value, translate

SRC = Path(__file__).resolve().parents[1] / "src" / "kassa"


def _translated_messages() -> list[tuple[str, str, str]]:
    """(file, domain, msgid) for every ``_("literal", ...)`` in a module with ``_ = Translator("domain")``."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        domain = None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "Translator"
                and node.value.args
                and isinstance(node.value.args[0], ast.Constant)
            ):
                domain = node.value.args[0].value
        if domain is None:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out.append((str(path.relative_to(SRC)), domain, node.args[0].value))
    return out


def _template_messages() -> list[tuple[str, str, str]]:
    """(file, "web", msgid) for every ``t("literal")`` in the dashboard's templates (they translate in "web")."""
    call = re.compile(r"""\bt\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
    out = []
    for path in sorted((SRC / "web" / "templates").glob("*.j2")):
        for m in call.finditer(path.read_text(encoding="utf-8")):
            out.append((str(path.relative_to(SRC)), "web", m[1] if m[1] is not None else m[2]))
    return out


MESSAGES = _translated_messages() + _template_messages()


def test_some_messages_are_found():
    assert len(MESSAGES) >= 4  # the scan itself works (it finds the CLI's own titles)
    assert any(m == "Log in" for _, _, m in _template_messages())  # and the templates' t("…")


@pytest.mark.parametrize(("file", "domain", "msgid"), MESSAGES, ids=[f"{f}:{m[:30]}" for f, _, m in MESSAGES])
def test_message_has_a_russian_translation(file, domain, msgid):
    assert msgid in catalog(domain, "ru"), (
        f"{file}: no Russian for {msgid!r} in locale/ru/LC_MESSAGES/{domain}.po"
    )


def test_placeholders_survive_translation():
    assert translate("cli", "Money trail — {period}", "ru", period="2026-10") == "Путь денег — 2026-10"


def test_number_formats_per_language():
    assert fmt_money(1234567, "RUB", "ru") == "1\xa0234\xa0567\xa0₽"
    assert fmt_money(1234567, "RUB", "en") == "RUB\xa01,234,567"
    assert fmt_percent(0.153, "ru") == "15,3\xa0%" or fmt_percent(0.153, "ru") == "15,3%"
    assert fmt_value(None, "money") == "—" and fmt_value(float("nan"), "percent") == "—"
    assert fmt_value(60.0, "money", "en") == "RUB\xa060"
    assert fmt_value(12.5, "money", "en") == "RUB\xa012.50"


def test_changes_read_like_the_article():
    assert fmt_change(-0.15) == "−15%"
    assert fmt_change(1.0) == "×2"
    assert fmt_change(0.2) == "+20%"
    assert fmt_change(1.5, "ru") == "×2,5"
    assert fmt_change(None) == "—"

"""Data flows one way: each layer imports only the layers before it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kassa"
ORDER = [
    "sources",
    "connectors",
    "store",
    "demo",
    "link",
    "metrics",
    "attribution",
    "kpi",
    "diagnose",
    "report",
    "notify",
    "web",
    "commands",
]
SHARED = {
    "schema",
    "errors",
    "settings",
    "period",
    "i18n",
    "names",
    "yamlfile",
    "registry",
    "cron",
    "__init__",
}
TOP = {"cli", "cli_common"}


def _layer(module: str) -> int | None:
    """Layer index of ``kassa.<part>…``; None for shared vocabulary."""
    part = module.split(".")[1] if module.startswith("kassa.") else module
    if part in SHARED:
        return None
    if part in TOP:
        return ORDER.index("commands")
    return ORDER.index(part)


def _kassa_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kassa"):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names if a.name.startswith("kassa"))
    return [m for m in out if m != "kassa"]


FILES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SRC)) for p in FILES])
def test_imports_only_earlier_layers(path):
    rel = path.relative_to(SRC)
    own = _layer("kassa." + (rel.parts[0] if len(rel.parts) > 1 else rel.stem))
    for module in _kassa_imports(path):
        theirs = _layer(module)
        if theirs is None:
            continue
        if own is None:
            pytest.fail(f"{rel}: shared vocabulary must not import a layer ({module})")
        assert theirs <= own, (
            f"{rel} (layer {ORDER[own] if own < len(ORDER) else 'cli'}) imports {module}, a later layer"
        )

"""The diagnosis rules, one module per finding kind. Importing this package registers every module in it
(:func:`kassa.diagnose.rule.rule`), so a new rule needs no list to be edited."""

from __future__ import annotations

import importlib
import pkgutil

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

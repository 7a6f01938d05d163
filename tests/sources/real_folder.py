"""Where the files other people made are: ``KASSA_REAL_FILES`` when set (a CI that checks kassa out
elsewhere points it at the folder), else ``../shared/real`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL = Path(
    os.environ.get("KASSA_REAL_FILES") or Path(__file__).resolve().parents[2].parent / "shared" / "real"
)

# Skipped, with the folder named, when it is not there; set KASSA_REAL_FILES to the folder to run them.
needs_real_files = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real files are not here: {REAL} (set KASSA_REAL_FILES to the folder)"
)

"""Reading hostile or big files: peak memory refusing one huge field, and detect + read of a real workbook.

* A canonical spend CSV with one field of :data:`FIELD_MB` MB (the audit's 1 GB field took 15 GB before the reader
  streamed): kassa must refuse it at the line limit with memory independent of the field's size. Target:
  peak RSS of the child below the interpreter and libraries' own footprint plus 3x the 4 MiB line limit.
* The 26 467-row Yandex Direct workbook of ``../shared/real`` (if present): detection, then the read.
  Before detection read the first rows once per file, it parsed the workbook once per XLSX-capable
  format (16 s of the ~30 s).

Both run in fresh child processes (``bench.common.in_child``) so each peak is its own.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.common import OUT, ROOT, Figure, in_child, peak_rss_mb

FIELD_MB = 1024
QUICK_FIELD_MB = 64
DIRECT = ROOT.parent / "shared" / "real" / "yandex_direct" / "SKV580+yandex-direct-analytic-datas-project"
WORKBOOK = DIRECT / "BD_RSY_MK_BFL_OPORA_01.03-04.04 2026.xlsx"


def generate(path: Path, mb: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "date,channel,campaign,impressions,clicks,cost\n2026-10-01,vk_ads,a,1,1,5\n2026-10-01,vk_ads,"
        )
        chunk = "x" * 2**20
        for _ in range(mb):
            f.write(chunk)
        f.write(",1,1,5\n")


def child(what: str, path: str) -> None:
    from kassa.errors import KassaError
    from kassa.settings import Settings
    from kassa.sources.base import ReadContext
    from kassa.sources.registry import SOURCES, detect_format

    list(SOURCES.values())  # every reader and its libraries imported: their footprint is the baseline
    base = peak_rss_mb()
    started = time.perf_counter()
    src = detect_format(Path(path))
    detected = time.perf_counter()
    try:
        src.read(Path(path), ReadContext(settings=Settings(), salt="bench"))
        outcome = "read"
    except KassaError as exc:
        outcome = str(exc).splitlines()[0][:80]
    done = time.perf_counter()
    print(f"{what}: {outcome}", file=sys.stderr)
    print(
        json.dumps(
            {"detect": detected - started, "read": done - detected, "rss": peak_rss_mb(), "base": base}
        )
    )


def run(quick: bool) -> list[Figure]:
    mb = QUICK_FIELD_MB if quick else FIELD_MB
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"huge_field_{mb}mb.csv"
    if not path.exists():
        generate(path, mb)
    huge = in_child("bench.bench_reading", "huge", str(path))
    figures = [
        Figure(f"refuse a {mb} MB field: peak RSS", huge["rss"], "MiB", huge["base"] + 3 * 4, False),
        Figure(f"refuse a {mb} MB field: time", huge["detect"] + huge["read"], "s"),
    ]
    if WORKBOOK.exists():
        wb = in_child("bench.bench_reading", "workbook", str(WORKBOOK))
        figures += [
            Figure("Direct 26 467-row XLSX: detect", wb["detect"], "s"),
            Figure("Direct 26 467-row XLSX: read", wb["read"], "s"),
            Figure("Direct 26 467-row XLSX: peak RSS", wb["rss"], "MiB"),
        ]
    return figures


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

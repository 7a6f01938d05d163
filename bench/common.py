"""What benchmarks share: a printed figure, and measuring a step in a child process (time, peak RSS)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"  # generated inputs, cached between runs (gitignored)


@dataclass(frozen=True)
class Figure:
    """One measured number; ``target`` (with ``higher_is_better``) makes it a pass/fail line."""

    name: str
    value: float
    unit: str = ""
    target: float | None = None
    higher_is_better: bool = True

    @property
    def meets(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def __str__(self) -> str:
        shown = f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:.3g}"
        text = f"{self.name:<40} {shown:>14} {self.unit}"
        if self.target is not None:
            sign = "≥" if self.higher_is_better else "≤"
            text += f"   target {sign} {self.target:g}: {'ok' if self.meets else 'MISSED'}"
        return text


def in_child(module: str, *args: str) -> dict[str, float]:
    """Run ``python -m <module> <args>`` and return the JSON object it prints last.

    A child process is how peak memory is measured honestly: ``ru_maxrss`` of a fresh process covers
    native allocations (polars, Arrow, DuckDB) that ``tracemalloc`` cannot see.
    """
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    last = done.stdout.strip().splitlines()[-1]
    result: dict[str, float] = json.loads(last)
    return result


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux: ``VmHWM`` of /proc/self/status, which starts afresh at ``exec`` — unlike ``ru_maxrss``,
    which a child inherits from the parent it was forked from. Elsewhere ``ru_maxrss``.
    """
    import resource

    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 1024 / 1024

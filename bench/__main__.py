"""Run kassa's benchmarks and print their figures: ``python -m bench [NAME ...] [--quick]``.

Every module ``bench/bench_<name>.py`` with a ``run(quick: bool) -> list[Figure]`` is a benchmark;
this runner discovers them, so adding one needs no edit here. Each figure is printed as
``name  figure  value unit`` and ratios against the named baseline say whether a target is met.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

from bench.common import Figure

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, str]:
    """Benchmark name -> module name, for every ``bench_<name>`` module beside this file."""
    return {
        m.name.removeprefix("bench_"): f"bench.{m.name}"
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_")
    }


def main(argv: list[str] | None = None) -> int:
    found = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(sorted(found))}"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small inputs: checks the benchmark runs, figures are not meaningful",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in found]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(sorted(found))}")
    failed = False
    for name in args.names or sorted(found):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures: list[Figure] = importlib.import_module(found[name]).run(quick=args.quick)
        for f in figures:
            print(f"  {f}", flush=True)
            failed |= f.meets is False
        print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

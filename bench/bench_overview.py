"""The dashboard's overview page on the demo company: server time per request, against 300 ms.

Issue #7: "Overview page of the demo renders in under 300 ms server time on 2 cores with a year of data".
The demo warehouse (13 months, ~200 000 visits) is built in a temporary folder with one owner user; a
child process starts the real app (``create_app`` as ``kassa serve`` does) under uvicorn on 127.0.0.1 in
a background thread, logs in over HTTP and reads the server's own time of each ``GET /overview`` from
its ``Server-Timing: app;dur=<ms>`` header:

1. the first request after start, default period (the latest month);
2. the same page again (median of 10) — the target: ≤ 300 ms;
3. the first request of each of the other 12 months (median and max), newest first, as a person steps
   back through the period picker;
4. the same three in ``?lang=ru``.

Two runs: **as served** (the app as ``kassa serve`` starts it: it may warm pages in the background; (1)
is asked as soon as the server answers, then the bench waits for the warming to end), and **built on
demand** (``create_app(warm=False)``: every first request builds its page; skipped if the app has no such
switch). Peak RSS is the child's (server and client in one process). Ratios are measured / 300 ms.

``python -m bench overview`` runs it; ``--quick`` measures 2 other months, 3 repeats, on demand only.
``python -m bench.bench_overview --profile`` samples the stacks of one cold request of another month
(in the on-demand app) and prints where its time goes.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Figure, in_child, peak_rss_mb

TARGET_MS = 300.0
REPEATS, QUICK_REPEATS = 10, 3
QUICK_MONTHS = 2
USER, PASSWORD = "bench", "bench-overview-password"
SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")
PROFILE_MONTH = "2026-06"  # a month the profile asks for cold, after the default one


def build_warehouse(folder: Path) -> Path:
    """The demo company in ``folder``, with one owner who may log in (closed, so the app can open it)."""
    from kassa.demo import load
    from kassa.web.users import UserStore

    db = folder / "demo.duckdb"
    load(db).close()
    UserStore.for_db(db).add(USER, PASSWORD, "owner")
    return db


def other_months() -> list[str]:
    """The demo's 12 months before its latest, newest first."""
    from kassa.demo import FIRST_MONTH, LAST_MONTH
    from kassa.metrics.compute import months_between
    from kassa.period import Period

    months = months_between(Period.parse(FIRST_MONTH).start, Period.parse(LAST_MONTH).start)
    return [m for m in reversed(months) if m != LAST_MONTH]


def can_switch_off_warming() -> bool:
    from kassa.web import create_app

    return "warm" in inspect.signature(create_app).parameters


# -- the child: one server, one client ------------------------------------------------------------------


@contextmanager
def serving(db: Path, warm: bool) -> Iterator[tuple[str, float]]:
    """The real app under uvicorn on 127.0.0.1 (free port) in a thread; yields (URL, seconds to answer)."""
    import httpx2
    import uvicorn

    from kassa.web import create_app

    started = time.perf_counter()
    switch: dict[str, Any] = {} if warm else {"warm": False}
    web = create_app(db, users_required=True, **switch)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", access_log=False, ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="bench-serve", daemon=True)
    thread.start()
    while True:
        try:
            if httpx2.get(url + "/login", timeout=5).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        if not thread.is_alive() or time.perf_counter() - started > 120:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield url, time.perf_counter() - started
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


@contextmanager
def logged_in(url: str) -> Iterator[Any]:
    """An HTTP client holding the owner's session cookie."""
    import httpx2

    from kassa.web.security import LOGIN_CSRF_COOKIE

    with httpx2.Client(base_url=url, timeout=600) as client:
        client.get("/login")
        csrf = client.cookies[LOGIN_CSRF_COOKIE]
        r = client.post("/login", data={"username": USER, "password": PASSWORD, "csrf": csrf})
        if r.status_code != 303:
            raise RuntimeError(f"login failed: {r.status_code} {r.text[:300]}")
        yield client


def server_ms(client: Any, **query: str) -> float:
    """Server time of one ``GET /overview`` (HTML, as a browser asks), from its Server-Timing header."""
    r = client.get("/overview", params=query)
    if r.status_code != 200:
        raise RuntimeError(f"/overview {query}: {r.status_code} {r.text[:300]}")
    m = SERVER_TIMING.search(r.headers.get("server-timing", ""))
    if m is None:
        raise RuntimeError("no Server-Timing: app;dur=… header on /overview")
    return float(m.group(1))


def wait_for_warming(timeout: float = 600) -> bool:
    """Join the app's background warming, if it runs one (a thread whose name says so)."""
    warmers = [t for t in threading.enumerate() if "warm" in t.name.lower()]
    for t in warmers:
        t.join(timeout)
    return bool(warmers)


def measure(
    client: Any, lang: str, months: list[str], repeats: int, first: float | None = None
) -> dict[str, Any]:
    """(1) first request of the latest month (unless already asked), (2) ``repeats`` more, (3) the ``months``."""
    q = {} if lang == "en" else {"lang": lang}
    if first is None:
        first = server_ms(client, **q)
    again = [server_ms(client, **q) for _ in range(repeats)]
    others = [server_ms(client, period=m, **q) for m in months]
    return {"first": first, "again": again, "others": others}


def child(db: Path, warm: bool, quick: bool) -> None:
    months = other_months()[: QUICK_MONTHS if quick else None]
    repeats = QUICK_REPEATS if quick else REPEATS
    with serving(db, warm) as (url, startup), logged_in(url) as client:
        t = time.perf_counter()
        first = server_ms(client)  # the first visitor, as soon as the server answers
        first_wall = time.perf_counter() - t
        # Served: what the app warms in the background is done before (2)–(4), as for a later visitor.
        warmed = wait_for_warming()
        warm_seconds = time.perf_counter() - t + startup
        en = measure(client, "en", months, repeats, first=first)
        ru = measure(client, "ru", months, repeats)
    print(
        json.dumps(
            {
                "startup": startup,
                "first_wall": first_wall,
                "warmed": warmed,
                "warm_seconds": warm_seconds,
                "months": len(months),
                "en": en,
                "ru": ru,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


# -- where the time goes: a stack sampler over the server's threads ------------------------------------


class StackSampler:
    """Samples every thread's stack (``sys._current_frames``) while running: a py-spy in-process.

    Only stacks with a frame of kassa count (the request's work; idle event loops and workers have none).
    ``inclusive`` counts a function once per sample it is anywhere on; ``leaf`` the innermost frame.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.samples = 0
        self.inclusive: Counter[str] = Counter()
        self.leaf: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    @staticmethod
    def _name(frame: Any) -> str:
        path = frame.f_code.co_filename
        for marker in ("/site-packages/", "/src/", "/lib/python3"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        return f"{path.removesuffix('.py')}:{frame.f_code.co_name}"

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            for tid, frame in sys._current_frames().items():
                if tid == me:
                    continue
                names = []
                f: Any = frame
                while f is not None:
                    names.append(self._name(f))
                    f = f.f_back
                if not any(n.startswith("kassa/") for n in names):
                    continue
                self.samples += 1
                self.leaf[names[0]] += 1
                self.inclusive.update(set(names))
            time.sleep(self.interval)

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, top: int = 25) -> list[str]:
        def share(n: int) -> str:
            return f"{100 * n / max(self.samples, 1):5.1f} %"

        lines = [f"{self.samples} samples of the request's thread(s)", "inclusive (kassa and its libraries):"]
        interesting = [
            (name, n)
            for name, n in self.inclusive.most_common()
            if name.startswith(("kassa/", "ibis/", "duckdb", "polars/", "altair/", "jinja2/", "vl_convert"))
        ]
        lines += [f"  {share(n)}  {name}" for name, n in interesting[:top]]
        lines.append("innermost frame (self time):")
        lines += [f"  {share(n)}  {name}" for name, n in self.leaf.most_common(15)]
        by_package = Counter[str]()
        for name, n in self.leaf.items():
            by_package[name.split("/", 1)[0].split(":", 1)[0]] += n
        lines.append("innermost frame by package:")
        lines += [f"  {share(n)}  {name}" for name, n in by_package.most_common(10)]
        return lines


def profile(db: Path, month: str) -> None:
    """One cold request of ``month`` (the default month asked first, so the money trail is stitched)."""
    with serving(db, warm=False) as (url, _), logged_in(url) as client:
        default = server_ms(client)
        t = time.perf_counter()
        with StackSampler() as sampler:
            cold = server_ms(client, period=month)
        wall = time.perf_counter() - t
        again = server_ms(client, period=month)
    print(
        f"default period first: {default:.0f} ms; {month} cold: {cold:.0f} ms ({wall:.2f} s wall), again: {again:.0f} ms"
    )
    for line in sampler.report():
        print(line)


# -- the parent ---------------------------------------------------------------------------------------------


def figures(label: str, r: dict[str, Any]) -> list[Figure]:
    out = [Figure(f"{label}: start until it answers", r["startup"], "s")]
    if r["warmed"]:
        out.append(Figure(f"{label}: start until warming ended", r["warm_seconds"], "s"))
    for lang in ("en", "ru"):
        m = r[lang]
        again = statistics.median(m["again"])
        others = m["others"]
        tag = f"{label} {lang}"
        out += [
            Figure(f"{tag}: (1) first, latest month", m["first"], "ms"),
            Figure(
                f"{tag}: (2) again, median of {len(m['again'])}",
                again,
                "ms",
                target=TARGET_MS if lang == "en" else None,
                higher_is_better=False,
            ),
            Figure(f"{tag}: (2) / 300 ms", again / TARGET_MS, "×"),
        ]
        if others:
            out += [
                Figure(f"{tag}: (3) other {len(others)} months, median", statistics.median(others), "ms"),
                Figure(f"{tag}: (3) other {len(others)} months, max", max(others), "ms"),
                Figure(f"{tag}: (3) median / 300 ms", statistics.median(others) / TARGET_MS, "×"),
                Figure(f"{tag}: (3) max / 300 ms", max(others) / TARGET_MS, "×"),
            ]
    out.append(Figure(f"{label}: peak RSS (server + client)", r["peak_rss_mb"], "MiB"))
    return out


def run(quick: bool = False) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="kassa-bench-overview-") as tmp:
        db = build_warehouse(Path(tmp))
        if quick:  # built on demand: no waiting for a background warm-up of 26 pages
            mode = "on-demand" if can_switch_off_warming() else "served"
            r = in_child("bench.bench_overview", "--child", mode, "--db", str(db), "--quick")
            return figures(mode.replace("-", " "), r)
        out = figures("as served", in_child("bench.bench_overview", "--child", "served", "--db", str(db)))
        if can_switch_off_warming():
            r = in_child("bench.bench_overview", "--child", "on-demand", "--db", str(db))
            out += figures("on demand", r)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_overview", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="2 other months, 3 repeats, on demand only")
    parser.add_argument(
        "--profile", nargs="?", const=PROFILE_MONTH, metavar="MONTH", help="sample one cold request"
    )
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["served", "on-demand"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.db, warm=args.child == "served", quick=args.quick)
        return 0
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="kassa-bench-overview-") as tmp:
            profile(args.db or build_warehouse(Path(tmp)), args.profile)
        return 0
    failed = False
    for f in run(quick=args.quick):
        print(f"  {f}", flush=True)
        failed |= f.meets is False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

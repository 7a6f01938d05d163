"""A viewer's pages while an owner uploads 1 M visits: median page time during the upload / on an idle server.

Issue #14 item 9: "Run imports off the request loop: other users' pages keep answering. Add a bench: a
viewer's median page time during a 1 M-row upload as a ratio to an idle server, target ≤ 3×". The demo
company (13 months, ~200 000 visits) is built in a temporary folder with an owner and a viewer; the
dashboard runs as its own process (``create_app`` under uvicorn, as ``kassa serve`` runs it, without the
background warm-up so that only the upload competes with the viewer). The viewer asks for
``/channels.json`` of the latest months in turn (each request computes its metrics from the warehouse)
and the wall-clock time of each answer is measured:

1. idle: after one round to build what every request shares, ``REPEATS`` requests;
2. during the upload: the owner sends the Metrica Logs API visits file of bench_import (1 M rows, ~175
   MB; generated once into ``bench/out/``), and the viewer asks as above until the import has finished
   (the page's progress says so). The upload's request itself answers at once with its job.

The ratio is median (2) / median (1). ``--quick``: 100 000 rows, 10 idle requests.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_import import input_file
from bench.common import ROOT, Figure, in_child

ROWS, QUICK_ROWS = 1_000_000, 100_000
REPEATS, QUICK_REPEATS = 30, 10
TARGET = 3.0
OWNER, VIEWER, PASSWORD = "owner", "viewer", "bench-uploads-password"
MONTHS = ("2026-10", "2026-09", "2026-08")


def build(folder: Path) -> Path:
    from kassa.demo import load
    from kassa.web.users import UserStore

    db = folder / "demo.duckdb"
    load(db).close()
    store = UserStore.for_db(db)
    store.add(OWNER, PASSWORD, "owner")
    store.add(VIEWER, PASSWORD, "viewer")
    return db


def serve(db: Path, port: int) -> None:
    """The server process: the dashboard as ``kassa serve`` runs it, without the warm-up."""
    from kassa.commands.serve import run_dashboard
    from kassa.web import create_app

    run_dashboard(create_app(db, warm=False, max_upload_bytes=400 * 2**20), "127.0.0.1", port)


def login(url: str, name: str) -> Any:
    import httpx2

    from kassa.web.security import LOGIN_CSRF_COOKIE

    client = httpx2.Client(base_url=url, timeout=600)
    client.get("/login")
    r = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf": client.cookies[LOGIN_CSRF_COOKIE]},
    )
    if r.status_code != 303:
        raise RuntimeError(f"login of {name} failed: {r.status_code}")
    return client


def page_seconds(client: Any, i: int) -> float:
    started = time.perf_counter()
    r = client.get("/channels.json", params={"period": MONTHS[i % len(MONTHS)]})
    if r.status_code != 200:
        raise RuntimeError(f"/channels.json: {r.status_code} {r.text[:300]}")
    return time.perf_counter() - started


def child(rows: int, repeats: int) -> dict[str, Any]:
    import re

    upload = input_file(rows)
    with tempfile.TemporaryDirectory(prefix="kassa-bench-uploads-") as tmp:
        db = build(Path(tmp))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_uploads", "--serve", str(db), str(port)], cwd=ROOT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, server)
            viewer, owner = login(url, VIEWER), login(url, OWNER)
            for i in range(len(MONTHS)):  # what every request shares (compiled SQL, the money trail)
                page_seconds(viewer, i)
            idle = [page_seconds(viewer, i) for i in range(repeats)]
            token = re.search(r'name="csrf" value="([^"]+)"', owner.get("/data").text)
            assert token, "no form token on the Data page"
            answer: dict[str, Any] = {}

            def send() -> None:
                with open(upload, "rb") as f:
                    r = owner.post(
                        "/data/upload",
                        data={"csrf": token[1]},
                        files={"file": (upload.name, f)},
                        headers={"Accept": "application/json"},
                    )
                answer.update(r.json(), status=r.status_code)

            started = time.perf_counter()
            sender = threading.Thread(target=send)
            sender.start()
            during: list[float] = []
            i = 0
            at: list[float] = []
            while sender.is_alive() or _running(owner, answer):
                at.append(time.perf_counter() - started)
                during.append(page_seconds(viewer, i))
                i += 1
            import_seconds = time.perf_counter() - started
            sender.join()
            final = owner.get(f"/data/jobs/{answer['job']}.json").json() if "job" in answer else answer
        finally:
            server.terminate()
            server.wait(30)
    loaded = (final.get("outcome") or final).get("batches", [{}])[0].get("rows_loaded")
    if loaded != rows:
        raise RuntimeError(f"the upload did not load {rows} rows: {final}")
    return {
        "idle": idle,
        "during": during,
        "at": at,
        "seconds": import_seconds,
        "mb": upload.stat().st_size / 2**20,
    }


def _running(owner: Any, answer: dict[str, Any]) -> bool:
    if "job" not in answer:
        return False
    return bool(owner.get(f"/data/jobs/{answer['job']}.json").json()["state"] in ("queued", "running"))


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    import httpx2

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx2.get(url + "/login", timeout=5).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.05)


def run(quick: bool = False) -> list[Figure]:
    rows = QUICK_ROWS if quick else ROWS
    got = in_child("bench.bench_uploads", "--child", str(rows), str(QUICK_REPEATS if quick else REPEATS))
    idle, during = statistics.median(got["idle"]), statistics.median(got["during"])
    return [
        Figure("upload", got["mb"], f"MiB, {rows:,} visits"),
        Figure("upload: sent and imported in", got["seconds"], "s"),
        Figure("viewer page, idle server: median", idle * 1000, "ms"),
        Figure("viewer page during the upload: median", during * 1000, f"ms ({len(got['during'])} pages)"),
        Figure("viewer page during the upload: max", max(got["during"]) * 1000, "ms"),
        Figure(
            "during upload / idle (median)",
            during / idle,
            "×",
            target=None if quick else TARGET,
            higher_is_better=False,
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        print(__doc__)

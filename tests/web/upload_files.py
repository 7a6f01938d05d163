"""Large uploads for the dashboard's job tests and bench: a Yandex Metrica Logs API visits file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import polars as pl

from kassa.web.security import LOGIN_CSRF_COOKIE


def metrica_visits(path: Path, rows: int, month: str = "2026-11") -> Path:
    """``rows`` visits of ``month`` as the Logs API exports them (kassa streams this format in batches)."""
    i = pl.int_range(0, rows, dtype=pl.Int64, eager=False)
    ts = pl.lit(f"{month}-01 00:00:00").str.to_datetime() + pl.duration(seconds=i * (28 * 86_400) // rows)
    pl.select(
        (9_100_000_000_000_000_000 + i).cast(pl.String).alias("ym:s:visitID"),
        (1_700_000_000_000_000_000 + i % 50_000).cast(pl.String).alias("ym:s:clientID"),
        ts.dt.strftime("%Y-%m-%d %H:%M:%S").alias("ym:s:dateTime"),
        pl.lit("yandex").alias("ym:s:UTMSource"),
        pl.lit("cpc").alias("ym:s:UTMMedium"),
        pl.lit("ydx_big").alias("ym:s:UTMCampaign"),
        (pl.lit("https://shop.example/item-") + (i % 500).cast(pl.String)).alias("ym:s:startURL"),
    ).write_csv(path, separator="\t", quote_style="never")
    return path


@contextmanager
def logged_in(url: str, name: str, password: str) -> Iterator[httpx2.Client]:
    """An HTTP client of the real server holding ``name``'s session."""
    with httpx2.Client(base_url=url, timeout=120) as client:
        client.get("/login")
        r = client.post(
            "/login",
            data={"username": name, "password": password, "csrf": client.cookies[LOGIN_CSRF_COOKIE]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        yield client


def send_upload(client: httpx2.Client, csrf: str, path: Path, **form: str) -> httpx2.Response:
    with open(path, "rb") as f:
        return client.post(
            "/data/upload",
            data={"csrf": csrf, **form},
            files={"file": (path.name, f, "text/tab-separated-values")},
            headers={"Accept": "application/json"},
        )


def wait_for(client: httpx2.Client, job: str, until: Any, timeout: float = 120) -> dict[str, Any]:
    """Poll the job's progress until ``until(progress)``; the last progress."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = client.get(f"/data/jobs/{job}.json").json()
        if until(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.02)

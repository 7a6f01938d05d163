"""Uploads run off the request loop (issue 14 item 9): other pages answer during an import, the Data page
shows how far it is and can cancel it (nothing loaded), and a chunked body over the limit gets 413.

The dashboard is the real app under uvicorn on 127.0.0.1 (tests/web/browser_server.py); the upload is a
Metrica Logs API visits file large enough to take seconds to import on the golden company's warehouse.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from tests.web.browser_server import serve
from tests.web.helpers import PASSWORD
from tests.web.upload_files import logged_in, metrica_visits, send_upload, wait_for

from kassa.store import Warehouse
from kassa.web import create_app
from kassa.web.uploads import FORM_SLACK, uploads_dir

ROWS = 600_000  # about 4 s of import on 2 shared cores: long enough to watch, cancel and read meanwhile
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return metrica_visits(tmp_path_factory.mktemp("big") / "visits_november.tsv", ROWS)


def csrf_of(client: httpx2.Client) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', client.get("/data").text)
    assert m, "the Data page carries no form token"
    return m[1]


def visits_rows(client: httpx2.Client) -> int:
    coverage = client.get("/data.json").json()["coverage"]
    return int(next(c["rows"] for c in coverage if c["table"] == "visits"))


def state_of(db: Path) -> tuple[Any, list[dict[str, Any]]]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh.fingerprint(), wh.batches()


def test_pages_answer_during_an_import_and_see_it_once_committed(users_db: Path, big_file: Path) -> None:
    web = create_app(users_db, users_required=True, warm=False, max_upload_bytes=200 * 2**20)
    with (
        serve(web) as url,
        logged_in(url, "mark", PASSWORD) as mark,
        logged_in(url, "ivan", PASSWORD) as ivan,
    ):
        before = visits_rows(mark)
        r = send_upload(mark, csrf_of(mark), big_file)
        assert r.status_code == 202, r.text  # answered at once, with its job
        job = r.json()["job"]
        assert r.json()["state"] in ("queued", "running") and r.json()["progress"] == f"/data/jobs/{job}.json"
        # The Data page shows the import under way, polling its progress, with a cancel button.
        page = mark.get("/data").text
        assert f'id="job-{job}"' in page and f'hx-get="/data/jobs/{job}"' in page and 'class="cancel"' in page
        assert big_file.name in page and "20261" not in page.split('id="jobs"')[1].split("</div>")[0]
        # A viewer's pages answer meanwhile, from the data as it was (a month nobody asked for yet, so it is
        # read from the warehouse now, not from a page kept in memory).
        started = time.monotonic()
        seen = ivan.get("/channels.json?period=2026-09")
        took = time.monotonic() - started
        assert seen.status_code == 200
        progress = mark.get(f"/data/jobs/{job}.json").json()
        assert progress["state"] == "running", f"the page waited for the import ({took:.1f} s): {progress}"
        assert visits_rows(ivan) == before  # nothing of it visible before it commits
        running = wait_for(mark, job, lambda p: p["rows_read"] > 0 or p["state"] != "running")
        assert running["rows_read"] > 0 and running["phase"], running
        done = wait_for(mark, job, lambda p: p["state"] not in ("queued", "running"))
        assert done["state"] == "done" and done["rows_read"] == ROWS, done
        assert done["outcome"]["ok"] and done["outcome"]["batches"][0]["rows_loaded"] == ROWS
        # Once it says done, every page has the new rows (the pages built before were forgotten).
        assert visits_rows(ivan) == before + ROWS
        # The page of the finished job says what came of it; htmx polling it is sent there.
        assert f"{ROWS:,}".replace(",", "") in mark.get(f"/data?job={job}").text.replace(",", "").replace(
            "\u202f", ""
        ).replace("\xa0", "")
        poll = mark.get(f"/data/jobs/{job}", headers={"HX-Request": "true"})
        assert poll.status_code == 204 and poll.headers["HX-Redirect"] == f"/data?job={job}"


@pytest.mark.parametrize("strict", [True, False], ids=["strict: read first", "streamed into the transaction"])
def test_cancel_rolls_the_import_back(users_db: Path, big_file: Path, strict: bool) -> None:
    """Strict, the file is read whole before the transaction; with refused rows skipped it streams into
    the transaction — cancelled either way, nothing of it is loaded and its file is not kept."""
    fingerprint, batches = state_of(users_db)
    web = create_app(users_db, users_required=True, warm=False, max_upload_bytes=200 * 2**20)
    with serve(web) as url, logged_in(url, "olga", PASSWORD) as olga:
        form = {} if strict else {"skip_refused": "true"}
        listed = olga.get("/data.json").json()["batches"]
        r = send_upload(olga, csrf_of(olga), big_file, **form)
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        reading = wait_for(olga, job, lambda p: p["rows_read"] > 0 or p["state"] != "running")
        assert reading["state"] == "running", reading
        if not strict:
            assert reading["phase"].startswith("loading"), reading  # inside the transaction
        cancelled = olga.post(
            f"/data/jobs/{job}/cancel", data={"csrf": csrf_of(olga)}, headers={"Accept": "application/json"}
        ).json()
        assert cancelled["state"] == "cancelled", cancelled
        assert not cancelled["outcome"]["ok"] and "nothing was imported" in cancelled["outcome"]["message"]
        assert olga.get("/data.json").json()["batches"] == listed
        assert [p for p in uploads_dir(users_db).glob("*") if p.is_file()] == []
        # The next upload runs as usual: the writer's connection is not left in an aborted transaction.
        small = big_file.with_name("visits_small.tsv")
        metrica_visits(small, 10, month="2026-12")
        again = send_upload(olga, csrf_of(olga), small)
        assert again.status_code == 200 and again.json()["batches"][0]["rows_loaded"] == 10, again.text
    after, after_batches = state_of(users_db)
    assert after["visits"][0] == fingerprint["visits"][0] + 10
    assert [b["file"] for b in after_batches[:-1]] == [b["file"] for b in batches]


def test_only_uploaders_see_and_cancel_jobs(users_db: Path, big_file: Path) -> None:
    web = create_app(users_db, users_required=True, warm=False, max_upload_bytes=200 * 2**20)
    with serve(web) as url, logged_in(url, "mark", PASSWORD) as mark:
        r = send_upload(mark, csrf_of(mark), big_file)
        job = r.json()["job"]
        for name in ("ivan", "vika"):  # a viewer, an agency
            with logged_in(url, name, PASSWORD) as other:
                assert other.get(f"/data/jobs/{job}.json").status_code == 403, name
                token = re.search(r'name="csrf" value="([^"]+)"', other.get("/overview").text)
                assert token
                no = other.post(
                    f"/data/jobs/{job}/cancel",
                    data={"csrf": token[1]},
                    headers={"Accept": "application/json"},
                )
                assert no.status_code == 403, name
        assert mark.get("/data/jobs/nosuchjob.json").status_code == 404
        assert wait_for(mark, job, lambda p: p["state"] != "running")["state"] == "done"


def test_a_chunked_body_over_the_limit_gets_413(users_db: Path) -> None:
    """A real chunked request (no Content-Length) to the real server: refused with 413 as soon as it
    passes the limit, while the client is still sending; nothing is kept."""
    web = create_app(users_db, users_required=True, warm=False, max_upload_bytes=1000)
    with serve(web) as url, logged_in(url, "olga", PASSWORD) as olga:
        token = csrf_of(olga)
        cookie = "; ".join(f"{k}={v}" for k, v in olga.cookies.items())
        host, port = url.removeprefix("http://").split(":")
        boundary = "kassa-chunked"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            "date,channel,campaign,impressions,clicks,cost\r\n"
        ).encode()
        chunk = b"2026-10-20,vk_ads,vk_new,100,5,1000\r\n" * 2000  # 74 kB a chunk
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(
                (
                    "POST /data/upload HTTP/1.1\r\n"
                    f"Host: {host}:{port}\r\nCookie: {cookie}\r\nAccept: application/json\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )
            answer = b""
            sent = 0
            for part in [head] + [chunk] * 200:  # 15 MB, far past 1000 B + the form's slack
                try:
                    s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                    sent += len(part)
                except OSError:  # the server closed after answering: read what it said
                    break
                s.settimeout(0.05)
                try:
                    answer += s.recv(65536)
                except (TimeoutError, BlockingIOError):
                    pass
                except OSError:
                    break
                s.settimeout(30)
                if answer:
                    break
            s.settimeout(10)
            while (
                b"larger than" not in answer
            ):  # the rest of the answer (its body comes in a chunk of its own)
                try:
                    more = s.recv(65536)
                except OSError:
                    break
                if not more:
                    break
                answer += more
        status = answer.split(b"\r\n", 1)[0]
        assert status.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"larger than" in answer
        assert sent < 1000 + FORM_SLACK + 4 * len(chunk), "the server read the body far past its limit"
        assert [p for p in uploads_dir(users_db).glob("*") if p.is_file()] == []
        # The server still answers.
        assert olga.get("/data.json").status_code == 200


def test_a_command_line_import_waits_in_the_same_queue(
    users_db: Path, big_file: Path, tmp_path: Path
) -> None:
    """`kassa import` handed to the server while an upload runs: queued behind it, shown on the Data page,
    then done (the server's single writer runs one write at a time)."""
    from kassa.store import handoff

    spend = tmp_path / "handed.csv"
    spend.write_text("date,channel,campaign,impressions,clicks,cost\n2026-10-20,vk_ads,vk_handed,10,1,777\n")
    web = create_app(users_db, users_required=True, warm=False, max_upload_bytes=200 * 2**20)
    with serve(web) as url, logged_in(url, "olga", PASSWORD) as olga:
        upload = send_upload(olga, csrf_of(olga), big_file).json()["job"]
        answers: list[Any] = []
        caller = threading.Thread(
            target=lambda: answers.append(
                handoff.hand_over(users_db, {"op": "import", "files": [str(spend)]})
            )
        )
        caller.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            jobs = olga.get("/data.json").json()["jobs"]
            if any(j["what"] == "import" for j in jobs):
                break
            time.sleep(0.02)
        handed = next(j for j in jobs if j["what"] == "import")
        assert handed["by"] == "kassa import" and handed["file"] == "handed.csv"
        if olga.get(f"/data/jobs/{upload}.json").json()["state"] == "running":
            assert handed["state"] == "queued"
        caller.join(120)
        (answer,) = answers
        assert answer["ok"]["files"][0]["rows_loaded"] == 1
        assert wait_for(olga, upload, lambda p: p["state"] != "running")["state"] == "done"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_stopping_the_server_mid_import_rolls_it_back(golden_db: Path, big_file: Path, sig: int) -> None:
    """A real `kassa serve` process stopped while it writes an upload's rows: gone within 10 s, and the
    warehouse reopens as it was before the upload (no rows, no batch, no kept file)."""
    fingerprint, batches = state_of(golden_db)
    with socket.socket() as probe:  # a free port (the server binds it again at once)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kassa.cli", "serve", "--db", str(golden_db), "--port", str(port)]
        + ["--max-upload-mb", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=url, timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    token = csrf_of(client)  # no users: the token is the local one the page carries
                    break
                except (httpx2.TransportError, AssertionError):
                    assert server.poll() is None and time.monotonic() < deadline, server.communicate()[0]
                    time.sleep(0.1)
            r = send_upload(client, token, big_file, skip_refused="true")  # streamed inside the transaction
            assert r.status_code == 202, r.text
            loading = wait_for(
                client, r.json()["job"], lambda p: p["phase"].startswith("loading") and p["rows_read"] > 0
            )
            assert loading["state"] == "running" and loading["rows_read"] < ROWS, loading
        started = time.monotonic()
        server.send_signal(sig)
        output, _ = server.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert took < 10, f"the server took {took:.1f} s to stop:\n{output}"
    assert "Traceback" not in output, output
    assert state_of(golden_db) == (fingerprint, batches)
    assert [p for p in uploads_dir(golden_db).glob("*") if p.is_file()] == []

"""Writes handed to the process that holds the warehouse: ``kassa import`` while ``kassa serve`` runs.

DuckDB lets one process write a file, and a running dashboard is that process. So the dashboard listens
on a local socket, and a command that finds the warehouse taken hands its write to it: the import (or
undo) runs inside the server, in the same queue as the dashboard's uploads, in one transaction as
always, and the answer — the same report the command prints — comes back over the socket. Pages built
before it are forgotten, so the next page load shows the new rows.

Who may hand over a write: the socket lives in a folder only the user can open (``0700``, in
``$XDG_RUNTIME_DIR`` or the temporary folder), is itself ``0600``, and the server also checks the
caller's user id (``SO_PEERCRED``): the same person who could open the warehouse file anyway. The files
named are read by the server with the same rights.

The protocol is one JSON line each way: ``{"op": "import", "files": [...], "format": …, "kind": …,
"mapping": …, "strict": …}``, ``{"op": "undo", "batch_id": 3}`` or ``{"op": "sync", "file": …,
"options": …, "format": …, "origin": …}`` (a fetched answer, staged by ``kassa sync``), or ``{"op": "schedule", "jobs":
[...], "at": …}`` (``kassa run-scheduled``: the server runs its schedule's pass, :mod:`kassa.web.state`); the answer is ``{"ok": …}`` or
``{"error": "ImportFailed"|"WarehouseError"|…, "message": …, "errors": [...]}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import socket
import struct
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kassa.errors import ImportFailed, KassaError, RowError, WarehouseError

log = logging.getLogger(__name__)

# An import of a large file can take minutes; the caller waits as long as the import runs.
ANSWER_TIMEOUT_S = 3600.0
MAX_REQUEST_BYTES = 1 << 20


def socket_path(db: Path) -> Path:
    """Where the server of warehouse ``db`` listens: one name per warehouse file, in a private folder.

    Not beside the warehouse: a Unix socket's path is limited to ~100 bytes, and a warehouse may live on
    a shared or network folder where sockets do not work."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"kassa-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    os.chmod(base, 0o700)
    digest = hashlib.sha256(str(Path(db).resolve()).encode()).hexdigest()[:24]
    return base / f"{digest}.sock"


# -- the job: what is run in the server, and its answer as JSON ---------------------------------------------
def run(
    wh: Any,
    job: dict[str, Any],
    *,
    progress: Callable[[str], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run one handed-over write on the open warehouse ``wh``; the answer as JSON-ready data.
    ``progress`` and ``on_rows`` are :meth:`kassa.store.Warehouse.import_files`'s (the dashboard shows them)."""
    op = job.get("op")
    if op == "import":
        report = wh.import_files(
            [Path(f) for f in job["files"]],
            format=job.get("format"),
            kind=job.get("kind"),
            mapping=job.get("mapping"),
            strict=bool(job.get("strict")),
            progress=progress,
            on_rows=on_rows,
        )
        return {"ok": {"files": [dataclasses.asdict(f) for f in report.files]}}
    if op == "undo":
        return {"ok": wh.undo(int(job["batch_id"]))}
    if op == "sync":
        # Fetched by the caller (kassa.store.sync): only the read and the load run here, under the lock.
        from kassa.store.sync import load_report

        got = load_report(wh, Path(job["file"]), Path(job["options"]), job["format"], job["origin"])
        batches = got if isinstance(got, list) else [got]  # amoCRM: leads and deals
        return {"ok": {"files": [dataclasses.asdict(b) for b in batches]}}
    raise KassaError(f"unknown job {op!r}; choose from: import, undo, sync")


def report_from(answer: dict[str, Any]) -> Any:
    """The :class:`kassa.store.ImportReport` an ``import`` answer carries."""
    from kassa.store.warehouse import FileReport, ImportReport

    files = [
        FileReport(**{**f, "errors": [RowError(**e) for e in f["errors"]]}) for f in answer["ok"]["files"]
    ]
    return ImportReport(files=files)


def _error_answer(exc: Exception) -> dict[str, Any]:
    errors = [dataclasses.asdict(e) for e in getattr(exc, "errors", None) or []]
    return {"error": type(exc).__name__, "message": str(exc), "errors": errors}


def _raise_from(answer: dict[str, Any]) -> None:
    message, errors = answer.get("message", ""), [RowError(**e) for e in answer.get("errors", [])]
    if answer["error"] == "ImportFailed":
        raise ImportFailed(message, errors)
    if answer["error"] == "WarehouseError":
        raise WarehouseError(message)
    raise KassaError(message)


# -- the caller's side ------------------------------------------------------------------------------------
def hand_over(db: Path, job: dict[str, Any]) -> dict[str, Any] | None:
    """Send ``job`` to the server holding ``db`` and wait for its answer; ``None`` when no server listens
    (the warehouse is taken by something else: another import, or a server of an older kassa)."""
    path = socket_path(db)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(5.0)
        try:
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        s.sendall(json.dumps(job).encode() + b"\n")
        s.settimeout(ANSWER_TIMEOUT_S)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            if not chunk:
                raise WarehouseError(f"the server holding {db} stopped before answering; see `kassa imports`")
            data += chunk
    finally:
        s.close()
    answer: dict[str, Any] = json.loads(data)
    if "error" in answer:
        _raise_from(answer)
    return answer


# -- the server's side ------------------------------------------------------------------------------------
class Listener:
    """Accepts handed-over writes for ``db`` and runs each through ``execute(job) -> answer``
    (the dashboard queues it with its uploads), one at a time, on a thread of its own."""

    def __init__(self, db: Path, execute: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = socket_path(db)
        self._execute = execute
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a server that was killed: this process holds the warehouse now
        old = os.umask(0o177)
        try:
            self._sock.bind(str(self.path))
        finally:
            os.umask(old)
        self._sock.listen(8)
        self._sock.settimeout(0.5)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="kassa-handoff", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid != os.getuid():
            log.warning("refused a handed-over write from user id %s", uid)
            return
        conn.settimeout(10.0)
        data = b""
        try:
            while not data.endswith(b"\n") and len(data) <= MAX_REQUEST_BYTES:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    return
                data += chunk
            try:
                answer = self._execute(json.loads(data))
            except (KassaError, KeyError, ValueError, TypeError) as exc:
                answer = _error_answer(exc)
            conn.sendall(json.dumps(answer, default=str).encode() + b"\n")
        except OSError as exc:  # the caller went away (Ctrl+C): the import, if it ran, stands
            log.warning("a handed-over write's caller went away: %s", exc)

"""Writes of the dashboard run off the request loop, one at a time: a queue and one worker thread.

An upload, an undo, or an import handed over by ``kassa import`` (:mod:`kassa.store.handoff`) is a
:class:`Job`. The worker runs each on the warehouse's *writer* connection (``Warehouse.cursor()``), not
on the connection the pages read through: DuckDB keeps one version of the data per transaction, so pages
go on reading what was committed before while the import writes, and nobody waits for the import but
the person who sent it. When a job that changed the data ends, ``after_write`` (``Dashboard.wrote``)
forgets the pages and temporary tables built before it, and only then is the job shown as finished — so
the page loaded after "done" has the new rows.

A job says how far it is (``phase``, ``rows_read``) and can be cancelled: the flag is checked at every
step and every batch of rows read, and a statement running in DuckDB is interrupted; either way its
transaction rolls back and nothing of it is loaded. Stopping the server cancels every job the same way.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from kassa.store import Warehouse

log = logging.getLogger("kassa.web")

State = Literal["queued", "running", "done", "failed", "cancelled"]
KEEP_FINISHED = 50  # finished jobs still answered for (their outcome page), oldest forgotten first


class Cancelled(Exception):
    """The job was cancelled (by a user, or by the server stopping): nothing of it was loaded."""


class Job:
    """One write waiting for, or running on, the writer connection.

    ``work(wh, job)`` does it and returns what the job's page shows; it reports with :meth:`step` and
    :meth:`rows` (which raise :class:`Cancelled` once the job is cancelled) and sets ``changed = False``
    when it turned out to change nothing (a refused or repeated file), so pages need not be rebuilt.
    """

    def __init__(self, what: str, name: str, by: str, work: Callable[[Warehouse, Job], Any]) -> None:
        self.id = secrets.token_urlsafe(9)  # not guessable: a job's page shows its file name
        self.what, self.name, self.by = what, name, by
        self.work = work
        self.state: State = "queued"
        self.phase = ""
        self.rows_read = 0
        self.changed = True
        self.result: Any = None
        self.error: BaseException | None = None
        self.queued_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._writer: Warehouse | None = None  # set while running: where to interrupt a statement
        # Interrupting and leaving the writer are one step each, so a late cancel never interrupts the
        # statement of the job after this one.
        self._writer_lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job has finished (its pages forgotten too); whether it has."""
        return self._finished.wait(timeout)

    def cancel(self) -> bool:
        """Ask the job to stop; ``False`` when it had already finished (then it stands)."""
        if self.finished:
            return False
        self._cancel.set()
        with self._writer_lock:
            if self._writer is not None:
                self._writer.interrupt()  # a long statement (the insert of a million rows) stops at once
        return True

    def step(self, phase: str) -> None:
        self.phase = phase
        self._check()

    def rows(self, read: int) -> None:
        self.rows_read = read
        self._check()

    def _check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(f"{self.name}: cancelled")

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "what": self.what,
            "file": self.name,
            "by": self.by,
            "state": self.state,
            "phase": self.phase,
            "rows_read": self.rows_read,
            "cancelling": self.cancelling and not self.finished,
            "seconds": round((self.finished_at or time.time()) - (self.started_at or time.time()), 1),
        }


class Jobs:
    """The queue of writes and its one worker thread, on the ``writer`` connection.

    ``after_write()`` runs after each job that changed the data, before the job counts as finished.
    """

    def __init__(self, writer: Warehouse, after_write: Callable[[], None]) -> None:
        self.writer = writer
        self._after_write = after_write
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._jobs_lock = threading.Lock()
        self.stopping = False
        self._thread = threading.Thread(target=self._work, name="kassa-writes", daemon=True)
        self._thread.start()

    def submit(self, what: str, name: str, by: str, work: Callable[[Warehouse, Job], Any]) -> Job:
        job = Job(what, name, by, work)
        with self._jobs_lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished]
            for old in finished[: max(0, len(finished) - KEEP_FINISHED)]:
                del self._jobs[old.id]
        if self.stopping:
            job.cancel()
        self._queue.put(job)
        return job

    def run(self, what: str, name: str, by: str, work: Callable[[Warehouse, Job], Any]) -> Any:
        """Submit, wait for the job and return what it returned (or raise what it raised)."""
        job = self.submit(what, name, by, work)
        job.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def get(self, job_id: str) -> Job | None:
        with self._jobs_lock:
            return self._jobs.get(job_id)

    def unfinished(self) -> list[Job]:
        with self._jobs_lock:
            return [j for j in self._jobs.values() if not j.finished]

    def stop(self, timeout: float) -> bool:
        """Cancel every job (a running one rolls back) and end the worker; whether it ended in time."""
        self.stopping = True
        for job in self.unfinished():
            job.cancel()
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            self._run(job)

    def _run(self, job: Job) -> None:
        job.started_at = time.time()
        state: State = "done"
        try:
            if job.cancelling:
                raise Cancelled(f"{job.name}: cancelled before it started")
            with job._writer_lock:
                job.state, job._writer = "running", self.writer
            job.result = job.work(self.writer, job)
        except BaseException as exc:  # noqa: BLE001 — the job's page says what happened, the worker goes on
            job.error = exc
            state = "cancelled" if job.cancelling else "failed"
            if state == "failed":
                log.error("%s %s failed", job.what, job.name, exc_info=exc)
        finally:
            with job._writer_lock:
                job._writer = None
        if state == "done" and job.changed:
            try:
                self._after_write()
            except Exception:  # the data stands; the pages are rebuilt on demand
                log.exception("forgetting the pages after %s %s", job.what, job.name)
        # Said only now: whoever sees "done" next loads pages of the new data.
        job.state, job.finished_at = state, time.time()
        job._finished.set()

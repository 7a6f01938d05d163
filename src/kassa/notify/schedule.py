"""The schedule: which jobs of kassa.yaml are due, running each at most once at a time, and its record.

One function decides (:func:`due`) and one runs (:meth:`Scheduler.run_due`); ``kassa run-scheduled`` calls
it once and exits (cron, a systemd timer), ``kassa serve`` calls it every minute on a thread of its own.

**When a job is due.** Its schedule (:mod:`kassa.cron`) last fired at ``fire`` (in the business's time
zone); the job is due when ``fire`` is later than the ``due_at`` of its last recorded run. So a job missed
while the machine slept (three monthly digests, or one) runs once, for the latest time — not once per
time missed. A job seen for the first time gets an ``added`` row and waits for its next time.

**Retries.** A failed attempt is tried again ``backoff_minutes · 2ⁿ⁻¹`` after it ended, up to ``tries``
attempts in all; after the last, the owner recipients get an alert (and the run stays ``failed`` on the
Data page). A new time that comes meanwhile supersedes the retries of the old.

**One at a time.** Each job has a lock file beside the warehouse (``<db>.schedule-<job>.lock``,
``flock``): a second process (or thread) finds it taken and skips the job. The kernel releases the lock
when its holder dies, so a crash never leaves a job locked; the crashed run's row still says ``running``,
and the next run — holding the lock, so certain nobody runs it — marks it ``crashed`` and runs the job
again at once.

**The warehouse.** Every read and write goes through ``access(fn)``: ``kassa run-scheduled`` opens the
warehouse briefly for each (DuckDB allows one writer, and a sync's download must not hold it), and
``kassa serve`` queues it with its other writes. Nothing is held open while a job talks to the network.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from kassa.errors import KassaError
from kassa.settings import ScheduledJob, Settings
from kassa.store import journal
from kassa.store.places import beside

if TYPE_CHECKING:
    from kassa.notify.telegram import Telegram
    from kassa.store.journal import Run
    from kassa.store.warehouse import Warehouse

log = logging.getLogger(__name__)
T = TypeVar("T")
Access = Callable[[Callable[["Warehouse"], Any]], Any]
"""Run a function on the writable warehouse and return what it returned."""

CRASHED = "the run stopped midway (the process was killed, or the machine went down)"


@dataclass(frozen=True)
class Due:
    job: ScheduledJob
    due_at: dt.datetime
    attempt: int


@dataclass
class Outcome:
    """What one pass did with one job, for the command's table and the server's log."""

    job: str
    what: str  # ran, retried, added, busy, recovered
    outcome: str | None = None  # ok / failed of a run
    due_at: dt.datetime | None = None
    attempt: int = 0
    detail: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "what": self.what,
            "outcome": self.outcome,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "attempt": self.attempt,
            "detail": self.detail,
            "error": self.error,
        }


def retry_at(job: ScheduledJob, last: Run) -> dt.datetime:
    """When a failed attempt is tried again (a crashed one: at once, the crash was not the job's doing)."""
    ended = last.ended_at or last.started_at
    if last.outcome == "crashed":
        return ended
    return ended + dt.timedelta(minutes=job.backoff_minutes * 2 ** (last.attempt - 1))


def due(job: ScheduledJob, last: Run | None, now: dt.datetime, zone: str) -> Due | None:
    """Whether ``job`` is due at ``now`` given its last recorded run (module docstring)."""
    if last is None:
        return None
    fire = job.cron.latest(now, zone)
    if fire is not None and fire > last.due_at:
        return Due(job, fire, 1)
    if last.outcome in ("failed", "crashed") and last.attempt < job.tries and now >= retry_at(job, last):
        return Due(job, last.due_at, last.attempt + 1)
    return None


def next_time(job: ScheduledJob, last: Run | None, now: dt.datetime, zone: str) -> dt.datetime | None:
    """When the job runs next (for the Data page): a retry's time, else the schedule's next time."""
    if last is not None and last.outcome in ("failed", "crashed") and last.attempt < job.tries:
        return retry_at(job, last)
    probe = now
    for _ in range(800):  # the next fire: the latest time at or before a moment a day on, walked back
        probe = probe + dt.timedelta(days=1)
        fire = job.cron.latest(probe, zone)
        if fire is not None and fire > now:
            first = fire
            while (earlier := job.cron.latest(first - dt.timedelta(minutes=1), zone)) and earlier > now:
                first = earlier
            return first
    return None


def lock_path(db: Path, job: str) -> Path:
    return beside(db, f".schedule-{job}.lock")


@contextlib.contextmanager
def job_lock(db: Path, job: str) -> Iterator[bool]:
    """Hold the job's lock for the block; yields whether it was free (False: another run has it)."""
    fd = os.open(lock_path(db, job), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def scrub(text: str, db: Path) -> str:
    """The error as recorded and sent: kassa's messages carry no secret, and any that slipped in is cut."""
    from kassa.notify.secrets import read_secret

    secrets = []
    for name in ("telegram_token", "smtp_password"):
        with contextlib.suppress(KassaError):
            if value := read_secret(db, name):
                secrets.append(value)
    with contextlib.suppress(KassaError, OSError):
        from kassa.store.connections import Connections

        conns = Connections(db)
        for c in conns.all():
            with contextlib.suppress(KassaError):
                secrets.append(conns.token(c))
    for s in secrets:
        if len(s) >= 6:
            text = text.replace(s, "•••")
    return text


def _words(exc: BaseException) -> str:
    """An error in words: kassa's own message; of anything else only its type (its text may quote data)."""
    if isinstance(exc, KassaError):
        return str(exc)
    return f"{type(exc).__name__} (an unexpected error; the log of the process that ran it has the details)"


class Scheduler:
    """Runs the due jobs of ``settings.schedule`` on the warehouse ``db`` reached through ``access``.

    ``now`` is the clock (tests pass their own); ``telegram`` a client to send with (tests: the fake Bot
    API's); ``sync_timing`` the connectors' timing (tests: short).
    """

    def __init__(
        self,
        db: Path,
        settings: Settings,
        access: Access,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        telegram: Telegram | None = None,
        sync_timing: Any = None,
    ) -> None:
        self.db, self.settings, self.access = db, settings, access
        self.now = now
        self.telegram = telegram
        self.sync_timing = sync_timing

    @property
    def zone(self) -> str:
        return self.settings.timezone

    def run_due(self, only: list[str] | None = None) -> list[Outcome]:
        """One pass: every due job (of ``only``, when named) run once; what was done with each."""
        jobs = self.settings.schedule.jobs
        if only:
            known = {j.name for j in jobs}
            if unknown := [n for n in only if n not in known]:
                names = ", ".join(sorted(known)) or "none declared in kassa.yaml"
                raise KassaError(f"no scheduled job {', '.join(unknown)} (jobs: {names})")
            jobs = [j for j in jobs if j.name in only]
        out = []
        for job in jobs:
            with job_lock(self.db, job.name) as free:
                if not free:
                    out.append(Outcome(job.name, "busy", detail="another run of this job is under way"))
                    continue
                out.extend(self._pass(job))
        return out

    def _pass(self, job: ScheduledJob) -> list[Outcome]:
        now = self.now()
        last: Run | None = self.access(lambda wh: journal.last_run(wh, job.name))
        done: list[Outcome] = []
        if last is None:
            self.access(lambda wh: journal.start_run(wh, job.name, job.kind, now, 0, now, None, "added"))
            return [Outcome(job.name, "added", due_at=now)]
        if last.outcome == "running":  # we hold its lock, so nobody runs it: it crashed
            run_id = last.id
            self.access(lambda wh: journal.end_run(wh, run_id, "crashed", now, CRASHED, None))
            last = replace(last, outcome="crashed", ended_at=now, error=CRASHED)
            done.append(Outcome(job.name, "recovered", "crashed", last.due_at, last.attempt, error=CRASHED))
            if last.attempt >= job.tries:
                self._give_up(job, last)
        d = due(job, last, now, self.zone)
        if d is not None:
            done.append(self._run(d))
        return done

    def _run(self, d: Due) -> Outcome:
        job, started = d.job, self.now()
        run_id = self.access(
            lambda wh: journal.start_run(wh, job.name, job.kind, d.due_at, d.attempt, started, os.getpid())
        )
        outcome, error, detail = "ok", None, None
        try:
            detail = self._execute(job, d.due_at)
        except Exception as exc:  # noqa: BLE001 — recorded, retried, and alerted after the last try
            outcome, error = "failed", scrub(_words(exc), self.db)
            if not isinstance(exc, KassaError):
                log.error("scheduled job %s failed", job.name, exc_info=exc)
        self.access(lambda wh: journal.end_run(wh, run_id, outcome, self.now(), error, detail))
        if outcome == "failed" and d.attempt >= job.tries:
            last = self.access(lambda wh: journal.last_run(wh, job.name))
            self._give_up(job, last)
        what = "ran" if d.attempt == 1 else "retried"
        return Outcome(job.name, what, outcome, d.due_at, d.attempt, detail, error)

    # -- the jobs --------------------------------------------------------------------------------------------
    def _execute(self, job: ScheduledJob, due_at: dt.datetime) -> str:
        day = due_at.astimezone(ZoneInfo(self.zone)).date()
        if job.kind == "sync":
            return self._sync(job, day)
        if job.kind == "digest":
            return self._digest(job, day)
        if job.kind == "conversions":
            from kassa.notify.conversions import send_scheduled

            chosen = job.conversions
            assert chosen is not None  # the settings check it
            return str(self.access(lambda wh: send_scheduled(wh, self.db, chosen, day)))
        from kassa.notify.alerting import check_and_tell

        return check_and_tell(self.db, self.access, job.to, self.now(), telegram=self.telegram)

    def _sync(self, job: ScheduledJob, day: dt.date) -> str:
        from kassa.store.connections import Connections
        from kassa.store.sync import load_report, sync_one

        store = Connections(self.db)
        chosen = [store.get(n) for n in job.connections] if job.connections else store.all()
        if not chosen:
            raise KassaError("no connections to sync: kassa connect SERVICE --name NAME --token-stdin")

        def load(report: Path, options: Path, fmt: str, origin: str) -> Any:
            return self.access(lambda wh: load_report(wh, report, options, fmt, origin))

        outcomes = [
            sync_one(store, c, load, since=None, until=None, today=day, timing=self.sync_timing)
            for c in chosen
        ]
        failed = [f"{o.connection}: {o.error}" for o in outcomes if o.error]
        if failed:
            raise KassaError("; ".join(failed))
        return ", ".join(
            f"{o.connection}: {sum(b.rows_loaded for b in o.batches)} row(s) {o.since}..{o.until}"
            for o in outcomes
        )

    def _digest(self, job: ScheduledJob, day: dt.date) -> str:
        from kassa.notify.send import check_secrets, chosen, deliver, plan

        st = self.settings.digest
        recipients = [r for name in job.to for r in chosen(st, name)] if job.to else chosen(st, None)
        if not recipients:
            raise KassaError("no recipients: add digest: recipients: to kassa.yaml (docs/digest.md)")
        check_secrets(self.db, recipients, st)
        period = "previous-month" if job.period == "month" else "previous-week"
        contracts = saved_contracts(self.db)
        outgoing = self.access(lambda wh: plan(wh, recipients, period, contracts=contracts, today=day))
        deliver(self.db, outgoing, st, telegram=self.telegram)
        return f"{outgoing[0].digest.period if outgoing else period} to {len(outgoing)} recipient(s)"

    def _give_up(self, job: ScheduledJob, last: Run | None) -> None:
        """The last try failed: the owners are told, in their language (a failure to tell is logged)."""
        from kassa.notify.alerting import tell_owners

        if last is None:
            return
        try:
            tell_owners(self.db, self.settings, job, last, telegram=self.telegram)
        except Exception as exc:  # noqa: BLE001 — the run's row already says failed; the log says why no alert
            log.error("could not tell the owners that %s failed: %s", job.name, _words(exc))


def saved_contracts(db: Path) -> list[Any]:
    """The KPI contracts saved beside the warehouse (one that does not parse is left out, as the KPI page does)."""
    from kassa.kpi.saved import ContractFolder

    folder = ContractFolder.for_db(db)
    out = []
    for slug in folder.slugs():
        with contextlib.suppress(KassaError):
            out.append(folder.read(slug).contract)
    return out

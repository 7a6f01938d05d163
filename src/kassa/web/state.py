"""The state of one running dashboard, shared by every page: the warehouse, its lock, users and sessions.

:class:`Dashboard` holds the one open warehouse (the server is its single writer), a lock that serialises
every use of its DuckDB connection, the users, sessions and the login limiter, and the background thread
that builds the overviews of the latest months before anyone asks. What each page shows is built in its
own module under :mod:`kassa.web.pages`; numbers come only from :func:`kassa.metrics.compute`,
:func:`kassa.report.model.build_report`, :func:`kassa.kpi.score`, :func:`kassa.diagnose.run` and
:func:`kassa.attribution.money.attributed_money`, so a page shows exactly what the command line prints.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from fastapi import Request

from kassa.errors import KassaError
from kassa.i18n import LANGS
from kassa.period import Period, add_months
from kassa.settings import Settings
from kassa.store import Warehouse
from kassa.web.jobs import Jobs
from kassa.web.security import (
    LOCAL_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Sessions,
    SessionStore,
    password_stamp,
    same_token,
)
from kassa.web.uploads import DEFAULT_MAX_BYTES, clean_uploads, uploads_dir
from kassa.web.users import User, UserStore, sessions_path

log = logging.getLogger("kassa.web")
WARM_MONTHS = 13  # a year and the month before it: every month the period picker usually goes to
LOCAL_USER = User("local", "owner")  # no users file: the server listens on loopback only (kassa serve)
# Stopping the server (SIGTERM, Ctrl+C) waits this long for a cancelled import to roll back: within the
# 10 s a service manager allows before it kills.
STOP_WAIT_S = 5.0


def _file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, ``None`` when there is none: what says it changed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class OverviewBuilder(Protocol):
    """:func:`kassa.web.pages.overview.overview_page`: the page the warm-up builds ahead."""

    def __call__(
        self, dash: Dashboard, user: User, period: Period, lang: str, *, background: bool = False
    ) -> dict[str, Any]: ...


class Dashboard:
    """State of one running dashboard: the warehouse, its lock, users, sessions, the login limiter.

    ``overview`` builds the overview page; it is passed in (by :func:`kassa.web.app.create_app`) because
    the warm-up builds that page, and the page's code lives with its route in :mod:`kassa.web.pages`.
    ``keep_warm`` starts the warm-up again after every write (:meth:`wrote`).
    """

    def __init__(
        self,
        db_path: Path,
        settings: Settings | None,
        users_required: bool,
        overview: OverviewBuilder,
        *,
        keep_warm: bool = True,
        config_path: Path | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        # kassa.yaml (or --config): its schedule is edited on the Data page and read again when it changes.
        self.config_path = Path(config_path) if config_path else self.db_path.parent / "kassa.yaml"
        self._config_seen = _file_stamp(self.config_path)
        self.schedule_error: str | None = None  # why a changed kassa.yaml was not taken (the Data page)
        self.wh = Warehouse.open(self.db_path, settings=settings or Settings(), read_only=False, create=False)
        self.lock = threading.Lock()
        self.users = UserStore.for_db(self.db_path)
        self.users_required = users_required
        self.sessions = Sessions(self.users.secret(), SessionStore(sessions_path(self.db_path)))
        self.limiter = LoginLimiter()
        self.max_upload_bytes = DEFAULT_MAX_BYTES
        self.served_port: int | None = None  # the port kassa serve listens on (the Host check of no users)
        self.keep_warm = keep_warm
        self.closed = False
        self.warmed = 0  # overview pages the warm-up built since the server started
        self._waiting = 0  # visitors waiting for the lock (the warm-up lets them go first)
        self._waiting_lock = threading.Lock()
        self.generation = 0  # counts the writes (imports, undos) since the server started
        self._overview = overview
        # Writes (uploads, undos, handed-over imports) run one at a time on a connection of their own, off
        # the request loop, while pages read through self.wh (web/jobs.py).
        self.writer = self.wh.cursor()
        self.jobs = Jobs(self.writer, self.wrote)
        # An upload killed with the server (or a failed one that could not be removed) leaves files that no
        # batch owns; they may hold personal data, so they go now.
        named = {Path(str(b["file"])).name for b in self.wh.batches()}
        for p in clean_uploads(uploads_dir(self.db_path), named):
            log.info("removed %s: left by an upload that did not finish", p.name)

    def close(self) -> None:
        """Cancel the writes under way (they roll back), then close the warehouse (its write lock)."""
        stopped = self.jobs.stop(STOP_WAIT_S)
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if stopped:
                self.writer.close()
            else:  # still inside a reader that cannot be interrupted: its transaction dies with the process
                log.warning(
                    "an import did not stop in %s s; it is abandoned (nothing of it is loaded)", STOP_WAIT_S
                )
            self.wh.close()

    @property
    def currency(self) -> str:
        return self.wh.settings.currency

    # -- sessions -------------------------------------------------------------------------------------------
    @property
    def login_required(self) -> bool:
        # A user added while the server runs closes the anonymous door at once.
        return self.users_required or self.users.has_users()

    def session_of(self, request: Request) -> tuple[User, str] | None:
        if not self.login_required:
            # No logins, yet forms still carry a token: another site open in the same browser must not be
            # able to post an upload to 127.0.0.1. The token is a cookie of its own, set on first visit.
            token = request.cookies.get(LOCAL_CSRF_COOKIE)
            if not token:
                token = request.state.new_local_csrf = secrets.token_urlsafe(24)
            return LOCAL_USER, token
        data = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        user = self.users.get(str(data["u"])) if data else None
        if user is None or data is None or not same_token(str(data.get("s", "")), self.stamp(user)):
            return None  # no session, a removed user, or one whose password or role changed since login
        return user, str(data["csrf"])

    @staticmethod
    def stamp(user: User) -> str:
        return password_stamp(user.password_hash, user.role + "," + ",".join(user.scope))

    # -- the warehouse: one user at a time, visitors before the warm-up -------------------------------------
    def locked(self, fn: Callable[[Warehouse], Any]) -> Any:
        """Run ``fn`` on the warehouse under the lock, for a visitor: the background warm-up lets visitors
        waiting for the lock go first (a plain lock would hand it back to the warm-up at once)."""
        with self._waiting_lock:
            self._waiting += 1
        try:
            self.lock.acquire()
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        try:
            return fn(self.wh)
        finally:
            self.lock.release()

    def _after_visitors(self, fn: Callable[[Warehouse], Any]) -> Any:
        """Run ``fn`` under the lock once no visitor is waiting for it (the warm-up's turn)."""
        while True:
            while self._waiting and not self.closed:
                time.sleep(0.01)
            with self.lock:
                if not self._waiting or self.closed:
                    if self.closed:
                        raise RuntimeError("the dashboard was closed")
                    return fn(self.wh)

    def kept(
        self, key: tuple[Any, ...], build: Callable[[Warehouse], dict[str, Any]], *, background: bool = False
    ) -> dict[str, Any]:
        """``build(wh)``, kept under ``key`` until the next write: the warehouse forgets its memos on every
        import or undo, so a page never shows numbers older than the data. A page already built needs no
        lock (a dict lookup); ``background`` builds it only when no visitor waits for the lock."""
        found = self.wh.memo_get(key)
        if found is not None:
            return dict(found)
        run = self._after_visitors if background else self.locked
        return dict(run(lambda wh: wh.memo(key, lambda: build(wh))))

    def run_handed_over(self, job: dict[str, Any]) -> dict[str, Any]:
        """A write another kassa command handed to this server (:mod:`kassa.store.handoff`): queued with the
        uploads (the Data page shows it, and may cancel it), then pages are built afresh."""
        from kassa.store import handoff

        if job.get("op") == "schedule":  # `kassa run-scheduled` while this server holds the warehouse
            at = dt.datetime.fromisoformat(job["at"]) if job.get("at") else None
            runs = self.scheduler(at).run_due(list(job.get("jobs") or []) or None)
            return {"ok": {"runs": [o.to_json() for o in runs]}}
        files = [str(f) for f in job.get("files") or []]
        name = ", ".join(Path(f).name for f in files) or f"batch {job.get('batch_id')}"
        queued = self.jobs.submit(
            str(job.get("op")),
            name,
            f"kassa {job.get('op')}",
            lambda wh, j: handoff.run(wh, job, progress=j.step, on_rows=j.rows),
        )
        queued.wait()
        if queued.state == "cancelled":
            raise KassaError(
                f"{name}: cancelled on the dashboard, or the server stopped; nothing was changed"
            )
        if queued.error is not None:
            raise queued.error
        answer: dict[str, Any] = queued.result
        return answer

    def scheduler(self, at: dt.datetime | None = None) -> Any:
        """The schedule of kassa.yaml run in this server (:mod:`kassa.notify.schedule`): each of its reads
        and writes is a job of the writes' queue, so it never meets an upload halfway."""
        from kassa.notify.schedule import Scheduler

        def access(fn: Callable[[Warehouse], Any]) -> Any:
            return self.jobs.run("schedule", "schedule", "kassa schedule", lambda wh, j: fn(wh))

        now = (lambda: at) if at is not None else (lambda: dt.datetime.now(dt.UTC))
        return Scheduler(self.db_path, self.wh.settings, access, now=now)

    def reload_schedule(self, *, force: bool = False) -> bool:
        """Take the schedule, the digest and the alerts of kassa.yaml again if the file changed since last
        seen (by hand, or saved on the Data page); whether they were taken. A file that no longer loads
        keeps the last good schedule, and :attr:`schedule_error` says why. Only these parts: they change
        no number, while the time zone, VAT or channel rules would change every page built, so those wait
        for a restart. ``force``: read it even if its time and size look the same (just saved: a coarse
        clock may not have moved)."""
        from kassa.settings import load_settings

        seen = _file_stamp(self.config_path)
        if seen == self._config_seen and not force:
            return False
        self._config_seen = seen
        try:
            fresh = load_settings(self.config_path if seen is not None else None)
        except KassaError as exc:
            self.schedule_error = str(exc)
            log.warning("kassa.yaml changed but does not load; the schedule stays as it was: %s", exc)
            return False
        self.schedule_error = None
        parts = {"schedule": fresh.schedule, "digest": fresh.digest, "alerts": fresh.alerts}
        settings = self.wh.settings.model_copy(update=parts)
        self.wh.settings = self.writer.settings = settings  # one reference each: a pass holds its own
        log.info("kassa.yaml changed: %d scheduled job(s) now", len(settings.schedule.jobs))
        return True

    def wrote(self) -> None:
        """An import or an undo changed the warehouse: pages and temporary tables built before are
        forgotten (the write ran on another connection), a warm-up under way stops, and a new one starts."""
        self.generation += 1
        with self.lock:
            if self.closed:
                return
            self.wh.forget()
        if self.keep_warm:
            self.warm_in_background()

    def default_period(self) -> str:
        """The month of the latest spend, lead or deal; the previous calendar month on an empty warehouse."""

        def latest(wh: Warehouse) -> dt.date | None:
            dates = []
            for table, col in (("spend", "date"), ("leads", "created_at"), ("deals", "created_at")):
                v = wh.table(table)[col].max().execute()
                if v is not None and v == v:
                    dates.append(v.date() if isinstance(v, dt.datetime) else v)
            return max(dates) if dates else None

        d = self.locked(lambda wh: wh.memo(("web.default_period",), lambda: latest(wh)))
        if d is None:
            d = dt.date.today().replace(day=1) - dt.timedelta(days=1)
        return f"{d:%Y-%m}"

    # -- the warm-up -----------------------------------------------------------------------------------------
    def overview(self, user: User, period: Period, lang: str, *, background: bool = False) -> dict[str, Any]:
        """The overview page of ``period`` as ``user`` sees it (what the warm-up builds ahead)."""
        return self._overview(self, user, period, lang, background=background)

    def warm(self, months: int = WARM_MONTHS, langs: tuple[str, ...] = LANGS) -> int:
        """Build the overviews of the latest ``months`` months before anyone asks, newest first.

        ``kassa serve`` runs this in a background thread at start-up and after every import or undo (which
        make the warehouse forget its memos), so switching between months opens pages already built. Each
        page takes the lock on its own and only when no visitor waits for it, so a visitor waits at most for
        one page being built; a write in the meantime stops the run (its pages would be stale). Returns how
        many pages were built.
        """
        generation = self.generation
        latest = Period.parse(self.default_period())
        built = 0
        for back in range(months):
            period = Period(add_months(latest.start, -back), add_months(latest.start, 1 - back))
            for lang in langs:
                if self.generation != generation or self.closed:
                    return built
                self.overview(LOCAL_USER, period, lang, background=True)
                built += 1
                self.warmed += 1
        return built

    def warm_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self._warm_quietly, name="kassa-warm", daemon=True)
        thread.start()
        return thread

    def _warm_quietly(self) -> None:
        try:
            self.warm()
        except Exception:  # closed while warming, or an empty warehouse: pages are then built on demand
            log.debug("warming the overviews stopped", exc_info=True)

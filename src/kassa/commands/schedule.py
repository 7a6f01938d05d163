"""``kassa schedule`` (the jobs of kassa.yaml, their next time and last run), ``kassa run-scheduled`` (run
the due ones and exit: for cron and systemd timers) and ``kassa alerts`` (the alerts as of yesterday).

What is due and how a run is recorded is :mod:`kassa.notify.schedule` (docs/schedule.md).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    console,
    print_json,
    settings_for,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator
from kassa.report.layout import Column, Grid, print_grids, print_prose

if TYPE_CHECKING:
    from kassa.notify.schedule import Access

_ = Translator("cli")
BRIEF_WAIT_S = 60.0  # another command's brief hold on the warehouse (an import, another job's record)

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Act as if it were this moment (ISO time with zone, e.g. 2026-12-01T09:05+03:00): to replay a "
        "missed night or test a schedule.",
    ),
]


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO time like 2026-12-01T09:05+03:00", param_hint="--at"
        ) from None
    if at.tzinfo is None:
        raise typer.BadParameter("give the zone too: 2026-12-01T09:05+03:00", param_hint="--at")
    return at


def standalone_access(db: Path, config: Path | None) -> Access:
    """Open the warehouse for each read or write and close it at once (a sync's download holds nothing);
    wait out another command's brief hold on it."""
    from kassa.cli_common import open_warehouse
    from kassa.errors import WarehouseTaken

    def access(fn: Any) -> Any:
        deadline = time.monotonic() + BRIEF_WAIT_S
        while True:
            try:
                with open_warehouse(db, config, write=True) as wh:
                    return fn(wh)
            except WarehouseTaken:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    return access


def _served(db: Path, job: list[str] | None, at: dt.datetime | None) -> dict[str, Any] | None:
    """A running ``kassa serve`` holding the warehouse runs the pass itself; its answer (None: no server)."""
    from kassa.cli_common import open_warehouse
    from kassa.errors import WarehouseError, WarehouseTaken
    from kassa.store import handoff

    if not db.exists():
        raise WarehouseError(
            f"no warehouse at {db}: load data first (kassa import FILE --db {db}, or kassa demo)"
        )
    try:
        with open_warehouse(db, None, write=True):
            return None
    except WarehouseTaken:
        pass
    return handoff.hand_over(db, {"op": "schedule", "jobs": job or [], "at": at.isoformat() if at else None})


@COMMANDS.register(name="schedule")
def register(app: typer.Typer) -> None:
    @app.command("run-scheduled")
    def run_scheduled(
        job: Annotated[
            list[str] | None,
            typer.Option("--job", help="Only this job (its name in kassa.yaml); repeatable."),
        ] = None,
        at: AtOption = None,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Run the scheduled jobs that are due (kassa.yaml, schedule:) and exit: for cron or a systemd timer.

        A job missed while the machine slept runs once; a job already running elsewhere is skipped; a
        failed one is retried at a later call, then the owners are told. Exits 1 when a run failed.
        Example: kassa run-scheduled --db /srv/kassa/shop.duckdb   (in crontab: */10 * * * * …)
        """
        from kassa.notify.schedule import Outcome, Scheduler

        moment = _moment(at)
        settings = settings_for(db, config)
        if not settings.schedule.jobs:
            print_prose(
                console, _("No scheduled jobs: add schedule: jobs: to kassa.yaml (docs/schedule.md).", lang)
            )
            return
        answer = _served(db, job, moment)
        if answer is not None:
            outcomes = [
                Outcome(**{k: v for k, v in o.items() if k != "due_at"}) for o in answer["ok"]["runs"]
            ]
            print_prose(console, _("kassa serve holds {db}: it ran the due jobs.", lang, db=str(db)))
        else:
            scheduler = Scheduler(
                db,
                settings,
                standalone_access(db, config),
                now=(lambda: moment) if moment else (lambda: dt.datetime.now(dt.UTC)),
            )
            outcomes = scheduler.run_due(job)
        if as_json:
            print_json({"runs": [o.to_json() for o in outcomes]})
        else:
            grid = Grid(
                _("Scheduled jobs", lang),
                [
                    Column("job", _("job", lang), number=False, key=True),
                    Column("what", _("what", lang), number=False),
                    Column("attempt", _("attempt", lang), number=False),
                    Column("outcome", _("outcome", lang), number=False),
                ],
            )
            grid.add_rows(
                {"job": o.job, "what": o.what, "attempt": str(o.attempt or "—"), "outcome": o.outcome or "—"}
                for o in outcomes
            )
            print_grids(console, [grid])
            for o in outcomes:
                if o.detail and o.outcome:
                    print_prose(console, f"{o.job}: {o.detail}", hanging="  ")
                if o.error:
                    print_prose(console, f"{o.job}: {o.error}", hanging="  ", style="red")
        if any(o.outcome == "failed" for o in outcomes):
            raise typer.Exit(1)

    @app.command("schedule")
    def schedule(
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """List the scheduled jobs of kassa.yaml: when each runs, when next, and how its last run ended.

        Example: kassa schedule --db shop.duckdb
        """
        from kassa.cli_common import open_warehouse
        from kassa.errors import WarehouseError
        from kassa.notify.schedule import next_time
        from kassa.store import journal

        settings = settings_for(db, config)
        now = dt.datetime.now(dt.UTC)
        try:
            with open_warehouse(db, config) as wh:
                last = {j.name: journal.last_run(wh, j.name) for j in settings.schedule.jobs}
        except WarehouseError:  # no warehouse yet, or a server holds it: the jobs without their runs
            last = {}
        rows: list[dict[str, Any]] = []
        for j in settings.schedule.jobs:
            r = last.get(j.name)
            nxt = next_time(j, r, now, settings.timezone)
            rows.append(
                {
                    "job": j.name,
                    "kind": j.kind,
                    "at": j.at,
                    "next": nxt.isoformat(timespec="minutes") if nxt else None,
                    "last": r.to_json() if r else None,
                }
            )
        if as_json:
            print_json({"timezone": settings.timezone, "jobs": rows})
            return
        if not rows:
            print_prose(
                console, _("No scheduled jobs: add schedule: jobs: to kassa.yaml (docs/schedule.md).", lang)
            )
            return
        grid = Grid(
            _("Schedule ({zone})", lang, zone=settings.timezone),
            [
                Column("job", _("job", lang), number=False, key=True),
                Column("kind", _("kind", lang), number=False),
                Column("at", _("when", lang), number=False),
                Column("next", _("next", lang), number=False),
                Column("last", _("last run", lang), number=False),
            ],
        )
        grid.add_rows(
            {
                "job": r["job"],
                "kind": r["kind"],
                "at": r["at"],
                "next": r["next"] or "—",
                "last": "—" if not r["last"] else f"{r['last']['started_at'][:16]} {r['last']['outcome']}",
            }
            for r in rows
        )
        print_grids(console, [grid])

    @app.command("alerts")
    def alerts(
        at: AtOption = None,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """The alerts as of yesterday: tracking broke, sales stalled, money leak, cash gap; sends nothing.

        Example: kassa alerts --db shop.duckdb
        """
        from kassa.cli_common import open_warehouse
        from kassa.notify.alerting import listed

        now = _moment(at) or dt.datetime.now(dt.UTC)
        with open_warehouse(db, config) as wh:
            found = listed(wh, db, now, str(lang), None)
        if as_json:
            print_json(found)
            return
        if not found["alerts"]:
            print_prose(console, _("No alerts as of {day}.", lang, day=found["day"]))
        for a in found["alerts"]:
            print_prose(console, f"{a['title']}: {a['message']}", hanging="  ")
        for n in found["notes"]:
            print_prose(console, _("not checked: {note}", lang, note=n), hanging="  ", style="yellow")

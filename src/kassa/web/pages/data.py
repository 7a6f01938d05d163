"""The Data page (``/data``, JSON twin ``/data.json``): the imports, the dates each table covers and the
match quality; a file uploaded here (``POST /data/upload``) goes through the same importers as
``kassa import``, and ``POST /data/undo`` takes a batch back out. Not for an agency.

Uploads and undos are jobs (:mod:`kassa.web.jobs`): they run one at a time off the request loop while
other pages keep answering. An upload that has not finished within :data:`UPLOAD_WAIT_S` is answered
with ``202`` and its job; ``GET /data/jobs/<id>`` (``.json``) says how far it is — the page polls it with
htmx — and ``POST /data/jobs/<id>/cancel`` rolls it back. ``/data?job=<id>`` shows a finished job's
outcome."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.errors import ImportFailed, KassaError, RowError
from kassa.i18n import Translator
from kassa.link.quality import match_quality
from kassa.metrics.compute import base_tables
from kassa.period import Period
from kassa.schema import KINDS
from kassa.sources.registry import SOURCES
from kassa.store import Warehouse, conversions_log
from kassa.web.dependencies import Forbidden, NotFound, Page, Visit, Visitor, lang_of, period_of
from kassa.web.jobs import Job
from kassa.web.pages.alerts import schedule_block
from kassa.web.pages.data_connections import connections_block
from kassa.web.render import link_of, wants_json
from kassa.web.state import Dashboard
from kassa.web.uploads import (
    KEPT_KINDS,
    MAPPING_MAX_BYTES,
    MAPPING_SUFFIXES,
    UploadOutcome,
    UploadRefused,
    mapping_beside,
    receive,
    safe_name,
    uploaded_name,
    uploads_dir,
)
from kassa.web.users import User

_ = Translator("web")
router = APIRouter()

CONVERSION_BATCHES_SHOWN = 10  # a small block: the latest uploads, the rest in the warehouse
# Table -> the date column whose range tells how far the data reaches (the page's coverage).
COVERAGE = (
    ("spend", "date"),
    ("activities", "date"),
    ("visits", "ts"),
    ("leads", "created_at"),
    ("deals", "created_at"),
    ("payments", "paid_at"),
)
# An upload that is done by then is answered with its outcome at once (a small file: one round trip, as
# before); a longer one with its job, whose progress the page polls.
UPLOAD_WAIT_S = 1.0
BATCH_KEYS = (
    "batch_id",
    "file",
    "format",
    "kind",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_replaced",
    "period_start",
    "period_end",
    "loaded_at",
    "undone_at",
)


@router.get("/data")
@router.get("/data.json")
def data(page: Page) -> Response:
    shown = data_page(page.dash, page.user, page.period, page.lang)
    job_id = page.request.query_params.get("job")
    job = page.dash.jobs.get(job_id) if job_id and page.user.can("upload") else None
    outcome = _outcome_of(job, page.lang).to_json() if job is not None and job.finished else None
    return page.render("data.html.j2", shown | {"outcome": outcome})


@router.post("/data/upload")
async def upload(
    visit: Visitor,
    csrf: Annotated[str, Form()],
    file: Annotated[UploadFile, File()],
    format: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    skip_refused: Annotated[bool, Form()] = False,
    mapping: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import one file with the same importers as ``kassa import`` (strict unless ``skip_refused``);
    ``mapping`` is the YAML ``kassa import --mapping`` takes (generic files, CRM stages, bank columns)."""
    user = visit.allowed(csrf, "upload")
    dash, lang = visit.dash, lang_of(visit.request)
    folder = uploads_dir(dash.db_path)
    mapping_path = None
    try:
        if mapping is not None and mapping.filename:
            mapping_path = await receive(mapping, folder, MAPPING_MAX_BYTES, lang, MAPPING_SUFFIXES)
        path = await receive(file, folder, dash.max_upload_bytes, lang)
        if mapping_path is not None:
            mapping_path = mapping_beside(mapping_path, path)
    except UploadRefused as exc:
        if mapping_path is not None:
            mapping_path.unlink(missing_ok=True)
        outcome = UploadOutcome(file.filename or "", False, str(exc), status=exc.status)
    else:
        shown_mapping = safe_name(mapping.filename) if mapping is not None else ""
        job = dash.jobs.submit(
            "upload",
            uploaded_name(path.name),
            user.name,
            lambda wh, job: import_upload(
                wh, job, path, format or None, kind or None, skip_refused, lang, mapping_path, shown_mapping
            ),
        )
        for _tick in range(int(UPLOAD_WAIT_S / 0.02)):  # on the loop, without holding it
            if job.finished:
                break
            await asyncio.sleep(0.02)
        if not job.finished:
            if wants_json(visit.request):
                return JSONResponse(_job_json(visit, job), status_code=202)
            shown = await run_in_threadpool(_page_of, visit, lang)
            return visit.render("data.html.j2", shown | {"outcome": None}, status=202)
        outcome = _outcome_of(job, lang)
    if wants_json(visit.request):
        return JSONResponse(outcome.to_json(), status_code=outcome.status)
    # The page waits for the warehouse's lock (another visitor's page): in a thread, never on the loop.
    shown = await run_in_threadpool(_page_of, visit, lang)
    return visit.render("data.html.j2", shown | {"outcome": outcome.to_json()}, status=outcome.status)


def _page_of(visit: Visit, lang: str) -> dict[str, Any]:
    return data_page(visit.dash, visit.user, period_of(visit.request), lang)


@router.get("/data/jobs/{job_id}")
def job_progress(visit: Visitor, job_id: str) -> Response:
    """How far an upload (or a handed-over import) is: JSON with ``.json`` or ``Accept``; for htmx the
    progress line (its poll ends with a move to ``/data?job=<id>`` once the job finished); else that page."""
    job = _job(visit, job_id)
    if wants_json(visit.request):
        return JSONResponse(_job_json(visit, job))
    if visit.request.headers.get("HX-Request") != "true":
        return RedirectResponse(link_of(visit.request, f"/data?job={job.id}"), status_code=303)
    if job.finished:
        return Response(
            status_code=204, headers={"HX-Redirect": link_of(visit.request, f"/data?job={job.id}")}
        )
    return visit.render("data_job.html.j2", {"lang": lang_of(visit.request), "job": job.to_json()})


@router.post("/data/jobs/{job_id}/cancel")
def cancel_job(visit: Visitor, csrf: Annotated[str, Form()], job_id: str) -> Response:
    """Cancel a queued or running import: it rolls back, nothing of it is loaded (a finished one stands)."""
    visit.allowed(csrf, "upload")
    job = _job(visit, job_id)
    job.cancel()
    job.wait(10.0)  # a running insert is interrupted: the rollback takes a moment
    return visit.done(_job_json(visit, job), f"/data?job={job.id}")


def _job(visit: Visit, job_id: str) -> Job:
    """A job of this dashboard, for a user who may upload (others learn nothing, not even that it exists)."""
    if not visit.user.can("upload"):
        raise Forbidden()
    job = visit.dash.jobs.get(job_id.removesuffix(".json"))
    if job is None:
        raise NotFound()
    return job


def _job_json(visit: Visit, job: Job) -> dict[str, Any]:
    out = job.to_json() | {"progress": f"/data/jobs/{job.id}.json"}
    if job.finished:
        out["outcome"] = _outcome_of(job, lang_of(visit.request)).to_json()
    return out


def _outcome_of(job: Job, lang: str) -> UploadOutcome:
    """What a finished job's page says: its upload outcome, a cancellation, or what the job returned."""
    if isinstance(job.result, UploadOutcome):
        return job.result
    if job.state == "cancelled":
        return UploadOutcome(
            job.name,
            False,
            _("cancelled; nothing was imported, the warehouse is as it was", lang),
            status=409,
        )
    if job.error is not None:
        text = str(job.error) if isinstance(job.error, KassaError) else type(job.error).__name__
        return UploadOutcome(job.name, False, text, status=400 if isinstance(job.error, KassaError) else 500)
    return UploadOutcome(job.name, True, str(job.result or ""))


@router.post("/data/undo")
def undo(visit: Visitor, csrf: Annotated[str, Form()], batch_id: Annotated[int, Form()]) -> Response:
    user = visit.allowed(csrf, "upload")
    # In the queue of writes: after an import under way, and on the writer's connection.
    result = dict(
        visit.dash.jobs.run("undo", f"batch {batch_id}", user.name, lambda wh, job: wh.undo(batch_id))
    )
    return visit.done({"batch_id": batch_id, **result}, "/data")


def data_page(dash: Dashboard, user: User, period: Period, lang: str) -> dict[str, Any]:
    """The import batches (newest first, as ``kassa imports``), the dates each table covers, the last load
    per source format, and the match quality of the period (as ``kassa money``). Not for an agency:
    file names and row counts describe every channel's data."""
    if not user.can("see_totals"):
        raise Forbidden()

    def build(wh: Warehouse) -> dict[str, Any]:
        coverage = []
        for table, col in COVERAGE:
            t = wh.table(table)
            row = t.aggregate(rows=t.count(), first=t[col].min(), last=t[col].max()).to_pyarrow().to_pylist()
            coverage.append({"table": table, **{k: _iso(v) for k, v in row[0].items()}})
        quality = match_quality(base_tables(wh, wh.settings).chain, period)
        return {
            "batches": wh.batches(),
            "coverage": coverage,
            "quality": quality.to_json(),
            "conversions": conversions_log.batches(wh, limit=CONVERSION_BATCHES_SHOWN),
        }

    got = dash.locked(build)
    rows = [{k: _iso(v) for k, v in b.items() if k in BATCH_KEYS} for b in reversed(got["batches"])]
    for r in rows:
        r["file"] = uploaded_name(Path(str(r["file"])).name)
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:  # newest first: the first live batch of a source and table is its last load
        key = (str(r["format"]), str(r["kind"]))
        if r["undone_at"] is None and key not in last:
            last[key] = {k: r[k] for k in ("format", "kind", "loaded_at", "file", "period_end")}
    return {
        "page": "data",
        "lang": lang,
        "period": period.label,
        "batches": rows,
        "coverage": got["coverage"],
        "last_loads": [last[k] for k in sorted(last)],
        "quality": got["quality"],
        "can_upload": user.can("upload"),
        # Uploads and handed-over imports still queued or running: the page shows how far they are.
        "jobs": [j.to_json() for j in dash.jobs.unfinished()] if user.can("upload") else [],
        "max_upload_mb": dash.max_upload_bytes / 1024 / 1024,
        "formats": sorted(SOURCES),
        "kinds": sorted(KINDS),
        # What kassa told the ad platforms (kassa conversions --upload, the conversions job): latest first.
        "conversions": [{k: _iso(v) for k, v in b.items()} for b in got["conversions"]],
        "schedule": schedule_block(dash, can_edit=user.can("edit_schedule")),  # kassa.web.pages.alerts
    } | connections_block(dash, user)


def import_upload(
    wh: Warehouse,
    job: Job,
    path: Path,
    fmt: str | None,
    kind: str | None,
    skip_refused: bool,
    lang: str = "en",
    mapping: Path | None = None,
    mapping_name: str = "",
) -> UploadOutcome:
    """Import a received upload in one transaction (the job of an upload: on the writer's connection,
    reporting to ``job``); strict unless ``skip_refused``. A refused, repeated or cancelled upload is
    deleted again (nothing of it stays, in the warehouse or beside it)."""
    shown = uploaded_name(path.name)
    try:
        report = wh.import_files(
            [path],
            format=fmt or None,
            kind=kind or None,
            mapping=mapping,
            strict=not skip_refused,
            progress=lambda step: job.step(step.replace(path.name, shown)),  # the name it was sent as
            on_rows=job.rows,
        )
    except ImportFailed as exc:
        job.changed = False
        _forget_files(path, mapping)
        refused = len({(e.file, e.line) for e in exc.errors if not e.row_kept})
        head = (
            _(
                "{n} row(s) with refused values; nothing was imported. Correct them, or tick "
                "“load the valid rows” to import the rest.",
                lang,
                n=refused,
            )
            if exc.errors
            else str(exc).splitlines()[0].replace(str(path), shown)
        )
        return UploadOutcome(shown, False, head, errors=_named(exc.errors, shown), status=422)
    except KassaError as exc:
        job.changed = False
        _forget_files(path, mapping)
        text = str(exc)
        if mapping is not None:  # first: the mapping's kept name starts with the data file's
            text = text.replace(str(mapping), mapping_name or uploaded_name(mapping.name))
        text = text.replace(str(path), shown)
        return UploadOutcome(shown, False, text, status=422)
    except BaseException:  # cancelled, a bug, or a kill: the files go too (start-up removes the rest)
        _forget_files(path, mapping)
        raise
    batches = [
        {
            "batch_id": f.batch_id,
            "kind": f.kind,
            "format": f.format,
            "rows_read": f.rows_read,
            "rows_loaded": f.rows_loaded,
            "rows_rejected": f.rows_rejected,
            "rows_replaced": f.rows_replaced,
            "already_imported_as": f.already_imported_as,
        }
        for f in report.files
    ]
    if all(f.already_imported_as is not None for f in report.files):
        job.changed = False
        _forget_files(path, mapping)
        first = report.files[0].already_imported_as if report.files else None
        message = _("already imported as batch {n}; nothing changed", lang, n=first)
        return UploadOutcome(shown, True, message, batches)
    loaded = sum(f.rows_loaded for f in report.files)
    message = _("{n} row(s) loaded", lang, n=loaded)
    if not wh.settings.store_personal_data and any(f.kind not in KEPT_KINDS for f in report.files):
        # Visits, leads, deals and payments name people: no copy is kept without the owner's consent
        # (store_personal_data); the rows and the file's SHA-256 are in the warehouse (web/uploads.py).
        _forget_files(path, mapping)
        message += " " + _("(the file itself was not kept: it holds personal data)", lang)
    return UploadOutcome(shown, True, message, batches, errors=_named(report.errors, shown))


def _iso(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _forget_files(*paths: Path | None) -> None:
    """A refused or repeated upload (and its mapping) leaves nothing behind."""
    for p in paths:
        if p is not None:
            p.unlink(missing_ok=True)


def _named(errors: list[RowError], name: str) -> list[RowError]:
    """Row errors naming the file as the user sent it, not as it was saved."""
    return [replace(e, file=name) for e in errors]

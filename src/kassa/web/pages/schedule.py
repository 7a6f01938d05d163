"""The schedule's editor (``/data/schedule``): an owner edits the ``schedule:`` block of kassa.yaml as YAML,
checked as it is typed (``POST /data/schedule/check``) and written by ``POST /data/schedule/save`` — only
that block; every other line of the file stays as it was (:mod:`kassa.notify.schedule_file`). The server
takes the saved schedule at once. Owners only: who is sent what, and when, is theirs to decide."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse, Response

from kassa.errors import ConfigError
from kassa.notify.schedule_file import check_schedule, file_text, save_schedule, schedule_text, stamp
from kassa.web.dependencies import Forbidden, Visit, Visitor, lang_of
from kassa.web.render import wants_json

router = APIRouter()
Problems = list[dict[str, Any]]


@router.get("/data/schedule")
def schedule_edit(visit: Visitor) -> Response:
    if not visit.user.can("edit_schedule"):
        raise Forbidden()
    path = visit.dash.config_path
    try:
        text, opened_on = schedule_text(path), stamp(file_text(path))
    except ConfigError as exc:  # a kassa.yaml that does not parse cannot be edited here
        return editor(visit, "", "", problems_of(exc), status=409)
    return editor(visit, text, opened_on)


@router.post("/data/schedule/check")
def schedule_check(visit: Visitor, csrf: Annotated[str, Form()], text: Annotated[str, Form()]) -> Response:
    """Validate the block as it is typed (htmx swaps the answer in); nothing is written."""
    visit.allowed(csrf, "edit_schedule")
    try:
        check_schedule(visit.dash.config_path, text)
    except ConfigError as exc:
        problems = problems_of(exc)
    else:
        problems = []
    data = {"lang": lang_of(visit.request), "problems": problems, "ok": not problems}
    if wants_json(visit.request):
        return JSONResponse(data)
    return visit.render("schedule_problems.html.j2", data)


@router.post("/data/schedule/save")
def schedule_save(
    visit: Visitor,
    csrf: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
    opened_on: Annotated[str, Form()] = "",
) -> Response:
    """Write the block into kassa.yaml once it validates, and run the server on it from now on."""
    visit.allowed(csrf, "edit_schedule")
    dash = visit.dash
    try:
        settings = save_schedule(dash.config_path, text, opened_on or None)
    except ConfigError as exc:
        problems = problems_of(exc)
        if wants_json(visit.request):
            return JSONResponse({"saved": None, "problems": problems}, status_code=422)
        return editor(visit, text, opened_on, problems, status=422)
    dash.reload_schedule(force=True)
    jobs = [j.name for j in settings.schedule.jobs]
    return visit.done({"saved": str(dash.config_path.name), "jobs": jobs}, "/data", anchor="#schedule")


def editor(
    visit: Visit, text: str, opened_on: str, problems: Problems | None = None, status: int = 200
) -> Response:
    data = {
        "page": "schedule_edit",
        "lang": lang_of(visit.request),
        "period": visit.request.query_params.get("period", ""),
        "file": visit.dash.config_path.name,
        "text": text,
        "opened_on": opened_on,
        "problems": problems or [],
    }
    return visit.render("data_schedule_edit.html.j2", data, status=status)


def problems_of(exc: ConfigError) -> Problems:
    found = [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems]
    return found or [{"line": None, "field": None, "message": str(exc)}]

"""The KPI page (``/kpi``, JSON twin ``/kpi.json``): every saved contract scored on the period, and its
editor (``/kpi/edit``; ``POST /kpi/check`` validates as one types, ``/kpi/save`` and ``/kpi/delete``
change the saved files). Only owners and marketers edit; an agency sees its channels' contracts only."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from kassa.errors import ConfigError
from kassa.kpi import EXAMPLES, Contract, Scorecard, example_path, lint, parse_contract
from kassa.kpi import score as score_contract
from kassa.kpi.saved import ContractFolder
from kassa.period import Period
from kassa.web.dependencies import Forbidden, NotFound, Page, Visit, Visitor, lang_of
from kassa.web.pages.common import no_nan
from kassa.web.render import wants_json
from kassa.web.state import Dashboard
from kassa.web.users import User

router = APIRouter()
CONTRACT_MAX_BYTES = 64 * 1024
NEW_CONTRACT = """name: Marketing, monthly
scope:
  channels: [yandex_direct]
period: month
kpis:
  - metric: qualified_leads
    target: 100
    weight: 0.5
  - metric: revenue
    target: 1000000
    weight: 0.5
bonus:
  base: 50000
  gate:
    metric: romi
    min: 0
"""
Problems = list[dict[str, Any]]


@router.get("/kpi")
@router.get("/kpi.json")
def kpi(page: Page) -> Response:
    return page.render("kpi.html.j2", kpi_page(page.dash, page.user, page.period, page.lang))


@router.get("/kpi/edit")
def kpi_edit(visit: Visitor, slug: str | None = None, example: str | None = None) -> Response:
    if not visit.user.can("edit_contracts"):
        raise Forbidden()
    text, found = contract_text(visit.dash, visit.user, slug, example)
    return editor(visit, text, found)


@router.post("/kpi/check")
def kpi_check(visit: Visitor, csrf: Annotated[str, Form()], text: Annotated[str, Form()]) -> Response:
    """Validate and lint a contract as it is typed (htmx swaps the answer in); nothing is saved."""
    visit.allowed(csrf, "edit_contracts")
    lang = lang_of(visit.request)
    try:
        contract = parse_contract(text, source="contract.yaml")
    except ConfigError as exc:
        problems, warnings = problems_of(exc), []
    else:
        problems, warnings = [], lint_messages(contract, lang)
    data = {"lang": lang, "problems": problems, "lint": warnings, "ok": not problems}
    if wants_json(visit.request):
        return JSONResponse(data)
    return visit.render("kpi_problems.html.j2", data)


@router.post("/kpi/save")
async def kpi_save(
    visit: Visitor,
    csrf: Annotated[str, Form()],
    text: Annotated[str, Form()] = "",
    replaces: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Save a contract typed in the editor or uploaded as a YAML file, once it validates."""
    visit.allowed(csrf, "edit_contracts")
    if file is not None and file.filename:
        raw = await file.read(CONTRACT_MAX_BYTES + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            problem = {"line": None, "field": None, "message": "the file is not UTF-8 text"}
            return kpi_refused(visit, "", replaces, [problem])
    try:
        slug = ContractFolder.for_db(visit.dash.db_path).save(text, replaces=replaces or None).slug
    except ConfigError as exc:
        problems = problems_of(exc) or [{"line": None, "field": None, "message": str(exc)}]
        return kpi_refused(visit, text, replaces, problems)
    return visit.done({"saved": slug}, "/kpi", status=201, anchor=f"#contract-{quote(slug)}")


@router.post("/kpi/delete")
def kpi_delete(visit: Visitor, csrf: Annotated[str, Form()], slug: Annotated[str, Form()]) -> Response:
    visit.allowed(csrf, "edit_contracts")
    if not ContractFolder.for_db(visit.dash.db_path).delete(slug):
        raise NotFound(slug)
    return visit.done({"deleted": slug}, "/kpi")


def kpi_page(dash: Dashboard, user: User, period: Period, lang: str) -> dict[str, Any]:
    """Every saved contract scored on ``period`` (as ``kassa kpi score``), with its lint warnings; saved
    files that no longer validate are listed with their errors instead of being skipped silently."""
    folder = ContractFolder.for_db(dash.db_path)
    contracts: list[dict[str, Any]] = []
    broken: list[dict[str, Any]] = []
    for slug in folder.slugs():
        try:
            saved = folder.read(slug)
        except ConfigError as exc:
            if user.can("see_totals"):
                broken.append({"slug": slug, "error": str(exc), "problems": problems_of(exc)})
            continue
        if not visible_contract(user, saved.contract):
            continue
        contract = saved.contract
        # The hint of an empty scope names only the channels this user may see (issue 14).
        card: Scorecard = dash.locked(
            partial(score_contract, contract=contract, period=period, visible=user.channel_filter)
        )
        warnings = lint_messages(contract, lang, period, card)
        contracts.append({"slug": slug, **_card_json(card, lang), "lint": warnings})
    return {
        "page": "kpi",
        "period": period.label,
        "lang": lang,
        "currency": dash.currency,
        "scope": user.channel_filter,
        "contracts": contracts,
        "broken": broken,
        "can_edit": user.can("edit_contracts"),
        "examples": list(EXAMPLES),
    }


def editor(
    visit: Visit, text: str, slug: str | None, problems: Problems | None = None, status: int = 200
) -> Response:
    """The contract editor holding ``text`` (the saved contract ``slug``, if any) and what is wrong with it."""
    data = {
        "page": "kpi_edit",
        "lang": lang_of(visit.request),
        "period": visit.request.query_params.get("period", ""),
        "slug": slug,
        "text": text,
        "problems": problems or [],
        "lint": [],
        "examples": list(EXAMPLES),
    }
    return visit.render("kpi_edit.html.j2", data, status=status)


def kpi_refused(visit: Visit, text: str, replaces: str, problems: Problems) -> Response:
    """A contract that was not saved: 422 with its problems, in the editor or as JSON."""
    if wants_json(visit.request):
        return JSONResponse({"saved": None, "problems": problems}, status_code=422)
    return editor(visit, text, replaces or None, problems, status=422)


def visible_contract(user: User, contract: Contract) -> bool:
    """An agency sees a contract only when every channel it covers is one of the agency's channels."""
    scope = user.channel_filter
    if scope is None:
        return True
    return bool(contract.scope.channels) and set(contract.scope.channels or ()) <= set(scope)


def contract_text(
    dash: Dashboard, user: User, slug: str | None, example: str | None
) -> tuple[str, str | None]:
    """(YAML text, slug) for the editor: a saved contract, a shipped example, or an empty skeleton."""
    if slug:
        saved = ContractFolder.for_db(dash.db_path).read(slug)
        if not visible_contract(user, saved.contract):
            raise NotFound(slug)
        return saved.text, slug
    if example:
        return example_path(example).read_text(encoding="utf-8"), None
    return NEW_CONTRACT, None


def lint_messages(
    contract: Contract, lang: str, period: Period | None = None, card: Scorecard | None = None
) -> list[str]:
    """What ``kassa kpi lint`` says of the contract (and, scored, what its scorecard warns of)."""
    found = [*lint(contract, period), *(card.warnings if card else [])]
    return list(dict.fromkeys(w.message(lang) for w in found))


def problems_of(exc: ConfigError) -> Problems:
    """A contract's validation problems, each with its line and field."""
    return [{"line": p.line, "field": p.field, "message": p.message} for p in exc.problems]


def _card_json(card: Scorecard, lang: str) -> dict[str, Any]:
    """A scorecard with its texts in ``lang`` (the JSON of ``kassa kpi score`` carries both languages)."""
    data = card.to_json()
    for row in data["kpis"]:
        row["label"], row["explanation"] = row["label"][lang], row["explanation"][lang]
    bonus = data["bonus"]
    if bonus is not None:
        bonus["explanation"] = bonus["explanation"][lang] if bonus["explanation"] else ""
        if bonus["gate"] is not None:
            bonus["gate"]["label"] = bonus["gate"]["label"][lang]
            bonus["gate"]["explanation"] = bonus["gate"]["explanation"][lang]
    data.pop("warnings")
    data["facts"] = {k: no_nan(v) for k, v in data["facts"].items()}
    return data

"""Files uploaded on the Data page: size limit, type check, then the same importers as ``kassa import``.

An upload is received in chunks into ``<warehouse>.uploads/`` (so the file an imported number came from
stays next to the warehouse, as a file passed to ``kassa import`` stays where it was) and refused before
any parsing when it is larger than the limit, has a suffix no importer reads, or its first bytes say it is
something else (a ZIP called ``.csv``, an image). It is then imported by :meth:`Warehouse.import_files`:
one transaction; by default *strict*, so a file with a single refused value changes nothing and the page
lists every refused value with its line, column and reason. A refused upload is deleted again.

What is kept (issue 14): only copies of files about ad platforms' numbers (:data:`KEPT_KINDS`: spend and
activities, which name no person); a file of visits, leads, deals or payments carries phones, e-mails,
client ids or payer names, so its copy is deleted once imported unless ``store_personal_data`` is on (the
owner's consent to keep raw personal data). Its rows and its SHA-256 stay in the warehouse, so a repeat is
still recognised and ``undo`` still works. Kept files, and the folder, are the owner's only (0600/0700).
A file whose import failed or was killed leaves nothing: a refused one is deleted at once, and at start-up
:func:`clean_uploads` removes half-received files and files no import batch names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import UploadFile

from kassa.errors import KassaError, RowError
from kassa.i18n import Translator
from kassa.store.places import beside

_ = Translator("web")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CHUNK = 1024 * 1024
# What the importers read (docs/sources.md): text tables and statements, Excel, GA4 exports.
SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".json", ".jsonl", ".ndjson", ".parquet")
# A binary format is recognised by its first bytes; a text suffix must not start like one of these.
MAGIC = {".xlsx": b"PK\x03\x04", ".parquet": b"PAR1"}
MAPPING_SUFFIXES = (".yaml", ".yml")  # the --mapping file of the generic, CRM and bank CSV importers
MAPPING_MAX_BYTES = 64 * 1024
# Kinds whose source files name no person (ad cabinet numbers): their uploads are kept without consent.
KEPT_KINDS = frozenset({"spend", "activities"})
PARTIAL_PREFIX = ".receiving-"
MAPPING_MARK = ".mapping"  # a mapping is kept as <its data file's name>.mapping.yaml
FOREIGN = (b"PK\x03\x04", b"PAR1", b"%PDF", b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b")


class UploadRefused(KassaError):
    """The upload was refused before import; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def uploads_dir(db: Path) -> Path:
    return beside(db, ".uploads")


SAVED_PREFIX = re.compile(r"^\d{8}T\d{12}-[0-9a-f]{8}-")


def uploaded_name(saved: str) -> str:
    """The name the file was uploaded under (``receive`` saves it as ``<UTC time>-<sha256 prefix>-<name>``)."""
    return SAVED_PREFIX.sub("", saved)


def safe_name(filename: str | None) -> str:
    """The file's own name without any folder, in characters safe on every file system."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = re.sub(r"[^\w.\-]+", "_", base, flags=re.UNICODE).strip("._")
    return base[:120] or "upload"


def check_type(name: str, head: bytes, lang: str = "en", suffixes: tuple[str, ...] = SUFFIXES) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        raise UploadRefused(
            _(
                "{name}: files ending in {suffix} are not imported; send one of {suffixes}",
                lang,
                name=name,
                suffix=suffix or "(—)",
                suffixes=", ".join(suffixes),
            ),
            415,
        )
    magic = MAGIC.get(suffix)
    if magic is not None and not head.startswith(magic):
        raise UploadRefused(
            _("{name}: not a {suffix} file (its first bytes say otherwise)", lang, name=name, suffix=suffix),
            415,
        )
    if magic is None and head.startswith(FOREIGN):
        raise UploadRefused(
            _("{name}: a binary file named {suffix}; send the table itself", lang, name=name, suffix=suffix),
            415,
        )


async def receive(
    upload: UploadFile, folder: Path, max_bytes: int, lang: str = "en", suffixes: tuple[str, ...] = SUFFIXES
) -> Path:
    """Save ``upload`` into ``folder`` as ``<UTC time>-<sha256 prefix>-<name>``; refuse it when too large or
    of the wrong type (nothing is left behind then)."""
    name = safe_name(upload.filename)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    partial = folder / f"{PARTIAL_PREFIX}{stamp}-{name}"
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        # 0600 from the first byte: the file may hold the business's customers.
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(
                        _(
                            "{name}: larger than the upload limit of {size} MiB; "
                            "import it with kassa import on the server",
                            lang,
                            name=name,
                            size=f"{max_bytes / 1024 / 1024:g}",
                        ),
                        413,
                    )
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(_("{name}: the file is empty", lang, name=name), 400)
        check_type(name, head, lang, suffixes)
        final = folder / f"{stamp}-{digest.hexdigest()[:8]}-{name}"
        partial.rename(final)
        return final
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def mapping_beside(mapping: Path, data: Path) -> Path:
    """Rename a received mapping after the data file it is read with, so the two are kept or removed
    together (:func:`clean_uploads`)."""
    paired = data.with_name(data.name + MAPPING_MARK + mapping.suffix)
    mapping.rename(paired)
    return paired


def clean_uploads(folder: Path, imported: set[str]) -> list[Path]:
    """Remove what failed or killed uploads left in ``folder``: half-received files, and kept files (with
    their mappings) that no import batch names (``imported``: the names batches recorded). Returns them."""
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.iterdir():
        if not p.is_file():
            continue
        data = p.name
        for suffix in MAPPING_SUFFIXES:
            data = data.removesuffix(MAPPING_MARK + suffix)
        if p.name.startswith(PARTIAL_PREFIX) or data not in imported:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


FORM_SLACK = 1024 * 1024  # a form's other fields and multipart framing around the file


class BodyLimit:
    """ASGI middleware: a request body larger than its route allows is refused before it is read.

    Starlette parses a multipart form (spooling files to disk) before a route runs, so the route's own
    size check would come after the whole body had been received. Here a ``Content-Length`` over the
    limit gets ``413`` at once, and a body sent without one (chunked) gets ``413`` as soon as it passes
    the limit: the app is told the client went away (its parser stops; nothing more is read), and what
    it would answer to that (FastAPI: 400) is not sent. ``limit_of(path)`` gives the limit of a path.
    """

    def __init__(self, app: Any, limit_of: Callable[[str], int]) -> None:
        self.app, self.limit_of = app, limit_of

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started and not refused:
                        refused = True
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}  # the parser stops; nothing more is read
            return message

        async def guarded(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer; the app's own to the "disconnect" is dropped
            started = True
            await send(message)

        await self.app(scope, counted, guarded)


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"error": f"request body larger than {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class UploadOutcome:
    """What the Data page says after an upload: the batches it made, or why nothing changed."""

    file: str
    ok: bool
    message: str
    batches: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    status: int = 200

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "message": self.message,
            "batches": self.batches,
            "errors": [
                {
                    "file": Path(e.file).name,
                    "line": e.line,
                    "column": e.column,
                    "value": e.value,
                    "reason": e.reason,
                    "row_kept": e.row_kept,
                }
                for e in self.errors
            ],
        }

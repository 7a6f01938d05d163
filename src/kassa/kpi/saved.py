"""The KPI contracts kept with a warehouse: YAML files in a folder beside it, ``<warehouse>.contracts/``.

Why files and not a table: a contract is a document people read, diff, sign and mail; the CLI scores
one with ``kassa kpi score FILE``. The dashboard saves uploaded and edited contracts here, and
``kassa kpi score NAME --db W`` finds one by its file name (``NAME.yaml`` in the folder). A contract is saved
only after :func:`~kassa.kpi.contract.parse_contract` accepted it, and atomically (write a temporary
file, then rename), so the folder never holds a half-written or invalid contract.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kassa.errors import ConfigError
from kassa.kpi.contract import EXAMPLES, Contract, example_path, load_contract, parse_contract
from kassa.store.places import beside
from kassa.yamlfile import read_yaml_text

SUFFIX = ".yaml"
MAX_BYTES = 64 * 1024  # a contract is a page of YAML; more is a mistake (or an attack on the parser)


def contracts_dir(db: Path) -> Path:
    """``shop.duckdb`` → ``shop.duckdb.contracts``."""
    return beside(db, ".contracts")


def slug_of(name: str) -> str:
    """A file name for a contract name: letters (any script), digits, ``-`` and ``_``; at most 60."""
    slug = re.sub(r"[^\w-]+", "-", name.strip(), flags=re.UNICODE).strip("-_").lower()[:60]
    return slug or "contract"


@dataclass(frozen=True)
class SavedContract:
    slug: str
    path: Path
    text: str
    contract: Contract


class ContractFolder:
    """The contracts saved beside one warehouse."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_db(cls, db: Path | str) -> ContractFolder:
        return cls(contracts_dir(Path(db)))

    def path_of(self, slug: str) -> Path:
        if slug != slug_of(slug):
            raise ConfigError(f"{slug!r} is not a contract file name")
        return self.folder / f"{slug}{SUFFIX}"

    def slugs(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob(f"*{SUFFIX}") if p.is_file())

    def read(self, slug: str) -> SavedContract:
        """The saved contract ``slug``; :class:`ConfigError` (naming file, line and field) if it is invalid."""
        path = self.path_of(slug)
        if not path.is_file():
            raise ConfigError(f"no saved contract {slug!r} in {self.folder}")
        text = read_yaml_text(path)  # too large or not UTF-8 (copied in by hand) -> ConfigError naming it
        return SavedContract(slug, path, text, parse_contract(text, source=str(path)))

    def save(self, text: str, replaces: str | None = None) -> SavedContract:
        """Validate ``text`` and save it under the slug of its ``name``; ``replaces`` is the slug it was
        edited from (removed when the name, and so the file, changed)."""
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise ConfigError(f"a contract is at most {MAX_BYTES // 1024} KiB of YAML")
        contract = parse_contract(text, source="contract.yaml")
        slug = slug_of(contract.name)
        path = self.path_of(slug)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # mkstemp: the file is 0600 too
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".saving-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if replaces and replaces != slug:
            self.path_of(replaces).unlink(missing_ok=True)
        return SavedContract(slug, path, text, parse_contract(text, source=str(path)))

    def delete(self, slug: str) -> bool:
        path = self.path_of(slug)
        if not path.exists():
            return False
        path.unlink()
        return True


def resolve_contract(name: str, db: Path | None = None) -> Contract:
    """The contract a user names on the command line.

    Looked up in this order: a contract file at the path ``name``; else a contract saved beside the
    warehouse ``db`` (the dashboard's KPI page saves them in ``<db>.contracts/``) by its file name; else
    a shipped example by name (:data:`~kassa.kpi.contract.EXAMPLES`).

    Raises
    ------
    ConfigError
        When none of the three has it; the message lists the saved contracts and the examples.
    """
    p = Path(name)
    if p.exists():
        return load_contract(p)
    if db is not None:
        folder = ContractFolder.for_db(db)
        if name in folder.slugs():
            return folder.read(name).contract
    if name in EXAMPLES:
        return load_contract(example_path(name))
    saved = ContractFolder.for_db(db).slugs() if db is not None else []
    raise ConfigError(
        f"{p}: no such contract file (saved with the warehouse: {', '.join(saved) or 'none'}; "
        f"shipped examples: {', '.join(EXAMPLES)})"
    )

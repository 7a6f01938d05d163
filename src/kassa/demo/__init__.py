"""The demo company: 13 months of a believable Russian small business, with the article's story planted.

«ТеплоСфера» sells heating equipment with installation in Moscow and the Moscow region. Its marketing
runs on Yandex Direct (search and network), VK Ads, a Telegram channel, SEO and newsletters; three
managers sell. The data are seeded and deterministic: the same seed gives the same bytes.

Three stories are planted (:data:`PLANTED`, docs/demo.md): in October 2026 one Direct campaign's
activity metrics all improve (CPC −15 %, reach ×2, CTR +20 %) while its qualified leads fall ~40 % and
its sales do not grow; the Telegram channel posts ~2.4 times as often with no more sales; in June 2026
one manager stops closing deals. ``plant=False`` gives the same company without any of them.

Examples
--------
>>> from kassa.demo import load, LAST_MONTH  # doctest: +SKIP
>>> wh = load(Path("demo.duckdb"))  # doctest: +SKIP
>>> compute(wh, ["cpc", "qualified_leads", "revenue"], by="campaign", period=LAST_MONTH)  # doctest: +SKIP

This package sits above ``store`` (it loads through :meth:`kassa.store.Warehouse.import_files`, the
same path as a user's files) and imports nothing above it, so any later layer's tests may use it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from kassa.demo.company import (
    FIRST_MONTH,
    LAST_MONTH,
    PLANTED,
    ActivityIllusion,
    BusyChannel,
    Planted,
    SalesSlump,
)
from kassa.demo.tables import FILES, build_tables, write_tables
from kassa.errors import KassaError
from kassa.store.warehouse import Warehouse, file_sha256

__all__ = [
    "FILES",
    "FIRST_MONTH",
    "LAST_MONTH",
    "PLANTED",
    "ActivityIllusion",
    "BusyChannel",
    "Planted",
    "SalesSlump",
    "generate",
    "load",
]


def generate(folder: Path, *, seed: int = 7, plant: bool = True) -> list[Path]:
    """Write the demo company's six canonical CSV files into ``folder`` (created if missing).

    Parameters
    ----------
    folder : Path
        Where ``spend.csv``, ``activities.csv``, ``visits.csv``, ``leads.csv``, ``deals.csv`` and
        ``payments.csv`` are written (existing files of those names are overwritten).
    seed : int
        Seed of numpy's generator; the same seed always gives byte-identical files.
    plant : bool
        ``True`` plants the three stories of :data:`PLANTED`; ``False`` gives the healthy company.

    Returns
    -------
    list of Path
        The six files, in the order above.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise KassaError(f"{folder} is a file; give a folder for the demo CSV files")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return write_tables(build_tables(seed, plant), folder)
    except OSError as exc:
        raise KassaError(f"cannot write the demo files into {folder}: {exc.strerror or exc}") from None


def load(
    db: Path,
    *,
    seed: int = 7,
    plant: bool = True,
    folder: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Warehouse:
    """Generate the demo company and import it into the warehouse ``db``; return it open for writing.

    The files go through :meth:`Warehouse.import_files` with ``strict=True``, exactly as a user's files
    would, so the demo also proves the importer. Loading the same demo again changes nothing (the files'
    SHA-256 are already known); a warehouse holding anything else is refused rather than mixed with the
    demo.

    Parameters
    ----------
    db : Path
        The warehouse file (created if missing).
    seed, plant
        As for :func:`generate`.
    folder : Path, optional
        Keep the CSV files there; by default they are written to a temporary folder and removed.
    progress : callable, optional
        Called with a short English line for each step (generating, reading and loading each file).
    """
    if progress:
        progress(f"generating the demo company (seed {seed}{'' if plant else ', healthy'})")
    if folder is not None:
        return _load_from(db, generate(folder, seed=seed, plant=plant), progress)
    with tempfile.TemporaryDirectory(prefix="kassa-demo-") as tmp:
        return _load_from(db, generate(Path(tmp), seed=seed, plant=plant), progress)


def _load_from(db: Path, paths: list[Path], progress: Callable[[str], None] | None) -> Warehouse:
    wh = Warehouse.open(db)
    try:
        ours = {file_sha256(p) for p in paths}
        theirs = {b["sha256"] for b in wh.batches() if b["undone_at"] is None}
        if theirs - ours:
            raise KassaError(
                f"{db} already holds other data; load the demo into a new warehouse file "
                "(e.g. --db demo.duckdb) so the two are not mixed"
            )
        wh.import_files(paths, strict=True, progress=progress)
    except BaseException:
        wh.close()
        raise
    return wh

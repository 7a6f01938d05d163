"""``kassa import`` and ``kassa imports``: load files, list and undo import batches."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kassa.cli_common import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    check_lang,
    console,
    err_console,
    open_warehouse,
    print_json,
)
from kassa.i18n import Translator
from kassa.schema import KINDS

if TYPE_CHECKING:  # the warehouse imports Ibis and DuckDB: only the commands that open one load them
    from kassa.store.warehouse import ImportReport

_ = Translator("cli")


def _print_report(report: ImportReport, as_json: bool, lang: str) -> None:
    if as_json:
        print_json(
            {
                "files": [
                    {
                        "file": f.file,
                        "format": f.format,
                        "kind": f.kind,
                        "rows_read": f.rows_read,
                        "rows_loaded": f.rows_loaded,
                        "rows_replaced": f.rows_replaced,
                        "rows_rejected": f.rows_rejected,
                        "batch_id": f.batch_id,
                        "already_imported_as": f.already_imported_as,
                        "errors": [e.__dict__ for e in f.errors],
                    }
                    for f in report.files
                ]
            }
        )
        return
    t = Table(title=_("Import", lang))
    for col in ("file", "kind", "loaded", "replaced", "rejected", "batch"):
        t.add_column(
            _(col, lang), justify="right" if col in ("loaded", "replaced", "rejected", "batch") else "left"
        )
    for f in report.files:
        batch = str(f.batch_id) if f.batch_id else _("already #{batch}", lang, batch=f.already_imported_as)
        t.add_row(
            Path(f.file).name, f.kind, str(f.rows_loaded), str(f.rows_replaced), str(f.rows_rejected), batch
        )
    console.print(t)
    errs = report.errors
    for e in errs[:50]:
        # The prefixes are translated; the reasons come from the readers in English (file, line, column, value).
        err_console.print(
            (_("warning: ", lang) if e.row_kept else _("rejected: ", lang)) + str(e),
            markup=False,
            highlight=False,
        )
    if len(errs) > 50:
        err_console.print(_("… and {n} more (use --json for all)", lang, n=len(errs) - 50), markup=False)


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        files: Annotated[
            list[Path] | None, typer.Argument(help="Files to import.", show_default=False)
        ] = None,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        format: Annotated[
            str | None, typer.Option("--format", help="Force a format (see --list-formats).")
        ] = None,
        kind: Annotated[
            str | None, typer.Option("--kind", help=f"Force the canonical table: {', '.join(KINDS)}.")
        ] = None,
        mapping: Annotated[
            Path | None,
            typer.Option(
                "--mapping", help="YAML mapping for formats that need one (CRM stages, generic columns)."
            ),
        ] = None,
        strict: Annotated[
            bool, typer.Option("--strict", help="Refuse the whole import if any row is bad.")
        ] = False,
        list_formats: Annotated[
            bool, typer.Option("--list-formats", help="List the formats kassa reads and exit.")
        ] = False,
        as_json: JsonOption = False,
        lang: LangOption = "en",
    ) -> None:
        """Load files into the warehouse: all of them in one transaction, or nothing.

        Example: kassa import spend.csv visits.csv leads.csv --db shop.duckdb
        """
        check_lang(lang)
        if list_formats:
            from kassa.sources.registry import SOURCES

            t = Table(title="Formats")
            t.add_column("name")
            t.add_column("what")
            t.add_column("spec")
            for s in SOURCES.values():
                t.add_row(s.name, s.title, s.spec_url)
            console.print(t)
            return
        if not files:
            raise typer.BadParameter("name at least one file", param_hint="FILES")
        with open_warehouse(db, config, write=True) as wh, console.status("importing…") as status:
            report = wh.import_files(
                files,
                format=format,
                kind=kind,
                mapping=mapping,
                strict=strict,
                progress=lambda m: status.update(m),
            )
        _print_report(report, as_json, lang)
        if any(not e.row_kept for e in report.errors):
            raise typer.Exit(1)

    imports = typer.Typer(help="Past import batches.", invoke_without_command=True)

    @imports.callback()
    def imports_list(
        ctx: typer.Context,
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        as_json: JsonOption = False,
        lang: LangOption = "en",
    ) -> None:
        """List import batches: file, format, rows, period, when.

        Example: kassa imports --db shop.duckdb
        """
        if ctx.invoked_subcommand:
            return
        check_lang(lang)
        with open_warehouse(db, config) as wh:
            batches = wh.batches()
        if as_json:
            print_json(batches)
            return
        t = Table(title=_("Import batches", lang))
        for col in (
            "id",
            "file",
            "format",
            "kind",
            "loaded",
            "rejected",
            "replaced",
            "period",
            "loaded at",
            "undone",
        ):
            t.add_column(_(col, lang))
        for b in batches:
            t.add_row(
                str(b["batch_id"]),
                Path(b["file"]).name,
                b["format"],
                b["kind"],
                str(b["rows_loaded"]),
                str(b["rows_rejected"]),
                str(b["rows_replaced"]),
                f"{b['period_start']}..{b['period_end']}",
                f"{b['loaded_at']:%Y-%m-%d %H:%M}",
                f"{b['undone_at']:%Y-%m-%d %H:%M}" if b["undone_at"] else "",
            )
        console.print(t)

    @imports.command("undo")
    def imports_undo(
        batch_id: Annotated[int, typer.Argument(help="Batch id from `kassa imports`.")],
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        lang: LangOption = "en",
    ) -> None:
        """Remove a batch's rows and restore the rows it replaced.

        Example: kassa imports undo 3 --db shop.duckdb
        """
        check_lang(lang)
        with open_warehouse(db, config, write=True) as wh:
            res = wh.undo(batch_id)
        console.print(
            _(
                "batch {batch} undone: {removed} row(s) removed, {restored} restored",
                lang,
                batch=batch_id,
                removed=res["removed"],
                restored=res["restored"],
            ),
            highlight=False,
            markup=False,
        )

    app.add_typer(imports, name="imports")

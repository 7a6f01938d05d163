"""``kassa import`` and ``kassa imports``: load files, list and undo import batches."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kassa.cli_common import (
    DEFAULT_DB,
    ColumnsOption,
    ConfigOption,
    DbOption,
    JsonOption,
    LangOption,
    WideOption,
    console,
    err_console,
    open_warehouse,
    print_json,
)
from kassa.commands import COMMANDS
from kassa.i18n import Lang, Translator, fmt_number
from kassa.report.layout import Column, Grid, check_columns, parse_columns, print_grids, print_prose
from kassa.schema import KINDS

if TYPE_CHECKING:  # imported where used, so `kassa --help` loads no heavy library
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
    grid = Grid(
        _("Import", lang),
        [
            Column("file", _("file", lang), number=False, key=True),
            Column("kind", _("kind", lang), number=False),
            Column("loaded", _("loaded", lang)),
            Column("replaced", _("replaced", lang)),
            Column("rejected", _("rejected", lang)),
            Column("batch", _("batch", lang), number=False),
        ],
    )
    grid.add_rows(
        {
            "file": Path(f.file).name,
            "kind": f.kind,
            "loaded": fmt_number(f.rows_loaded, lang),
            "replaced": fmt_number(f.rows_replaced, lang),
            "rejected": fmt_number(f.rows_rejected, lang),
            "batch": str(f.batch_id)
            if f.batch_id
            else _("already #{batch}", lang, batch=f.already_imported_as),
        }
        for f in report.files
    )
    print_grids(console, [grid])
    errs = report.errors
    for e in errs[:50]:
        # The prefixes are translated; the reasons come from the readers in English (file, line, column, value).
        print_prose(
            err_console,
            (_("warning: ", lang) if e.row_kept else _("rejected: ", lang)) + str(e),
            hanging="  ",
        )
    if len(errs) > 50:
        print_prose(err_console, _("… and {n} more (use --json for all)", lang, n=len(errs) - 50))


@COMMANDS.register(name="data")
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
        lang: LangOption = Lang.EN,
    ) -> None:
        """Load files into the warehouse: all of them in one transaction, or nothing.

        Example: kassa import spend.csv visits.csv leads.csv --db shop.duckdb
        """
        from kassa.sources.registry import SOURCES

        if list_formats:
            grid = Grid(
                "Formats",
                [
                    Column("name", "name", number=False, key=True),
                    Column("what", "what", number=False),
                    Column("spec", "spec", number=False),
                ],
            )
            grid.add_rows({"name": s.name, "what": s.title, "spec": s.spec_url} for s in SOURCES.values())
            print_grids(console, [grid])
            return
        if not files:
            raise typer.BadParameter("name at least one file", param_hint="FILES")
        from kassa.errors import WarehouseTaken
        from kassa.store import handoff

        try:
            with open_warehouse(db, config, write=True) as wh, console.status("importing…") as status:
                report = wh.import_files(
                    files,
                    format=format,
                    kind=kind,
                    mapping=mapping,
                    strict=strict,
                    progress=lambda m: status.update(m),
                )
        except WarehouseTaken:
            # A running dashboard holds the warehouse: it runs the import for us (kassa.store.handoff).
            job = {
                "op": "import",
                "files": [str(f.resolve()) for f in files],
                "format": format,
                "kind": kind,
                "mapping": str(mapping.resolve()) if mapping else None,
                "strict": strict,
            }
            with console.status("importing through the running dashboard…"):
                answer = handoff.hand_over(db, job)
            if answer is None:
                raise
            report = handoff.report_from(answer)
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
        columns: ColumnsOption = None,
        wide: WideOption = False,
        lang: LangOption = Lang.EN,
    ) -> None:
        """List import batches: file, format, rows, period, when.

        Example: kassa imports --db shop.duckdb
        """
        if ctx.invoked_subcommand:
            return
        with open_warehouse(db, config) as wh:
            batches = wh.batches()
        if as_json:
            print_json(batches)
            return
        grid = Grid(
            _("Import batches", lang),
            [
                Column("id", _("id", lang), key=True),
                Column("file", _("file", lang), number=False),
                Column("format", _("format", lang), number=False),
                Column("kind", _("kind", lang), number=False),
                Column("loaded", _("loaded", lang)),
                Column("rejected", _("rejected", lang)),
                Column("replaced", _("replaced", lang)),
                Column("period", _("period", lang), number=False),
                Column("loaded_at", _("loaded at", lang), number=False),
                Column("undone", _("undone", lang), number=False),
            ],
            default=("file", "kind", "loaded", "rejected", "period"),
        )
        grid.add_rows(
            {
                "id": str(b["batch_id"]),
                "file": Path(b["file"]).name,
                "format": b["format"],
                "kind": b["kind"],
                "loaded": fmt_number(b["rows_loaded"], lang),
                "rejected": fmt_number(b["rows_rejected"], lang),
                "replaced": fmt_number(b["rows_replaced"], lang),
                # Spaces around the dash: a narrow column breaks the period between its two dates.
                "period": f"{b['period_start'] or '—'} – {b['period_end'] or '—'}",
                "loaded_at": f"{b['loaded_at']:%Y-%m-%d %H:%M}",
                "undone": f"{b['undone_at']:%Y-%m-%d %H:%M}" if b["undone_at"] else "",
            }
            for b in batches
        )
        shown = parse_columns(columns)
        check_columns([grid], shown)
        print_grids(console, [grid], columns=shown, wide=wide)

    @imports.command("undo")
    def imports_undo(
        batch_id: Annotated[int, typer.Argument(help="Batch id from `kassa imports`.")],
        db: DbOption = Path(DEFAULT_DB),
        config: ConfigOption = None,
        lang: LangOption = Lang.EN,
    ) -> None:
        """Remove a batch's rows and restore the rows it replaced.

        Example: kassa imports undo 3 --db shop.duckdb
        """
        from kassa.errors import WarehouseTaken
        from kassa.store import handoff

        try:
            with open_warehouse(db, config, write=True) as wh:
                res = wh.undo(batch_id)
        except WarehouseTaken:
            answer = handoff.hand_over(db, {"op": "undo", "batch_id": batch_id})
            if answer is None:
                raise
            res = answer["ok"]
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

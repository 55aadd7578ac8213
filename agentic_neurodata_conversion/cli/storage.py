"""`anc storage`: where the bytes of all datasets under a folder are, and safe cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..units import decimal_size
from .output import print_json

storage_app = typer.Typer(
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~90 ms at start-up
    help="Storage of the conversion and development datasets under a folder.",
    no_args_is_help=True,
)
DirArgument = Annotated[
    Path, typer.Argument(help="Folder holding the datasets (searched recursively).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(storage_app, name="storage")


@storage_app.command()
def analyze(
    directory: DirArgument = Path("."),
    top: Annotated[int, typer.Option("--top", min=1, help="How many largest files to list.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Bytes in git and in the annex, present and absent content, largest files, temporary
    files, unused annex objects and duplicates across datasets. Reads no file contents."""
    from ..monitoring import storage

    result = storage.analyze(directory, top=top)
    if as_json:
        print_json(result)
        return
    _render_analysis(result)


def _render_analysis(r: dict[str, Any]) -> None:
    t = r["totals"]
    echo = typer.echo
    echo(
        f"{r['base']}: {r['datasets']} dataset(s) ({r['conversion_datasets']} conversion, "
        f"{r['development_datasets']} development), scanned in {r['seconds']} s"
    )
    echo(
        f"  git:      {t['git_files']} files, {decimal_size(t['git_bytes'])} in HEAD, "
        f"{decimal_size(t['git_store_bytes'])} store on disk"
    )
    echo(
        f"  annexed:  {t['annexed_files']} files, {decimal_size(t['annexed_bytes'])}: "
        f"{t['present_files']} present ({decimal_size(t['present_bytes'])}), "
        f"{t['absent_files']} absent ({decimal_size(t['absent_bytes'])})"
    )
    echo(
        f"  unreferenced annex objects: {t['unreferenced_objects']} "
        f"({decimal_size(t['unreferenced_bytes'])})"
    )
    echo(f"  temporary files: {t['temporary_files']} ({decimal_size(t['temporary_bytes'])})")
    echo(
        f"  duplicate content: {t['duplicate_groups']} group(s), "
        f"{decimal_size(t['duplicate_saving_bytes'])} saved by a shared store or hardlinks"
    )
    if r["largest_files"]:
        echo("largest files:")
        for f in r["largest_files"]:
            state = "" if f["present"] else ", absent"
            echo(
                f"  {decimal_size(f['size']):>10}  {f['dataset']}/{f['path']} ({f['where']}{state})"
            )
    if r["duplicates"]:
        echo("duplicates:")
        for d in r["duplicates"][:10]:
            echo(
                f"  {decimal_size(d['size']):>10} x{d['copies']}  in {', '.join(d['datasets'][:4])}"
            )
    for p in r["problems"]:
        echo(f"problem: {p}", err=True)


@storage_app.command()
def cleanup(
    directory: DirArgument = Path("."),
    apply: Annotated[bool, typer.Option("--apply", help="Remove (default: only list).")] = False,
    unused: Annotated[
        bool,
        typer.Option(
            "--unused", help="Also unused annex objects (old versions; slower: git annex unused)."
        ),
    ] = False,
    min_age: Annotated[
        float,
        typer.Option(
            "--min-age", min=0, help="Only temporary files unchanged for this many seconds."
        ),
    ] = 600.0,
    as_json: JsonOption = False,
) -> None:
    """List, or with --apply remove, temporary files that nothing tracks (and with --unused
    unused annex objects). Never touches tracked content or anything outside DIRECTORY."""
    from ..monitoring import storage

    result = storage.cleanup(directory, apply=apply, unused=unused, min_age_s=min_age)
    if as_json:
        print_json(result)
    else:
        verb = "removed" if apply else "would remove"
        for f in result["temporary_files"]:
            mark = verb if f["removed"] or not apply else "kept"
            typer.echo(f"{mark}: {f['dataset']}/{f['path']} ({decimal_size(f['size'])})")
        for o in result["unused_objects"] or []:
            mark = verb if o["removed"] or not apply else "kept"
            typer.echo(
                f"{mark}: {o['dataset']} {o['kind']} object {o['key']} ({decimal_size(o['size'])})"
            )
        total = result["freed_bytes"] if apply else result["found_bytes"]
        typer.echo(
            f"{verb} {decimal_size(total)} in total" + ("" if apply else "; rerun with --apply")
        )
        for e in result["errors"]:
            typer.echo(f"problem: {e}", err=True)
    if result["errors"] and apply:
        raise typer.Exit(1)

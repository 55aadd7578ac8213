"""`anc dandi organize`, `anc dandi validate`: from conversions to an upload-ready dandiset."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .output import print_json


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="dandi",
        help="Organise completed conversions as a dandiset and validate it (offline).",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    group.command("organize")(organize)
    group.command("validate")(validate)
    app.add_typer(group)


def organize(
    sources: list[Path] = typer.Argument(..., help="A lab (folder of conversions) or conversions."),
    output: Path = typer.Option(..., "--output", help="The new dandiset folder (a dataset)."),
    dandiset_id: str | None = typer.Option(
        None, "--dandiset-id", help="Its id on DANDI (six digits), written to dandiset.yaml."
    ),
    allow_review: bool = typer.Option(
        False,
        "--allow-review",
        help="Organise conversions whose DANDI-required fields are still flagged for review.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Lay the NWB files out as `dandi organize` names them (no second copy: annex keys shared
    with the conversions), with provenance/ mapping each asset to its conversion."""
    from ..dandi.organize import organize as run_organize

    def say(message: str) -> None:
        if not as_json and sys.stderr.isatty():  # progress on a terminal only
            typer.echo(message, err=True)

    result = run_organize(
        sources, output, dandiset_id=dandiset_id, allow_review=allow_review, progress=say
    )
    if as_json:
        print_json(result.to_dict())
        return
    for path, cid in result.assets.items():
        typer.echo(f"{path}  <- {cid}")
    for cid, problems in result.allowed_review.items():
        typer.echo(f"warning: {cid} still needs review: {', '.join(problems)}", err=True)
    if result.skipped:
        typer.echo(f"left out (not completed): {', '.join(result.skipped)}", err=True)
    typer.echo(f"organised {len(result.assets)} assets in {result.dandiset}")
    if result.dandiset_id is None:
        typer.echo("register the dandiset on DANDI and organise with --dandiset-id ID, then:")
    typer.echo(f"upload with: {result.upload_command}")


def validate(
    dandiset: Path = typer.Argument(..., help="A dandiset folder made by `anc dandi organize`."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Run `dandi validate` (offline) and our checks: provenance, shared keys, subjects."""
    from ..dandi.validate import validate as run_validate

    report = run_validate(dandiset)
    if as_json:
        print_json(report.to_dict())
    else:
        for f in report.findings:
            typer.echo(f"[{f.source} {f.severity}] {f.path}: {f.message}")
        verdict = "valid" if report.ok else f"INVALID ({len(report.errors)} errors)"
        typer.echo(f"{report.dandiset}: {report.assets} assets, {verdict}")
    if not report.ok:
        raise typer.Exit(1)

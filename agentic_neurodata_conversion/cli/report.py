"""`anc report`: a conversion's report (Markdown, HTML, JSON, PROV, RO-Crate) from its journal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import IntegrityError

FORMAT_HELP = "md, html, json, prov-json, prov-n, prov-o or rocrate."


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    conversion: Annotated[Path, typer.Argument(help="The conversion_<id> folder.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "md",
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE instead of printing to stdout."),
    ] = None,
) -> None:
    """Render a conversion's report from its journal alone.

    Prints to stdout unless -o FILE is given. When the journal's hash chain is broken the
    report is still written, marking what cannot be trusted; a warning goes to stderr and
    the exit code is 4.
    """
    from ..reports.api import check_format, render, write_view
    from ..reports.model import build_view

    check_format(fmt)
    view = build_view(conversion)
    if out is None:
        sys.stdout.write(render(view, fmt))
    else:
        typer.echo(f"wrote {write_view(view, fmt, out)}", err=True)
    if not view.integrity.ok:
        integ = view.integrity
        typer.echo(
            f"WARNING: the journal of {view.path} failed its integrity check "
            f"({len(integ.problems)} problems, {len(integ.untrusted)} untrusted records); "
            f"the report marks them. Run `anc check {view.path}` for details.",
            err=True,
        )
        raise typer.Exit(IntegrityError.exit_code)

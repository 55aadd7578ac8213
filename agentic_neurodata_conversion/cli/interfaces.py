"""`anc interfaces`: the NeuroConv data interfaces, their pip extras and which are installed."""

from __future__ import annotations

from typing import Annotated

import typer

from .output import console, print_json


def register(app: typer.Typer) -> None:
    app.command("interfaces")(interfaces)


def interfaces(
    modality: Annotated[
        str | None,
        typer.Option("--modality", help="Only this modality (ecephys, ophys, behavior, ...)."),
    ] = None,
    installed: Annotated[
        bool, typer.Option("--installed", help="Only those whose extra is installed.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List NeuroConv's data interfaces: modality, the neuroconv[extra] each needs, installed."""
    from ..conversion.interfaces import list_interfaces

    infos = list_interfaces(modality=modality, installed_only=installed)
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    from rich.table import Table

    table = Table("name", "modality", "extra", "installed")
    for i in infos:
        table.add_row(i.name, i.modality, i.extra or "-", "yes" if i.installed else "no")
    out = console()
    out.print(table)
    ready = sum(i.installed for i in infos)
    others = '; the others: pip install "neuroconv[<extra>]"' if ready < len(infos) else ""
    out.print(f"{len(infos)} interfaces, {ready} installed{others}", highlight=False, markup=False)

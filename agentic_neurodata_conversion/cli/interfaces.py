"""`anc interfaces`: every NeuroConv data interface, the extra it needs, whether installed."""

from __future__ import annotations

import typer

from .output import console, print_json


def register(app: typer.Typer) -> None:
    app.command("interfaces")(interfaces)


def interfaces(
    modality: str | None = typer.Option(
        None, "--modality", help="Only this modality (ecephys, ...)."
    ),
    installed: bool = typer.Option(False, "--installed", help="Only those installed here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the NeuroConv interfaces a YAML spec or a converter can use."""
    from ..conversion.interfaces import list_interfaces

    chosen = [
        i
        for i in list_interfaces()
        if (modality is None or i.modality == modality) and (i.installed or not installed)
    ]
    if as_json:
        print_json([i.to_dict() for i in chosen])
        return
    from rich.table import Table

    table = Table("interface", "modality", "extra", "installed")
    for i in chosen:
        table.add_row(i.name, i.modality, i.extra or "-", "yes" if i.installed else f"no: {i.pip}")
    console().print(table)

"""`anc demo`: the main job on its embedded default (replaced by a real conversion in issue 4)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo() -> None:
    """Run the embedded demo."""
    raise typer.Exit(0)

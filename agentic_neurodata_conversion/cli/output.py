"""Shared output helpers: JSON to stdout, human text through rich, errors to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr)


def stage_printer():
    """A progress callback showing each stage on a terminal; None (quiet) otherwise."""
    if not sys.stderr.isatty():
        return None
    err = console(stderr=True)

    def show(stage: str, message: str) -> None:
        err.print(f"[bold cyan]{stage:>9}[/] {message}")

    return show

"""Shared output helpers: JSON to stdout, human text through rich, errors to stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


PIPED_WIDTH = 200  # wide enough that no id, tag or path in a table is cut


def console(stderr: bool = False):
    """Rich output; when piped, rich's 80 columns would cut ids and tags with an ellipsis."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
    return Console(stderr=stderr, width=width)


def stage_printer():
    """A progress callback showing each stage on a terminal; None (quiet) otherwise."""
    if not sys.stderr.isatty():
        return None
    err = console(stderr=True)

    def show(stage: str, message: str) -> None:
        err.print(f"[bold cyan]{stage:>9}[/] {message}")

    return show

"""Validation of names that become paths: conversion ids, artifact and dataset names."""

from __future__ import annotations

import re
import unicodedata

from .errors import UsageError

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def check_name(name: str, what: str) -> str:
    """Return NAME if it is safe as a single path component, else raise UsageError.

    Refused: empty, '/', '..', control characters, leading dot or dash, over 128 chars.
    """
    if not isinstance(name, str) or not name:
        raise UsageError(f"{what} is empty", f"give a {what} of letters, digits, '.', '_', '-'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UsageError(f"{what} {name!r} contains control characters", "use printable characters")
    if "/" in name or "\\" in name or ".." in name:
        raise UsageError(f"{what} {name!r} contains '/', '\\' or '..'", f"give a plain {what}")
    if not _SAFE.match(name):
        raise UsageError(
            f"{what} {name!r} is not allowed",
            "use 1-128 letters, digits, '.', '_', '+', '-', starting with a letter or digit",
        )
    return name


def slug(text: str, fallback: str = "recording", limit: int = 40) -> str:
    """A safe name made from TEXT (a folder an acquisition system named: ``Record Node 105``,
    ``Maus Zürich 3``): accents dropped, every other run of unsafe characters one '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", ascii_text).strip("-._+")[:limit].strip("-._+")
    return name.replace("..", ".") or fallback

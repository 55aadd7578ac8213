"""Listing conversions under a folder from their small state files (no worktree walk).

Per conversion it reads provenance/conversion.json and pipeline_state.json, the tag from
.git/refs (or packed-refs), and NWB sizes from the annex keys in the output symlinks
(``...-s<size>--<hash>.nwb``): no file content is read and no git command is run.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..datalad_layer.keys import key_of_file
from ..errors import UsageError
from .finalize import tag_name
from .layout import CONVERSION_FILE, STATE_FILE


@dataclass
class ConversionInfo:
    conversion_id: str
    path: str
    status: str
    tag: str | None
    started: str
    ended: str | None
    nwb_files: list[str]
    nwb_bytes: int
    validation: dict[str, int] | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in PATH; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def has_tag(root: Path, tag: str) -> bool:
    git_dir = root / ".git"
    if (git_dir / "refs" / "tags" / tag).is_file():
        return True
    try:
        packed = (git_dir / "packed-refs").read_text()
    except OSError:
        return False
    return f"refs/tags/{tag}\n" in packed


def _nwb_sizes(outputs: Path) -> tuple[list[str], int]:
    names, total = [], 0
    try:
        entries = list(os.scandir(outputs))
    except OSError:
        return names, total
    for entry in entries:
        if not entry.name.endswith(".nwb"):
            continue
        names.append(entry.name)
        if entry.is_symlink():
            key = key_of_file(entry.path)
            if key is not None and key.size is not None:
                total += key.size
                continue
        with contextlib.suppress(OSError):
            total += entry.stat().st_size
    return sorted(names), total


def conversion_info(root: Path) -> ConversionInfo:
    info = read_json_object(root / CONVERSION_FILE)
    state = read_json_object(root / STATE_FILE)
    cid = str(info.get("conversion_id", root.name.removeprefix("conversion_")))
    tag = tag_name(cid, int(info.get("revision", 1)))
    names, size = _nwb_sizes(root / "outputs")
    return ConversionInfo(
        conversion_id=cid,
        path=str(root),
        status=str(info.get("status", "unknown")),
        tag=tag if has_tag(root, tag) else None,
        started=str(info.get("start_time", "")),
        ended=info.get("end_time"),
        nwb_files=names,
        nwb_bytes=size,
        validation=state.get("validation_counts"),
        error=info.get("error"),
    )


def find_conversions(base: str | Path, max_depth: int = 2) -> Iterator[Path]:
    """Conversion datasets at BASE or up to MAX_DEPTH folders below it (not inside them)."""
    base = Path(base)
    if not base.is_dir():
        raise UsageError(
            f"{base} is not a folder", "give the folder that holds conversion_<id> folders"
        )
    if (base / CONVERSION_FILE).is_file():
        yield base
        return
    level = [base]
    for _ in range(max_depth):
        nxt = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                if (path / CONVERSION_FILE).is_file():
                    yield path
                else:
                    nxt.append(path)
        level = nxt


def list_conversions(base: str | Path) -> list[ConversionInfo]:
    return [conversion_info(p) for p in find_conversions(base)]

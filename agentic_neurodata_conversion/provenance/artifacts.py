"""Artifacts of a conversion placed where their type says, without storing big bytes twice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import UsageError
from ..names import check_name

ARTIFACT_DIRS = {
    "nwb_file": "outputs",
    "knowledge_graph": "outputs",
    "conversion_script": "scripts",
    "validation_report": "reports",
    "evaluation_report": "reports",
    "input_data": "inputs",
}
ARTIFACT_MODES = ("copy", "move")


def target_of(root: Path, source: Path, artifact_type: str, mode: str, name: str | None) -> Path:
    """Where an artifact of ARTIFACT_TYPE goes in the conversion at ROOT (refusing bad input)."""
    if artifact_type not in ARTIFACT_DIRS:
        raise UsageError(
            f"unknown artifact type {artifact_type!r}", f"use one of: {', '.join(ARTIFACT_DIRS)}"
        )
    if mode not in ARTIFACT_MODES:
        raise UsageError(
            f"unknown artifact mode {mode!r}", f"use one of: {', '.join(ARTIFACT_MODES)}"
        )
    if not source.exists() and not source.is_symlink():
        raise UsageError(
            f"artifact {source} does not exist", "give the path of an existing file or folder"
        )
    return root / ARTIFACT_DIRS[artifact_type] / check_name(name or source.name, "artifact name")


def place(root: Path, source: Path, target: Path, *, mode: str, replace: bool) -> None:
    """Copy or move SOURCE to TARGET through a temporary name, so a crash leaves no half file.

    A replaced file is unlinked first: an annexed one is a symlink into the annex, and its
    object must never be written to.
    """
    if source.is_relative_to(root / ".git"):
        raise UsageError(
            f"{source} is inside the dataset's .git folder", "give a file outside .git"
        )
    if target.exists() or target.is_symlink():
        if not replace:
            raise UsageError(
                f"artifact {target.relative_to(root)} already exists",
                "pass replace=True to add a new version (the old one stays in the history)",
            )
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.anc-partial")
    try:
        if mode == "move":
            shutil.move(str(source), str(tmp))  # a rename on the same filesystem
        elif source.is_dir():
            shutil.copytree(source, tmp, symlinks=False)
        else:
            shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def tree_size(path: Path) -> int:
    """Bytes of a file or folder, following annex symlinks to their content when present."""
    if path.is_dir() and not path.is_symlink():
        return sum(tree_size(p) for p in path.iterdir())
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

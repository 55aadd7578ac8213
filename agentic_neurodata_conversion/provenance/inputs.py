"""Source recordings brought into a conversion: subdataset, reference manifest, or copy.

- ``subdataset``: the source lies in a DataLad dataset; it is cloned into ``inputs/NAME`` as
  a registered subdataset (YODA: by reference, its history and annex keys kept), with the
  annex of the origin shared so no content is copied.
- ``reference``: a manifest ``inputs/NAME.manifest.json`` of paths, sizes and sha256 of the
  source files; ``verify_inputs`` detects any later change of the source.
- ``copy``: an annexed copy under ``inputs/NAME`` (the source stays untouched).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..datalad_layer import dataset as dlayer
from ..errors import UsageError
from ..names import check_name

if TYPE_CHECKING:
    from datalad.api import Dataset

INPUT_MODES = ("auto", "subdataset", "reference", "copy")
MANIFEST_SUFFIX = ".manifest.json"
_CHUNK = 1 << 20


@dataclass
class InputRef:
    name: str
    mode: str
    path: str  # inside the conversion dataset
    source: str
    files: int
    bytes: int
    reason: str
    dataset_id: str | None = None
    dataset_commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def add_input(
    dataset: Dataset, root: Path, source: Path, *, mode: str, name: str | None
) -> InputRef:
    if mode not in INPUT_MODES:
        raise UsageError(f"unknown input mode {mode!r}", f"use one of: {', '.join(INPUT_MODES)}")
    source = source.absolute()
    if not source.exists():
        raise UsageError(
            f"input {source} does not exist", "give the folder or file of the recording"
        )
    if source == root or source.is_relative_to(root) or root.is_relative_to(source):
        raise UsageError(
            f"input {source} overlaps the conversion folder {root}",
            "keep the source recording outside the output folder",
        )
    name = check_name(name or source.name, "input name")
    origin = dlayer.enclosing_dataset(source)
    # A clone of a dataset that holds the conversion would hold the conversion itself.
    holds_us = origin is not None and root.is_relative_to(origin)
    unsaved = origin is not None and not holds_us and _has_unsaved(origin, source)
    if mode == "auto":
        mode = "subdataset" if origin is not None and not unsaved and not holds_us else "reference"
    target = root / "inputs" / name
    if target.exists() or target.with_name(name + MANIFEST_SUFFIX).exists():
        raise UsageError(f"input {name!r} is already part of this conversion", "give another name")
    if mode == "subdataset":
        if origin is None:
            raise UsageError(
                f"{source} is not inside a DataLad dataset",
                "use --input-mode reference or copy, or make the source a dataset",
            )
        if holds_us:
            raise UsageError(
                f"the dataset {origin} holding {source} also holds the conversion {root}: "
                "as a subdataset input it would be cloned into itself",
                "use --input-mode reference or copy, or put the conversions outside that dataset",
            )
        if unsaved:
            raise UsageError(
                f"{source} has changes not saved in its dataset {origin}",
                f"run `datalad save -d {origin}` first, or use --input-mode reference or copy",
            )
        return _as_subdataset(dataset, source, origin, target, name)
    files = _walk_files(source)
    if not files:
        raise UsageError(f"input {source} holds no files", "give the folder of the recording")
    if mode == "reference":
        ref = _as_reference(root, source, files, target.with_name(name + MANIFEST_SUFFIX), name)
        if holds_us:
            ref.reason += f"; not a subdataset: its dataset {origin} also holds the conversion"
        return ref
    return _as_copy(root, source, files, target, name)


def _has_unsaved(origin: Path, source: Path) -> bool:
    """Untracked or modified files under SOURCE (a clone would not have them)."""
    rel = source.relative_to(origin).as_posix() or "."
    out = dlayer.git(origin, "status", "--porcelain", "-z", "--untracked-files=all", "--", rel)
    return bool(out.strip(b"\0"))


def _as_subdataset(
    dataset: Dataset, source: Path, origin: Path, target: Path, name: str
) -> InputRef:
    # Ephemeral: share the origin's annex, so content is available and nothing is copied.
    sub = dlayer.install_subdataset(dataset, str(origin), target, reckless="ephemeral")
    inner = source.relative_to(origin)
    files = _walk_files(target / inner)
    return InputRef(
        name=name,
        mode="subdataset",
        path=(Path("inputs") / name / inner).as_posix(),
        source=str(source),
        files=len(files),
        bytes=sum(_size(p) for p in files),
        reason=f"the source lies in the DataLad dataset {origin}: referenced as a subdataset, no copy",
        dataset_id=sub.id,
        dataset_commit=dlayer.git(target, "rev-parse", "HEAD").decode().strip(),
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # annexed content not present
        return 0


def _as_reference(
    root: Path, source: Path, files: list[Path], manifest: Path, name: str
) -> InputRef:
    base = source if source.is_dir() else source.parent
    entries = []
    for path in files:
        st = path.stat()
        entries.append(
            {
                "path": path.relative_to(base).as_posix(),
                "size": st.st_size,
                "sha256": sha256_file(path),
            }
        )
    manifest.write_text(
        json.dumps({"source": str(base), "name": name, "files": entries}, indent=2) + "\n"
    )
    return InputRef(
        name=name,
        mode="reference",
        path=manifest.relative_to(root).as_posix(),
        source=str(source),
        files=len(entries),
        bytes=sum(e["size"] for e in entries),
        reason="recorded by reference: paths, sizes and sha256, so a later change is detected",
    )


def copy_into(source: Path, folder: Path) -> None:
    """Create FOLDER holding SOURCE: a folder's tree (without ``.git``), or a file in it."""
    if source.is_dir():
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns(".git"))
    else:
        folder.mkdir()
        shutil.copy2(source, folder / source.name)


def _as_copy(root: Path, source: Path, files: list[Path], target: Path, name: str) -> InputRef:
    tmp = target.with_name(f".{name}.anc-partial")
    try:
        copy_into(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return InputRef(
        name=name,
        mode="copy",
        path=target.relative_to(root).as_posix(),
        source=str(source),
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        reason="copied into the dataset and annexed; the source is left untouched",
    )


def verify_inputs(root: Path) -> list[str]:
    """Describe every difference between reference manifests and their sources now."""
    problems: list[str] = []
    for manifest in sorted((root / "inputs").glob("*" + MANIFEST_SUFFIX)):
        data = json.loads(manifest.read_text())
        base = Path(data["source"])
        for entry in data["files"]:
            path = base / entry["path"]
            if not path.is_file():
                problems.append(f"{data['name']}: {entry['path']} is missing from {base}")
            elif path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
                problems.append(f"{data['name']}: {entry['path']} changed since it was recorded")
    return problems

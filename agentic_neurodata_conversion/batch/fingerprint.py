"""Has a session's source, or what the run applies to it, changed since it was converted?

A quick fingerprint (every input file's path, size and modification time) decides without
reading the data; when it differs, the sha256 the conversion recorded in its reference
manifests decides, so a copied or touched but unchanged source is not converted again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..provenance.inputs import MANIFEST_SUFFIX, sha256_file


def _files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    if root.is_file():
        yield root.name, root.stat()
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            path = Path(folder, name)
            yield path.relative_to(root).as_posix(), path.stat()


def fingerprint(inputs: Sequence[Path]) -> str:
    """sha256 of the sorted (input, file, size, mtime) of every file of INPUTS."""
    digest = hashlib.sha256()
    for root in sorted(inputs):
        for relative, st in _files(root):
            digest.update(f"{root}\0{relative}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def settings_digest(metadata_file: Path | None) -> str:
    """sha256 of what a run applies to every session beyond its source: the content of
    --metadata (a changed file converts again; a moved one with the same content does not)."""
    digest = hashlib.sha256(b"metadata\0")
    if metadata_file is not None:
        digest.update(Path(metadata_file).read_bytes())
    return digest.hexdigest()


def same_content(conversion: Path, inputs: Sequence[Path]) -> bool:
    """Whether INPUTS hold exactly the files, sizes and sha256 CONVERSION recorded (False
    when it recorded no manifest for one of them: then only the fingerprint can tell)."""
    recorded: dict[str, dict[str, tuple[int, str]]] = {}
    for manifest in (conversion / "inputs").glob("*" + MANIFEST_SUFFIX):
        data = json.loads(manifest.read_text())
        recorded[data["source"]] = {e["path"]: (e["size"], e["sha256"]) for e in data["files"]}
    for root in inputs:
        base = root if root.is_dir() else root.parent
        files = recorded.get(str(base))
        if files is None:
            return False
        now = dict(_files(root))
        if set(now) != set(files):
            return False
        for relative, st in now.items():
            size, sha = files[relative]
            if st.st_size != size or sha256_file(base / relative) != sha:
                return False
    return True

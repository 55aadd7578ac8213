"""Annexed files of other datasets placed in a dataset under the same keys: no second copy.

Each file becomes an annexed symlink (as ``git annex add`` makes it) whose object is a hard
link to the other dataset's annex object: one inode, one key, the bytes stored once. The
content's presence is recorded in the git-annex branch with one batched ``setpresentkey``
and the other dataset's object path is registered as a URL of the key (``file://``), so a
clone can get the content from there too (git-annex allows ``file`` URLs only when
``annex.security.allowed-url-schemes`` names the scheme). Nothing is read but the
symlinks (the keys are in their targets); nothing is hashed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .git import call_git
from .keys import AnnexKey, key_of_file


@dataclass(frozen=True, slots=True)
class SharedFile:
    """REL in the dataset takes the key (and the object) of the annexed file SOURCE."""

    rel: str
    source: Path


def annexed_key(path: Path) -> AnnexKey:
    """The key of the annexed file PATH whose content is present (UsageError otherwise)."""
    key = key_of_file(path)
    if key is None:
        raise UsageError(f"{path} is not an annexed file", "only annexed NWB files are shared")
    if not path.resolve().is_file():
        raise UsageError(f"the content of {path} is not present", f"`datalad get {path}` first")
    return key


def share_annexed(repo: str | Path, files: Sequence[SharedFile]) -> list[AnnexKey]:
    """Place FILES in the dataset REPO (not committed) under their sources' keys."""
    root = Path(repo).absolute()
    keys = [annexed_key(f.source) for f in files]
    if not files:
        return keys
    dirs = _object_dirs(root, keys)
    objects = root / ".git" / "annex" / "objects"
    for item, key, hashdir in zip(files, keys, dirs, strict=True):
        folder = objects / hashdir / key.file_name
        target = folder / key.file_name
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            try:
                os.link(item.source.resolve(), target)
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    raise UsageError(
                        f"{root} is on another file system than {item.source}: the NWB file "
                        "would be stored twice",
                        "choose an --output on the file system holding the conversions",
                    ) from None
                raise
            folder.chmod(0o555)  # as git-annex leaves an object's folder
        link = root / item.rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(os.path.relpath(target, link.parent))
    uuid = call_git(root, "config", "annex.uuid").decode().strip()
    present = "".join(f"{key} {uuid} 1\n" for key in keys)
    call_git(root, "annex", "setpresentkey", "--batch", input=present.encode())
    urls = "".join(
        f"{key} {f.source.resolve().as_uri()}\n" for key, f in zip(keys, files, strict=True)
    )
    call_git(root, "annex", "registerurl", "--batch", input=urls.encode())
    return keys


def _object_dirs(root: Path, keys: Sequence[AnnexKey]) -> list[str]:
    """git-annex's hash folder of each key in a non-bare repository (one batched call)."""
    lines = "".join(f"{key}\n" for key in keys).encode()
    out = call_git(
        root, "annex", "examinekey", "--batch", "--format=${hashdirmixed}\n", input=lines
    )
    dirs = out.decode().splitlines()
    if len(dirs) != len(keys):
        raise UsageError("git annex examinekey did not answer for every key", "run it by hand")
    return dirs

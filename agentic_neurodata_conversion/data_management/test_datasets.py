"""Test datasets inside the development dataset.

A dataset added by name lives in ``etl/input-data/NAME/`` with a ``dataset_metadata.json``.
Its files are copied (the user's source stays untouched) into a staging folder inside
``.git/``, renamed into place in one step, and saved: ``save`` moves large content into the
annex, so the dataset holds one copy. Any failure before the commit removes what was written.
Other datasets (local paths or URLs) are installed as subdatasets without their content.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import timing
from ..datalad_layer import dataset as dsops
from ..datalad_layer.integrity import git_dir, list_subdatasets
from ..errors import DataLadError, UsageError
from ..provenance.inputs import copy_into
from .repository import (
    INPUT_DATA,
    DataLadRepositoryManager,
    find_development_dataset,
    head_commit,
)

if TYPE_CHECKING:
    from datalad.api import Dataset

METADATA_FILE = "dataset_metadata.json"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
# Files at least this big are annexed even when a rule would keep them in git (big text).
LARGE_FILE_BYTES = 10 * 1024 * 1024
STAGING = "anc-staging"


def validate_dataset_name(name: str) -> str:
    """Return NAME if it can be a folder name under etl/input-data, else raise UsageError."""
    if not name or not name.strip():
        raise UsageError("dataset name is empty", "give a name such as `ecephys-session-1`")
    if "/" in name or "\\" in name or ".." in name or not NAME_PATTERN.fullmatch(name):
        raise UsageError(
            f"invalid dataset name {name!r}",
            "use letters, digits, '.', '_', '+' and '-', at most 100 characters, no '/' or '..'",
        )
    return name


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_metadata(
    name: str,
    description: str,
    source: str,
    files: list[dict[str, Any]],
    custom: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of a dataset_metadata.json (version 1, or one above PREVIOUS)."""
    meta: dict[str, Any] = {
        "name": name,
        "description": description,
        "source": source,
        "added": utc_timestamp(),
        "version": 1,
        "custom_metadata": custom or {},
        "files": files,
        "total_size": sum(f["size"] for f in files),
    }
    if previous is not None:
        meta["version"] = int(previous.get("version", 1)) + 1
        older = previous.get("previous_versions", [])
        keep = {k: previous.get(k) for k in ("version", "added", "source", "description")}
        meta["previous_versions"] = [*older, keep]
    return meta


def list_files(folder: Path) -> list[dict[str, Any]]:
    """Relative path and size of every file below FOLDER, sorted."""
    files = []
    for dirpath, _dirs, names in os.walk(folder):
        for fname in names:
            full = Path(dirpath) / fname
            files.append({"path": full.relative_to(folder).as_posix(), "size": full.stat().st_size})
    return sorted(files, key=lambda f: f["path"])


class TestDatasetManager:
    """Adds, installs and lists test datasets of a development dataset."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, repository_manager: DataLadRepositoryManager) -> None:
        self.repo_manager = repository_manager
        self.test_data_path = repository_manager.base_path / INPUT_DATA

    # --- adding ---------------------------------------------------------------------------

    def add_test_dataset(
        self,
        dataset_name: str,
        source_path: str | Path,
        description: str = "",
        metadata: dict[str, Any] | None = None,
        *,
        new_version: bool = False,
    ) -> dict[str, Any]:
        """Copy SOURCE_PATH (file or folder) in as etl/input-data/NAME; return its metadata.

        A NAME already present is refused unless NEW_VERSION, which replaces its files in a
        new commit (the old version stays in the history and the annex).
        """
        name = validate_dataset_name(dataset_name)
        source = self._checked_source(Path(source_path).expanduser())
        root = find_development_dataset(self.repo_manager.base_path)
        target = root / INPUT_DATA / name
        previous = self._previous(root, target, new_version)
        ds = dsops.open_dataset(root)
        with staging_area(root) as area:
            build = area / name
            _copy_in(source, build)
            meta = build_metadata(
                name, description, str(source), list_files(build), metadata, previous
            )
            (build / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
            aside = area / "previous" if previous is not None else None
            _swap_in_and_save(ds, root, build, target, aside, meta)
        return meta

    @staticmethod
    def _checked_source(source: Path) -> Path:
        if not source.exists():
            raise UsageError(f"source {source} does not exist", "check the path")
        if source.is_dir() and (source / ".git").exists():
            raise UsageError(
                f"source {source} is a git repository or dataset",
                "install it as a subdataset with `anc dev install SOURCE PATH`",
            )
        if source.is_dir() and (source / METADATA_FILE).exists():
            raise UsageError(
                f"source {source} already contains a {METADATA_FILE}",
                "rename that file in the source first",
            )
        return source.absolute()

    @staticmethod
    def _previous(root: Path, target: Path, new_version: bool) -> dict[str, Any] | None:
        """Metadata of the version being replaced; refuses a present NAME without NEW_VERSION."""
        if not os.path.lexists(target):
            return None
        if not new_version:
            raise UsageError(
                f"dataset {target.name!r} already exists in {target.parent}",
                "choose another name, or pass --new-version to add a new version of it",
            )
        rel = target.relative_to(root).as_posix()
        dirty = dsops.git(root, "status", "--porcelain", "-z", "--", rel)
        if dirty:
            raise UsageError(
                f"{rel} has unsaved changes", "save or revert them before adding a new version"
            )
        try:
            return json.loads((target / METADATA_FILE).read_text())
        except (OSError, ValueError):
            return {}

    # --- subdatasets ----------------------------------------------------------------------

    def install_subdataset(
        self, subdataset_url: str, subdataset_path: str | Path
    ) -> dict[str, Any]:
        """Install a dataset (local path or URL) as a subdataset, without its content."""
        root = find_development_dataset(self.repo_manager.base_path)
        return install_subdataset(root, subdataset_url, subdataset_path)

    # --- listing --------------------------------------------------------------------------

    def get_available_datasets(self) -> list[dict[str, Any]]:
        """Metadata of every dataset in etl/input-data (read straight from the json files)."""
        base = self.test_data_path
        if not base.is_dir():
            return []
        found = []
        for entry in sorted(os.scandir(base), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            found.append(
                _read_metadata(Path(entry.path)) | {"path": (INPUT_DATA / entry.name).as_posix()}
            )
        return found

    def get_subdatasets(self) -> list[dict[str, Any]]:
        """Registered subdatasets: path, source and whether each is installed."""
        return [vars(s) for s in list_subdatasets(self.repo_manager.base_path)]


def _read_metadata(folder: Path) -> dict[str, Any]:
    try:
        with open(folder / METADATA_FILE, "rb") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"name": folder.name, "description": f"No {METADATA_FILE} available"}
    except (OSError, ValueError) as exc:
        return {"name": folder.name, "description": f"Unreadable {METADATA_FILE}: {exc}"}


def _swap_in_and_save(
    ds: Dataset, root: Path, build: Path, target: Path, aside: Path | None, meta: dict[str, Any]
) -> None:
    """Move BUILD to TARGET (the old version to ASIDE) and save; undo all on failure."""
    head = head_commit(root)
    if aside is not None:
        os.rename(target, aside)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(build, target)
    what = "Add" if aside is None else f"Add version {meta['version']} of"
    try:
        annex_large_files(root, target)
        dsops.save(ds, f"{what} test dataset {meta['name']}", paths=[target])
    except BaseException:
        if head_commit(root) == head:
            rel = target.relative_to(root).as_posix()
            dsops.git(root, "reset", "-q", "--", rel, check=False)
            shutil.rmtree(target, ignore_errors=True)
            if aside is not None:
                os.rename(aside, target)
        raise


@contextmanager
def staging_area(root: Path) -> Iterator[Path]:
    """A private folder inside .git/ (same file system, never seen by git), removed at exit."""
    base = git_dir(root) / STAGING
    base.mkdir(exist_ok=True)
    area = Path(tempfile.mkdtemp(dir=base))
    try:
        yield area
    finally:
        shutil.rmtree(area, ignore_errors=True)


def _copy_in(source: Path, build: Path) -> None:
    """Copy SOURCE (file or folder) to BUILD/; unreadable parts raise UsageError."""
    try:
        copy_into(source, build)
    except (OSError, shutil.Error) as exc:
        raise UsageError(
            f"cannot copy {source}: {_first_error(exc)}", "check that every file in it can be read"
        ) from exc


def _first_error(exc: OSError | shutil.Error) -> str:
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        src, _dst, why = exc.args[0][0]
        return f"{src}: {why}"
    return str(exc)


def annex_large_files(root: Path, folder: Path) -> None:
    """Annex every file of FOLDER above LARGE_FILE_BYTES, whatever the rules say."""
    large = [
        str(Path(d, f).relative_to(root))
        for d, _dirs, names in os.walk(folder)
        for f in names
        if Path(d, f).stat().st_size >= LARGE_FILE_BYTES
    ]
    for start in range(0, len(large), 500):
        dsops.git(
            root, "annex", "add", "--force-large", "--quiet", "--", *large[start : start + 500]
        )


def install_subdataset(root: Path, source: str, path: str | Path) -> dict[str, Any]:
    """Clone SOURCE into ROOT/PATH as a registered subdataset; nothing is left on failure."""
    target = _subdataset_target(root, Path(path))
    if "://" not in source and ":" not in source.split("/", 1)[0]:
        local = Path(source).expanduser()
        if not local.exists():
            raise UsageError(f"source {source} does not exist", "check the path or URL")
        source = str(local.absolute())
    created = [p for p in (target, *target.parents) if not p.exists() and root in p.parents]
    try:
        dsops.install_subdataset(dsops.open_dataset(root), source, target)
    except DataLadError as exc:
        for folder in created:  # innermost first; only the empty folders we made
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise DataLadError(
            f"cannot install {source}: {clone_failure(exc.message)}",
            "check the URL or path and the network",
        ) from exc
    return {"path": target.relative_to(root).as_posix(), "source": source, "installed": True}


def _subdataset_target(root: Path, path: Path) -> Path:
    target = (path if path.is_absolute() else root / path).absolute()
    if ".." in path.parts or root not in target.parents:
        raise UsageError(f"{path} is not a path inside {root}", "give a path inside the dataset")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} already exists", "choose a new path for the subdataset")
    return target


def clone_failure(message: str) -> str:
    """The first reason git gave in DataLad's long clone failure message."""
    found = re.search(r"(?:fatal|error): (.+?)'?\]", message)
    return found.group(1) if found else message[:300]


def update_subdatasets(root: Path) -> dict[str, Any]:
    """Merge new commits from each installed subdataset's origin; record them in ROOT."""
    subs = [s.path for s in list_subdatasets(root) if s.installed]
    report: dict[str, Any] = {"updated": [], "unchanged": [], "failed": []}
    if not subs:
        return report
    before = {p: head_commit(root / p) for p in subs}
    with timing.timed("datalad.update"):
        results = dsops.open_dataset(root).update(
            path=subs, recursive=True, how="merge", **dsops.API_OPTIONS
        )
    failed = {
        Path(r["path"]).relative_to(root).as_posix(): dsops.message_of(r)
        for r in results
        if r.get("status") in dsops.FAILED and r.get("path")
    }
    for path in subs:
        if path in failed:
            report["failed"].append({"path": path, "reason": failed[path]})
        elif head_commit(root / path) != before[path]:
            report["updated"].append(path)
        else:
            report["unchanged"].append(path)
    return report


def get_content(root: Path, path: str | Path) -> dict[str, Any]:
    """Fetch PATH (a file or folder, usually inside a subdataset) and nothing else."""
    target = Path(os.path.normpath(root / path))
    if target != root and root not in target.parents:
        raise UsageError(f"{path} is not inside {root}", "give a path inside the dataset")
    results = dsops.get(dsops.open_dataset(root), target)
    files = [r for r in results if r.get("type") == "file" and r.get("action") == "get"]
    return {
        "path": target.relative_to(root).as_posix() or ".",
        "fetched_files": sum(r.get("status") == "ok" for r in files),
        "already_present": sum(r.get("status") == "notneeded" for r in files),
        "installed_subdatasets": [
            Path(r["path"]).relative_to(root).as_posix()
            for r in results
            if r.get("action") == "install" and r.get("status") == "ok"
        ],
    }

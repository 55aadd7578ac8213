"""Files committed with a registration (a batch's record): in the same commit, in the work
tree, and brought to HEAD by the repair after a crash between commit and work tree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agentic_neurodata_conversion.datalad_layer import annex
from agentic_neurodata_conversion.datalad_layer.dataset import create_dataset
from agentic_neurodata_conversion.datalad_layer.git import call_git
from agentic_neurodata_conversion.datalad_layer.register import (
    PENDING,
    read_subdataset,
    register_subdatasets,
    registered_paths,
    repair_registration,
)


def small_dataset(path: Path) -> None:
    (path / ".datalad").mkdir(parents=True)
    (path / ".datalad" / "config").write_text('[datalad "dataset"]\n\tid = 1234-abcd\n')
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    call_git(path, "add", ".datalad/config")
    call_git(path, "commit", "-q", "-m", "one")


def test_the_record_lands_with_the_registration(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    create_dataset(lab, "lab", rules=annex.DEVELOPMENT_RULES)
    small_dataset(lab / "conversion_a")
    record = json.dumps({"sessions": ["a"]}).encode()
    commit = register_subdatasets(
        lab, [read_subdataset(lab / "conversion_a")], "one", files={"batch/r.json": record}
    )
    assert commit is not None
    changed = call_git(lab, "show", "--name-only", "--format=", commit).decode().split()
    assert sorted(changed) == [".gitmodules", "batch/r.json", "conversion_a"]
    assert (lab / "batch" / "r.json").read_bytes() == record
    assert call_git(lab, "status", "--porcelain").decode() == ""
    assert registered_paths(lab) == {"conversion_a"}
    # the same record again, nothing else: no commit
    assert register_subdatasets(lab, [], "again", files={"batch/r.json": record}) is None
    # a new record alone: its own commit
    assert register_subdatasets(lab, [], "later", files={"batch/r.json": b"{}\n"}) is not None
    assert (lab / "batch" / "r.json").read_bytes() == b"{}\n"


def test_repair_brings_the_record_to_head(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    create_dataset(lab, "lab", rules=annex.DEVELOPMENT_RULES)
    small_dataset(lab / "conversion_a")
    register_subdatasets(lab, [], "first", files={"batch/r.json": b"old\n"})
    old_blob = call_git(lab, "rev-parse", "HEAD:batch/r.json").decode().strip()
    register_subdatasets(
        lab, [read_subdataset(lab / "conversion_a")], "second", files={"batch/r.json": b"new\n"}
    )
    new_blob = call_git(lab, "rev-parse", "HEAD:batch/r.json").decode().strip()
    # As a crash after update-ref leaves it: index and work tree still at the old record.
    (lab / "batch" / "r.json").write_bytes(b"old\n")
    call_git(lab, "update-index", "--cacheinfo", f"100644,{old_blob},batch/r.json")
    pending = {
        "new": call_git(lab, "rev-parse", "HEAD").decode().strip(),
        "paths": {},
        "gitmodules": None,
        "files": {"batch/r.json": [old_blob, new_blob]},
    }
    (lab / ".git" / PENDING).write_text(json.dumps(pending))
    done = repair_registration(lab)
    assert any("batch/r.json" in line for line in done)
    assert (lab / "batch" / "r.json").read_bytes() == b"new\n"
    assert call_git(lab, "status", "--porcelain").decode() == ""

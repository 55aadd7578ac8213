"""From the demo conversion to an upload-ready dandiset: `anc revise`, `anc dandi organize`,
`anc dandi validate`, and the real `dandi validate`, offline, with real DataLad, NeuroConv,
pynwb, dandi and dandischema."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion import runtime
from agentic_neurodata_conversion.datalad_layer.keys import key_of_file

pytestmark = pytest.mark.slow  # demo conversions and revisions

RunCli = Callable[..., tuple[int, str, str]]
BIN = Path(sys.executable).parent
REAL_SUBJECT = [
    "Subject.subject_id=mouse-001",
    "Subject.species=Mus musculus",
    "Subject.sex=F",
    "Subject.age=P90D",
    "Subject.strain=C57BL/6J",
    "Subject.description=Adult female C57BL/6J mouse, head-fixed",
    "NWBFile.session_id=20240115-a",
    "NWBFile.session_description=Spontaneous activity in V1, head-fixed",
    "NWBFile.experiment_description=Neuropixels recordings of spontaneous activity",
    "NWBFile.lab=Doe Lab",
    "NWBFile.institution=Example University",
    "NWBFile.experimenter=['Doe, Jane']",
    "Ecephys.ElectrodeGroups.NeuropixelsImec0.location=VISp",
]


def git(path: Path, *args: str) -> str:
    runtime.prepare()
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=True
    ).stdout


def sets(values: list[str]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`anc demo`: a completed conversion with placeholders flagged for review."""
    from agentic_neurodata_conversion.conversion.demo import run_demo

    result = run_demo(tmp_path_factory.mktemp("demo"))
    assert result.conversion.status == "completed"
    return result.conversion.path


@pytest.fixture(scope="module")
def revised(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo conversion revised to real subject data through the CLI."""
    from agentic_neurodata_conversion.cli.main import main

    copy = tmp_path_factory.mktemp("revised") / demo.name
    shutil.copytree(demo, copy, symlinks=True)
    args = ["revise", str(copy), *sets(REAL_SUBJECT), "--reason", "from the lab notebook"]
    assert main(args) == 0
    return copy


def test_revision_is_a_second_iteration_with_its_own_tag(revised: Path) -> None:
    cid = "demo-spikeglx-1"
    assert set(git(revised, "tag").split()) == {f"conversion-{cid}", f"conversion-{cid}-v2"}
    runs = git(revised, "log", "--format=%H", "--grep=DATALAD RUNCMD").split()
    assert len(runs) == 2  # the first conversion and the revision, both under `datalad run`
    nwb = f"outputs/{cid}.nwb"
    old, new = (git(revised, "ls-tree", run, nwb).split()[2] for run in reversed(runs))
    assert old != new  # the old NWB stays in history, under its own key
    old_key = git(revised, "cat-file", "-p", old).rsplit("/", 1)[-1]
    assert git(revised, "annex", "whereis", "--key", old_key).count("[here]") == 1
    # the tags point at the two finalize commits
    first = git(revised, "rev-list", "-1", f"conversion-{cid}").strip()
    assert git(revised, "merge-base", "--is-ancestor", first, runs[0]) == ""
    assert git(revised, "status", "--porcelain") == ""

    info = json.loads((revised / "provenance" / "conversion.json").read_text())
    assert info["status"] == "completed" and info["revision"] == 2
    state = json.loads((revised / "provenance" / "pipeline_state.json").read_text())
    assert state["run_commit"] == runs[0]
    settings = json.loads((revised / "scripts" / "metadata.json").read_text())
    assert settings["metadata"]["Subject"]["subject_id"] == "mouse-001"
    assert settings["metadata"]["NWBFile"]["experimenter"] == ["Doe, Jane"]

    from agentic_neurodata_conversion.journal.chain import iter_records

    records = list(iter_records(revised / "provenance" / "journal"))
    begin = [r for r in records if r.operation == "begin_revision"]
    assert len(begin) == 1 and begin[0].output_data["previous_tag"] == f"conversion-{cid}"
    subject = [r for r in records if r.field == "Subject.subject_id"][-1]
    assert subject.source.value == "user_provided"
    assert subject.confidence_level.value == "human_override"
    assert "from the lab notebook" in subject.reasoning
    assert subject.conflict is not None
    assert subject.conflict.candidates[0].value == "placeholder-subject"  # the previous value
    species = [r for r in records if r.field == "Subject.species"][-1]
    assert species.confidence_level.value == "human_confirmed"  # same value, now confirmed

    summary = (revised / "CONVERSION_SUMMARY.md").read_text()
    assert f"conversion-{cid}-v2" in summary and "mouse-001" in summary
    crate = json.loads((revised / "ro-crate-metadata.json").read_text())
    assert str(key_of_file(revised / "outputs" / f"{cid}.nwb")) in json.dumps(crate)  # rebuilt
    html = (revised / "reports" / "provenance_report.html").read_text()
    assert "mouse-001" in html


def test_verify_reexecutes_the_revision_byte_identically(revised: Path, run_cli: RunCli) -> None:
    code, out, err = run_cli("verify", str(revised))
    assert code == 0, out + err
    runs = git(revised, "log", "--format=%h", "--grep=DATALAD RUNCMD").split()
    assert f"re-executing {runs[0]}" in out  # the revision's run, not the first one


def test_revised_demo_organised_passes_dandi_validate(
    revised: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    dandiset = tmp_path / "dandiset"
    code, out, err = run_cli(
        "dandi", "organize", str(revised), "--output", str(dandiset), "--dandiset-id", "000123"
    )
    assert code == 0, err
    asset = dandiset / "sub-mouse-001" / "sub-mouse-001_ecephys.nwb"
    assert "sub-mouse-001/sub-mouse-001_ecephys.nwb  <- demo-spikeglx-1" in out
    assert f"upload with: cd {dandiset} && dandi upload -i dandi" in out
    # one key, one inode: no second copy of the NWB file
    nwb = revised / "outputs" / "demo-spikeglx-1.nwb"
    assert key_of_file(asset) == key_of_file(nwb)
    assert os.stat(asset).st_ino == os.stat(nwb).st_ino
    assert git(dandiset, "status", "--porcelain") == ""
    assert "[here]" in git(dandiset, "annex", "whereis", str(asset.relative_to(dandiset)))
    assert "ok" in git(dandiset, "annex", "fsck", "--fast", str(asset.relative_to(dandiset)))

    index = json.loads((dandiset / "provenance" / "assets.json").read_text())
    entry = index["assets"]["sub-mouse-001/sub-mouse-001_ecephys.nwb"]
    assert entry["conversion_id"] == "demo-spikeglx-1"
    assert entry["tag"] == "conversion-demo-spikeglx-1-v2"
    assert entry["annex_key"] == str(key_of_file(nwb))
    assert entry["run_commit"] == git(revised, "log", "-1", "--format=%H", "--grep=RUNCMD").strip()
    record = json.loads((dandiset / entry["provenance"]).read_text())
    from dandischema.models import BareAsset
    from pydantic import TypeAdapter

    activities = TypeAdapter(BareAsset.model_fields["wasGeneratedBy"].annotation)
    [activity] = activities.validate_python(record["wasGeneratedBy"])
    assert activity.schemaKey == "Activity"
    assert {s.name for s in activity.wasAssociatedWith} >= {
        "agentic-neurodata-conversion",
        "neuroconv",
        "pynwb",
    }
    assert record["field_report"]["fields"]["Subject.subject_id"]["final_value"] == "mouse-001"

    code, out, err = run_cli("dandi", "validate", str(dandiset))
    assert code == 0, out + err
    assert "1 assets, valid" in out

    # the real `dandi validate` command, offline
    env = {**os.environ, "DANDI_NO_ET": "1", "XDG_STATE_HOME": str(tmp_path / "state")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(BIN / "dandi"), "validate", str(dandiset)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No errors found" in done.stdout


def test_organize_refuses_placeholders_listing_each(
    demo: Path, revised: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    out_dir = tmp_path / "dandiset"
    code, out, err = run_cli("dandi", "organize", str(demo), "--output", str(out_dir))
    assert code == 2 and not out_dir.exists()
    [line] = err.strip().splitlines()
    assert line.startswith("error: 1 conversion still carries placeholders or review flags")
    for problem in (
        "Subject.subject_id: placeholder",
        "Subject.sex: placeholder",
        "Subject.age or Subject.date_of_birth: placeholder",
        "NWBFile.session_id: missing",
    ):
        assert problem in line
    assert "anc revise" in line and "--allow-review" in line

    code, out, err = run_cli(
        "dandi", "organize", str(demo), "--output", str(out_dir), "--allow-review"
    )
    assert code == 0, err
    assert "warning: demo-spikeglx-1 still needs review" in err
    code, out, _ = run_cli("dandi", "validate", str(out_dir))
    assert "Subject.subject_id is still placeholder" in out


def test_two_conversions_on_one_asset_path_are_named(
    revised: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    twin = tmp_path / "twin" / "conversion_twin"
    shutil.copytree(revised, twin, symlinks=True)
    info = twin / "provenance" / "conversion.json"  # another conversion id, same session
    data = json.loads(info.read_text())
    info.write_text(json.dumps({**data, "conversion_id": "twin"}))
    out_dir = tmp_path / "dandiset"
    code, _out, err = run_cli(
        "dandi", "organize", str(revised), str(twin), "--output", str(out_dir)
    )
    assert code == 2 and not out_dir.exists()
    [line] = err.strip().splitlines()
    assert "demo-spikeglx-1 and twin both map to the asset path sub-mouse-001/" in line


def test_dandiset_inside_a_conversion_is_refused(
    revised: Path, run_cli: RunCli, snapshot: Callable[[Path], tuple[str, ...]]
) -> None:
    before = snapshot(revised)
    code, _, err = run_cli("dandi", "organize", str(revised), "--output", str(revised / "ds"))
    assert code == 2
    assert err.startswith("error: the dandiset ") and "inside the conversion dataset" in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot(revised) == before


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Subject.colour=blue", "field Subject.colour: unknown field"),
        ("Subject.sex=X", "field Subject.sex: Input should be 'M', 'F', 'U' or 'O'"),
        ("NWBFile.session_start_time=yesterday", "field NWBFile.session_start_time:"),
        ("Subject.species=mouse", "Subject.species: 'mouse' is not a Latin binomial"),
        ("NWBFile.identifier=abc", "field NWBFile.identifier: unknown field"),
        ("Subject.sex", "--set 'Subject.sex': expected FIELD=VALUE"),
    ],
)
def test_bad_sets_are_refused_and_nothing_written(
    demo: Path,
    run_cli: RunCli,
    snapshot: Callable[[Path], tuple[str, ...]],
    value: str,
    says: str,
) -> None:
    before = snapshot(demo)
    code, out, err = run_cli("revise", str(demo), "--set", value)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and says in line
    assert snapshot(demo) == before


def test_uncommitted_changes_and_a_broken_journal_are_refused(
    demo: Path, tmp_path: Path, run_cli: RunCli, snapshot: Callable[[Path], tuple[str, ...]]
) -> None:
    copy = tmp_path / demo.name
    shutil.copytree(demo, copy, symlinks=True)
    (copy / "notes.txt").write_text("mine\n")
    before = snapshot(copy)
    code, _, err = run_cli("revise", str(copy), "--set", "Subject.sex=F")
    assert code == 2 and "has uncommitted changes: notes.txt" in err
    assert len(err.strip().splitlines()) == 1 and snapshot(copy) == before

    (copy / "notes.txt").unlink()
    segment = sorted((copy / "provenance" / "journal").glob("*.jsonl"))[0]
    lines = segment.read_text().splitlines(keepends=True)
    assert '"agent":"tracker"' in lines[0]
    lines[0] = lines[0].replace('"agent":"tracker"', '"agent":"someone else"', 1)
    segment.write_text("".join(lines))
    git(copy, "commit", "-qam", "tamper")
    before = snapshot(copy)
    code, _, err = run_cli("revise", str(copy), "--set", "Subject.sex=F")
    assert code == 2 and "the journal of conversion demo-spikeglx-1 is broken" in err
    assert len(err.strip().splitlines()) == 1 and snapshot(copy) == before


def test_a_metadata_file_that_only_confirms_keeps_the_nwb(
    revised: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    copy = tmp_path / revised.name
    shutil.copytree(revised, copy, symlinks=True)
    given = tmp_path / "confirm.yml"
    given.write_text("Subject:\n  sex: F\n  species: Mus musculus\n")
    runs = git(copy, "log", "--format=%H", "--grep=DATALAD RUNCMD").split()
    code, out, err = run_cli("revise", str(copy), "--metadata", str(given))
    assert code == 0, err
    assert "revision 3 completed (0 changed, 2 confirmed; NWB unchanged)" in out
    assert "tagged conversion-demo-spikeglx-1-v3" in out
    assert git(copy, "log", "--format=%H", "--grep=DATALAD RUNCMD").split() == runs
    assert (copy / "inputs" / "user-metadata-v3.yml").read_text() == given.read_text()
    assert git(copy, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("bad id", "--dandiset-id 'abc' is not a DANDI id"),
        ("not empty", "exists and is not empty"),
        ("no conversions", "holds no conversions"),
        ("output in the lab", "which it organises"),
    ],
)
def test_organize_bad_inputs_write_nothing(
    revised: Path, tmp_path: Path, run_cli: RunCli, case: str, says: str
) -> None:
    out_dir = tmp_path / "dandiset"
    source, extra = str(revised), []
    if case == "bad id":
        extra = ["--dandiset-id", "abc"]
    elif case == "not empty":
        out_dir.mkdir()
        (out_dir / "mine.txt").write_text("x")
    elif case == "no conversions":
        (tmp_path / "empty").mkdir()
        source = str(tmp_path / "empty")
    else:
        source, out_dir = str(revised.parent), revised.parent / "dandiset"
    before = sorted(p.name for p in out_dir.parent.iterdir())
    code, out, err = run_cli("dandi", "organize", source, "--output", str(out_dir), *extra)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and says in line
    assert sorted(p.name for p in out_dir.parent.iterdir()) == before

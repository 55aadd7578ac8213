"""The conversion dataset: layout, checkpoints, artifacts, inputs, finalize, reopen."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer import dataset as dlayer
from agentic_neurodata_conversion.errors import ProvenanceError, UsageError
from agentic_neurodata_conversion.journal.chain import verify_journal
from agentic_neurodata_conversion.journal.records import ConfidenceLevel, ProvenanceSource
from agentic_neurodata_conversion.provenance.integration import ProvenanceIntegration
from agentic_neurodata_conversion.provenance.tracker import (
    ConversionProvenanceTracker,
    create_conversion_tracker,
)

Make = Callable[..., ConversionProvenanceTracker]


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout


def test_layout_rules_and_first_commit(new_conversion: Make) -> None:
    t = new_conversion("layout")
    root = t.path
    assert root.name == "conversion_layout"
    for sub in ("inputs", "outputs", "scripts", "reports", "provenance"):
        assert (root / sub).is_dir()
    assert "# Conversion layout" in (root / "README.md").read_text()
    attrs = git(
        root,
        "check-attr",
        "annex.largefiles",
        "annex.backend",
        "--",
        "outputs/x.nwb",
        "scripts/convert.py",
        "provenance/journal/000000000001.jsonl",
    )
    assert "outputs/x.nwb: annex.largefiles: anything" in attrs
    assert "scripts/convert.py: annex.largefiles: nothing" in attrs
    assert "provenance/journal/000000000001.jsonl: annex.largefiles: nothing" in attrs
    assert "annex.backend: BLAKE3_256E" in attrs
    assert git(root, "status", "--porcelain") == ""
    assert "[anc] iteration 1: start conversion" in git(root, "log", "--format=%s")


def test_records_do_not_commit_checkpoint_does(new_conversion: Make) -> None:
    t = new_conversion()
    commits = git(t.path, "rev-list", "--count", "HEAD")
    for i in range(50):
        t.record_field(f"NWBFile.f{i}", i, "auto_extracted", confidence=0.9)
    assert git(t.path, "rev-list", "--count", "HEAD") == commits
    (t.path / "reports" / "note.txt").write_text("a small file\n")
    sha = t.checkpoint("metadata extracted")
    assert (
        git(t.path, "log", "-1", "--format=%H %s").strip()
        == f"{sha} [anc] iteration 2: metadata extracted"
    )
    assert int(git(t.path, "rev-list", "--count", "HEAD")) == int(commits) + 1
    assert git(t.path, "status", "--porcelain") == ""
    # the journal is in git, not the annex
    assert git(t.path, "annex", "find", "--include=*", "provenance").strip() == ""
    tracked = git(t.path, "ls-files", "provenance/journal").split()
    assert "provenance/journal/HEAD.json" in tracked and len(tracked) == 3


def test_pipeline_state_is_recorded_and_current(new_conversion: Make) -> None:
    t = new_conversion()
    t.update_pipeline_state({"stage": "detect"})
    t.update_pipeline_state({"stage": "convert", "format": "spikeglx"})
    state = json.loads((t.path / "provenance" / "pipeline_state.json").read_text())
    assert state == {"stage": "convert", "format": "spikeglx"}
    updates = [r for r in t.iter_records() if r.operation == "state_update"]
    assert updates[-1].input_data == {"previous_state": {"stage": "detect"}}


def test_record_error(new_conversion: Make) -> None:
    t = new_conversion()
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as exc:
        t.record_error(exc, stage="convert", recovery="retry with smaller buffer", outcome="failed")
    err = next(r for r in t.iter_records() if r.operation == "error")
    assert err.output_data["error"]["type"] == "RuntimeError"
    assert err.output_data["recovery"] == "retry with smaller buffer"


def test_artifacts_go_where_their_type_says(new_conversion: Make, tmp_path: Path) -> None:
    t = new_conversion()
    expected = {
        "nwb_file": "outputs",
        "knowledge_graph": "outputs",
        "conversion_script": "scripts",
        "validation_report": "reports",
        "evaluation_report": "reports",
        "input_data": "inputs",
    }
    for kind, folder in expected.items():
        src = tmp_path / f"{kind}.txt"
        src.write_text(kind)
        assert t.save_conversion_artifact(src, kind, commit=False) == t.path / folder / src.name
    t.checkpoint("artifacts")
    with pytest.raises(UsageError, match="unknown artifact type 'plot'.*nwb_file, knowledge_graph"):
        t.save_conversion_artifact(src, "plot")
    with pytest.raises(UsageError, match="does not exist"):
        t.save_conversion_artifact(tmp_path / "nope.nwb", "nwb_file")
    with pytest.raises(UsageError, match="already exists"):
        t.save_conversion_artifact(src, "input_data")


def test_copy_leaves_the_original_untouched_and_stores_once(
    new_conversion: Make, tmp_path: Path
) -> None:
    t = new_conversion()
    src = tmp_path / "session.nwb"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    src.chmod(0o640)
    before = (src.read_bytes(), stat.S_IMODE(src.stat().st_mode))
    target = t.save_conversion_artifact(src, "nwb_file")
    assert (src.read_bytes(), stat.S_IMODE(src.stat().st_mode)) == before
    assert target.is_symlink() and "BLAKE3_256E" in os.readlink(target)
    objects = list((t.path / ".git" / "annex" / "objects").rglob("*.nwb"))
    assert len([o for o in objects if o.is_file()]) == 1  # one copy inside the dataset


def test_move_hands_the_file_over(new_conversion: Make, tmp_path: Path) -> None:
    t = new_conversion()
    src = tmp_path / "produced.nwb"
    src.write_bytes(b"\x89HDF" + os.urandom(1000))
    target = t.save_conversion_artifact(src, "nwb_file", mode="move")
    assert not src.exists() and target.is_symlink()


def test_replacing_an_artifact_keeps_the_old_version(new_conversion: Make, tmp_path: Path) -> None:
    t = new_conversion()
    src = tmp_path / "a.nwb"
    src.write_bytes(b"one" * 1000)
    t.save_conversion_artifact(src, "nwb_file")
    old_target = os.readlink(t.path / "outputs" / "a.nwb")
    src.write_bytes(b"two" * 1000)
    t.save_conversion_artifact(src, "nwb_file", replace=True)
    assert (t.path / "outputs" / "a.nwb").read_bytes() == b"two" * 1000
    assert (t.path / "outputs" / old_target).resolve().read_bytes() == b"one" * 1000


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "bad\x07name", "..", ".hidden"])
def test_bad_names_are_refused_and_nothing_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        ConversionProvenanceTracker(name, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_artifact_name(new_conversion: Make, tmp_path: Path) -> None:
    t = new_conversion()
    src = tmp_path / "x.txt"
    src.write_text("x")
    with pytest.raises(UsageError, match="contains"):
        t.save_conversion_artifact(src, "validation_report", name="../../escape.txt")
    assert not (tmp_path / "escape.txt").exists()


def test_same_id_twice_is_refused(new_conversion: Make, tmp_path: Path) -> None:
    new_conversion("dup")
    with pytest.raises(UsageError, match="already holds conversion 'dup'"):
        ConversionProvenanceTracker("dup", tmp_path / "out")


def test_bad_confidence_level_source(new_conversion: Make) -> None:
    t = new_conversion()
    with pytest.raises(ProvenanceError, match="outside 0-1"):
        t.record_field("f", 1, "auto_extracted", confidence=2)
    with pytest.raises(ProvenanceError, match="unknown confidence level"):
        t.record_field("f", 1, "auto_extracted", confidence_level="certain")
    with pytest.raises(ProvenanceError, match="unknown provenance source"):
        t.record_field("f", 1, "rumour")


def test_finalize_completed_tags_and_refuses_more(new_conversion: Make) -> None:
    t = new_conversion("done")
    t.record_field("NWBFile.session_description", "demo", "user_provided", confidence=1.0)
    assert t.finalize_conversion("completed", {"identifier": "x"}) == "conversion-done"
    assert git(t.path, "tag", "-l", "-n1").split()[0] == "conversion-done"
    assert git(t.path, "cat-file", "-t", "conversion-done").strip() == "tag"  # annotated
    summary = (t.path / "CONVERSION_SUMMARY.md").read_text()
    assert "\\n" not in summary and "- **Status**: completed" in summary
    session = json.loads((t.path / "provenance" / "conversion_session.json").read_text())
    assert session["status"] == "completed" and session["end_time"]
    with pytest.raises(ProvenanceError, match="finalized"):
        t.finalize_conversion("completed", {})
    with pytest.raises(ProvenanceError, match="finalized"):
        t.record_field("x", 1, "user_provided")
    reopened = ConversionProvenanceTracker.open(t.path)
    with pytest.raises(ProvenanceError, match="finalized"):
        reopened.update_pipeline_state({"stage": "again"})
    reopened.close()
    assert git(t.path, "status", "--porcelain") == ""


def test_failed_conversion_has_its_error_and_no_tag(new_conversion: Make) -> None:
    t = new_conversion("bad")
    assert t.finalize_conversion("failed", {}, error="NeuroConv could not read the .bin") is None
    assert git(t.path, "tag", "-l") == ""
    summary = (t.path / "CONVERSION_SUMMARY.md").read_text()
    assert "- **Status**: failed" in summary and "could not read the .bin" in summary


def test_reopen_continues_sequence_and_iterations(new_conversion: Make) -> None:
    t = new_conversion()
    t.record_field("a", 1, "auto_extracted")
    t.checkpoint("one")
    t.record_field("b", 2, "auto_extracted")  # not yet committed
    last = t.journal.last_seq
    t.close()
    again = ConversionProvenanceTracker.open(t.path)
    rec = again.record_field("c", 3, "auto_extracted")
    assert rec.seq == last + 1
    again.checkpoint("two")
    assert "[anc] iteration 3: two" in git(t.path, "log", "-1", "--format=%s")
    assert verify_journal(t.path).ok
    again.close()


def test_open_refuses_a_plain_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a conversion dataset"):
        ConversionProvenanceTracker.open(tmp_path)


def test_field_report(new_conversion: Make) -> None:
    t = new_conversion()
    pi = ProvenanceIntegration(t)
    t.record_field(
        "NWBFile.lab",
        "Lab B",
        ProvenanceSource.AUTO_EXTRACTED,
        confidence=0.7,
        evidence=["settings.xml"],
        reasoning="lab name in the acquisition settings",
    )
    pi.record_user_input("NWBFile.lab", "Lab A", override_of="Lab B")
    pi.record_agent_operation(
        "conversation",
        "guess_species",
        {},
        {"field": "Subject.species", "value": "Mus musculus"},
        0.4,
    )
    pi.record_external_enrichment("ontology", "Subject.strain", "C57", "C57BL/6J", 0.85)
    t.record_field(
        "Subject.age", "P90D", "domain_knowledge", confidence_level=ConfidenceLevel.PLACEHOLDER
    )
    report = pi.generate_metadata_provenance_report()
    lab = report["fields"]["NWBFile.lab"]
    assert lab["final_value"] == "Lab A" and lab["confidence_level"] == "human_override"
    assert lab["is_human_decision"] and len(lab["history"]) == 2 and len(lab["conflicts"]) == 1
    assert lab["conflicts"][0]["candidates"][0]["value"] == "Lab B"
    assert report["fields"]["Subject.species"]["source"] == "ai_generated"
    assert report["fields"]["Subject.strain"]["final_value"] == "C57BL/6J"
    assert report["summary"]["needs_review"] == ["Subject.age", "Subject.species"]


def test_seed_names_keep_working(tmp_path: Path) -> None:
    t = create_conversion_tracker("seed", str(tmp_path))
    t.record_provenance(
        ProvenanceSource.AI_GENERATED,
        "conversation",
        "suggest",
        {"q": 1},
        {"field": "NWBFile.keywords", "value": ["ephys"]},
        0.6,
    )
    records = t.session.provenance_records
    assert records[-1].field == "NWBFile.keywords" and records[-1].timestamp > 0
    t.finalize_conversion("completed", {})
    t.close()


@pytest.mark.slow
def test_inputs_three_ways(new_conversion: Make, tmp_path: Path) -> None:
    # a source recording inside its own DataLad dataset
    origin = tmp_path / "lab-data"
    ds = dlayer.create_dataset(origin)
    (origin / "rec1").mkdir()
    (origin / "rec1" / "data.bin").write_bytes(os.urandom(200_000))
    dlayer.save(ds, "add recording")
    plain = tmp_path / "plain-rec"
    plain.mkdir()
    (plain / "data.bin").write_bytes(os.urandom(100_000))

    t = new_conversion()
    sub = t.add_input(origin / "rec1", mode="auto")
    assert sub.mode == "subdataset" and sub.path == "inputs/rec1/rec1" and sub.dataset_id == ds.id
    assert (t.path / sub.path / "data.bin").read_bytes() == (
        origin / "rec1" / "data.bin"
    ).read_bytes()
    assert not any(p.is_file() for p in (t.path / ".git" / "annex" / "objects").rglob("*.bin"))

    ref = t.add_input(plain, mode="reference", name="plain-ref")
    assert ref.mode == "reference" and (t.path / ref.path).is_file()
    copy = t.add_input(plain, mode="copy", name="plain-copy")
    assert (t.path / copy.path / "data.bin").is_symlink()
    assert t.verify_inputs() == []
    (plain / "data.bin").write_bytes(b"changed")
    assert t.verify_inputs() == ["plain-ref: data.bin changed since it was recorded"]
    with pytest.raises(UsageError, match="overlaps the conversion folder"):
        t.add_input(t.path / "outputs")
    assert git(t.path, "status", "--porcelain") == ""

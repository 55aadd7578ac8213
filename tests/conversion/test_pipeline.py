"""`anc convert` end to end: tag, annexed NWB, run record, rerun, verify; bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion.pipeline import ConversionPipeline
from agentic_neurodata_conversion.datalad_layer import dataset as dlayer
from agentic_neurodata_conversion.errors import AncError
from agentic_neurodata_conversion.journal.chain import iter_entries, verify_journal
from agentic_neurodata_conversion.provenance.tracker import ConversionProvenanceTracker

from .test_formats import add_streams

RunCli = Callable[..., tuple[int, str, str]]


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout


def annex_key(path: Path) -> str:
    return os.readlink(path).rsplit("/", 1)[-1]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["spikeglx", "openephys"])
def test_convert_is_tagged_annexed_rerunnable_and_verified(
    fmt: str, tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    write_recording(fmt, tmp_path / "rec")
    code, out, err = run_cli(
        "convert", str(tmp_path / "rec"), "--output", str(tmp_path / "out"), "--id", fmt
    )
    assert code == 0, err
    root = Path(out.strip().splitlines()[-1])  # the conversion folder is the last line
    assert root == tmp_path / "out" / f"conversion_{fmt}"
    assert git(root, "tag", "-l").split() == [f"conversion-{fmt}"]
    # the one stream, no others
    stream = "; stream " + (
        "imec0.ap" if fmt == "spikeglx" else "Acquisition_Board-100.Rhythm Data"
    )
    format_line = f"- **Format**: {fmt} (file_patterns, confidence 0.95){stream}\n"
    assert format_line in (root / "CONVERSION_SUMMARY.md").read_text()
    nwb = root / "outputs" / f"{fmt}.nwb"
    assert nwb.is_symlink() and "annex/objects" in os.readlink(nwb)
    run = git(root, "log", "--format=%H %s", "--grep=^\\[DATALAD RUNCMD\\]").split()
    assert run, "no [DATALAD RUNCMD] commit"
    key = annex_key(nwb)
    # datalad rerun of the run commit in the dataset itself leaves the NWB's key unchanged
    ds = dlayer.open_dataset(root)
    results = ds.rerun(
        revision=run[0], result_renderer="disabled", on_failure="ignore", return_type="list"
    )
    assert all(r["status"] in ("ok", "notneeded") for r in results), results
    assert annex_key(nwb) == key
    assert git(root, "status", "--porcelain") == ""
    # Run by `datalad run`: NeuroConv's provenance record, then ours (test_script.py has more).
    import pynwb

    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        written = io.read()
        lines = written.source_script.split("\n")
        assert lines[0] == "NeuroConv provenance record"
        assert {"source_script: convert.py", "neuroconv_provenance_format: 1"} <= set(lines)
        assert {f"conversion_id: {fmt}", "script: scripts/convert.py"} <= set(lines)
        assert written.source_script_file_name == "convert.py"
    code, out, err = run_cli("verify", str(root))
    assert code == 0, out + err
    assert "verified" in out
    # provenance in the NWB file itself and validation reports
    state = json.loads((root / "provenance" / "pipeline_state.json").read_text())
    assert state["validation_passes"] and state["evaluation_passes"]
    assert (root / "reports" / "validation.json").is_file() and (
        root / "reports" / "evaluation.md"
    ).is_file()
    assert verify_journal(root).ok
    ops = [e["operation"] for e in iter_entries(root / "provenance" / "journal")]
    for op in ("detect_format", "set_metadata_field", "run_conversion", "validate", "finalize"):
        assert op in ops
    assert subprocess.run(["git", "annex", "fsck", "--quiet"], cwd=root).returncode == 0


@pytest.mark.slow
def test_convert_the_stream_the_user_names(
    tmp_path: Path,
    write_recording: Callable[..., object],
    run_cli: RunCli,
    snapshot: Callable[[Path], tuple[str, ...]],
) -> None:
    rec = tmp_path / "rec"
    write_recording("spikeglx", rec)
    add_streams(rec, "imec1.ap")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = snapshot(tmp_path)
    code, out, err = run_cli("convert", str(rec), "--output", str(out_dir), "--stream", "imec2.ap")
    assert (code, out) == (2, "") and err.startswith(f"error: {rec} has no stream 'imec2.ap'")
    assert snapshot(tmp_path) == before  # refused before anything was created

    code, out, err = run_cli(
        "convert", str(rec), "--output", str(out_dir), "--id", "s", "--stream", "imec1.ap"
    )
    assert code == 0, err
    root = out_dir / "conversion_s"
    summary = (root / "CONVERSION_SUMMARY.md").read_text()
    assert "; stream imec1.ap, not converted: imec0.ap\n" in summary
    detect = next(
        e
        for e in iter_entries(root / "provenance" / "journal")
        if e["operation"] == "detect_format"
    )
    assert detect["output_data"]["source_data"]["stream_id"] == "imec1.ap"
    assert (
        "2 streams (imec0.ap, imec1.ap): converting imec1.ap (chosen by the user); "
        "not converted: imec0.ap"
    ) in detect["reasoning"]
    # The script's inputs name that stream, so a rerun converts it too.
    assert '"stream_id": "imec1.ap"' in (root / "scripts" / "metadata.json").read_text()


def test_status_lists_conversions(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    write_recording("openephys", tmp_path / "rec")
    cid = "a-rather-long-conversion-identifier-s1"  # its tag would not fit 80 columns
    out_dir = str(tmp_path / "out")
    assert run_cli("convert", str(tmp_path / "rec"), "--output", out_dir, "--id", cid)[0] == 0
    code, out, _ = run_cli("status", out_dir, "--json")
    listed = json.loads(out)
    assert code == 0 and [c["conversion_id"] for c in listed] == [cid]
    assert listed[0]["status"] == "completed" and listed[0]["tag"] == f"conversion-{cid}"
    assert listed[0]["nwb_bytes"] > 0 and listed[0]["validation"]["CRITICAL"] == 0
    # The table, piped, keeps ids and tags whole on the conversion's row.
    code, out, _ = run_cli("status", out_dir)
    row = next(line for line in out.splitlines() if cid in line)
    assert code == 0 and f"conversion-{cid}" in row and "completed" in row


@pytest.mark.slow
def test_user_metadata_conflict_is_recorded(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    write_recording("spikeglx", tmp_path / "rec")
    meta = tmp_path / "meta.yaml"
    meta.write_text(
        "NWBFile:\n  session_description: Mouse V1, passive viewing\n"
        "  session_start_time: 2020-01-01T10:00:00+01:00\n  lab: Lab A\n"
        "Subject:\n  subject_id: m1\n  species: Mus musculus\n  sex: F\n  age: P90D\n"
    )
    code, _out, err = run_cli(
        "convert",
        str(tmp_path / "rec"),
        "--output",
        str(tmp_path / "out"),
        "--id",
        "meta",
        "--metadata",
        str(meta),
    )
    assert code == 0, err
    root = tmp_path / "out" / "conversion_meta"
    records = [
        e
        for e in iter_entries(root / "provenance" / "journal")
        if e.get("field") == "NWBFile.session_start_time"
    ]
    final = records[-1]
    assert final["source"] == "user_provided" and final["confidence_level"] == "human_override"
    assert final["conflict"] and len(final["conflict"]["candidates"]) == 2
    assert (root / "inputs" / "user-metadata.yaml").is_file()


def run_fails(run_cli: RunCli, *args: str) -> str:
    code, _out, err = run_cli(*args)
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_inputs_give_one_line_and_write_nothing(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli, readonly_folder: Path
) -> None:
    out = tmp_path / "out"
    assert "does not exist" in run_fails(
        run_cli, "convert", str(tmp_path / "missing"), "--output", str(out)
    )
    (tmp_path / "empty").mkdir()
    assert "empty" in run_fails(run_cli, "convert", str(tmp_path / "empty"), "--output", str(out))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    assert (
        "no recognisable"
        in run_fails(run_cli, "convert", str(tmp_path / "junk"), "--output", str(out)).lower()
    )
    rec = tmp_path / "rec"
    write_recording("spikeglx", rec)
    assert "inside the source" in run_fails(
        run_cli, "convert", str(rec), "--output", str(rec / "out")
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("NWBFile: [unclosed\n")
    assert "bad.yaml" in run_fails(
        run_cli, "convert", str(rec), "--output", str(out), "--metadata", str(bad)
    )
    bad.write_text("NWBFile:\n  session_start_time: yesterday\n")
    assert "session_start_time" in run_fails(
        run_cli, "convert", str(rec), "--output", str(out), "--metadata", str(bad)
    )
    bad.write_text("NWBFile:\n  colour: blue\n")
    assert "colour" in run_fails(
        run_cli, "convert", str(rec), "--output", str(out), "--metadata", str(bad)
    )
    assert "not writable" in run_fails(
        run_cli, "convert", str(rec), "--output", str(readonly_folder / "out")
    )
    target = tmp_path / "notes-file"
    target.write_text("x")
    assert "not a folder" in run_fails(
        run_cli, "convert", str(rec), "--output", str(target / "sub")
    )
    assert not out.exists()
    meta = next(rec.glob("*.meta"))
    meta.write_text(
        "\n".join(
            line for line in meta.read_text().splitlines() if not line.startswith("imSampRate")
        )
    )
    assert "imSampRate" in run_fails(run_cli, "convert", str(rec), "--output", str(out))
    assert not out.exists()


def test_failure_after_start_is_finalized_failed_without_tag(
    tmp_path: Path, write_recording: Callable[..., object]
) -> None:
    write_recording("spikeglx", tmp_path / "rec")
    pipeline = ConversionPipeline.start(
        tmp_path / "rec", tmp_path / "out", conversion_id="late", input_mode="reference"
    )
    pipeline.detect()
    pipeline.assemble_metadata()
    pipeline.write_script()
    binary = next((tmp_path / "rec").glob("*.bin"))
    binary.write_bytes(binary.read_bytes()[:1001])  # the source breaks between stages
    with pytest.raises(AncError, match="truncated"):
        pipeline.run()
    root = pipeline.path
    pipeline.tracker.close()
    assert git(root, "tag", "-l") == ""
    reopened = ConversionProvenanceTracker.open(root)
    assert reopened.session.status == "failed" and reopened.session.error
    assert any(r.operation == "error" for r in reopened.iter_records())
    assert "- **Status**: failed" in (root / "CONVERSION_SUMMARY.md").read_text()
    reopened.close()


@pytest.mark.slow
def test_source_in_a_dataset_is_a_subdataset_and_verifies(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    lab = dlayer.create_dataset(tmp_path / "labdata")
    write_recording("spikeglx", tmp_path / "labdata" / "rec1")
    dlayer.save(lab, "add rec1")
    code, out, err = run_cli(
        "convert",
        str(tmp_path / "labdata" / "rec1"),
        "--output",
        str(tmp_path / "out"),
        "--id",
        "sub",
    )
    assert code == 0, err
    root = Path(out.strip().splitlines()[-1])
    assert "url = " + str(tmp_path / "labdata") in (root / ".gitmodules").read_text()
    # by reference: no recording bytes in the conversion's annex
    assert not [p for p in (root / ".git" / "annex" / "objects").rglob("*.bin") if p.is_file()]
    code, out, err = run_cli("verify", str(root))
    assert code == 0 and "verified" in out, out + err

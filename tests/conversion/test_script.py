"""The generated script converts both formats deterministically; validation and evaluation."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import h5py
import pytest

from agentic_neurodata_conversion.conversion import (
    evaluation,
    formats,
    metadata,
    script,
    synthetic,
    validation,
)

pytestmark = pytest.mark.slow  # a conversion per format, reruns and evaluations

OUTPUT = "outputs/session.nwb"


@dataclass(frozen=True)
class Converted:
    root: Path
    recording: synthetic.SyntheticRecording
    detection: formats.Detection
    nwb: Path


def _run_script(root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/convert.py"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module", params=["spikeglx", "openephys"])
def converted(request, tmp_path_factory, recording_size) -> Converted:
    """A recording of each format converted once by its generated script (no DataLad)."""
    root = tmp_path_factory.mktemp(request.param)
    rec = synthetic.write_recording(request.param, root / "inputs" / "rec", **recording_size)
    detection = formats.detect_format(rec.folder)
    extracted = metadata.extract_metadata(formats.make_interface(detection), detection)
    context = metadata.ConversionContext(
        f"test-{request.param}", "dataset-1", dt.datetime(2024, 2, 1, tzinfo=dt.UTC), output=OUTPUT
    )
    decisions = metadata.decide_fields(extracted, detection.spec, context)
    rendered = script.render_script(
        detection, decisions, context, script.relative_source_data(detection, root)
    )
    rendered.write(root / "scripts")
    _run_script(root)
    return Converted(root, rec, detection, root / OUTPUT)


def test_script_is_self_contained_and_readable(converted: Converted) -> None:
    text = (converted.root / "scripts" / "convert.py").read_text()
    assert "agentic_neurodata_conversion" not in text  # runs with NeuroConv and pynwb alone
    assert "PYTHONHASHSEED" in text and "seed_object_ids" in text
    compile(text, "convert.py", "exec")
    settings = (converted.root / "scripts" / "metadata.json").read_text()
    assert '"folder_path": "inputs/rec' in settings  # relative: the dataset can move


def test_conversion_passes_inspector_without_issues(converted: Converted, tmp_path) -> None:
    report = validation.validate_nwb(converted.nwb, root=converted.root)
    assert report.passes
    assert report.issues == [] and report.schema_errors == []
    assert set(report.counts.values()) == {0}
    assert "No issues found." in report.to_markdown()
    json_path, md_path = validation.write_validation_reports(report, tmp_path)
    assert '"passes": true' in json_path.read_text() and md_path.is_file()


def test_nwb_holds_provenance(converted: Converted) -> None:
    import pynwb

    with pynwb.NWBHDF5IO(str(converted.nwb), "r") as io:
        nwbfile = io.read()
        assert nwbfile.source_script_file_name == "convert.py"  # NWB: a name, not a path
        assert "/" not in nwbfile.source_script_file_name
        lines = nwbfile.source_script.split("\n")
        # NeuroConv's record first, as NeuroConv writes it; then ours in its `key: value` form.
        assert lines[0] == "NeuroConv provenance record"
        assert all(re.fullmatch(r"[a-z_]+: .*", line) for line in lines[1:]), lines
        keys = dict(line.split(": ", 1) for line in lines[1:])
        assert keys["neuroconv_provenance_format"] == "1"
        assert keys["neuroconv_version"] == version("neuroconv")
        assert keys["execution_environment"] == "script"
        assert keys["source_script"] == "convert.py"
        # No git keys: they would name the commit checked out at run time.
        assert "commit" not in keys and "version_control" not in keys
        ours = lines[lines.index("neuroconv_provenance_format: 1") + 1 :]
        assert [line.split(":")[0] for line in ours] == [
            "tool",
            "tool_version",
            "conversion_id",
            "dataset_id",
            "script",
            "reproduce",
        ]
        assert keys["tool"] == "agentic-neurodata-conversion"
        assert keys["conversion_id"] == f"test-{converted.detection.format}"
        assert keys["dataset_id"] == "dataset-1"
        assert keys["script"] == "scripts/convert.py"
        assert "datalad rerun" in keys["reproduce"]
        generated = {row[0]: row[1] for row in nwbfile.was_generated_by[:]}
        assert set(generated) >= {"agentic-neurodata-conversion", "neuroconv", "pynwb", "hdmf"}
        assert nwbfile.file_create_date[0] == dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
        assert set(nwbfile.electrodes["location"][:]) == {"root"}


def test_rerunning_the_script_is_byte_identical(converted: Converted, tmp_path) -> None:
    first = _sha256(converted.nwb)
    kept = tmp_path / "first.nwb"
    shutil.copyfile(converted.nwb, kept)
    _run_script(converted.root)
    assert _sha256(converted.nwb) == first == _sha256(kept)


def test_evaluation_matches_source(converted: Converted, tmp_path) -> None:
    recording = formats.make_interface(converted.detection).recording_extractor
    # A small block size makes the comparison stream over several blocks.
    report = evaluation.evaluate_nwb(
        converted.nwb, recording, root=converted.root, block_bytes=1 << 16
    )
    assert report.passes, report.summary
    assert report.samples_compared == converted.recording.samples
    assert report.channels_compared == converted.recording.channels
    checks = {c.name: c for c in report.series[0].checks}
    assert checks["gain (V per count)"].expected == [converted.recording.gains_uv[0] * 1e-6]
    json_path, md_path = evaluation.write_evaluation_reports(report, tmp_path)
    assert '"passes": true' in json_path.read_text() and "PASSES" in md_path.read_text()


def test_evaluation_catches_a_tampered_sample(converted: Converted, tmp_path) -> None:
    copy = tmp_path / "tampered.nwb"
    shutil.copyfile(converted.nwb, copy)  # the original is never opened for writing
    with h5py.File(copy, "r+") as f:
        series = next(g for g in f["acquisition"].values() if "data" in g)
        series["data"][1234, 5] += 1
    recording = formats.make_interface(converted.detection).recording_extractor
    report = evaluation.evaluate_nwb(copy, recording, block_bytes=1 << 16)
    assert not report.passes
    assert [(m.channel_index, m.first_sample, m.count) for m in report.mismatches] == [(5, 1234, 1)]
    channel = report.mismatches[0].channel
    assert channel in report.summary and "1234" in report.summary
    assert "FAILS" in report.to_markdown()

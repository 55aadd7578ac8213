"""A recording without a session start time: a flagged candidate decided before anything runs.

Real Intan and Blackrock recordings (copies of tests' shared real data) carry none; the
conversion infers one (Intan's file/folder-name rule, Blackrock's .nev header, else the
files' modification time), flags it for review, and the user's --metadata replaces it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import formats, script
from agentic_neurodata_conversion.conversion import metadata as md
from agentic_neurodata_conversion.conversion.metadata_check import check_metadata
from agentic_neurodata_conversion.journal.chain import iter_entries
from agentic_neurodata_conversion.journal.records import ConfidenceLevel, ProvenanceSource

RunCli = Callable[..., tuple[int, str, str]]
RealRecording = Callable[[str], Path]
CONTEXT = md.ConversionContext("start", "start-dataset", dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
START = md.START_TIME
INTAN = "intan_fps_test_231117_052500"
INTAN_TIME = dt.datetime(2023, 11, 17, 5, 25)  # what its folder name says
BLACKROCK = "blackrock_2_1"
BLACKROCK_TIME = dt.datetime(2010, 12, 10, 10, 50, 10, 156000)  # l101210-001.nev's TimeOrigin
USER_TIME = "2023-11-17T05:25:00-05:00"


def _decide(
    folder: Path, user: md.UserMetadata | None = None
) -> tuple[formats.Detection, object, dict[str, md.FieldDecision]]:
    detection = formats.detect_format(folder)
    interface = formats.make_interface(detection)
    extracted = md.extract_metadata(interface, detection)
    decisions = md.decide_fields(extracted, detection.spec, CONTEXT, user, "meta.yaml")
    return detection, interface, {d.field: d for d in decisions}


def _user(tmp_path: Path) -> md.UserMetadata:
    path = tmp_path / "meta.yaml"
    path.write_text(f"NWBFile:\n  session_start_time: {USER_TIME}\n")
    return md.load_user_metadata(path)


def _flagged(start: md.FieldDecision) -> None:
    assert start.needs_review and start.confidence < 0.5
    assert start.level is ConfidenceLevel.LOW_EVIDENCE
    assert (
        start.reasoning[0]
        == "the recording's files hold no session start time (NeuroConv read none)"
    )
    assert any("--metadata FILE (NWBFile.session_start_time)" in r for r in start.reasoning)
    assert start.value.tzinfo is not None  # NWB stores it with a zone


def test_intan_start_time_from_its_folder_name(real_recording: RealRecording, tmp_path) -> None:
    folder = real_recording(INTAN)
    detection, interface, fields = _decide(folder)
    assert detection.format == "intan"
    start = fields[START]
    _flagged(start)
    assert start.value.replace(tzinfo=None) == INTAN_TIME
    assert start.source is ProvenanceSource.DOMAIN_KNOWLEDGE
    assert start.method == "intan_name_rule" and start.evidence == [f"folder name {INTAN}"]
    assert "Intan folder/file-name rule" in start.reasoning[1]
    # The pre-check (NeuroConv's schema, pynwb, DANDI's rules) accepts it, and the script's
    # metadata file holds it: the script decides nothing.
    decisions = list(fields.values())
    check_metadata(decisions, interface)
    rendered = script.render_script(detection, decisions, CONTEXT, {"file_path": "x/info.rhd"})
    written = json.loads(rendered.metadata)["metadata"]["NWBFile"]["session_start_time"]
    assert written == start.value.isoformat()

    user = _decide(folder, _user(tmp_path))[2][START]
    assert user.source is ProvenanceSource.USER_PROVIDED and not user.needs_review
    assert user.value == dt.datetime.fromisoformat(USER_TIME)
    assert user.reasoning == [
        "given in the user's metadata file; replaces 2023-11-17T05:25:00 (intan_name_rule)"
    ]


def test_blackrock_start_time_from_the_nev_header(real_recording: RealRecording, tmp_path) -> None:
    folder = real_recording(BLACKROCK)
    detection, interface, fields = _decide(folder)
    assert detection.format == "blackrock"
    start = fields[START]
    _flagged(start)
    assert start.value.replace(tzinfo=None) == BLACKROCK_TIME
    assert start.source is ProvenanceSource.AUTO_EXTRACTED  # read from a header, another file
    assert start.method == "blackrock_nev_time_origin"
    assert start.evidence == ["l101210-001.nev: TimeOrigin"]
    assert "Blackrock .nev rule" in start.reasoning[1]
    check_metadata(list(fields.values()), interface)
    # The user's value differs from the header's: both are kept, the user's wins.
    user = _decide(folder, _user(tmp_path))[2][START]
    assert user.source is ProvenanceSource.USER_PROVIDED
    assert user.level is ConfidenceLevel.HUMAN_OVERRIDE and user.conflict is not None
    assert {c.source for c in user.conflict.candidates} == {
        ProvenanceSource.AUTO_EXTRACTED,
        ProvenanceSource.USER_PROVIDED,
    }


# (A Blackrock .nsX without its .nev is refused before this: formats/blackrock.py.)
@pytest.mark.parametrize(("name", "drop"), [(INTAN, None), ("spikegadgets_W122", "README.txt")])
def test_otherwise_the_earliest_file_time(
    real_recording: RealRecording, name: str, drop: str | None
) -> None:
    """No dated name, no .nev: the files' earliest modification time, flagged lower still."""
    folder = real_recording(name)
    if drop:
        (folder / drop).unlink()
    folder = folder.rename(folder.with_name("session"))  # no date in the name
    files = sorted(f for f in folder.iterdir())
    for i, file in enumerate(files):
        os.utime(file, (1_700_000_000 + 100 * i, 1_700_000_000 + 100 * i))
    os.utime(files[-1], (1_600_000_000, 1_600_000_000))  # the earliest, whatever its name
    _, interface, fields = _decide(folder)
    start = fields[START]
    _flagged(start)
    assert start.value == dt.datetime.fromtimestamp(1_600_000_000, dt.UTC)
    assert start.method == "earliest_file_modification_time"
    assert start.confidence == md.MODIFIED_TIME_CONFIDENCE
    assert start.evidence[0].startswith(f"{files[-1].name}: modification time ")
    assert "copying or downloading the files may have changed it" in start.reasoning[1]
    check_metadata(list(fields.values()), interface)


def test_no_candidate_refuses_before_anything_is_created(
    real_recording: RealRecording, run_cli: RunCli, tmp_path: Path
) -> None:
    """File times of 1970 (an archiver's zero) are no recording's: one line, nothing made."""
    folder = real_recording("neuroscope_test1")  # its files carry no start time
    for file in folder.iterdir():
        os.utime(file, (86_400, 86_400))
    assert md.infer_session_start(formats.detect_format(folder)) is None
    out = tmp_path / "out"
    out.mkdir()
    code, _out, err = run_cli("convert", str(folder), "--output", str(out))
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert err == (
        "error: metadata field NWBFile.session_start_time is missing "
        "(e.g. '2024-03-01T14:30:00-05:00') "
        "(set NWBFile.session_start_time in a metadata file (--metadata FILE))\n"
    )
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("path", "expected", "evidence"),
    [
        ("mouse1_240102_101112.rhd", dt.datetime(2024, 1, 2, 10, 11, 12), "file name"),
        (f"{INTAN}/info.rhd", INTAN_TIME, "folder name"),
        ("231117_052500/info.rhs", INTAN_TIME, "folder name"),
        ("rec_231317_052500/info.rhd", None, None),  # month 13: no date, the file times
        ("session/info.rhd", None, None),
    ],
)
def test_intan_name_rule(
    tmp_path: Path, path: str, expected: dt.datetime | None, evidence: str | None
) -> None:
    file = tmp_path / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"")
    detection = formats.Detection("intan", 0.95, (file.name,), source_data={"file_path": file})
    start = md.infer_session_start(detection)
    assert start is not None
    if expected is None:
        assert start.method == "earliest_file_modification_time"
        return
    assert start.method == "intan_name_rule" and start.value == expected
    named = file.stem if evidence == "file name" else file.parent.name
    assert start.evidence == [f"{evidence} {named}"]


@pytest.mark.slow
def test_the_script_names_a_missing_field_instead_of_crashing(
    real_recording: RealRecording,
) -> None:
    """A metadata file without the start time (written by hand, say): one line, no KeyError."""
    folder = real_recording(INTAN)
    root = folder.parent
    detection, _, fields = _decide(folder)
    decisions = [d for f, d in fields.items() if f != START]
    source = script.relative_source_data(detection, root)
    script.render_script(detection, decisions, CONTEXT, source).write(root / "scripts")
    done = subprocess.run(
        [sys.executable, "scripts/convert.py"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr == (
        "scripts/metadata.json: NWBFile.session_start_time is missing, and NWB requires it: "
        "set NWBFile.session_start_time in --metadata FILE and convert again\n"
    )
    assert not (root / CONTEXT.output).exists()


def _start_records(root: Path) -> list[dict]:
    return [e for e in iter_entries(root / "provenance" / "journal") if e.get("field") == START]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "method", "rule"),
    [
        (INTAN, "intan_name_rule", "Intan folder/file-name rule"),
        (BLACKROCK, "blackrock_nev_time_origin", "Blackrock .nev rule"),
    ],
)
def test_anc_convert_without_a_start_time(
    real_recording: RealRecording,
    run_cli: RunCli,
    tmp_path: Path,
    name: str,
    method: str,
    rule: str,
) -> None:
    import pynwb

    folder = real_recording(name)
    out = tmp_path / "out"
    code, _out, err = run_cli("convert", str(folder), "--output", str(out), "--id", "flagged")
    assert code == 0, err
    root = out / "conversion_flagged"
    final = _start_records(root)[-1]
    assert final["source"] in ("domain_knowledge", "auto_extracted")
    assert final["confidence"] < 0.5 and final["confidence_level"] == "low_evidence"
    assert final["method"] == method and any(rule in r for r in final["reasoning"])
    state = (root / "provenance" / "pipeline_state.json").read_text()
    assert START in state  # listed under needs_review
    with pynwb.NWBHDF5IO(str(root / "outputs" / "flagged.nwb"), "r") as io:
        written = io.read().session_start_time
    # Read without a zone: this machine's assumed (flagged too), as for any naive time.
    assert written == (INTAN_TIME if name == INTAN else BLACKROCK_TIME).astimezone()

    meta = tmp_path / "meta.yaml"
    meta.write_text(f"NWBFile:\n  session_start_time: {USER_TIME}\n")
    code, _out, err = run_cli(
        "convert", str(folder), "--output", str(out), "--id", "given", "--metadata", str(meta)
    )
    assert code == 0, err
    final = _start_records(out / "conversion_given")[-1]
    assert final["source"] == "user_provided" and final["confidence"] == 1.0
    with pynwb.NWBHDF5IO(str(out / "conversion_given" / "outputs" / "given.nwb"), "r") as io:
        assert io.read().session_start_time == dt.datetime.fromisoformat(USER_TIME)

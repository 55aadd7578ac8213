"""Metadata is checked before anything is created, with the rules the conversion applies:
NeuroConv's schema, pynwb, nwbinspector's DANDI configuration (real libraries, no mocks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import formats
from agentic_neurodata_conversion.conversion import metadata as md
from agentic_neurodata_conversion.conversion.metadata_check import check_metadata
from agentic_neurodata_conversion.conversion.pipeline import ConversionPipeline
from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.journal.chain import iter_entries
from agentic_neurodata_conversion.journal.records import ConfidenceLevel, ProvenanceSource

RunCli = Callable[..., tuple[int, str, str]]
Snapshot = Callable[[Path], tuple[str, ...]]
CONTEXT = md.ConversionContext("check", "check-dataset", dt.datetime(2024, 2, 1, tzinfo=dt.UTC))

# (metadata file, field, value as shown, part of the example)
REFUSED = {
    "species": ("Subject:\n  species: mouse\n", "Subject.species", "'mouse'", "'Mus musculus'"),
    "age": ("Subject:\n  age: 90 days\n", "Subject.age", "'90 days'", "'P90D'"),
    "sex": ("Subject:\n  sex: male\n", "Subject.sex", "'male'", "'M'"),
    "empty subject_id": ("Subject:\n  subject_id: ''\n", "Subject.subject_id", "''", "'mouse-001'"),
    "weight": ("Subject:\n  weight: '25'\n", "Subject.weight", "'25'", "'0.025 kg'"),
    "start time a number": (
        "NWBFile:\n  session_start_time: 12345\n",
        "NWBFile.session_start_time",
        "12345",
        "'2024-03-01T14:30:00-05:00'",
    ),
    "start time in the future": (
        "NWBFile:\n  session_start_time: 2999-01-01T00:00:00Z\n",
        "NWBFile.session_start_time",
        "'2999-01-01T00:00:00+00:00'",
        "'2024-03-01T14:30:00-05:00'",
    ),
    "session_id with a slash": (
        "NWBFile:\n  session_id: day1/run2\n",
        "NWBFile.session_id",
        "'day1/run2'",
        "'session-001'",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_metadata_is_refused_before_anything_is_created(
    case: str,
    tmp_path: Path,
    write_recording: Callable[..., object],
    run_cli: RunCli,
    snapshot: Snapshot,
) -> None:
    text, field, value, example = REFUSED[case]
    rec, out = tmp_path / "rec", tmp_path / "out"
    write_recording("spikeglx", rec)
    out.mkdir()
    meta = tmp_path / "bad.yaml"
    meta.write_text(text)
    before = snapshot(out), snapshot(rec)
    code, stdout, err = run_cli("convert", str(rec), "--output", str(out), "--metadata", str(meta))
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert field in err and value in err and f"e.g. {example}" in err, err
    assert str(meta) in err  # the hint names the file to fix
    assert stdout == ""
    assert (snapshot(out), snapshot(rec)) == before
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_best_practice_warning_is_shown_once_and_recorded(
    tmp_path: Path, write_recording: Callable[..., object], run_cli: RunCli
) -> None:
    write_recording("spikeglx", tmp_path / "rec")
    meta = tmp_path / "meta.yaml"
    meta.write_text("NWBFile:\n  experimenter: [Jane Doe]\nSubject:\n  species: Mus musculus\n")
    code, _out, err = run_cli(
        "convert",
        str(tmp_path / "rec"),
        "--output",
        str(tmp_path / "out"),
        "--id",
        "warned",
        "--metadata",
        str(meta),
    )
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("warning: NWBFile.experimenter: ") and "'Jane Doe'" in warnings[0]
    root = tmp_path / "out" / "conversion_warned"
    checks = [
        e
        for e in iter_entries(root / "provenance" / "journal")
        if e["operation"] == "metadata_check"
    ]
    assert len(checks) == 1
    output = checks[0]["output_data"]
    assert output["warnings"] == [warnings[0].removeprefix("warning: ")]
    assert output["blocking"] == 0
    rules = " ".join(output["rules"])
    assert "neuroconv" in rules and "pynwb" in rules and "nwbinspector" in rules
    assert "check_subject_species_form" in rules and "dandi" in rules
    assert checks[0]["input_data"]["checked_before_start"] is True


def test_pipeline_path_refuses_before_the_script_exists(
    tmp_path: Path, write_recording: Callable[..., object]
) -> None:
    """The MCP server's path: the dataset exists; the metadata stage refuses, records nothing."""
    write_recording("spikeglx", tmp_path / "rec")
    bad = tmp_path / "bad.yaml"
    bad.write_text(REFUSED["species"][0])
    pipeline = ConversionPipeline.start(
        tmp_path / "rec", tmp_path / "out", conversion_id="mcp", input_mode="reference"
    )
    try:
        pipeline.detect()
        with pytest.raises(UsageError) as refused:
            pipeline.assemble_metadata(bad)
        assert "metadata field Subject.species: 'mouse' is not a Latin binomial" in str(
            refused.value
        )
        assert refused.value.hint == f"fix Subject.species in the metadata file {bad}"
        root = pipeline.path
        assert not (root / "scripts" / "convert.py").exists()
        assert not list((root / "inputs").glob("user-metadata*"))
        ops = {r.operation for r in pipeline.tracker.iter_records()}
        assert "set_metadata_field" not in ops and "metadata_check" not in ops
        # Fixed, the same conversion goes on.
        good = tmp_path / "good.yaml"
        good.write_text("Subject:\n  species: Mus musculus\n")
        pipeline.assemble_metadata(good)
        assert pipeline.state["metadata_warnings"] == []
        assert pipeline.write_script().is_file()
        checks = [r for r in pipeline.tracker.iter_records() if r.operation == "metadata_check"]
        assert len(checks) == 1 and checks[0].input_data["checked_before_start"] is False
    finally:
        pipeline.tracker.close()


# --------------------------------------------------------------------------- the check itself


def _decisions(
    spikeglx_extracted: tuple[object, list[md.FieldDecision]], **values: object
) -> tuple[list[md.FieldDecision], object]:
    """The decided fields with VALUES (``Section__name=value``) as the user's."""
    detection, extracted = spikeglx_extracted
    decisions = md.decide_fields(extracted, detection.spec, CONTEXT)  # type: ignore[attr-defined]
    given = {k.replace("__", "."): v for k, v in values.items()}
    by_field = {d.field: d for d in decisions}
    for path, value in given.items():
        if path in by_field:
            by_field[path] = dataclasses.replace(by_field[path], value=value)
        else:
            by_field[path] = md.FieldDecision(
                path,
                value,
                ProvenanceSource.USER_PROVIDED,
                1.0,
                ConfidenceLevel.HUMAN_CONFIRMED,
                "test",
            )
    return list(by_field.values()), formats.make_interface(detection)  # type: ignore[arg-type]


def test_decided_defaults_pass_every_layer(
    spikeglx_extracted: tuple[object, list[md.FieldDecision]],
) -> None:
    decisions, interface = _decisions(spikeglx_extracted)
    result = check_metadata(decisions, interface)
    assert result.warnings == ()
    assert [rule.split()[0] for rule in result.rules] == ["neuroconv", "pynwb", "nwbinspector"]


def test_a_value_read_from_the_recording_names_the_fix(
    spikeglx_extracted: tuple[object, list[md.FieldDecision]],
) -> None:
    """pynwb's layer: the script parses the time with datetime.fromisoformat."""
    decisions, interface = _decisions(
        spikeglx_extracted, NWBFile__session_start_time="first of May"
    )
    start = next(d for d in decisions if d.field == "NWBFile.session_start_time")
    assert start.source is ProvenanceSource.AUTO_EXTRACTED
    with pytest.raises(UsageError) as refused:
        check_metadata(decisions, interface)
    assert str(refused.value.message) == (
        "metadata field NWBFile.session_start_time: 'first of May' is not an ISO 8601 date and "
        "time (e.g. '2024-03-01T14:30:00-05:00')"
    )
    assert "read from the recording" in str(refused.value.hint)
    # It crosses the helper process intact.
    again = pickle.loads(pickle.dumps(refused.value))
    assert (again.message, again.hint) == (refused.value.message, refused.value.hint)


def test_several_problems_report_the_first_and_count_the_rest(
    spikeglx_extracted: tuple[object, list[md.FieldDecision]],
) -> None:
    decisions, interface = _decisions(
        spikeglx_extracted, Subject__age="90 days", Subject__weight="heavy"
    )
    with pytest.raises(UsageError, match=r"^metadata field Subject\.\w+: .* \(\+1 more\)"):
        check_metadata(decisions, interface)


def test_warnings_are_deduplicated(
    spikeglx_extracted: tuple[object, list[md.FieldDecision]],
) -> None:
    decisions, interface = _decisions(
        spikeglx_extracted, NWBFile__experimenter=["Jane Doe", "Jane Doe"]
    )
    result = check_metadata(decisions, interface)
    assert len(result.warnings) == 1 and "'Jane Doe'" in result.warnings[0]


def test_a_missing_required_field_is_named(
    spikeglx_extracted: tuple[object, list[md.FieldDecision]],
) -> None:
    """NeuroConv's schema requires a session start time (some formats carry none)."""
    decisions, interface = _decisions(spikeglx_extracted)
    decisions = [d for d in decisions if d.field != "NWBFile.session_start_time"]
    with pytest.raises(UsageError) as refused:
        check_metadata(decisions, interface, user_file="meta.yaml")
    assert refused.value.message == (
        "metadata field NWBFile.session_start_time is missing (e.g. '2024-03-01T14:30:00-05:00')"
    )
    assert refused.value.hint == "set NWBFile.session_start_time in the metadata file meta.yaml"

"""Metadata decided field by field: file values, the user's file, conflicts, placeholders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import metadata as md
from agentic_neurodata_conversion.errors import UsageError
from agentic_neurodata_conversion.journal.records import ConfidenceLevel, ProvenanceSource

CONTEXT = md.ConversionContext("conv-1", "dataset-1", dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
FILE_TIME = dt.datetime(2024, 1, 15, 10, 30)  # what synthetic.START_TIME says


def _by_field(decisions: list[md.FieldDecision]) -> dict[str, md.FieldDecision]:
    return {d.field: d for d in decisions}


def _user(tmp_path: Path, text: str, name: str = "meta.yaml") -> md.UserMetadata:
    path = tmp_path / name
    path.write_text(text)
    return md.load_user_metadata(path)


def test_extracted_values_carry_file_evidence(spikeglx_extracted) -> None:
    _, extracted = spikeglx_extracted
    fields = _by_field(extracted)
    start = fields["NWBFile.session_start_time"]
    assert start.value == FILE_TIME and start.value.tzinfo is None
    assert start.source is ProvenanceSource.AUTO_EXTRACTED
    assert start.level is ConfidenceLevel.DEFINITIVE
    assert start.evidence == ["synthetic_g0_t0.imec0.ap.meta: fileCreateTime"]
    serial = next(d for p, d in fields.items() if p.endswith(".serial_number"))
    assert serial.value == "18194814132" and "imDatPrb_sn" in serial.evidence[0]
    assert "NWBFile.identifier" not in fields  # random in NeuroConv: set by the conversion


def test_decisions_cover_every_written_field(spikeglx_extracted) -> None:
    detection, extracted = spikeglx_extracted
    decisions = md.decide_fields(extracted, detection.spec, CONTEXT)
    fields = _by_field(decisions)
    assert len(fields) == len(decisions)
    nested = md.to_neuroconv(decisions)
    flat = md.flatten(nested)
    # Everything in the metadata handed to NeuroConv has a decision (was_generated_by is
    # computed by the script, and also has one).
    assert set(flat) == set(fields) - {"NWBFile.was_generated_by"}
    assert isinstance(nested["Ecephys"]["Electrodes"], list)
    start = fields["NWBFile.session_start_time"].value
    assert start.tzinfo is not None and start.replace(tzinfo=None) == FILE_TIME
    assert fields["NWBFile.identifier"].value == CONTEXT.identifier
    assert "conversion_id: conv-1" in fields["NWBFile.source_script"].value
    assert "dataset_id: dataset-1" in fields["NWBFile.source_script"].value
    for path in (
        "Subject.species",
        "Subject.sex",
        "Subject.age",
        "NWBFile.experimenter",
        "NWBFile.keywords",
        "NWBFile.institution",
        "NWBFile.experiment_description",
    ):
        assert fields[path].level is ConfidenceLevel.PLACEHOLDER, path
        assert fields[path].needs_review and fields[path].confidence < 0.5
    assert fields["NWBFile.session_start_time"].level is ConfidenceLevel.MEDIUM_EVIDENCE
    for decision in decisions:
        assert json.dumps(decision.to_dict())
        record = decision.to_record()
        assert record.field == decision.field and record.source is decision.source


def test_user_value_disagreeing_with_file_is_a_conflict(spikeglx_extracted, tmp_path) -> None:
    detection, extracted = spikeglx_extracted
    user = _user(
        tmp_path,
        "timezone: Europe/Berlin\n"
        "NWBFile:\n  session_start_time: 2024-01-16T09:00:00\n  lab: Smith Lab\n"
        "Subject:\n  subject_id: M1\n  species: Mus musculus\n  sex: F\n  age: P90D\n",
    )
    fields = _by_field(md.decide_fields(extracted, detection.spec, CONTEXT, user, "meta.yaml"))
    start = fields["NWBFile.session_start_time"]
    assert start.source is ProvenanceSource.USER_PROVIDED
    assert start.level is ConfidenceLevel.HUMAN_OVERRIDE
    assert start.value == dt.datetime(2024, 1, 16, 9, tzinfo=start.value.tzinfo)
    assert str(start.value.tzinfo) == "Europe/Berlin"
    conflict = start.conflict
    assert conflict is not None and conflict.resolution == "human_override"
    sources = {c.source: c.value for c in conflict.candidates}
    assert sources[ProvenanceSource.AUTO_EXTRACTED] == FILE_TIME
    assert sources[ProvenanceSource.USER_PROVIDED] == dt.datetime(2024, 1, 16, 9)
    assert json.dumps(start.to_record().to_dict())
    lab = fields["NWBFile.lab"]
    assert lab.level is ConfidenceLevel.HUMAN_CONFIRMED and lab.conflict is None
    assert fields["Subject.sex"].value == "F" and not fields["Subject.sex"].needs_review


def test_user_value_agreeing_with_file_is_confirmed(spikeglx_extracted, tmp_path) -> None:
    detection, extracted = spikeglx_extracted
    user = _user(
        tmp_path, '{"NWBFile": {"session_start_time": "2024-01-15T10:30:00+01:00"}}', "meta.json"
    )
    start = _by_field(md.decide_fields(extracted, detection.spec, CONTEXT, user))[
        "NWBFile.session_start_time"
    ]
    assert start.level is ConfidenceLevel.HUMAN_CONFIRMED and start.conflict is None
    assert start.value.utcoffset() == dt.timedelta(hours=1)


def test_groups_and_devices_by_name(spikeglx_extracted, tmp_path) -> None:
    detection, extracted = spikeglx_extracted
    user = _user(
        tmp_path,
        "Ecephys:\n  ElectrodeGroups:\n    '*': {location: CA1}\n"
        "Devices:\n  NeuropixelsImec0: {description: my probe}\n",
    )
    fields = _by_field(md.decide_fields(extracted, detection.spec, CONTEXT, user))
    assert fields["Ecephys.ElectrodeGroups.NeuropixelsImec0.location"].value == "CA1"
    device = next(
        d for p, d in fields.items() if p.startswith("Devices.") and p.endswith(".description")
    )
    assert device.value == "my probe"
    bad = _user(tmp_path, "Ecephys:\n  ElectrodeGroups:\n    Shank9: {location: CA1}\n")
    with pytest.raises(UsageError, match="Ecephys.ElectrodeGroups.Shank9"):
        md.decide_fields(extracted, detection.spec, CONTEXT, bad)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.yaml", "NWBFile: [unclosed\n", "is not valid YAML"),
        ("bad.json", '{"NWBFile": ', "is not valid JSON"),
        (
            "extra.yaml",
            "NWBFile:\n  favourite_colour: blue\n",
            "field NWBFile.favourite_colour: unknown field",
        ),
        (
            "date.yaml",
            "NWBFile:\n  session_start_time: last tuesday\n",
            "field NWBFile.session_start_time: Input should be a valid datetime",
        ),
        ("sex.yaml", "Subject:\n  sex: male\n", "field Subject.sex"),
        ("zone.yaml", "timezone: Mars/Olympus\n", "field timezone"),
        ("list.yaml", "- a\n- b\n", "must hold a mapping"),
    ],
)
def test_bad_metadata_files_name_the_problem(tmp_path, name, text, expected) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        md.load_user_metadata(path)
    assert expected in info.value.message
    assert name in info.value.message
    assert "\n" not in str(info.value)


def test_missing_metadata_file(tmp_path) -> None:
    with pytest.raises(UsageError, match="cannot read metadata file"):
        md.load_user_metadata(tmp_path / "nope.yaml")

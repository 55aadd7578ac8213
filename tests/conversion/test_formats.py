"""Format detection, the format registry and up-front checks of corrupt recordings."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from agentic_neurodata_conversion.conversion import formats, synthetic
from agentic_neurodata_conversion.errors import ConversionError, UsageError


def test_synthetic_recordings_are_deterministic(tmp_path: Path) -> None:
    def digest(folder: Path) -> str:
        h = hashlib.sha256()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
        return h.hexdigest()

    for fmt in ("spikeglx", "openephys"):
        a = synthetic.write_recording(fmt, tmp_path / f"{fmt}-a", channels=4, seconds=0.1, seed=3)
        b = synthetic.write_recording(fmt, tmp_path / f"{fmt}-b", channels=4, seconds=0.1, seed=3)
        assert digest(a.folder) == digest(b.folder)
        assert a.samples == 3000 and a.channels == 4 and len(a.gains_uv) == 4
        assert all(p.is_file() for p in a.files)


def test_detects_spikeglx_with_evidence(write_recording) -> None:
    rec = write_recording("spikeglx")
    detection = formats.detect_format(rec.folder)
    assert detection.format == "spikeglx"
    assert detection.confidence >= 0.9
    assert set(detection.matched_files) == {
        "synthetic_g0_t0.imec0.ap.bin",
        "synthetic_g0_t0.imec0.ap.meta",
    }
    assert detection.source_data == {"folder_path": str(rec.folder), "stream_id": "imec0.ap"}
    assert detection.reasoning[-1] == "one stream: imec0.ap"
    record = detection.to_record()
    assert record.source.value == "auto_extracted"
    assert record.evidence == list(detection.matched_files)
    assert json.dumps(record.to_dict())


def add_streams(folder: Path, *streams: str) -> None:
    """Copies of the synthetic imec0.ap stream standing in for a run's other streams."""
    ap = folder / "synthetic_g0_t0.imec0.ap"
    for stream in streams:
        other = folder / f"synthetic_g0_t0.{stream}"
        Path(f"{other}.bin").write_bytes(Path(f"{ap}.bin").read_bytes())
        Path(f"{other}.meta").write_text(Path(f"{ap}.meta").read_text().replace("imec0.ap", stream))


def test_a_spikeglx_run_with_several_streams_records_which_one_is_converted(
    write_recording,
) -> None:
    rec = write_recording("spikeglx")
    add_streams(rec.folder, "imec0.lf", "imec1.ap")
    detection = formats.detect_format(rec.folder)
    assert detection.source_data["stream_id"] == "imec0.ap"
    assert detection.streams == ("imec0.ap", "imec1.ap", "imec0.lf")
    assert detection.reasoning[-1] == (
        "3 streams (imec0.ap, imec1.ap, imec0.lf): converting imec0.ap "
        "(SpikeGLX's first AP stream, by default); not converted: imec1.ap, imec0.lf"
    )
    assert detection.to_record().reasoning[-1] == detection.reasoning[-1]

    chosen = formats.detect_format(rec.folder, stream="imec0.lf")
    assert chosen.source_data == {"folder_path": str(rec.folder), "stream_id": "imec0.lf"}
    assert chosen.reasoning[-1] == (
        "3 streams (imec0.ap, imec1.ap, imec0.lf): converting imec0.lf (chosen by the user); "
        "not converted: imec0.ap, imec1.ap"
    )


def test_a_stream_the_recording_lacks_is_refused(write_recording) -> None:
    rec = write_recording("spikeglx")
    with pytest.raises(UsageError, match=r"has no stream 'imec9.ap' \(its streams: 'imec0.ap'\)"):
        formats.detect_format(rec.folder, stream="imec9.ap")
    oe = write_recording("openephys")
    with pytest.raises(UsageError, match=r"its streams: 'Acquisition_Board-100.Rhythm Data'"):
        formats.detect_format(oe.folder, stream="imec0.ap")
    neuralynx = oe.folder.parent / "nlx"
    neuralynx.mkdir()
    (neuralynx / "CSC1.Ncs").write_bytes(b"######## Neuralynx Data File Header".ljust(16384))
    with pytest.raises(UsageError, match="^Neuralynx recordings have no streams to choose from"):
        formats.detect_format(neuralynx, stream="x")


def test_detects_openephys(write_recording) -> None:
    rec = write_recording("openephys")
    detection = formats.detect_format(rec.folder)
    assert detection.format == "openephys"
    assert any(f.endswith("structure.oebin") for f in detection.matched_files)
    assert any(f.endswith("settings.xml") for f in detection.matched_files)
    node = rec.folder / "Record Node 101"
    assert detection.source_data == {
        "folder_path": str(node),
        "stream_name": "Record Node 101#Acquisition_Board-100.Rhythm Data",
    }
    assert detection.reasoning[-1] == "one stream: Acquisition_Board-100.Rhythm Data"


def test_format_given_by_user_is_recorded_as_such(write_recording) -> None:
    rec = write_recording("spikeglx")
    detection = formats.detect_format(rec.folder, "SpikeGLX")
    assert detection.method == "user_option" and detection.confidence == 1.0
    assert detection.to_record().source.value == "user_provided"
    with pytest.raises(UsageError, match="unknown format 'nope'"):
        formats.detect_format(rec.folder, "nope")


def test_ambiguous_folder_asks_for_format(write_recording, tmp_path: Path) -> None:
    folder = tmp_path / "both"
    write_recording("spikeglx", folder)
    write_recording("openephys", folder)
    with pytest.raises(UsageError) as info:
        formats.detect_format(folder)
    assert "openephys" in info.value.message and "spikeglx" in info.value.message
    assert "--format" in info.value.hint
    assert formats.detect_format(folder, "openephys").format == "openephys"


def test_nothing_recognisable_lists_supported_formats(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no recording here")
    with pytest.raises(ConversionError) as info:
        formats.detect_format(tmp_path)
    assert "no recognisable recording format" in info.value.message
    assert "spikeglx" in info.value.hint and "openephys" in info.value.hint


def test_missing_or_empty_source(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        formats.detect_format(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="is empty"):
        formats.detect_format(tmp_path / "empty")


def _meta(rec) -> Path:
    return next(p for p in rec.files if p.suffix == ".meta")


def test_meta_without_required_key_names_it(write_recording) -> None:
    rec = write_recording("spikeglx")
    meta = _meta(rec)
    meta.write_text(
        "".join(
            ln + "\n" for ln in meta.read_text().splitlines() if not ln.startswith("imSampRate=")
        )
    )
    with pytest.raises(ConversionError) as info:
        formats.detect_format(rec.folder)
    assert "imSampRate" in info.value.message and str(meta) in info.value.message
    assert "\n" not in str(info.value)


def test_truncated_and_empty_bin(write_recording) -> None:
    rec = write_recording("spikeglx")
    data = next(p for p in rec.files if p.suffix == ".bin")
    with data.open("r+b") as f:
        f.truncate(data.stat().st_size - 3)
    with pytest.raises(ConversionError, match="truncated"):
        formats.detect_format(rec.folder)
    data.write_bytes(b"")
    with pytest.raises(ConversionError, match="is empty"):
        formats.detect_format(rec.folder)


def test_openephys_corruptions(write_recording) -> None:
    rec = write_recording("openephys")
    dat = next(p for p in rec.files if p.name == "continuous.dat")
    with dat.open("r+b") as f:
        f.truncate(dat.stat().st_size - 1)
    with pytest.raises(ConversionError, match="truncated"):
        formats.detect_format(rec.folder)

    rec = write_recording("openephys", seed=1)
    settings = next(p for p in rec.files if p.name == "settings.xml")
    shutil.copytree(settings.parent, settings.parent.with_name("Record Node 102"))
    with pytest.raises(UsageError) as info:
        formats.detect_format(rec.folder)
    assert info.value.message.endswith("holds 2 record nodes: 'Record Node 101', 'Record Node 102'")
    assert info.value.hint == "choose the one to convert with --record-node NAME"
    chosen = formats.detect_format(rec.folder, choose={"record_node": "Record Node 102"})
    assert chosen.source_data["folder_path"] == str(rec.folder / "Record Node 102")
    settings.unlink()
    with pytest.raises(ConversionError, match="settings.xml is missing"):
        formats.detect_format(rec.folder, choose={"record_node": "Record Node 101"})


def test_every_format_names_its_extra_and_interface() -> None:
    import neuroconv.datainterfaces

    for spec in formats.FORMATS.values():
        assert hasattr(neuroconv.datainterfaces, spec.interface), spec.name
        assert spec.install_hint().endswith(f'`pip install "neuroconv[{spec.extra}]"`')
    assert formats.missing_requirements("spikeglx") == []
    assert formats.missing_requirements("openephys") == []


def test_missing_extra_gives_pip_hint() -> None:
    spec = formats.get_format("edf")  # pyedflib is not installed here
    assert formats.missing_requirements("edf"), "pyedflib is installed: pick another format"
    with pytest.raises(ConversionError) as info:
        formats.interface_class(spec)
    assert "pyedflib" in info.value.message
    assert 'pip install "neuroconv[edf]"' in info.value.hint

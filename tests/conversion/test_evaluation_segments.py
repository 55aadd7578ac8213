"""The read-back of files NeuroConv writes with several ElectricalSeries: one per segment of a
multi-segment recording, one (or one per segment) per stream, some with timestamps."""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pynwb
import pytest
from neuroconv.tools.nwb_helpers import (
    configure_and_write_nwbfile,
    get_default_backend_configuration,
)
from neuroconv.tools.spikeinterface import add_recording_to_nwbfile
from spikeinterface.core import BaseRecording, NumpyRecording

from agentic_neurodata_conversion.conversion.evaluation import (
    ChannelMismatch,
    evaluate_nwb,
    merge,
    sample_ranges,
    series_names,
)
from agentic_neurodata_conversion.errors import ConversionError

CHUNK_ROWS = 64  # small HDF5 chunks, so sample_ranges has several cut points per series


def _recording(
    samples: list[int],
    *,
    channels: int = 4,
    rate: float = 1000.0,
    prefix: str = "ch",
    t_starts: list[float] | None = None,
    seed: int = 0,
) -> NumpyRecording:
    rng = np.random.default_rng(seed)
    traces = [rng.integers(-2000, 2000, size=(n, channels), dtype=np.int16) for n in samples]
    ids = [f"{prefix}{i}" for i in range(channels)]
    recording = NumpyRecording(traces, rate, t_starts=t_starts, channel_ids=ids)
    recording.set_channel_gains(0.195)
    recording.set_channel_offsets(0.0)
    return recording


def _set_times(recording: BaseRecording, segment: int, times: np.ndarray) -> None:
    with warnings.catch_warnings():  # "not always propagated across preprocessing": none here
        warnings.simplefilter("ignore", UserWarning)
        recording.set_times(times, segment_index=segment)


def _write(path: Path, recordings: dict[str, BaseRecording], **options: object) -> Path:
    """RECORDINGS written by NeuroConv's own writer into one file, each as series KEY."""
    nwbfile = pynwb.NWBFile(
        session_description="segments",
        identifier="segments",
        session_start_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    metadata = {
        "Ecephys": {
            "ElectricalSeries": {key: {"name": key, "description": key} for key in recordings}
        }
    }
    for key, recording in recordings.items():
        add_recording_to_nwbfile(recording, nwbfile, metadata=metadata, metadata_key=key, **options)
    config = get_default_backend_configuration(nwbfile, backend="hdf5")
    for location, dataset in config.dataset_configurations.items():
        if location.startswith("acquisition/") and location.endswith("/data"):
            dataset.chunk_shape = (CHUNK_ROWS, dataset.full_shape[1])
    configure_and_write_nwbfile(nwbfile, nwbfile_path=path, backend_configuration=config)
    return path


def _tampered(
    path: Path, tmp_path: Path, dataset: str, index: tuple[int, ...], delta: float
) -> Path:
    copy = tmp_path / f"tampered-{path.name}"
    shutil.copyfile(path, copy)  # the original stays as written
    with h5py.File(copy, "r+") as f:
        f[dataset][index] += delta
    return copy


@pytest.fixture
def two_segments() -> NumpyRecording:
    # The second segment starts later, as a second trigger or gate does.
    return _recording([300, 200], t_starts=[0.0, 5.0])


def test_series_names_follow_neuroconv() -> None:
    assert series_names("ElectricalSeriesAP", 1) == ["ElectricalSeriesAP"]
    assert series_names("ES", 3) == ["ES0", "ES1", "ES2"]
    assert series_names("ES", 11)[::10] == ["ES00", "ES10"]


def test_each_segment_is_compared_with_its_series(two_segments, tmp_path) -> None:
    nwb = _write(tmp_path / "s.nwb", {"ElectricalSeriesAP": two_segments})
    for sources in ({"ElectricalSeriesAP": two_segments}, {None: two_segments}):
        report = evaluate_nwb(nwb, sources, block_bytes=CHUNK_ROWS * 8)
        assert report.passes, report.summary
        assert [(s.series, s.segment, s.samples_compared) for s in report.series] == [
            ("ElectricalSeriesAP0", 0, 300),
            ("ElectricalSeriesAP1", 1, 200),
        ]
        assert report.samples_compared == 500 and report.channels_compared == 4
        start = {c.name: c for c in report["ElectricalSeriesAP1"].checks}["start time (s)"]
        assert start.expected == start.actual == 5.0 and start.ok
    as_dict = report.to_dict()
    assert as_dict["passes"] and [s["series"] for s in as_dict["series"]] == [
        "ElectricalSeriesAP0",
        "ElectricalSeriesAP1",
    ]
    assert "segment 1 of 2" in report.to_markdown()


def test_a_tampered_sample_in_segment_1_is_named(two_segments, tmp_path) -> None:
    nwb = _write(tmp_path / "s.nwb", {"ElectricalSeriesAP": two_segments})
    copy = _tampered(nwb, tmp_path, "acquisition/ElectricalSeriesAP1/data", (123, 2), 1)
    report = evaluate_nwb(copy, {None: two_segments}, block_bytes=CHUNK_ROWS * 8)
    assert not report.passes and report["ElectricalSeriesAP0"].passes
    assert report.mismatches == [ChannelMismatch(2, "ch2", 123, 1, "ElectricalSeriesAP1")]
    assert report.summary.startswith("ElectricalSeriesAP1: samples differ on channel ch2")
    assert "from sample 123" in report.summary
    assert "| ch2 | 2 | 123 | 1 |" in report.to_markdown()


def test_a_shifted_segment_start_fails(two_segments, tmp_path) -> None:
    nwb = _write(tmp_path / "s.nwb", {"ElectricalSeriesAP": two_segments})
    copy = _tampered(nwb, tmp_path, "acquisition/ElectricalSeriesAP1/starting_time", (), 0.5)
    report = evaluate_nwb(copy, {None: two_segments})
    assert not report.passes
    assert report.summary == "ElectricalSeriesAP1: start time (s) differs: source 5.0, NWB 5.5"


def test_timestamps_are_compared_with_the_source_times(tmp_path) -> None:
    recording = _recording([300, 200])
    rng = np.random.default_rng(1)
    # Segment 0: a regular time vector (NeuroConv stores starting_time + rate); segment 1:
    # jittered sample times (NeuroConv stores the timestamps).
    _set_times(recording, 0, 2.0 + np.arange(300) / 1000.0)
    _set_times(recording, 1, 9.0 + np.cumsum(rng.uniform(0.0009, 0.0011, 200)))
    nwb = _write(tmp_path / "t.nwb", {"ElectricalSeriesAP": recording})
    report = evaluate_nwb(nwb, {None: recording}, block_bytes=CHUNK_ROWS * 8)
    assert report.passes, report.summary
    assert [(s.timing, s.times_compared) for s in report.series] == [
        ("rate", 300),
        ("timestamps", 200),
    ]
    copy = _tampered(nwb, tmp_path, "acquisition/ElectricalSeriesAP1/timestamps", (150,), 1e-4)
    broken = evaluate_nwb(copy, {None: recording}, block_bytes=CHUNK_ROWS * 8)
    assert not broken.passes and broken.mismatches == []
    mismatch = broken["ElectricalSeriesAP1"].time_mismatch
    assert mismatch is not None and (mismatch.first_sample, mismatch.count) == (150, 1)
    assert mismatch.nwb == pytest.approx(mismatch.source + 1e-4)
    assert "sample times differ from sample 150" in broken.summary


def test_timestamps_written_for_a_recording_without_times(two_segments, tmp_path) -> None:
    nwb = _write(
        tmp_path / "t.nwb", {"ElectricalSeriesAP": two_segments}, always_write_timestamps=True
    )
    report = evaluate_nwb(nwb, {None: two_segments})
    assert report.passes, report.summary
    assert [s.timing for s in report.series] == ["timestamps", "timestamps"]
    copy = _tampered(nwb, tmp_path, "acquisition/ElectricalSeriesAP0/timestamps", (0,), 1.0)
    broken = evaluate_nwb(copy, {None: two_segments})
    assert not broken.passes
    assert broken.summary.startswith("ElectricalSeriesAP0: start time (s) differs")


def _two_streams(tmp_path: Path) -> tuple[Path, BaseRecording, BaseRecording]:
    ap = _recording([400], channels=4, rate=30000.0, prefix="ap", seed=2)
    lf = _recording([250, 150], channels=3, rate=2500.0, prefix="lf", seed=3)
    nwb = _write(tmp_path / "two.nwb", {"ElectricalSeriesAP": ap, "ElectricalSeriesLF": lf})
    return nwb, ap, lf


def test_two_recordings_in_one_file_are_evaluated_together(tmp_path) -> None:
    nwb, ap, lf = _two_streams(tmp_path)
    sources = {"ElectricalSeriesAP": ap, "ElectricalSeriesLF": lf}
    report = evaluate_nwb(nwb, sources)
    assert report.passes, report.summary
    assert [s.series for s in report.series] == [
        "ElectricalSeriesAP",
        "ElectricalSeriesLF0",
        "ElectricalSeriesLF1",
    ]
    assert report.channels_compared == 7 and report.samples_compared == 800
    assert report.summary.startswith("all 3 series match the source")
    # None stands for the series no other key names.
    assert evaluate_nwb(nwb, {"ElectricalSeriesAP": ap, None: lf}).passes
    with pytest.raises(ConversionError, match="expected one"):
        evaluate_nwb(nwb, {None: ap})
    with pytest.raises(ConversionError, match="no ElectricalSeries 'ElectricalSeriesNIDQ'"):
        evaluate_nwb(nwb, {"ElectricalSeriesNIDQ": ap})


def test_a_mismatch_in_the_second_recording_fails_the_report(tmp_path) -> None:
    nwb, ap, lf = _two_streams(tmp_path)
    copy = _tampered(nwb, tmp_path, "acquisition/ElectricalSeriesLF1/data", (7, 0), -3)
    report = evaluate_nwb(copy, {"ElectricalSeriesAP": ap, "ElectricalSeriesLF": lf})
    assert not report.passes
    assert [s.series for s in report.series if not s.passes] == ["ElectricalSeriesLF1"]
    assert report.mismatches == [ChannelMismatch(0, "lf0", 7, 1, "ElectricalSeriesLF1")]
    shown = report.to_dict()
    assert not shown["passes"] and [s["passes"] for s in shown["series"]] == [True, True, False]
    assert "## `ElectricalSeriesLF1` (rate, segment 1 of 2): **fails**" in report.to_markdown()


def test_ranges_cover_every_series_and_merge_to_the_whole(tmp_path) -> None:
    nwb, ap, lf = _two_streams(tmp_path)
    copy = _tampered(nwb, tmp_path, "acquisition/ElectricalSeriesLF0/data", (200, 1), 1)
    sources = {"ElectricalSeriesAP": ap, "ElectricalSeriesLF": lf}
    pieces = sample_ranges(copy, 3)
    assert 1 < len(pieces) <= 3
    covered: dict[str, list[tuple[int, int]]] = {}
    for piece in pieces:
        for name, (start, stop) in piece.items():
            assert start % CHUNK_ROWS == 0 and start < stop
            covered.setdefault(name, []).append((start, stop))
    sizes = {"ElectricalSeriesAP": 400, "ElectricalSeriesLF0": 250, "ElectricalSeriesLF1": 150}
    for name, ranges in covered.items():
        assert [a for a, _ in ranges[1:]] == [b for _, b in ranges[:-1]]  # no gap, no overlap
        assert ranges[0][0] == 0 and ranges[-1][1] == sizes[name]
    assert set(covered) == set(sizes)
    whole = evaluate_nwb(copy, sources)
    merged = merge([evaluate_nwb(copy, sources, rows=piece) for piece in pieces])
    assert merged.to_dict() == whole.to_dict()
    assert merged.mismatches == [ChannelMismatch(1, "lf1", 200, 1, "ElectricalSeriesLF0")]

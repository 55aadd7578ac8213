"""Read the NWB file back and compare it with the source recording, sample by sample.

The source is read through the same NeuroConv interface (spikeinterface extractor) the
conversion used, and both sides are streamed in blocks of bounded size, so a multi-GB file
is checked in flat memory. Channel count, sampling rate, duration, gains, offsets, channel
order and every stored int16 sample must match exactly (scales within float rounding); a
mismatch names the channel and the first sample index that differ.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConversionError

if TYPE_CHECKING:
    import h5py
    from spikeinterface.core import BaseRecording

# Bytes of samples read per block from each side.
BLOCK_BYTES = 64 * 1024 * 1024
SCALE_RTOL = 1e-9
JSON_NAME = "evaluation.json"
MARKDOWN_NAME = "evaluation.md"


@dataclass(frozen=True, slots=True)
class Check:
    """One property compared between the NWB file and the source."""

    name: str
    expected: Any  # from the source recording
    actual: Any  # from the NWB file
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "actual": self.actual,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ChannelMismatch:
    """Samples of one channel that differ between NWB and source."""

    channel_index: int
    channel: str
    first_sample: int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_index": self.channel_index,
            "channel": self.channel,
            "first_sample": self.first_sample,
            "count": self.count,
        }


@dataclass(slots=True)
class EvaluationReport:
    """The NWB file's ElectricalSeries compared with the source recording."""

    nwb_file: str
    series: str
    checks: list[Check] = field(default_factory=list)
    mismatches: list[ChannelMismatch] = field(default_factory=list)
    samples_compared: int = 0  # per channel
    channels_compared: int = 0

    @property
    def passes(self) -> bool:
        return all(c.ok for c in self.checks) and not self.mismatches

    @property
    def summary(self) -> str:
        """One line: what differs first, or that everything matched."""
        failed = [c for c in self.checks if not c.ok]
        if failed:
            c = failed[0]
            return f"{c.name} differs: source {c.expected}, NWB {c.actual}"
        if self.mismatches:
            m = self.mismatches[0]
            more = (
                f" (+{len(self.mismatches) - 1} more channels)" if len(self.mismatches) > 1 else ""
            )
            return (
                f"samples differ on channel {m.channel} (index {m.channel_index}) from sample "
                f"{m.first_sample}, {m.count} samples{more}"
            )
        return f"all {self.samples_compared} samples x {self.channels_compared} channels match the source"

    def to_dict(self) -> dict[str, Any]:
        return {
            "nwb_file": self.nwb_file,
            "series": self.series,
            "passes": self.passes,
            "summary": self.summary,
            "samples_compared": self.samples_compared,
            "channels_compared": self.channels_compared,
            "checks": [c.to_dict() for c in self.checks],
            "mismatches": [m.to_dict() for m in self.mismatches],
        }

    def to_markdown(self) -> str:
        verdict = "PASSES" if self.passes else "FAILS"
        lines = [
            f"# Evaluation of {self.nwb_file}: {verdict}",
            "",
            f"`{self.series}` read back and compared with the source recording: {self.summary}.",
            "",
            "| check | source | NWB | ok |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {c.name} | {_cell(c.expected)} | {_cell(c.actual)} | {'yes' if c.ok else '**no**'} |"
            for c in self.checks
        ]
        if self.mismatches:
            lines += [
                "",
                "## Differing samples",
                "",
                "| channel | index | first sample | count |",
                "| --- | --- | --- | --- |",
            ]
            lines += [
                f"| {m.channel} | {m.channel_index} | {m.first_sample} | {m.count} |"
                for m in self.mismatches
            ]
        return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _channel_names(recording: BaseRecording) -> list[str]:
    names = recording.get_property("channel_name")
    ids = recording.get_channel_ids()
    return [str(n) for n in (names if names is not None else ids)]


def _scales(series: h5py.Group, channels: int) -> tuple[np.ndarray, float]:
    """Per-channel volts per count and the offset in volts, as NWB stores them."""
    data = series["data"]
    conversion = float(data.attrs.get("conversion", 1.0))
    offset = float(data.attrs.get("offset", 0.0))
    per_channel = (
        np.asarray(series["channel_conversion"][:], dtype=np.float64)
        if "channel_conversion" in series
        else np.ones(channels)
    )
    return conversion * per_channel, offset


def _compare_scales(report: EvaluationReport, recording: BaseRecording, series: h5py.Group) -> None:
    channels = recording.get_num_channels()
    gains_v = np.asarray(recording.get_channel_gains(), dtype=np.float64) * 1e-6
    offsets_v = np.asarray(recording.get_channel_offsets(), dtype=np.float64) * 1e-6
    stored = series["data"].shape[1] if series["data"].ndim == 2 else 1
    if stored != channels:
        return  # channel count already failed; per-channel scales cannot be paired
    nwb_gains, nwb_offset = _scales(series, channels)
    bad = np.flatnonzero(~np.isclose(nwb_gains, gains_v, rtol=SCALE_RTOL, atol=0))
    report.checks.append(
        Check(
            "gain (V per count)",
            sorted({float(g) for g in gains_v}),
            sorted({float(g) for g in nwb_gains}),
            bad.size == 0,
            f"first differing channel index {int(bad[0])}" if bad.size else "",
        )
    )
    bad = np.flatnonzero(~np.isclose(offsets_v, nwb_offset, rtol=SCALE_RTOL, atol=1e-15))
    report.checks.append(
        Check(
            "offset (V)",
            sorted({float(o) for o in offsets_v}),
            nwb_offset,
            bad.size == 0,
            f"first differing channel index {int(bad[0])}" if bad.size else "",
        )
    )


def _compare_channel_names(
    report: EvaluationReport, recording: BaseRecording, series: h5py.Group, nwb: h5py.File
) -> None:
    table = nwb.get("general/extracellular_ephys/electrodes")
    if table is None or "channel_name" not in table or "electrodes" not in series:
        return
    rows = np.asarray(series["electrodes"][:])
    stored = [v.decode() if isinstance(v, bytes) else str(v) for v in table["channel_name"][:]]
    actual = [stored[r] for r in rows]
    expected = _channel_names(recording)
    first = next(
        (i for i, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e), None
    )
    report.checks.append(
        Check(
            "channel order",
            f"{len(expected)} channels {expected[0]}..{expected[-1]}" if expected else "none",
            f"{len(actual)} channels {actual[0]}..{actual[-1]}" if actual else "none",
            first is None and len(actual) == len(expected),
            f"first differing column {first}: source {expected[first]}, NWB {actual[first]}"
            if first is not None
            else "",
        )
    )


def _compare_samples(
    report: EvaluationReport,
    recording: BaseRecording,
    data: h5py.Dataset,
    block_bytes: int,
    rows: tuple[int, int] | None = None,
) -> None:
    samples, channels = data.shape
    begin, end = rows if rows is not None else (0, samples)
    names = _channel_names(recording)
    # Whole HDF5 chunks per block, so no compressed chunk is decoded twice.
    chunk_rows = data.chunks[0] if data.chunks else 1
    rows = max(
        chunk_rows, (block_bytes // (data.dtype.itemsize * channels)) // chunk_rows * chunk_rows
    )
    first = np.full(channels, -1, dtype=np.int64)
    counts = np.zeros(channels, dtype=np.int64)
    for start in range(begin, end, rows):
        stop = min(end, start + rows)
        stored = data[start:stop]
        source = recording.get_traces(start_frame=start, end_frame=stop, return_in_uV=False)
        differs = stored != source
        if differs.any():
            per_channel = differs.sum(axis=0)
            newly = (first < 0) & (per_channel > 0)
            first[newly] = start + differs[:, newly].argmax(axis=0)
            counts += per_channel
    report.samples_compared = end - begin
    report.channels_compared = channels
    report.mismatches = [
        ChannelMismatch(int(c), names[c], int(first[c]), int(counts[c]))
        for c in np.flatnonzero(counts)
    ]


def _electrical_series(nwb: h5py.File, name: str | None) -> tuple[str, h5py.Group]:
    acquisition = nwb.get("acquisition", {})
    found = {
        key: group
        for key, group in acquisition.items()
        if group.attrs.get("neurodata_type") in ("ElectricalSeries", b"ElectricalSeries")
    }
    if name is not None:
        if name not in found:
            raise ConversionError(
                f"{nwb.filename} has no ElectricalSeries {name!r}",
                f"series in acquisition: {', '.join(found) or 'none'}",
            )
        return name, found[name]
    if len(found) != 1:
        raise ConversionError(
            f"{nwb.filename} holds {len(found)} ElectricalSeries in acquisition, expected one",
            "name the series to evaluate",
        )
    return next(iter(found.items()))


def evaluate_nwb(
    path: str | Path,
    recording: BaseRecording,
    *,
    series: str | None = None,
    root: str | Path | None = None,
    block_bytes: int = BLOCK_BYTES,
    rows: tuple[int, int] | None = None,
) -> EvaluationReport:
    """Compare the ElectricalSeries of the NWB file at PATH with RECORDING, streamed in blocks.

    RECORDING is the source as the conversion read it (``make_interface(detection)
    .recording_extractor``). ROOT makes the file name in the report relative to it. ROWS
    limits the sample comparison to [start, stop) (see ``sample_ranges``, ``merge``).
    """
    import h5py

    path = Path(path)
    name = os.path.relpath(path, root) if root is not None else str(path)
    with h5py.File(path, "r") as nwb:
        series_name, group = _electrical_series(nwb, series)
        report = EvaluationReport(nwb_file=name, series=series_name)
        data = group["data"]
        stored_channels = data.shape[1] if data.ndim == 2 else 1
        channels = recording.get_num_channels()
        rate = float(recording.get_sampling_frequency())
        nwb_rate = float(group["starting_time"].attrs["rate"]) if "starting_time" in group else None
        if nwb_rate is None and "timestamps" in group:
            stamps = group["timestamps"]
            nwb_rate = (
                float((len(stamps) - 1) / (stamps[-1] - stamps[0])) if len(stamps) > 1 else 0.0
            )
        samples = recording.get_num_samples()
        start = float(recording.get_start_time())
        if "starting_time" in group:
            nwb_start = float(group["starting_time"][()])
        else:
            nwb_start = float(group["timestamps"][0]) if "timestamps" in group else None
        report.checks += [
            Check("channel count", channels, stored_channels, channels == stored_channels),
            Check(
                "sampling rate (Hz)",
                rate,
                nwb_rate,
                nwb_rate is not None and bool(np.isclose(rate, nwb_rate)),
            ),
            Check("samples", samples, int(data.shape[0]), samples == data.shape[0]),
            Check(
                "duration (s)",
                samples / rate,
                data.shape[0] / nwb_rate if nwb_rate else None,
                bool(nwb_rate) and bool(np.isclose(samples / rate, data.shape[0] / nwb_rate)),
            ),
            Check(
                "start time (s)",
                start,
                nwb_start,
                nwb_start is not None and bool(np.isclose(start, nwb_start)),
            ),
            Check(
                "sample type",
                str(recording.get_dtype()),
                str(data.dtype),
                bool(np.dtype(recording.get_dtype()) == data.dtype),
            ),
        ]
        _compare_scales(report, recording, group)
        _compare_channel_names(report, recording, group, nwb)
        if channels == stored_channels and samples == data.shape[0]:
            _compare_samples(report, recording, data, block_bytes, rows)
    return report


def sample_ranges(path: str | Path, parts: int, series: str | None = None) -> list[tuple[int, int]]:
    """Split the series' samples into PARTS ranges on HDF5 chunk boundaries."""
    import h5py

    with h5py.File(path, "r") as nwb:
        data = _electrical_series(nwb, series)[1]["data"]
        samples = int(data.shape[0])
        step = data.chunks[0] if data.chunks else 1
    size = -(-samples // parts // step) * step  # ceil to whole chunks
    return [(a, min(samples, a + size)) for a in range(0, samples, size)] or [(0, 0)]


def merge(reports: list[EvaluationReport]) -> EvaluationReport:
    """One report from evaluations of consecutive sample ranges of the same file."""
    merged = reports[0]
    by_channel: dict[int, ChannelMismatch] = {}
    for part in reports:
        for m in part.mismatches:
            seen = by_channel.get(m.channel_index)
            by_channel[m.channel_index] = (
                m
                if seen is None
                else dataclasses.replace(
                    seen,
                    first_sample=min(seen.first_sample, m.first_sample),
                    count=seen.count + m.count,
                )
            )
    merged.mismatches = [by_channel[c] for c in sorted(by_channel)]
    merged.samples_compared = sum(r.samples_compared for r in reports)
    return merged


def write_evaluation_reports(
    report: EvaluationReport, reports_dir: str | Path
) -> tuple[Path, Path]:
    """Save ``evaluation.json`` and ``evaluation.md`` in REPORTS_DIR; return their paths."""
    from .validation import write_report_files

    return write_report_files(
        report.to_dict(), report.to_markdown(), Path(reports_dir), JSON_NAME, MARKDOWN_NAME
    )

"""Read the NWB file back and compare it with the source recordings, sample by sample.

Each source is read through the same NeuroConv interface (spikeinterface extractor) the
conversion used, and both sides are streamed in blocks of bounded size, so a multi-GB file
is checked in flat memory. The caller says which recording goes with which ElectricalSeries
(``evaluate_nwb(path, {name: recording})``): NeuroConv writes a recording of N segments as N
series, ``name`` followed by the segment number (``series_names``), and a file converted from
several streams holds the series of each. Every series is compared with its segment of its
recording: channel count, sampling rate, duration, start time, sample times (when either side
has explicit ones), gains, offsets, channel order and every stored sample must match (scales
and times within float rounding); a mismatch names the series, the channel and the first
sample index that differ. One report covers all series and passes only when each does.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping
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
# Stored times are float64 copies of the source's: only rounding may separate them.
TIME_ATOL = 1e-9
TIME_RTOL = 1e-12
# NeuroConv stores starting_time + rate for a time vector no sample of which is further than
# this from start + i / rate (neuroconv.utils.checks.calculate_regular_series_rate).
REGULAR_TIME_TOLERANCE = 1e-6
JSON_NAME = "evaluation.json"
MARKDOWN_NAME = "evaluation.md"
_SERIES_TYPES = ("ElectricalSeries", b"ElectricalSeries")
# The stored unit -> that unit per microvolt (the sources' scale).
UNIT_PER_MICROVOLT = {"volts": 1e-6, "V": 1e-6, "uV": 1.0, "microvolts": 1.0, "mV": 1e-3}
# Compared only when a source names them (an NIDQ board's analog channels, a sync channel).
_NAMED_ONLY_TYPES = ("TimeSeries", b"TimeSeries")

# Which source recording goes with which series: the series name as written (for a
# multi-segment recording the name before the segment number), or None for "the one
# ElectricalSeries (or the one set of segment series) no other key names".
Sources = Mapping[str | None, "BaseRecording"]
# Sample ranges [start, stop) to compare, by series name (see ``sample_ranges``).
Rows = Mapping[str, tuple[int, int]]


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
    """Samples of one channel of one series that differ between NWB and source."""

    channel_index: int
    channel: str
    first_sample: int  # within the series (its segment)
    count: int
    series: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "channel_index": self.channel_index,
            "channel": self.channel,
            "first_sample": self.first_sample,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class TimeMismatch:
    """Sample times of one series that differ between NWB and source beyond rounding."""

    first_sample: int
    source: float  # seconds, at first_sample
    nwb: float
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_sample": self.first_sample,
            "source": self.source,
            "nwb": self.nwb,
            "count": self.count,
        }


@dataclass(slots=True)
class SeriesEvaluation:
    """One ElectricalSeries compared with one segment of its source recording."""

    series: str
    segment: int = 0
    segments: int = 1  # of the source recording
    timing: str = ""  # how the NWB series stores its times: "rate" or "timestamps"
    checks: list[Check] = field(default_factory=list)
    mismatches: list[ChannelMismatch] = field(default_factory=list)
    time_mismatch: TimeMismatch | None = None
    samples_compared: int = 0  # per channel
    times_compared: int = 0  # sample times compared one by one
    channels_compared: int = 0

    @property
    def passes(self) -> bool:
        return all(c.ok for c in self.checks) and not self.mismatches and not self.time_mismatch

    @property
    def summary(self) -> str:
        """What differs first, or that everything matched."""
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
        if self.time_mismatch is not None:
            t = self.time_mismatch
            return (
                f"sample times differ from sample {t.first_sample} (source {t.source} s, "
                f"NWB {t.nwb} s), {t.count} samples"
            )
        times = " and their times" if self.times_compared else ""
        return (
            f"all {self.samples_compared} samples x {self.channels_compared} channels{times} "
            "match the source"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "segment": self.segment,
            "segments": self.segments,
            "timing": self.timing,
            "passes": self.passes,
            "summary": self.summary,
            "samples_compared": self.samples_compared,
            "times_compared": self.times_compared,
            "channels_compared": self.channels_compared,
            "checks": [c.to_dict() for c in self.checks],
            "mismatches": [m.to_dict() for m in self.mismatches],
            "time_mismatch": self.time_mismatch.to_dict() if self.time_mismatch else None,
        }

    def markdown(self) -> list[str]:
        verdict = "passes" if self.passes else "**fails**"
        segment = f", segment {self.segment} of {self.segments}" if self.segments > 1 else ""
        lines = [
            f"## `{self.series}` ({self.timing or 'no timing'}{segment}): {verdict}",
            "",
            f"{self.summary}.",
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
                "### Differing samples",
                "",
                "| channel | index | first sample | count |",
                "| --- | --- | --- | --- |",
            ]
            lines += [
                f"| {m.channel} | {m.channel_index} | {m.first_sample} | {m.count} |"
                for m in self.mismatches
            ]
        if self.time_mismatch is not None:
            t = self.time_mismatch
            lines += [
                "",
                "### Differing sample times",
                "",
                "| first sample | source (s) | NWB (s) | count |",
                "| --- | --- | --- | --- |",
                f"| {t.first_sample} | {t.source} | {t.nwb} | {t.count} |",
            ]
        return lines


@dataclass(slots=True)
class EvaluationReport:
    """The NWB file's ElectricalSeries, each compared with its source recording segment."""

    nwb_file: str
    series: list[SeriesEvaluation] = field(default_factory=list)
    # Interfaces of a converter that no read-back check covers (key: why), named in the report.
    unchecked: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SeriesEvaluation:
        for s in self.series:
            if s.series == name:
                return s
        raise KeyError(name)

    @property
    def passes(self) -> bool:
        return bool(self.series or self.unchecked) and all(s.passes for s in self.series)

    @property
    def samples_compared(self) -> int:
        """Samples per channel compared, over all series."""
        return sum(s.samples_compared for s in self.series)

    @property
    def channels_compared(self) -> int:
        """Channels compared, counted once per source recording (its first segment)."""
        return sum(s.channels_compared for s in self.series if s.segment == 0)

    @property
    def mismatches(self) -> list[ChannelMismatch]:
        """Differing samples of all series; each names its series."""
        return [m for s in self.series for m in s.mismatches]

    @property
    def summary(self) -> str:
        """One line: what differs first (and in which series), or that everything matched."""
        if not self.series:
            if self.unchecked:
                return f"nothing read back (no check for {', '.join(self.unchecked)})"
            return "no ElectricalSeries compared"
        if len(self.series) == 1:
            return self.series[0].summary
        failed = [s for s in self.series if not s.passes]
        if failed:
            more = f" (+{len(failed) - 1} more series differ)" if len(failed) > 1 else ""
            return f"{failed[0].series}: {failed[0].summary}{more}"
        shown = ", ".join(
            f"{s.series} {s.samples_compared} x {s.channels_compared}" for s in self.series[:4]
        )
        more = f" and {len(self.series) - 4} more" if len(self.series) > 4 else ""
        return f"all {len(self.series)} series match the source (samples x channels: {shown}{more})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "nwb_file": self.nwb_file,
            "passes": self.passes,
            "summary": self.summary,
            "samples_compared": self.samples_compared,
            "channels_compared": self.channels_compared,
            "series": [s.to_dict() for s in self.series],
            "unchecked": dict(self.unchecked),
        }

    def to_markdown(self) -> str:
        verdict = "PASSES" if self.passes else "FAILS"
        count = len(self.series)
        what = f"`{self.series[0].series}`" if count == 1 else f"{count} series"
        lines = [
            f"# Evaluation of {self.nwb_file}: {verdict}",
            "",
            f"{what} read back and compared with the source: {self.summary}.",
        ]
        for s in self.series:
            lines += ["", *s.markdown()]
        if self.unchecked:
            lines += ["", "## Not read back", ""]
            lines += [f"- `{key}`: {why}" for key, why in self.unchecked.items()]
        return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def series_names(name: str, segments: int) -> list[str]:
    """The names NeuroConv gives the series of a recording of SEGMENTS segments written as
    NAME: NAME itself for one, else NAME + the zero-padded segment index
    (``_add_recording_segment_to_nwbfile``)."""
    if segments <= 1:
        return [name]
    width = int(np.ceil(np.log10(segments)))  # NeuroConv's own padding, kept bit for bit
    return [f"{name}{index:0{width}}" for index in range(segments)]


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


def _stored_channels(data: h5py.Dataset) -> int:
    return int(data.shape[1]) if data.ndim == 2 else 1


def _compare_scales(ev: SeriesEvaluation, recording: BaseRecording, series: h5py.Group) -> None:
    channels = recording.get_num_channels()
    # An ElectricalSeries is in volts; a plain TimeSeries (an NIDQ board, a sync channel)
    # says its unit. Sources give microvolts per count.
    unit = series["data"].attrs.get("unit", "volts")
    per_uv = UNIT_PER_MICROVOLT.get(unit.decode() if isinstance(unit, bytes) else str(unit))
    if per_uv is None:
        return  # not a voltage: its scale is the writer's own convention
    gains_v = np.asarray(recording.get_channel_gains(), dtype=np.float64) * per_uv
    offsets_v = np.asarray(recording.get_channel_offsets(), dtype=np.float64) * per_uv
    if _stored_channels(series["data"]) != channels:
        return  # channel count already failed; per-channel scales cannot be paired
    nwb_gains, nwb_offset = _scales(series, channels)
    bad = np.flatnonzero(~np.isclose(nwb_gains, gains_v, rtol=SCALE_RTOL, atol=0))
    ev.checks.append(
        Check(
            "gain (V per count)",
            sorted({float(g) for g in gains_v}),
            sorted({float(g) for g in nwb_gains}),
            bad.size == 0,
            f"first differing channel index {int(bad[0])}" if bad.size else "",
        )
    )
    bad = np.flatnonzero(~np.isclose(offsets_v, nwb_offset, rtol=SCALE_RTOL, atol=1e-15))
    ev.checks.append(
        Check(
            "offset (V)",
            sorted({float(o) for o in offsets_v}),
            nwb_offset,
            bad.size == 0,
            f"first differing channel index {int(bad[0])}" if bad.size else "",
        )
    )


def _compare_channel_names(
    ev: SeriesEvaluation, recording: BaseRecording, series: h5py.Group, nwb: h5py.File
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
    ev.checks.append(
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


def _same_time(a: float | None, b: float | None) -> bool:
    return (
        a is not None and b is not None and bool(np.isclose(a, b, rtol=TIME_RTOL, atol=TIME_ATOL))
    )


def _compare_timing(
    ev: SeriesEvaluation, recording: BaseRecording, group: h5py.Group, samples: int
) -> None:
    """Rate, duration and start time, or the count of stored timestamps."""
    segment = ev.segment
    rate = float(recording.get_sampling_frequency())
    start = float(recording.get_start_time(segment_index=segment))
    if "starting_time" in group:
        ev.timing = "rate"
        nwb_rate = float(group["starting_time"].attrs["rate"])
        nwb_start: float | None = float(group["starting_time"][()])
        stored = int(group["data"].shape[0])
        ev.checks += [
            Check("sampling rate (Hz)", rate, nwb_rate, bool(np.isclose(rate, nwb_rate))),
            Check(
                "duration (s)",
                samples / rate,
                stored / nwb_rate if nwb_rate else None,
                bool(nwb_rate) and bool(np.isclose(samples / rate, stored / nwb_rate)),
            ),
        ]
    elif "timestamps" in group:
        # Timestamps carry the timing (possibly irregular): compared one by one in blocks.
        ev.timing = "timestamps"
        stamps = group["timestamps"]
        nwb_start = float(stamps[0]) if len(stamps) else None
        ev.checks.append(Check("timestamp count", samples, len(stamps), len(stamps) == samples))
    else:
        nwb_start = None
        ev.checks.append(Check("sampling rate (Hz)", rate, None, False, "no rate nor timestamps"))
    ev.checks.append(Check("start time (s)", start, nwb_start, _same_time(start, nwb_start)))


def _source_times(recording: BaseRecording, segment: int, start: int, stop: int) -> np.ndarray:
    """The source's times of samples [start, stop), computed as spikeinterface does."""
    if recording.has_time_vector(segment_index=segment):
        return np.asarray(recording.get_times(segment_index=segment)[start:stop], np.float64)
    rate = recording.get_sampling_frequency()
    offset = float(recording.get_start_time(segment_index=segment))
    return np.arange(start, stop, dtype=np.float64) / rate + offset


def _compare_blocks(
    ev: SeriesEvaluation,
    recording: BaseRecording,
    group: h5py.Group,
    block_bytes: int,
    begin: int,
    end: int,
) -> None:
    """Samples (and, where either side has explicit times, the sample times) of [begin, end)."""
    data = group["data"]
    segment = ev.segment
    channels = _stored_channels(data)
    names = _channel_names(recording)
    stamps = group["timestamps"] if ev.timing == "timestamps" else None
    # With a rate in the file, times are only worth comparing against a source time vector:
    # otherwise both are start + i / rate, which the rate and start checks cover.
    implied = ev.timing == "rate" and recording.has_time_vector(segment_index=segment)
    if implied:
        nwb_start = float(group["starting_time"][()])
        nwb_rate = float(group["starting_time"].attrs["rate"])
        tolerance = min(REGULAR_TIME_TOLERANCE, 0.1 / nwb_rate) + TIME_ATOL
    else:
        tolerance = TIME_ATOL
    # Whole HDF5 chunks per block, so no compressed chunk is decoded twice.
    chunk_rows = data.chunks[0] if data.chunks else 1
    rows = max(
        chunk_rows, (block_bytes // (data.dtype.itemsize * channels)) // chunk_rows * chunk_rows
    )
    first = np.full(channels, -1, dtype=np.int64)
    counts = np.zeros(channels, dtype=np.int64)
    time_first: tuple[int, float, float] | None = None
    time_count = 0
    for start in range(begin, end, rows):
        stop = min(end, start + rows)
        stored = data[start:stop]
        if stored.ndim == 1:
            stored = stored[:, None]
        source = recording.get_traces(
            segment_index=segment, start_frame=start, end_frame=stop, return_in_uV=False
        )
        differs = stored != source
        if differs.any():
            per_channel = differs.sum(axis=0)
            newly = (first < 0) & (per_channel > 0)
            first[newly] = start + differs[:, newly].argmax(axis=0)
            counts += per_channel
        if stamps is not None or implied:
            expected = _source_times(recording, segment, start, stop)
            if stamps is not None:
                actual = np.asarray(stamps[start:stop], dtype=np.float64)
            else:
                actual = nwb_start + np.arange(start, stop, dtype=np.float64) / nwb_rate
            bad = ~np.isclose(actual, expected, rtol=TIME_RTOL, atol=tolerance)
            if bad.any():
                i = int(bad.argmax())
                if time_first is None:
                    time_first = (start + i, float(expected[i]), float(actual[i]))
                time_count += int(bad.sum())
    ev.samples_compared = max(0, end - begin)
    ev.times_compared = ev.samples_compared if stamps is not None or implied else 0
    ev.channels_compared = channels
    ev.mismatches = [
        ChannelMismatch(int(c), names[c], int(first[c]), int(counts[c]), ev.series)
        for c in np.flatnonzero(counts)
    ]
    ev.time_mismatch = TimeMismatch(*time_first, time_count) if time_first else None


def _electrical_series(nwb: h5py.File, named_only: bool = False) -> dict[str, list[h5py.Group]]:
    """Every ElectricalSeries in acquisition and processing, by name (with NAMED_ONLY, the
    plain TimeSeries a source may name too)."""
    import h5py

    found: dict[str, list[h5py.Group]] = {}
    types = _SERIES_TYPES + (_NAMED_ONLY_TYPES if named_only else ())

    def visit(path: str, obj: object) -> None:
        if isinstance(obj, h5py.Group) and obj.attrs.get("neurodata_type") in types:
            found.setdefault(path.rsplit("/", 1)[-1], []).append(obj)

    for top in ("acquisition", "processing"):
        if top in nwb:
            nwb[top].visititems(visit)
    return found


def _one(found: dict[str, list[h5py.Group]], name: str, filename: str) -> h5py.Group:
    groups = found.get(name, [])
    if len(groups) != 1:
        problem = f"has no ElectricalSeries {name!r}" if not groups else f"holds {name!r} twice"
        raise ConversionError(
            f"{filename} {problem}", f"series in the file: {', '.join(found) or 'none'}"
        )
    return groups[0]


def _pair(
    found: dict[str, list[h5py.Group]],
    sources: Sources,
    filename: str,
    electrical: Iterable[str] | None = None,
) -> list[tuple[str, BaseRecording, int]]:
    """(series name, recording, segment) for every series the sources account for."""
    if not sources:
        raise ConversionError(f"no source recording given to evaluate {filename}")
    pairs: list[tuple[str, BaseRecording, int]] = []
    for key, recording in sources.items():
        if key is not None:
            names = series_names(key, recording.get_num_segments())
            pairs += [(n, recording, segment) for segment, n in enumerate(names)]
    if None in sources:
        recording = sources[None]
        segments = recording.get_num_segments()
        claimed = {n for n, _, _ in pairs}
        unnamed = set(found if electrical is None else electrical)
        left = [n for n in found if n not in claimed and n in unnamed]
        if segments == 1:
            candidates = [[n] for n in left]
        else:
            width = len(series_names("", segments)[0])
            bases = sorted({n[:-width] for n in left if len(n) > width})
            candidates = [
                names
                for names in (series_names(b, segments) for b in bases)
                if all(n in left for n in names)
            ]
        if len(candidates) != 1:
            expected = "one" if segments == 1 else f"{segments}, one per segment"
            raise ConversionError(
                f"{filename} holds {len(left)} ElectricalSeries ({', '.join(left) or 'none'}) "
                f"the recording could go with, expected {expected}",
                "name the series to evaluate",
            )
        pairs += [(n, recording, segment) for segment, n in enumerate(candidates[0])]
    return pairs


def evaluate_nwb(
    path: str | Path,
    sources: BaseRecording | Sources,
    *,
    series: str | None = None,
    root: str | Path | None = None,
    block_bytes: int = BLOCK_BYTES,
    rows: Rows | tuple[int, int] | None = None,
) -> EvaluationReport:
    """Compare the ElectricalSeries of the NWB file at PATH with their sources, in blocks.

    SOURCES maps a series name to the recording it was written from, as the conversion read
    it (``make_interface(detection).recording_extractor``); for a multi-segment recording the
    name is the one before NeuroConv's segment number (``ElectricalSeriesAP`` for
    ``ElectricalSeriesAP0``, ``ElectricalSeriesAP1``). The key None stands for the only
    series (or set of segment series) no other key names. A lone recording is
    ``{SERIES: recording}``. ROOT makes the file name in the report relative to it. ROWS
    limits the sample comparison to [start, stop) per series name, series left out compare
    no samples (see ``sample_ranges``, ``merge``); a bare range applies to a lone series.
    """
    import h5py

    if not isinstance(sources, Mapping):
        sources = {series: sources}
    elif series is not None:
        raise TypeError("name the series in SOURCES, not with series=")
    path = Path(path)
    name = os.path.relpath(path, root) if root is not None else str(path)
    report = EvaluationReport(nwb_file=name)
    with h5py.File(path, "r") as nwb:
        found = _electrical_series(nwb, named_only=True)
        pairs = _pair(found, sources, nwb.filename, _electrical_series(nwb))
        if rows is not None and not isinstance(rows, Mapping):
            if len(pairs) != 1:
                raise TypeError(f"a bare range of rows needs one series, not {len(pairs)}")
            rows = {pairs[0][0]: rows}
        for series_name, recording, segment in pairs:
            group = _one(found, series_name, nwb.filename)
            ev = SeriesEvaluation(series_name, segment, recording.get_num_segments())
            report.series.append(ev)
            data = group["data"]
            channels = recording.get_num_channels()
            stored_channels = _stored_channels(data)
            samples = int(recording.get_num_samples(segment_index=segment))
            ev.checks += [
                Check("channel count", channels, stored_channels, channels == stored_channels),
                Check("samples", samples, int(data.shape[0]), samples == data.shape[0]),
            ]
            _compare_timing(ev, recording, group, samples)
            ev.checks.append(
                Check(
                    "sample type",
                    str(recording.get_dtype()),
                    str(data.dtype),
                    bool(np.dtype(recording.get_dtype()) == data.dtype),
                )
            )
            _compare_scales(ev, recording, group)
            _compare_channel_names(ev, recording, group, nwb)
            if all(
                c.ok for c in ev.checks if c.name in ("channel count", "samples", "timestamp count")
            ):
                begin, end = (0, samples) if rows is None else rows.get(series_name, (0, 0))
                _compare_blocks(ev, recording, group, block_bytes, begin, min(end, samples))
    return report


def sample_ranges(
    path: str | Path, parts: int, series: Iterable[str] | None = None
) -> list[dict[str, tuple[int, int]]]:
    """Split the samples of SERIES (default: every ElectricalSeries in the file) into at most
    PARTS pieces of about equal bytes, cut on HDF5 chunk boundaries; each piece maps a series
    name to its range [start, stop) and is one ``rows`` for ``evaluate_nwb``."""
    import h5py

    layout: list[tuple[str, int, int, int]] = []  # name, rows, bytes per row, rows per chunk
    with h5py.File(path, "r") as nwb:
        found = _electrical_series(nwb, named_only=True)
        for name in series if series is not None else sorted(found):
            data = _one(found, name, nwb.filename)["data"]
            row_bytes = data.dtype.itemsize * _stored_channels(data)
            layout.append(
                (name, int(data.shape[0]), row_bytes, data.chunks[0] if data.chunks else 1)
            )
    total = sum(n * b for _, n, b, _ in layout)
    if total == 0:
        return [{}]
    pieces: list[dict[str, tuple[int, int]]] = [{} for _ in range(parts)]
    offset = 0  # bytes of the series before this one
    for name, n, row_bytes, chunk in layout:
        # Row where each piece starts in this series, rounded up to a chunk: one rule for
        # both ends of a piece, so consecutive pieces neither overlap nor leave gaps.
        starts = [
            min(n, -(-math.ceil(max(0, k * total // parts - offset) / row_bytes) // chunk) * chunk)
            for k in range(parts + 1)
        ]
        for k in range(parts):
            if starts[k + 1] > starts[k]:
                pieces[k][name] = (starts[k], starts[k + 1])
        offset += n * row_bytes
    return [p for p in pieces if p] or [{}]


def _merge_checks(parts: list[list[Check]]) -> list[Check]:
    """By name, in the first part's order: the first failing one, else the first."""
    merged: dict[str, Check] = {}
    for checks in parts:
        for c in checks:
            if c.name not in merged or (merged[c.name].ok and not c.ok):
                merged[c.name] = c
    return list(merged.values())


def _merge_series(parts: list[SeriesEvaluation]) -> SeriesEvaluation:
    by_channel: dict[int, ChannelMismatch] = {}
    times: TimeMismatch | None = None
    for part in parts:
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
        t = part.time_mismatch
        if t is not None:
            earlier = times is None or t.first_sample < times.first_sample
            kept = t if earlier else times
            times = dataclasses.replace(kept, count=t.count + (times.count if times else 0))
    return dataclasses.replace(
        parts[0],
        checks=_merge_checks([p.checks for p in parts]),
        mismatches=[by_channel[c] for c in sorted(by_channel)],
        time_mismatch=times,
        samples_compared=sum(p.samples_compared for p in parts),
        times_compared=sum(p.times_compared for p in parts),
        channels_compared=max(p.channels_compared for p in parts),
    )


def merge(reports: list[EvaluationReport]) -> EvaluationReport:
    """One report from evaluations of the same file and sources over disjoint sample ranges."""
    names = list(dict.fromkeys(s.series for r in reports for s in r.series))
    return EvaluationReport(
        reports[0].nwb_file,
        [_merge_series([s for r in reports for s in r.series if s.series == n]) for n in names],
    )


def write_evaluation_reports(
    report: EvaluationReport, reports_dir: str | Path
) -> tuple[Path, Path]:
    """Save ``evaluation.json`` and ``evaluation.md`` in REPORTS_DIR; return their paths."""
    from .validation import write_report_files

    return write_report_files(
        report.to_dict(), report.to_markdown(), Path(reports_dir), JSON_NAME, MARKDOWN_NAME
    )

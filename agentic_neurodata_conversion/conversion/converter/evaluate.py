"""The read-back of a converter's NWB file, interface by interface.

A recording interface's series are compared sample by sample (``evaluation.evaluate_nwb``);
a sorting interface's units by name, spike count and spike times (within half a sample);
an interface no check covers is named in the report as not read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import formats
from ..evaluation import Check, EvaluationReport, SeriesEvaluation, evaluate_nwb


@dataclass(slots=True)
class UnitsEvaluation(SeriesEvaluation):
    """The units a sorting interface wrote, compared with its sorting."""

    @property
    def summary(self) -> str:
        failed = [c for c in self.checks if not c.ok]
        if failed:
            c = failed[0]
            detail = f" ({c.detail})" if c.detail else ""
            return f"{c.name} differ: source {c.expected}, NWB {c.actual}{detail}"
        return (
            f"all {self.samples_compared} spike times of {self.channels_compared} units match "
            "the source"
        )


def _units_table(path: Path) -> dict[str, np.ndarray]:
    """{unit name: spike times} of the file's units table (names from ``unit_name`` else ids)."""
    import h5py

    with h5py.File(path, "r") as nwb:
        if "units" not in nwb:
            return {}
        units = nwb["units"]
        ends = units["spike_times_index"][()] if "spike_times_index" in units else []
        times = units["spike_times"][()] if "spike_times" in units else np.array([])
        raw = units["unit_name"][()] if "unit_name" in units else units["id"][()]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw]
    starts = [0, *ends[:-1]]
    return {name: times[a:b] for name, a, b in zip(names, starts, ends, strict=False)}


def evaluate_units(path: Path, key: str, sorting: Any) -> UnitsEvaluation:
    """Each unit of SORTING against the row of the same name in the file's units table."""
    stored = _units_table(path)
    ev = UnitsEvaluation(f"units ({key})", timing="spike times")
    names = [str(u) for u in sorting.unit_ids]
    missing = [n for n in names if n not in stored]
    ev.checks.append(
        Check(
            "units",
            len(names),
            len(names) - len(missing),
            not missing,
            f"not in the file: {', '.join(missing[:5])}" if missing else "",
        )
    )
    half_sample = 0.5 / float(sorting.get_sampling_frequency())
    counts_ok, worst, worst_unit, compared = True, 0.0, "", 0
    for unit, name in zip(sorting.unit_ids, names, strict=True):
        if name not in stored:
            continue
        source = np.concatenate(
            [
                np.asarray(sorting.get_unit_spike_train(unit, segment_index=s, return_times=True))
                for s in range(sorting.get_num_segments())
            ]
        )
        written = stored[name]
        if len(source) != len(written):
            counts_ok = False
            worst_unit = worst_unit or name
            continue
        compared += len(source)
        if len(source):
            gap = float(np.max(np.abs(np.sort(source) - np.sort(written))))
            if gap > worst:
                worst, worst_unit = gap, name
    expected = sum(
        len(sorting.get_unit_spike_train(u, segment_index=s))
        for u in sorting.unit_ids
        for s in range(sorting.get_num_segments())
    )
    ev.checks.append(
        Check(
            "spike counts",
            expected,
            sum(len(stored[n]) for n in names if n in stored),
            counts_ok,
            f"first differing unit {worst_unit}" if not counts_ok else "",
        )
    )
    ev.checks.append(
        Check(
            "spike times",
            f"within {half_sample:.3g} s",
            f"largest difference {worst:.3g} s",
            worst <= half_sample,
            f"unit {worst_unit}" if worst > half_sample else "",
        )
    )
    ev.samples_compared, ev.channels_compared = compared, len(names) - len(missing)
    return ev


def evaluate_converter(nwb: Path, converter: Any, root: Path) -> EvaluationReport:
    """One report over every interface of CONVERTER that has a read-back check."""
    import os

    parts = converter.data_interface_objects
    recordings = {k: p for k, p in parts.items() if hasattr(p, "recording_extractor")}
    report = EvaluationReport(os.path.relpath(nwb, root))
    if recordings:
        # The converter's metadata names each recording's series (as formats.series_sources).
        view = SimpleNamespace(
            data_interface_objects=recordings, get_metadata=converter.get_metadata
        )
        report.series += evaluate_nwb(nwb, formats.series_sources(view), root=root).series
    for key, part in parts.items():
        if key in recordings:
            continue
        if hasattr(part, "sorting_extractor"):
            report.series.append(evaluate_units(nwb, key, part.sorting_extractor))
        else:
            report.unchecked[key] = f"{type(part).__name__}: no read-back check for this interface"
    return report

"""Evaluations of sample ranges (run side by side) merge into one report."""

from __future__ import annotations

from agentic_neurodata_conversion.conversion.evaluation import (
    ChannelMismatch,
    EvaluationReport,
    merge,
)


def test_merge_keeps_first_mismatch_and_sums_counts() -> None:
    a = EvaluationReport(
        "x.nwb", "ES", mismatches=[ChannelMismatch(5, "AP5", 10, 1)], samples_compared=100
    )
    b = EvaluationReport(
        "x.nwb",
        "ES",
        mismatches=[ChannelMismatch(5, "AP5", 140, 2), ChannelMismatch(2, "AP2", 120, 1)],
        samples_compared=50,
    )
    merged = merge([a, b])
    assert [(m.channel_index, m.first_sample, m.count) for m in merged.mismatches] == [
        (2, 120, 1),
        (5, 10, 3),
    ]
    assert merged.samples_compared == 150 and not merged.passes

"""Evaluations of sample ranges (run side by side) merge into one report, series by series."""

from __future__ import annotations

from agentic_neurodata_conversion.conversion.evaluation import (
    ChannelMismatch,
    Check,
    EvaluationReport,
    SeriesEvaluation,
    TimeMismatch,
    merge,
)


def test_merge_keeps_first_mismatch_and_sums_counts() -> None:
    a = EvaluationReport(
        "x.nwb",
        [
            SeriesEvaluation(
                "ES", mismatches=[ChannelMismatch(5, "AP5", 10, 1)], samples_compared=100
            )
        ],
    )
    b = EvaluationReport(
        "x.nwb",
        [
            SeriesEvaluation(
                "ES",
                mismatches=[ChannelMismatch(5, "AP5", 140, 2), ChannelMismatch(2, "AP2", 120, 1)],
                samples_compared=50,
            )
        ],
    )
    merged = merge([a, b])
    assert [(m.channel_index, m.first_sample, m.count) for m in merged.mismatches] == [
        (2, 120, 1),
        (5, 10, 3),
    ]
    assert merged.samples_compared == 150 and not merged.passes


def test_merge_is_per_series() -> None:
    ok = Check("samples", 10, 10, True)

    def part(ap1: SeriesEvaluation) -> EvaluationReport:
        return EvaluationReport(
            "x.nwb", [SeriesEvaluation("AP0", 0, 2, checks=[ok], samples_compared=5), ap1]
        )

    first = part(SeriesEvaluation("AP1", 1, 2, checks=[ok], samples_compared=4))
    second = part(
        SeriesEvaluation(
            "AP1",
            1,
            2,
            checks=[ok, Check("timestamp count", 10, 9, False)],
            time_mismatch=TimeMismatch(7, 1.0, 1.5, 2),
            samples_compared=6,
        )
    )
    merged = merge([first, second])
    assert [s.series for s in merged.series] == ["AP0", "AP1"]
    assert merged["AP0"].passes and merged["AP0"].samples_compared == 10
    ap1 = merged["AP1"]
    assert ap1.samples_compared == 10 and not ap1.passes and not merged.passes
    assert [c.name for c in ap1.checks if not c.ok] == ["timestamp count"]
    assert ap1.time_mismatch == TimeMismatch(7, 1.0, 1.5, 2)
    assert merged.summary.startswith("AP1: timestamp count differs")

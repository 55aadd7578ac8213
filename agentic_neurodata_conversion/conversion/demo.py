"""The embedded default job: write a small synthetic recording and convert it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pipeline import ConversionResult, Progress, convert
from .synthetic import write_recording

DEMO_FORMATS = ("spikeglx", "openephys")
# 64 channels: with very few, NeuroConv's adc_group column holds two values and
# nwbinspector suggests making it boolean; the demo's NWB should have no issues at all.
DEFAULT_CHANNELS = 64
DEFAULT_SECONDS = 2.0


@dataclass
class DemoResult:
    recording: Path
    conversion: ConversionResult

    def to_dict(self) -> dict[str, Any]:
        return {"recording": str(self.recording), **self.conversion.to_dict()}


def run_demo(
    output: str | Path,
    *,
    format: str = "spikeglx",
    channels: int = DEFAULT_CHANNELS,
    seconds: float = DEFAULT_SECONDS,
    progress: Progress | None = None,
) -> DemoResult:
    """Write a recording into OUTPUT/<format>-recording (kept, so `anc convert` can be tried
    on it next) and convert it into OUTPUT/conversions/conversion_demo-<format>-N."""
    from ..errors import UsageError

    if format not in DEMO_FORMATS:
        raise UsageError(
            f"the demo has no {format!r} writer", f"use one of: {', '.join(DEMO_FORMATS)}"
        )
    if channels < 1 or seconds <= 0:
        raise UsageError(
            "--channels and --seconds must be positive", "e.g. --channels 64 --seconds 2"
        )
    output = Path(output).absolute()
    recording = output / f"{format}-recording"
    if not recording.exists():
        write_recording(format, recording, channels=channels, seconds=seconds)
    conversions = output / "conversions"
    n = 1
    while (conversions / f"conversion_demo-{format}-{n}").exists():
        n += 1
    result = convert(recording, conversions, conversion_id=f"demo-{format}-{n}", progress=progress)
    return DemoResult(recording, result)

"""Spike2: one ``.smrx`` file per recording (no test recording here yet)."""

from __future__ import annotations

from .base import FormatSpec, file_layout

FORMATS = (
    FormatSpec(
        "spike2",
        "Spike2",
        "Spike2RecordingInterface",
        "spike2",
        (("*.smrx",),),
        file_layout("*.smrx"),
    ),
)

"""EDF: one ``.edf`` file per recording (no test recording here yet)."""

from __future__ import annotations

from .base import FormatSpec, file_layout

FORMATS = (
    FormatSpec("edf", "EDF", "EDFRecordingInterface", "edf", (("*.edf",),), file_layout("*.edf")),
)

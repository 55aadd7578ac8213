"""MCS raw: one ``.raw`` file per recording (no test recording here yet)."""

from __future__ import annotations

from .base import FormatSpec, file_layout

FORMATS = (
    FormatSpec(
        "mcsraw",
        "MCS raw",
        "MCSRawRecordingInterface",
        "mcsraw",
        (("*.raw",),),
        file_layout("*.raw"),
    ),
)

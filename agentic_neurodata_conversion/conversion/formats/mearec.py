"""MEArec: one ``.h5`` file per recording (no test recording here yet)."""

from __future__ import annotations

from .base import FormatSpec, file_layout

FORMATS = (
    FormatSpec(
        "mearec", "MEArec", "MEArecRecordingInterface", "mearec", (("*.h5",),), file_layout("*.h5")
    ),
)

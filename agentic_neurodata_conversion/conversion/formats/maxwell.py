"""Maxwell MaxOne: one ``.raw.h5`` file per recording (no test recording here yet)."""

from __future__ import annotations

from .base import FormatSpec, file_layout

FORMATS = (
    FormatSpec(
        "maxwell",
        "Maxwell MaxOne",
        "MaxOneRecordingInterface",
        "maxwell",
        (("*.raw.h5",),),
        file_layout("*.raw.h5"),
    ),
)

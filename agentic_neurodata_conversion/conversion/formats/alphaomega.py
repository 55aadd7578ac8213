"""AlphaOmega AlphaRS/AlphaLab: a folder of ``.mpx`` files, with ``.lsx`` indexes."""

from __future__ import annotations

from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, folder_layout, name_matches


def check(folder: Path, chosen: Layout) -> None:
    for path in sorted(p for p in folder.iterdir() if name_matches(p.name, "*.mpx")):
        if path.stat().st_size == 0:
            raise ConversionError(f"{path} is empty", "copy the recording again")


FORMATS = (
    FormatSpec(
        "alphaomega",
        "AlphaOmega",
        "AlphaOmegaRecordingInterface",
        "alphaomega",
        (("*.mpx",),),
        folder_layout,
        check=check,
    ),
)

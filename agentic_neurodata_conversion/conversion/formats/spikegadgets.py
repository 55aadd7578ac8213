"""SpikeGadgets Trodes: one ``.rec`` file, an XML configuration followed by packets."""

from __future__ import annotations

from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, file_layout

END_OF_CONFIG = b"</Configuration>"


def check(folder: Path, chosen: Layout) -> None:
    path = Path(chosen.source_data["file_path"])
    with path.open("rb") as f:
        head = f.read(1 << 20)  # the configuration is well under 1 MB
    if not head.lstrip().startswith(b"<?xml") or END_OF_CONFIG not in head:
        raise ConversionError(
            f"{path} has no complete Trodes configuration header",
            "use the .rec file Trodes wrote",
        )


FORMATS = (
    FormatSpec(
        "spikegadgets",
        "SpikeGadgets",
        "SpikeGadgetsRecordingInterface",
        "spikegadgets",
        (("*.rec",),),
        file_layout("*.rec"),
        check=check,
    ),
)

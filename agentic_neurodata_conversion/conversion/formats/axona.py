"""Axona DacqUSB raw recordings: ``<name>.bin`` packets with the ``<name>.set`` settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, check_binary_size, file_layout, paired

PACKET_BYTES = 432  # one raw packet: header, 3 samples x 64 channels, trailer


def check(folder: Path, chosen: Layout) -> None:
    path = Path(chosen.source_data["file_path"])
    settings = path.with_suffix(".set")
    if not settings.is_file():
        raise ConversionError(
            f"{path.name} has no {settings.name} beside it",
            "copy the .set file DacqUSB wrote with the .bin",
        )
    check_binary_size(path, PACKET_BYTES, "recording", "raw packets")


def confirm(files: Sequence[str]) -> str | None:
    pairs = paired(files, "*.bin", "*.set")
    return f"a .bin + .set pair ({', '.join(pairs)})" if pairs else None


FORMATS = (
    FormatSpec(
        "axona",
        "Axona",
        "AxonaRecordingInterface",
        "axona",
        (("*.bin",), ("*.set",)),
        file_layout("*.bin"),
        check=check,
        confirm=confirm,
    ),
)

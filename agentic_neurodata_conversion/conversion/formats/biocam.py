"""3Brain BioCAM: one ``.brw`` (HDF5) file per recording."""

from __future__ import annotations

from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, file_layout

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_hdf5(folder: Path, chosen: Layout) -> None:
    """An HDF5 file whose superblock is there (a cut file keeps it: the reader judges more)."""
    path = Path(chosen.source_data["file_path"])
    with path.open("rb") as f:
        head = f.read(8)
    if head != HDF5_SIGNATURE:
        raise ConversionError(
            f"{path} is not an HDF5 file (no HDF5 signature)",
            "use the file the acquisition software wrote",
        )


FORMATS = (
    FormatSpec(
        "biocam",
        "Biocam",
        "BiocamRecordingInterface",
        "biocam",
        (("*.brw", "*.bwr"),),
        file_layout("*.brw", "*.bwr"),
        check=check_hdf5,
    ),
)

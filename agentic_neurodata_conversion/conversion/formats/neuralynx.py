"""Neuralynx Cheetah: a folder of ``.ncs`` channel files (``CSC1.ncs`` ...), each a 16 kB
text header and 512-sample records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from ...errors import ConversionError
from .base import FormatSpec, Layout, check_header_and_records, folder_layout, name_matches

HEADER_BYTES = 16 * 1024
# timestamp (8), channel (4), sample rate (4), valid samples (4), 512 int16 samples
RECORD_BYTES = 8 + 4 + 4 + 4 + 512 * 2


def check(folder: Path, chosen: Layout) -> None:
    for path in sorted(
        p
        for p in Path(chosen.source_data["folder_path"]).rglob("*")
        if name_matches(p.name, "*.ncs")
    ):
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(64)
        if not head.lstrip(b"#").lstrip().startswith(b"Neuralynx"):
            raise ConversionError(
                f"{path} has no Neuralynx header ({size} bytes)",
                "use the .ncs files Cheetah wrote",
            )
        check_header_and_records(path, HEADER_BYTES, RECORD_BYTES)


def confirm(files: Sequence[str]) -> str | None:
    channels = [f for f in files if name_matches(PurePath(f).name, "*.ncs")]
    return f"a set of {len(channels)} .ncs channel file(s)"


FORMATS = (
    FormatSpec(
        "neuralynx",
        "Neuralynx",
        "NeuralynxRecordingInterface",
        "neuralynx",
        (("*.ncs",),),
        folder_layout,
        check=check,
        confirm=confirm,
    ),
)

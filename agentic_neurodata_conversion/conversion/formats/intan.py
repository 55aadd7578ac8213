"""Intan RHD/RHS: one file per chunk (``<prefix>_YYMMDD_HHMMSS.rhd``), or a folder holding
``info.rhd`` with one file per signal type (``amplifier.dat``, ``time.dat`` ...) or per
channel."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

from ...errors import ConversionError
from .base import FormatSpec, Layout, check_binary_size, choose, natural_key, truncated

MAGIC = {".rhd": 0xC6912702, ".rhs": 0xD69127AC}
HEADERS = ("info.rhd", "info.rhs")


def _header_files(files: Sequence[str]) -> list[str]:
    return [f for f in files if PurePath(f).suffix.lower() in MAGIC]


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    info = [f for f in files if PurePath(f).name.lower() in HEADERS]
    if info:
        return Layout(
            {"file_path": str(folder / info[0])},
            reasoning=(f"{info[0]} with its data files: Intan's one-file-per-signal-type layout",),
        )
    chunks = sorted(_header_files(files), key=natural_key)
    chunk = choose("block", chunks, wanted, folder)
    reasoning = ()
    if len(chunks) == 1:
        reasoning = (f"{chunks[0]}: one Intan file holding header and samples",)
    return Layout(
        {"file_path": str(folder / chunk.chosen)},
        (chunk,) if len(chunks) > 1 else (),
        reasoning,
    )


def check(folder: Path, chosen: Layout) -> None:
    """The header file's magic number; in a one-file-per-signal folder, an amplifier.dat of
    whole samples as many as time.dat has."""
    path = Path(chosen.source_data["file_path"])
    with path.open("rb") as f:
        head = f.read(4)
    magic = MAGIC[path.suffix.lower()]
    if len(head) < 4 or struct.unpack("<I", head)[0] != magic:
        raise ConversionError(
            f"{path} is not an Intan {path.suffix[1:].upper()} file (its magic number is wrong)",
            "use the file the Intan software wrote",
        )
    if path.name.lower() not in HEADERS:
        return
    time_file, amplifier = path.parent / "time.dat", path.parent / "amplifier.dat"
    if not time_file.is_file() or not amplifier.is_file():
        missing = "time.dat" if not time_file.is_file() else "amplifier.dat"
        raise ConversionError(
            f"{path.parent} has {path.name} but no {missing}",
            "copy every file the Intan software wrote into that folder",
        )
    samples = check_binary_size(time_file, 4, "recording", "int32 time stamps")
    size = amplifier.stat().st_size
    if size == 0 or size % (2 * samples):
        raise truncated(
            amplifier,
            f"{size} bytes is not a whole number of channels of {samples} int16 samples "
            f"(time.dat holds {samples})",
        )


def confirm(files: Sequence[str]) -> str | None:
    names = {PurePath(f).name.lower() for f in files}
    if names & set(HEADERS):
        return "an info.rhd/info.rhs header beside the data files"
    return "an Intan .rhd/.rhs file"


FORMATS = (
    FormatSpec(
        "intan",
        "Intan",
        "IntanRecordingInterface",
        "intan",
        # amplifier.dat or time.dat alone: an Intan folder lacking its info.rhd header
        (("info.rhd", "*.rhd", "*.rhs"), ("*.rhd", "*.rhs", "amplifier.dat", "time.dat")),
        layout,
        check=check,
        axes=("block",),
        confirm=confirm,
    ),
)

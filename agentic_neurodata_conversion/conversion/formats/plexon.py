"""Plexon: ``.plx`` (OmniPlex/MAP) and ``.pl2`` files. A ``.plx`` holds several continuous
streams (wideband, spike-band, field potentials); which ones is read from its header."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, choose, file_layout, first_file

NEUROCONV_DEFAULT_STREAM = "WB-Wideband"
PLX_MAGIC = 0x58454C50  # "PLEX"


def plx_streams(path: Path) -> list[str]:
    """The continuous streams in the file's header (neo parses it: the names are neo's)."""
    from neo.rawio import PlexonRawIO

    try:
        reader = PlexonRawIO(filename=str(path), progress_bar=False)
        reader.parse_header()
    except Exception as exc:  # a cut or foreign file fails anywhere in the parser
        raise ConversionError(
            f"{path} cannot be read as a Plexon .plx file ({type(exc).__name__}: {exc})",
            "use the file the Plexon system wrote",
        ) from exc
    return [str(n) for n in reader.header["signal_streams"]["name"]]


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    path = Path(first_file(folder, files, ("*.plx",)))
    _check_magic(path)
    streams = plx_streams(path)
    default = NEUROCONV_DEFAULT_STREAM if NEUROCONV_DEFAULT_STREAM in streams else None
    stream = choose(
        "stream", streams, wanted, path, default=default, rule="NeuroConv's default stream"
    )
    return Layout({"file_path": str(path), "stream_name": stream.chosen}, (stream,))


def _check_magic(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(4)
    if len(head) < 4 or int.from_bytes(head, "little") != PLX_MAGIC:
        raise ConversionError(
            f"{path} is not a Plexon .plx file (its magic number is wrong)",
            "use the file the Plexon system wrote",
        )


FORMATS = (
    FormatSpec(
        "plexon",
        "Plexon",
        "PlexonRecordingInterface",
        "plexon",
        (("*.plx",),),
        layout,
        axes=("stream",),
    ),
    FormatSpec(
        "plexon2",
        "Plexon2",
        "Plexon2RecordingInterface",
        "plexon2",
        (("*.pl2",),),
        file_layout("*.pl2"),
    ),
)

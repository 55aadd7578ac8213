"""Plexon: ``.plx`` (OmniPlex/MAP) and ``.pl2`` files. A ``.plx`` holds several continuous
streams (wideband, spike-band, field potentials); which ones is read from its header."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, choose, file_layout, first_file

NEUROCONV_DEFAULT_STREAM = "WB-Wideband"
PLX_MAGIC = 0x58454C50  # "PLEX"
# The .plx layout (Plexon's SDK): a 7504-byte file header holding the channel counts, one
# header per spike (1020 bytes), event and slow (continuous) channel (296 bytes each), then
# data blocks: a 16-byte header whose last two int16 give waveforms x words that follow.
FILE_HEADER_BYTES = 7504
COUNTS_OFFSET = 140  # NumDSPChannels, NumEventChannels, NumSlowChannels (int32 each)
DSP_HEADER_BYTES, EVENT_HEADER_BYTES, SLOW_HEADER_BYTES = 1020, 296, 296
BLOCK_HEADER_BYTES = 16


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


def check_blocks(path: Path) -> None:
    """Every data block is whole: a cut .plx ends inside a block, which readers accept and
    only fail on when the samples are read, after the conversion dataset exists."""
    import mmap
    import struct

    size = path.stat().st_size
    if size < FILE_HEADER_BYTES:
        raise _cut(path, f"{size} bytes, shorter than its {FILE_HEADER_BYTES}-byte header")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        dsp, event, slow = struct.unpack_from("<3i", data, COUNTS_OFFSET)
        offset = (
            FILE_HEADER_BYTES
            + DSP_HEADER_BYTES * dsp
            + EVENT_HEADER_BYTES * event
            + SLOW_HEADER_BYTES * slow
        )
        header = struct.Struct("<hhh")  # n_waveforms, words per waveform (at bytes 12, 14)
        while offset < size:
            if offset + BLOCK_HEADER_BYTES > size:
                raise _cut(path, f"the data block header at byte {offset} is cut")
            _, waveforms, words = header.unpack_from(data, offset + 10)
            offset += BLOCK_HEADER_BYTES + 2 * waveforms * words
            if offset > size:
                raise _cut(path, f"a data block ends at byte {offset}, past the file's end")


def _cut(path: Path, why: str) -> ConversionError:
    return ConversionError(
        f"{path} is truncated: {why}", "copy the recording again from the acquisition machine"
    )


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    path = Path(first_file(folder, files, ("*.plx",)))
    _check_magic(path)
    check_blocks(path)  # before the header is parsed: a cut file must not reach the reader
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

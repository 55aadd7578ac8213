"""Plexon: ``.plx`` (OmniPlex/MAP) and ``.pl2`` files. A ``.plx`` holds several continuous
streams (wideband, spike-band, field potentials); which ones is read from its header."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, choose, file_layout, first_file, truncated

NEUROCONV_DEFAULT_STREAM = "WB-Wideband"
PLX_MAGIC = 0x58454C50  # "PLEX"
# The .plx layout (Plexon's SDK): a 7504-byte file header holding the channel counts, one
# header per spike (1020 bytes), event and slow (continuous) channel (296 bytes each), then
# data blocks: a 16-byte header whose last two int16 give waveforms x words that follow.
FILE_HEADER_BYTES = 7504
COUNTS_OFFSET = 140  # NumDSPChannels, NumEventChannels, NumSlowChannels (int32 each)
DSP_HEADER_BYTES, EVENT_HEADER_BYTES, SLOW_HEADER_BYTES = 1020, 296, 296
BLOCK_HEADER_BYTES = 16
CONTINUOUS_BLOCK = 5  # block type of slow-channel samples
# Plexon's meaning of the channel name prefixes, as neo (and so NeuroConv) names streams.
STREAM_NAMES = {
    "WB": "WB-Wideband",
    "FP": "FPl-Low Pass Filtered",
    "SP": "SPKC-High Pass Filtered",
    "AI": "AI-Auxiliary Input",
    "AIF": "AIF-Auxiliary Input Filtered",
}


def read_blocks(path: Path) -> tuple[list[tuple[str, int]], set[int]]:
    """Check that every data block is whole (a cut .plx ends inside one, which readers
    accept until the samples are read, after the conversion dataset exists); return the
    slow (continuous) channels' (name, channel number) and the channel numbers holding data.
    One pass over the block headers, no reader."""
    import mmap
    import struct

    size = path.stat().st_size
    if size < FILE_HEADER_BYTES:
        raise truncated(path, f"{size} bytes, shorter than its {FILE_HEADER_BYTES}-byte header")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        dsp, event, slow = struct.unpack_from("<3i", data, COUNTS_OFFSET)
        first_slow = FILE_HEADER_BYTES + DSP_HEADER_BYTES * dsp + EVENT_HEADER_BYTES * event
        if first_slow + SLOW_HEADER_BYTES * slow > size:
            raise truncated(path, "its channel headers are incomplete")
        channels = []
        for i in range(slow):
            at = first_slow + SLOW_HEADER_BYTES * i
            name = bytes(data[at : at + 32]).split(b"\0")[0].decode("utf8", "replace")
            channels.append((name, struct.unpack_from("<i", data, at + 32)[0]))
        offset = first_slow + SLOW_HEADER_BYTES * slow
        header = struct.Struct("<h6xhhhh")  # type; channel, unit, waveforms, words at 8..15
        with_data: set[int] = set()
        while offset < size:
            if offset + BLOCK_HEADER_BYTES > size:
                raise truncated(path, f"the data block header at byte {offset} is cut")
            kind, channel, _, waveforms, words = header.unpack_from(data, offset)
            offset += BLOCK_HEADER_BYTES + 2 * waveforms * words
            if offset > size:
                raise truncated(path, f"a data block ends at byte {offset}, past the file's end")
            if kind == CONTINUOUS_BLOCK and waveforms * words:
                with_data.add(channel)
    return channels, with_data


def plx_streams(path: Path) -> list[str]:
    """The continuous streams, named as neo (hence NeuroConv) names them: the non-digit
    prefix of the names of the channels that hold samples (``WB01`` -> ``WB``), with
    Plexon's own meaning of the usual prefixes (``WB-Wideband`` ...)."""
    channels, with_data = read_blocks(path)
    prefixes = set()
    for name, number in channels:
        match = re.match(r"^\D+", name)
        if number in with_data and match:
            prefixes.add(match.group(0))
    return [STREAM_NAMES.get(p, p) for p in sorted(prefixes)]


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

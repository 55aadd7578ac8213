"""Blackrock Cerebus/NSP: continuous ``.ns1``-``.ns6`` files (one per sampling rate) and the
``.nev`` events file written beside them under the same name."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

from ...errors import ConversionError
from .base import FormatSpec, Layout, choose, natural_key, paired, truncated

DEFAULT_RULE = "the highest-rate file (.ns6 > .ns5 > ...), by default"
# NSx 2.2/2.3: id, version, header bytes, label, comment, period, resolution, time origin,
# channel count; then the extended headers, then packets (0x01, timestamp, points, samples).
NSX22_CHANNEL_COUNT_OFFSET = 8 + 2 + 4 + 16 + 256 + 4 + 4 + 16


def _nsx(files: Sequence[str]) -> list[str]:
    return sorted(
        (f for f in files if PurePath(f).suffix.lower() in {f".ns{i}" for i in range(1, 7)}),
        key=natural_key,
    )


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    nsx = _nsx(files)
    by_ext = {PurePath(f).suffix.lower()[1:]: f for f in nsx}
    streams = sorted(by_ext, reverse=True)
    stream = choose("stream", streams, wanted, folder, default=streams[0], rule=DEFAULT_RULE)
    return Layout({"file_path": str(folder / by_ext[stream.chosen])}, (stream,))


def check(folder: Path, chosen: Layout) -> None:
    """The .nev beside the file, and an NSx whose header and packets are whole."""
    path = Path(chosen.source_data["file_path"])
    nev = path.with_suffix(".nev")
    if not any(p.is_file() for p in (nev, path.with_suffix(".NEV"))):
        raise ConversionError(
            f"{path.name} has no {nev.name} beside it",
            "copy the .nev file the Blackrock system wrote with the .nsX files",
        )
    if path.stat().st_size < 8:
        raise truncated(path, "its header is incomplete")
    # Mapped, not read: an .ns6 may be many GB; only packet headers are touched.
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _check_nsx(path, data)


def _check_nsx(path: Path, data: mmap.mmap) -> None:
    kind = data[:8]
    if kind == b"NEURALSG":  # file spec 2.1: fixed header, then int16 frames
        if len(data) < 32:
            raise truncated(path, "its header is incomplete")
        channels = struct.unpack_from("<I", data, 28)[0]
        body = len(data) - 32 - 4 * channels
        if body < 0 or body % (2 * max(channels, 1)):
            raise truncated(path, f"the samples are not whole frames of {channels} channels")
        return
    if kind not in (b"NEURALCD", b"BRSMPGRP"):
        raise ConversionError(
            f"{path} is not a Blackrock NSx file (it starts with {kind!r})",
            "use the file the Blackrock system wrote",
        )
    if len(data) < NSX22_CHANNEL_COUNT_OFFSET + 4:
        raise truncated(path, "its header is incomplete")
    header_bytes = struct.unpack_from("<I", data, 10)[0]
    channels = struct.unpack_from("<I", data, NSX22_CHANNEL_COUNT_OFFSET)[0]
    stamp = 8 if kind == b"BRSMPGRP" else 4
    offset = header_bytes
    if offset > len(data):
        raise truncated(path, "its extended headers are incomplete")
    while offset < len(data):
        if len(data) < offset + 1 + stamp + 4:
            raise truncated(path, f"a data packet header at byte {offset} is cut")
        points = struct.unpack_from("<I", data, offset + 1 + stamp)[0]
        end = offset + 1 + stamp + 4 + points * channels * 2
        if end > len(data):
            raise truncated(path, f"the data packet at byte {offset} needs {end} bytes")
        offset = end


def confirm(files: Sequence[str]) -> str | None:
    pairs = paired(files, "*.ns[1-6]", "*.nev")
    if pairs:
        return f"an .nsX + .nev pair ({', '.join(pairs)})"
    return "an .nsX file (its .nev is missing)"


FORMATS = (
    FormatSpec(
        "blackrock",
        "Blackrock",
        "BlackrockRecordingInterface",
        "blackrock",
        (("*.ns[1-6]",),),
        layout,
        check=check,
        axes=("stream",),
        confirm=confirm,
    ),
)

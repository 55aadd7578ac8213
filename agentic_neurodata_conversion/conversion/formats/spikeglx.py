"""SpikeGLX: ``<run>_g<N>_t<N>.imec<N>.ap|lf.bin`` + ``.meta`` per probe, ``.nidq`` for the NI
board; one folder per gate (``<run>_g<N>``), often one subfolder per probe. A gate is a
block; its triggers (``t0``, ``t1``) are segments, which NeuroConv converts together."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path, PurePath
from typing import Any

from ...errors import ConversionError
from .base import (
    Evidence,
    FormatSpec,
    Layout,
    check_int16_frames,
    choose,
    natural_key,
)

REQUIRED_META_KEYS = (
    "fileName",
    "fileCreateTime",
    "imDatPrb_pn",
    "imSampRate",
    "imAiRangeMax",
    "nSavedChans",
    "snsSaveChanSubset",
    "~imroTbl",
    "~snsChanMap",
)
NIDQ_REQUIRED_META_KEYS = ("fileName", "fileCreateTime", "niSampRate", "nSavedChans")
# NP 1.0 / 3A / 3B metas name the probe by imProbeOpt or imDatPrb_type, not imDatPrb_pn.
PROBE_KEYS = ("imDatPrb_pn", "imDatPrb_type", "imProbeOpt")
NAME = re.compile(
    r"^(?P<run>.+)_(?P<gate>g\d+)_(?P<trigger>t\d+)\.(?P<stream>imec\d*\.(?:ap|lf)|nidq)"
    r"(?P<ext>\.bin|\.meta)$"
)
GATE_FOLDER = re.compile(r"^.+_(g\d+)$")
DEFAULT_STREAM_RULE = "SpikeGLX's first AP stream, by default"

EVIDENCE = (
    Evidence("NWBFile.session_start_time", "*.meta", "fileCreateTime"),
    Evidence("Devices.*.serial_number", "*.meta", "imDatPrb_sn"),
    Evidence("Devices.*.name", "*.meta", "fileName (probe imecN)"),
    Evidence("DeviceModels.*", "*.meta", "imDatPrb_pn (probe part number)"),
    Evidence("Ecephys.ElectrodeGroups.*.name", "*.meta", "~imroTbl (probe shanks)"),
    Evidence("Ecephys.ElectrodeGroups.*.device_metadata_key", "*.meta", "imDatPrb_sn"),
    Evidence("Ecephys.ElectricalSeries.*.name", "*.meta", "fileName (stream ap/lf)"),
)


def read_meta(path: Path) -> dict[str, str]:
    """``key=value`` lines of a SpikeGLX .meta file (keys keep their ``~`` prefix)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConversionError(f"cannot read {path}: {exc.strerror}", "check the file") from exc
    meta: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def _bins(files: Sequence[str]) -> list[tuple[str, re.Match[str]]]:
    found = []
    for rel in files:
        match = NAME.match(PurePath(rel).name)
        if match is not None and match["ext"] == ".bin":
            found.append((rel, match))
    return found


def _gate_folder(folder: Path, rel: str) -> Path:
    """The gate's folder: the parent of a per-probe folder ``<run>_g<N>_imec<M>``."""
    parent = (folder / rel).parent
    if re.match(r"^.+_g\d+_imec\d+$", parent.name):
        return parent.parent
    return parent


def streams_of(files: Sequence[str]) -> list[str]:
    """The probe streams (``imec0.ap`` ...), AP streams first; ``nidq`` is not one of them."""
    names = {m["stream"] for _, m in _bins(files) if m["stream"] != "nidq"}
    return sorted(names, key=lambda s: (not s.endswith(".ap"), natural_key(s)))


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    bins = _bins(files)
    if not any(m["stream"] != "nidq" for _, m in bins):
        raise ConversionError(
            f"no SpikeGLX stream named <run>_g<N>_t<N>.imec<N>.ap.bin in {folder}",
            "keep the file names SpikeGLX wrote",
        )
    gates = sorted({m["gate"] for _, m in bins}, key=natural_key)
    gate = choose("block", gates, wanted, folder)
    in_gate = [rel for rel, m in bins if m["gate"] == gate.chosen]
    streams = streams_of(in_gate)
    default = next((s for s in streams if s.endswith(".ap")), streams[0])
    stream = choose("stream", streams, wanted, folder, default=default, rule=DEFAULT_STREAM_RULE)
    gate_folder = _gate_folder(
        folder, next(rel for rel, m in bins if m["gate"] == gate.chosen and m["stream"] != "nidq")
    )
    triggers = sorted(
        {m["trigger"] for _, m in bins if m["gate"] == gate.chosen and m["stream"] == stream.chosen}
    )
    reasoning = []
    if len(triggers) > 1:
        reasoning.append(f"{len(triggers)} triggers ({', '.join(triggers)}): one segment each")
    if any(m["stream"] == "nidq" for rel, m in bins if m["gate"] == gate.chosen):
        reasoning.append("a nidq stream (NI board): converted with --all-streams")
    reasoning += [
        note
        for rel, m in bins
        if m["gate"] == gate.chosen and (note := announced_shortfall(folder / rel))
    ]
    return Layout(
        {"folder_path": str(gate_folder), "stream_id": stream.chosen},
        (gate, stream) if len(gates) > 1 else (stream,),
        tuple(reasoning),
    )


def check(folder: Path, chosen: Layout) -> None:
    """Every .bin of the gate has its .meta, with the keys readers need, and whole samples;
    a file shorter than its .meta's fileSizeBytes but whole is kept (test sets cut them)."""
    gate_folder = Path(chosen.source_data["folder_path"])
    for bin_path in sorted(gate_folder.rglob("*.bin")):
        match = NAME.match(bin_path.name)
        if match is None:
            continue
        meta_path = bin_path.with_suffix(".meta")
        if not meta_path.is_file():
            raise ConversionError(
                f"{bin_path.name} has no {meta_path.name} beside it",
                "copy the .meta file SpikeGLX wrote with the .bin",
            )
        meta = read_meta(meta_path)
        nidq = match["stream"] == "nidq"
        required = NIDQ_REQUIRED_META_KEYS if nidq else REQUIRED_META_KEYS
        missing = [k for k in required if not meta.get(k)]
        if not nidq and "imDatPrb_pn" in missing and any(meta.get(k) for k in PROBE_KEYS):
            missing.remove("imDatPrb_pn")  # an older probe (3A/3B, NP1.0) names itself so
        if missing:
            raise ConversionError(
                f"{meta_path} lacks required key{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}",
                "use the .meta file SpikeGLX wrote, unedited",
            )
        file_name = re.split(r"[\\/]", meta["fileName"])[-1]
        if not NAME.match(file_name):
            raise ConversionError(
                f"{meta_path}: fileName {meta['fileName']!r} is not "
                "<run>_g<N>_t<N>.imec<N>.ap|lf.bin",
                "use the .meta file SpikeGLX wrote, unedited",
            )
        try:
            channels = int(meta["nSavedChans"])
            float(meta["niSampRate" if nidq else "imSampRate"])
            if not nidq:
                float(meta["imAiRangeMax"])
        except ValueError as exc:
            raise ConversionError(
                f"{meta_path}: {exc}", "use the .meta file SpikeGLX wrote"
            ) from exc
        if channels < 1:
            raise ConversionError(
                f"{meta_path}: nSavedChans is {channels}", "use the original .meta"
            )
        check_int16_frames(bin_path, channels)


def announced_shortfall(bin_path: Path) -> str | None:
    """A whole file shorter than its .meta says: for the record (upstream test sets do it)."""
    meta_path = bin_path.with_suffix(".meta")
    if not meta_path.is_file():
        return None  # the check refuses it
    meta = read_meta(meta_path)
    try:
        announced = int(meta.get("fileSizeBytes", ""))
    except ValueError:
        return None
    size = bin_path.stat().st_size
    if size >= announced:
        return None
    return f"{bin_path.name} holds {size} of the {announced} bytes its .meta announces"


# Samples of the NIDQ digital words read per block when looking for lines that change.
NIDQ_BLOCK_SAMPLES = 1 << 20


def changing_lines(nidq_bin: Path) -> dict[str, list[int]]:
    """For each NIDQ digital word (``XD0`` ...), the lines (bits) that change state at least
    once: read from the .bin's last ``snsMnMaXaDw`` columns, a block at a time; once per
    process while the file is unchanged (a conversion detects the same recording several
    times)."""
    st = nidq_bin.stat()
    return _changing_lines(str(nidq_bin.absolute()), st.st_size, st.st_mtime_ns)


@cache
def _changing_lines(nidq_bin: str, size: int, mtime_ns: int) -> dict[str, list[int]]:
    import numpy as np

    meta = read_meta(Path(nidq_bin).with_suffix(".meta"))
    channels = int(meta["nSavedChans"])
    words = int(meta.get("snsMnMaXaDw", "0,0,0,0").split(",")[-1])
    if not words:
        return {}
    data = np.memmap(nidq_bin, dtype="<u2", mode="r")
    data = data[: data.size // channels * channels].reshape(-1, channels)[:, channels - words :]
    changed = np.zeros(words, dtype=np.uint16)
    for start in range(0, data.shape[0], NIDQ_BLOCK_SAMPLES):
        block = np.asarray(data[max(start - 1, 0) : start + NIDQ_BLOCK_SAMPLES])
        if len(block) > 1:
            changed |= np.bitwise_or.reduce(block[1:] ^ block[:-1], axis=0)
    return {f"XD{w}": [bit for bit in range(16) if changed[w] >> bit & 1] for w in range(words)}


def all_streams(chosen: Layout) -> tuple[str, dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    """AP, LF, NIDQ and sync channels of the gate, through NeuroConv's SpikeGLXConverterPipe;
    the NIDQ board's events only from the digital lines that change (NeuroConv would write
    an empty events table for each line that never does, which the inspector cannot read)."""
    folder = Path(chosen.source_data["folder_path"])
    options: dict[str, dict[str, Any]] = {}
    reasoning = []
    nidq = sorted(p for p in folder.glob("*.nidq.bin") if NAME.match(p.name))
    if nidq:
        lines = changing_lines(nidq[0])
        detect = {
            word: [{"signal_conditioning": {"bits": bits}, "detection": "high_period"}]
            for word, bits in lines.items()
            if bits
        }
        # No line changes: NeuroConv 0.10 writes no events only through the empty (legacy)
        # digital_channel_groups, deprecated for removal on or after August 2027; an empty
        # detection_configuration still expects Events metadata. Replace when it can.
        options["nidq"] = (
            {"detection_configuration": detect} if detect else {"digital_channel_groups": {}}
        )
        for word, bits in lines.items():
            reasoning.append(
                f"NIDQ digital word {word}: events from lines {', '.join(map(str, bits))}"
                if bits
                else f"NIDQ digital word {word}: no line changes state, so no events"
            )
    return "SpikeGLXConverterPipe", {"folder_path": str(folder)}, options, reasoning


FORMATS = (
    FormatSpec(
        "spikeglx",
        "SpikeGLX",
        "SpikeGLXRecordingInterface",
        "spikeglx",
        (("*.imec*.ap.bin", "*.imec*.lf.bin"), ("*.imec*.ap.meta", "*.imec*.lf.meta")),
        layout,
        EVIDENCE,
        tested=True,
        check=check,
        axes=("block", "stream"),
        all_streams=all_streams,
    ),
)

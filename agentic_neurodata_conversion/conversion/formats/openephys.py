"""Open Ephys GUI: the binary format (``structure.oebin`` per recording, since 0.4.4) and the
legacy format (``.continuous`` files). A binary session holds record nodes (``Record Node
105``: one ``settings.xml`` each), each with experiments (blocks) of recordings (segments,
converted together) of one or more streams."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import ConversionError, UsageError
from .base import (
    Evidence,
    FormatSpec,
    Layout,
    check_header_and_records,
    check_int16_frames,
    choose,
    folder_layout,
    natural_key,
    require_file,
    truncated,
)

EVIDENCE = (
    Evidence("NWBFile.session_start_time", "*settings.xml", "INFO/DATE"),
    Evidence("Devices.*", "*settings.xml", "SIGNALCHAIN (Neuropix-PXI probe)"),
    Evidence("DeviceModels.*", "*settings.xml", "SIGNALCHAIN (Neuropix-PXI probe)"),
    Evidence("Ecephys.ElectrodeGroups.*.name", "*structure.oebin", "continuous[].channels"),
)
OEBIN = "structure.oebin"
# A legacy .continuous file: a 1024-byte text header, then records of a 64-bit timestamp,
# 16-bit sample count and record number, 1024 big-endian int16 samples, a 10-byte marker.
LEGACY_HEADER_BYTES = 1024
LEGACY_RECORD_BYTES = 8 + 2 + 2 + 1024 * 2 + 10


def _structure(path: Path) -> dict[str, Any]:
    try:
        structure = json.loads(path.read_text())
        if not isinstance(structure["continuous"], list):
            raise TypeError("'continuous' is not a list")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ConversionError(
            f"{path} is not a valid {OEBIN} ({type(exc).__name__}: {exc})",
            f"use the {OEBIN} Open Ephys wrote",
        ) from exc
    return structure


def _node_of(oebin: PurePosixPath) -> PurePosixPath:
    """``<node>/experiment<N>/recording<M>/structure.oebin`` -> ``<node>``."""
    return oebin.parents[2] if len(oebin.parents) > 2 else PurePosixPath(".")


def _stream_names(oebin: Path) -> list[str]:
    return [s["folder_name"].rstrip("/") for s in _structure(oebin)["continuous"]]


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    oebins = [PurePosixPath(f) for f in files if PurePosixPath(f).name == OEBIN]
    if not oebins:
        raise ConversionError(f"no {OEBIN} in {folder}", "copy the whole recording folder")
    nodes = sorted({_node_of(o).as_posix() for o in oebins}, key=natural_key)
    node = choose("record_node", nodes, wanted, folder)
    node_folder = folder / node.chosen
    in_node = [o for o in oebins if _node_of(o).as_posix() == node.chosen]
    experiments = sorted({o.parents[1].name for o in in_node}, key=natural_key)
    experiment = choose("block", experiments, wanted, node_folder)
    recordings = sorted(
        (o for o in in_node if o.parents[1].name == experiment.chosen),
        key=lambda o: natural_key(o.parent.name),
    )
    streams: list[str] = []
    for oebin in recordings:
        streams += [s for s in _stream_names(folder / oebin) if s not in streams]
    stream = choose("stream", streams, wanted, node_folder)
    # NeuroConv (neo) names a stream after its record node when the node folder is one.
    prefix = (
        f"{node_folder.absolute().name}#"
        if node_folder.absolute().name.startswith("Record")
        else ""
    )
    source: dict[str, Any] = {
        "folder_path": str(node_folder),
        "stream_name": prefix + stream.chosen,
    }
    if len(experiments) > 1:
        source["block_index"] = experiments.index(experiment.chosen)
    choices = tuple(c for c in (node, experiment, stream) if len(c.options) > 1) or (stream,)
    reasoning = []
    if len(recordings) > 1:
        names = ", ".join(o.parent.name for o in recordings)
        reasoning.append(f"{len(recordings)} recordings ({names}): one segment each")
    return Layout(source, choices, tuple(reasoning))


def check(folder: Path, chosen: Layout) -> None:
    """The node's settings.xml, and per recording of the chosen experiment: a valid
    structure.oebin whose streams' data files exist and hold whole samples."""
    node = Path(chosen.source_data["folder_path"])
    require_file(node / "settings.xml", "every Open Ephys record node writes one", "copy it too")
    for oebin in sorted(node.rglob(OEBIN)):
        structure = _structure(oebin)
        for i, stream in enumerate(structure["continuous"]):
            where = f"{oebin}: continuous[{i}]"
            for key in ("folder_name", "sample_rate", "channels"):
                if key not in stream:
                    raise ConversionError(f"{where} lacks {key!r}", f"use the original {OEBIN}")
            for j, channel in enumerate(stream["channels"]):
                for key in ("channel_name", "bit_volts", "units"):
                    if key not in channel:
                        raise ConversionError(
                            f"{where}.channels[{j}] lacks {key!r}", f"use the original {OEBIN}"
                        )
            data_folder = oebin.parent / "continuous" / stream["folder_name"].rstrip("/")
            dat = data_folder / "continuous.dat"
            if not dat.is_file():
                raise ConversionError(f"{dat} is missing", "copy the whole recording folder")
            numbers = [data_folder / n for n in ("sample_numbers.npy", "timestamps.npy")]
            if not any(n.is_file() for n in numbers):
                raise ConversionError(
                    f"{data_folder} has neither sample_numbers.npy nor timestamps.npy",
                    "copy the whole recording folder",
                )
            samples = check_int16_frames(dat, len(stream["channels"]))
            _check_sample_count(next(n for n in numbers if n.is_file()), samples, dat)


def _check_sample_count(numbers: Path, samples: int, dat: Path) -> None:
    """A continuous.dat cut at a sample boundary still holds fewer samples than its index."""
    import numpy as np

    try:
        count = len(np.load(numbers, mmap_mode="r"))
    except (ValueError, OSError) as exc:
        raise ConversionError(f"{numbers} cannot be read: {exc}", "copy it again") from exc
    if count != samples:
        raise truncated(
            dat, f"it holds {samples} samples, {numbers.name} lists {count}", "recording folder"
        )


def check_legacy(folder: Path, chosen: Layout) -> None:
    """Each .continuous file: a whole header and whole records."""
    for path in sorted(Path(chosen.source_data["folder_path"]).glob("*.continuous")):
        check_header_and_records(path, LEGACY_HEADER_BYTES, LEGACY_RECORD_BYTES)


def all_streams(chosen: Layout) -> tuple[str, dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    """Every stream of the record node, through NeuroConv's OpenEphysBinaryConverter (it
    reads a node's only experiment: with several, one is converted at a time)."""
    if "block_index" in chosen.source_data:
        raise UsageError(
            f"{chosen.source_data['folder_path']} holds several experiments; --all-streams "
            "converts a record node with one",
            "convert one stream at a time with --block and --stream",
        )
    return "OpenEphysBinaryConverter", {"folder_path": chosen.source_data["folder_path"]}, {}, []


FORMATS = (
    FormatSpec(
        "openephys",
        "Open Ephys binary",
        "OpenEphysBinaryRecordingInterface",
        "openephys",
        ((OEBIN,), ("continuous.dat",), ("settings.xml",)),
        layout,
        EVIDENCE,
        tested=True,
        check=check,
        axes=("record_node", "block", "stream"),
        all_streams=all_streams,
    ),
    FormatSpec(
        "openephys_legacy",
        "Open Ephys legacy",
        "OpenEphysLegacyRecordingInterface",
        "openephys",
        (("*.continuous",), ("settings*.xml", "*.openephys")),
        folder_layout,
        check=check_legacy,
    ),
)

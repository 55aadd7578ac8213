"""NeuroScope (Buzsaki lab): ``<session>.dat`` (or ``.lfp``/``.eeg``) int16 samples with the
``<session>.xml`` that gives channel count and sampling rate."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath

from ...errors import ConversionError
from .base import FormatSpec, Layout, check_int16_frames, stems

DATA_PATTERNS = ("*.dat", "*.lfp", "*.eeg")


def _pairs(files: Sequence[str]) -> dict[str, tuple[str, str]]:
    data, xml = stems(files, *DATA_PATTERNS), stems(files, "*.xml")
    return {s: (data[s], xml[s]) for s in sorted(set(data) & set(xml))}


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    pairs = _pairs(files)
    if not pairs:
        raise ConversionError(
            f"no <session>.dat with its <session>.xml in {folder}",
            "keep the .xml NeuroScope needs beside the .dat, under the same name",
        )
    stem = next(iter(pairs))
    data, xml = pairs[stem]
    return Layout({"file_path": str(folder / data), "xml_file_path": str(folder / xml)})


def check(folder: Path, chosen: Layout) -> None:
    xml = Path(chosen.source_data["xml_file_path"])
    try:
        channels = int(ET.parse(xml).getroot().findtext("acquisitionSystem/nChannels") or "")
    except (ET.ParseError, ValueError) as exc:
        raise ConversionError(
            f"{xml} gives no acquisitionSystem/nChannels ({exc})",
            "use the .xml NeuroScope wrote for this session",
        ) from exc
    check_int16_frames(Path(chosen.source_data["file_path"]), channels)


def confirm(files: Sequence[str]) -> str | None:
    pairs = _pairs(files)
    if not pairs:
        return None
    return (
        f"a NeuroScope .dat + .xml pair ({', '.join(PurePath(p[0]).name for p in pairs.values())})"
    )


FORMATS = (
    FormatSpec(
        "neuroscope",
        "NeuroScope",
        "NeuroScopeRecordingInterface",
        "neuroscope",
        (DATA_PATTERNS, ("*.xml",)),
        layout,
        check=check,
        confirm=confirm,
    ),
)

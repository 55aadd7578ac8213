"""Tucker-Davis Technologies: a tank folder of block folders, each with ``.tev`` (data),
``.tsq`` (headers of the data chunks), ``.tbk``/``.tdx``/``.tin``/``.tnt``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import ConversionError
from .base import FormatSpec, Layout, check_binary_size, name_matches, paired

TSQ_RECORD_BYTES = 40
# TDT stores float32 volts as written by the amplifier; NeuroConv asks for the gain to
# scale by: 1.0 keeps the stored values.
GAIN = 1.0


def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    return Layout(
        {"folder_path": str(folder), "gain": GAIN},
        reasoning=("gain 1.0: the tank stores the amplifier's values as they are",),
    )


def check(folder: Path, chosen: Layout) -> None:
    """Blocks sit in the tank folder under TDT's names, each .tev with its whole .tsq."""
    for tev in sorted(p for p in folder.rglob("*") if name_matches(p.name, "*.tev")):
        if tev.parent == folder:
            raise ConversionError(
                f"{folder} is a TDT block folder; the reader takes the tank holding it",
                f"pass the tank folder {folder.parent} as SOURCE",
            )
        tank, block = tev.parent.parent.name, tev.parent.name
        if tev.stem.lower() != f"{tank}_{block}".lower():
            raise ConversionError(
                f"{tev.name} does not match its folders: TDT names a block's files "
                f"<tank>_<block>, here {tank}_{block}",
                "give the tank and block folders back the names TDT wrote "
                f"(the file names say {tev.stem})",
            )
        tsq = next(
            (p for p in tev.parent.iterdir() if p.name.lower() == tev.stem.lower() + ".tsq"), None
        )
        if tsq is None:
            raise ConversionError(
                f"{tev.name} has no {tev.stem}.tsq beside it",
                "copy the whole block folder the TDT system wrote",
            )
        check_binary_size(tsq, TSQ_RECORD_BYTES, "block", "40-byte chunk headers")


def confirm(files: Sequence[str]) -> str | None:
    pairs = paired(files, "*.tev", "*.tsq")
    return f"a TDT block ({', '.join(pairs)}: .tev + .tsq)" if pairs else None


FORMATS = (
    FormatSpec(
        "tdt",
        "TDT",
        "TdtRecordingInterface",
        "tdt",
        (("*.tev",), ("*.tsq",)),
        layout,
        check=check,
        confirm=confirm,
    ),
)

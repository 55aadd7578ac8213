"""What every format module builds on: the format spec, choices, detection, file helpers.

A format module (one per NeuroConv format family, like NeuroConv's ``datainterfaces``
folders) declares ``FORMATS``: the specs of the formats it reads. A spec says which files
mark the format, how to pick what to convert from a folder (its ``layout``: source
arguments, and the choices among record nodes, blocks and streams), which file fields its
metadata values come from, and how to check the files before anything is created. Nothing
here imports NeuroConv: a bad folder fails in milliseconds with one line.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ...errors import ConversionError, UsageError
from ...journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource

# Choice axes, in the order a recording nests them, and the option that picks each.
AXES = {"record_node": "--record-node", "block": "--block", "stream": "--stream"}
AXIS_WORDS = {"record_node": "record node", "block": "block", "stream": "stream"}
# The stream choice that converts them all (``--all-streams``).
ALL_STREAMS = "*"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a metadata field's value is read from: a field pattern, a file pattern, a key."""

    field: str  # fnmatch pattern over dotted field paths
    file: str  # glob (relative to the source folder) of the file holding the value
    key: str  # key, element or rule inside that file


@dataclass(frozen=True, slots=True)
class Choice:
    """One axis a recording offers several of (record nodes, blocks, streams) and the one
    converted; ``by_user`` when the user named it, else the only one or the format's rule."""

    axis: str
    options: tuple[str, ...]
    chosen: str
    by_user: bool = False
    rule: str = ""  # why this one, when neither the user nor uniqueness decided

    def reasoning(self) -> str:
        word = AXIS_WORDS[self.axis]
        if len(self.options) == 1:
            return f"one {word}: {self.chosen}"
        others = [o for o in self.options if o != self.chosen]
        how = "chosen by the user" if self.by_user else self.rule
        return (
            f"{len(self.options)} {word}s ({', '.join(self.options)}): converting {self.chosen}"
            f" ({how}); not converted: {', '.join(others)}"
        )


@dataclass(frozen=True, slots=True)
class Layout:
    """What is converted from a folder: the interface's source arguments and the choices."""

    source_data: dict[str, Any]
    choices: tuple[Choice, ...] = ()
    reasoning: tuple[str, ...] = ()


# (folder, its files relative to it, the user's choices by axis) -> Layout
LayoutRule = Callable[[Path, Sequence[str], Mapping[str, str]], Layout]
Check = Callable[[Path, Layout], None]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One recording format NeuroConv can convert."""

    name: str
    display_name: str
    interface: str  # class name in neuroconv.datainterfaces
    extra: str  # pip extra of neuroconv that installs its readers
    # Every group must match at least one file (names compared case-insensitively, as the
    # acquisition systems' own readers do); the patterns of a group are alternatives.
    markers: tuple[tuple[str, ...], ...]
    layout: LayoutRule
    evidence: tuple[Evidence, ...] = ()
    tested: bool = False  # converted end to end by this project's tests
    check: Check | None = None  # files checked before anything is created
    axes: tuple[str, ...] = ()  # the choice axes this format has
    # The layout's own sign, beyond file names (a .xml named like the .dat, say): the reason
    # it fits, or None when the files only look alike.
    confirm: Callable[[Sequence[str]], str | None] | None = None
    # Every stream into one NWB (``--all-streams``): from the layout chosen (record node,
    # block), the class in ``neuroconv.converters``, its source arguments, arguments for some
    # of its interfaces (rebuilt with them, by key), and the reasons for those.
    all_streams: (
        Callable[[Layout], tuple[str, dict[str, Any], dict[str, dict[str, Any]], list[str]]] | None
    ) = None

    def install_hint(self) -> str:
        return f'install its readers with `pip install "neuroconv[{self.extra}]"`'


@dataclass(frozen=True, slots=True)
class Detection:
    """Which format a folder holds, how sure we are, the files that say so, and what of it
    is converted."""

    format: str
    confidence: float
    matched_files: tuple[str, ...]  # relative to the folder
    alternatives: tuple[tuple[str, float], ...] = ()
    method: str = "file_patterns"
    reasoning: tuple[str, ...] = ()
    source_data: dict[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    converter: str | None = None  # all streams: a ``neuroconv.converters`` class reads them
    # the converter's interfaces rebuilt with these arguments, by key (``--all-streams``)
    interface_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def spec(self) -> FormatSpec:
        from . import get_format  # the registry sits above the format modules

        return get_format(self.format)

    def choice(self, axis: str) -> Choice | None:
        return next((c for c in self.choices if c.axis == axis), None)

    @property
    def streams(self) -> tuple[str, ...]:
        """Every stream of the recording (the one converted is ``stream``)."""
        chosen = self.choice("stream")
        return chosen.options if chosen else ()

    @property
    def stream(self) -> str | None:
        """The stream converted; None when there are none to choose, or all are converted."""
        chosen = self.choice("stream")
        return chosen.chosen if chosen and self.converter is None else None

    def chosen(self) -> dict[str, str]:
        """Axis -> option converted, for every axis with a choice: what re-detects the same."""
        return {c.axis: c.chosen for c in self.choices}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "confidence": self.confidence,
            "matched_files": list(self.matched_files),
            "alternatives": [{"format": n, "confidence": c} for n, c in self.alternatives],
            "method": self.method,
            "reasoning": list(self.reasoning),
            "source_data": {k: str(v) for k, v in self.source_data.items()},
            "streams": list(self.streams),
            "stream": self.stream,
            "converter": self.converter,
            "interface_options": self.interface_options,
            "choices": {
                c.axis: {"options": list(c.options), "chosen": c.chosen, "by_user": c.by_user}
                for c in self.choices
            },
        }

    def to_record(self, agent: str | None = None) -> ProvenanceRecord:
        """The provenance record of this detection (``--format`` makes it user_provided)."""
        by_user = self.method == "user_option"
        return ProvenanceRecord(
            source=ProvenanceSource.USER_PROVIDED if by_user else ProvenanceSource.AUTO_EXTRACTED,
            operation="detect_format",
            agent=agent,
            confidence=self.confidence,
            confidence_level=ConfidenceLevel.HUMAN_CONFIRMED if by_user else None,
            method=self.method,
            reasoning=list(self.reasoning),
            evidence=list(self.matched_files),
            output_data=self.to_dict(),
        )


# --------------------------------------------------------------------------- choosing


def choose(
    axis: str,
    options: Sequence[str],
    wanted: Mapping[str, str],
    where: Path,
    *,
    default: str | None = None,
    rule: str = "",
) -> Choice:
    """The option of AXIS to convert: the user's (it must exist), the only one, or DEFAULT
    (chosen by RULE); with several and no way to decide, a refusal listing them all."""
    flag, word = AXES[axis], AXIS_WORDS[axis]
    listed = ", ".join(repr(o) for o in options)
    if not options:
        raise ConversionError(f"{where} holds no {word} to convert", "check the SOURCE folder")
    given = wanted.get(axis)
    if given == ALL_STREAMS and axis == "stream":
        return Choice(axis, tuple(options), ALL_STREAMS, by_user=True)
    if given is not None:
        if given not in options:
            raise UsageError(
                f"{where} has no {word} {given!r} (its {word}s: {listed})",
                f"pass one of them to {flag}",
            )
        return Choice(axis, tuple(options), given, by_user=True)
    if len(options) == 1:
        return Choice(axis, tuple(options), options[0])
    if default is not None:
        return Choice(axis, tuple(options), default, rule=rule)
    raise UsageError(
        f"{where} holds {len(options)} {word}s: {listed}",
        f"choose the one to convert with {flag} NAME",
    )


def refuse_unknown_axes(spec: FormatSpec, wanted: Mapping[str, str]) -> None:
    for axis in wanted:
        if axis not in spec.axes:
            word = AXIS_WORDS[axis]
            raise UsageError(
                f"{spec.display_name} recordings have no {word}s to choose from",
                f"leave {AXES[axis]} out",
            )


# --------------------------------------------------------------------------- file helpers


def name_matches(name: str, pattern: str) -> bool:
    """Case-insensitive: Neuralynx writes ``.Ncs``, Windows tools change case at will."""
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def first_file(folder: Path, files: Sequence[str], patterns: Sequence[str]) -> str:
    """The first of FILES (by pattern order) whose name matches; its absolute path."""
    for pattern in patterns:
        for rel in files:
            if name_matches(PurePath(rel).name, pattern):
                return str(folder / rel)
    raise ConversionError(
        f"no file matching {' or '.join(patterns)} in {folder}", "check the SOURCE folder"
    )


def file_layout(*patterns: str) -> LayoutRule:
    """The interface reads one file: the first matching PATTERNS."""

    def layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
        return Layout({"file_path": first_file(folder, files, patterns)})

    return layout


def paired(files: Sequence[str], first: str, second: str) -> list[str]:
    """Stems (lower-case) that a file matching FIRST and one matching SECOND share: a
    recording and its companion written under the same name (``x.bin`` + ``x.set``)."""
    return sorted(set(stems(files, first)) & set(stems(files, second)))


def stems(files: Sequence[str], *patterns: str) -> dict[str, str]:
    """Lower-case file stem -> file, for files matching PATTERNS (pairing companions)."""
    return {
        PurePath(f).stem.lower(): f
        for f in files
        if any(name_matches(PurePath(f).name, p) for p in patterns)
    }


def folder_layout(folder: Path, files: Sequence[str], wanted: Mapping[str, str]) -> Layout:
    """The interface reads the whole folder."""
    return Layout({"folder_path": str(folder)})


def hidden(rel: PurePath) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def list_files(folder: Path) -> list[str]:
    """Regular files under FOLDER (relative, sorted), skipping hidden folders like .git."""
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if not hidden(rel) and (path.is_file() or path.is_symlink()):
            files.append(rel.as_posix())
    return sorted(files)


def truncated(path: Path, why: str, what: str = "recording") -> ConversionError:
    """The one-line refusal of a file cut short: what is wrong with it, and where to get
    WHAT again."""
    return ConversionError(
        f"{path} is truncated: {why}", f"copy the {what} again from the acquisition machine"
    )


def check_binary_size(path: Path, frame: int, what: str, unit: str) -> int:
    """PATH holds whole frames of FRAME bytes (UNIT names one); returns how many."""
    size = path.stat().st_size
    if size == 0:
        raise ConversionError(f"{path} is empty", f"copy the {what} again; it holds no samples")
    if size % frame:
        raise truncated(
            path, f"{size} bytes is not a whole number of {unit} ({frame} bytes each)", what
        )
    return size // frame


def check_header_and_records(path: Path, header: int, record: int) -> None:
    """PATH holds a whole HEADER-byte header, then whole RECORD-byte records."""
    size = path.stat().st_size
    if size < header:
        raise truncated(path, f"{size} bytes, shorter than its {header}-byte header")
    if (size - header) % record:
        raise truncated(
            path,
            f"{size - header} bytes after the header is not a whole number of "
            f"{record}-byte records",
        )


def check_int16_frames(path: Path, channels: int, what: str = "recording") -> int:
    return check_binary_size(path, channels * 2, what, f"{channels}-channel int16 samples")


def require_file(path: Path, why: str, fix: str) -> None:
    if not path.is_file():
        raise ConversionError(f"{path} is missing: {why}", fix)
    if path.stat().st_size == 0:
        raise ConversionError(f"{path} is empty: {why}", fix)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort ``Record Node 101`` before ``Record Node 1050``, ``experiment2`` before ``10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))

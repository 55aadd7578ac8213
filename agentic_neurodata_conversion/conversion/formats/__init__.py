"""Recording formats: one module per NeuroConv format family, behind one registry.

Each module here (``spikeglx``, ``openephys``, ``intan`` ...) declares ``FORMATS``, the
specs of the formats it reads (see ``base``); the registry finds them by listing this
package, so adding a format is adding one module. ``detect_format`` says which format a
folder holds and why, what of it is converted (record node, block, stream: the user's
choice, the only one, or a refusal listing them), and checks its files before anything is
created.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from ...errors import ConversionError, UsageError
from .base import (
    ALL_STREAMS,
    AXES,
    Choice,
    Detection,
    Evidence,
    FormatSpec,
    Layout,
    list_files,
    name_matches,
    refuse_unknown_axes,
)

if TYPE_CHECKING:
    from neuroconv.basedatainterface import BaseDataInterface

__all__ = [
    "ALL_STREAMS",
    "AXES",
    "FORMATS",
    "Choice",
    "Detection",
    "Evidence",
    "FormatSpec",
    "Layout",
    "check_extra",
    "check_source_folder",
    "detect_format",
    "first_line",
    "folder_state",
    "get_format",
    "interface_class",
    "list_files",
    "make_interface",
    "missing_requirements",
    "stream_wish",
    "wishes",
]

# Files listed as evidence per detection; a folder may hold thousands of files.
MAX_EVIDENCE_FILES = 20
# Confidence of a detection whose every marker group matched; a partial match scales it.
FULL_MATCH_CONFIDENCE = 0.95
PARTIAL_MATCH_SCALE = 0.5
# The formats this project converts end to end, listed first in messages; then by name.
_FIRST = ("spikeglx", "openephys")


def _discover() -> dict[str, FormatSpec]:
    specs: list[FormatSpec] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            specs += importlib.import_module(f"{__name__}.{module.name}").FORMATS
    specs.sort(
        key=lambda s: (
            s.name not in _FIRST,
            _FIRST.index(s.name) if s.name in _FIRST else 0,
            s.name,
        )
    )
    return {spec.name: spec for spec in specs}


FORMATS: dict[str, FormatSpec] = _discover()


def get_format(name: str) -> FormatSpec:
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise UsageError(f"unknown format {name!r}", f"use one of: {', '.join(FORMATS)}") from None


# --------------------------------------------------------------------------- detection


def folder_state(folder: str | Path) -> tuple[tuple[str, int, int, int], ...]:
    """Path, size, mtime and ctime (ns) of each of FOLDER's files: what a cache of readings
    of the recording keys on, so that a changed file misses. ctime catches a rewrite that
    kept the size and restored the mtime (``cp -p``); symlinks (annexed files) are followed."""
    path = Path(folder)
    state = []
    for rel in list_files(path):
        try:
            st = (path / rel).stat()
        except OSError:  # a broken symlink (content not present): its target names the key
            st = (path / rel).lstat()
        state.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(state)


def check_source_folder(folder: str | Path) -> tuple[Path, list[str]]:
    """SOURCE must be an existing, non-empty folder; returns it and its files."""
    path = Path(folder)
    if not path.exists():
        raise UsageError(f"source {path} does not exist", "pass the folder holding the recording")
    if not path.is_dir():
        raise UsageError(f"source {path} is not a folder", "pass the folder holding the recording")
    files = list_files(path)
    if not files:
        raise UsageError(f"source {path} is empty", "pass the folder holding the recording")
    return path, files


def _match(spec: FormatSpec, files: Sequence[str]) -> tuple[int, list[str]]:
    """How many marker groups matched, and the files that matched them."""
    groups = 0
    matched: list[str] = []
    for group in spec.markers:
        hits = [f for f in files if any(name_matches(PurePath(f).name, p) for p in group)]
        if hits:
            groups += 1
            matched.extend(h for h in hits if h not in matched)
    return groups, matched


def _missing(spec: FormatSpec, files: Sequence[str]) -> str:
    """``NAME (no X)``: the format a folder partly matches, and the marker files it lacks."""
    absent = [
        " or ".join(group)
        for group in spec.markers
        if not any(name_matches(PurePath(f).name, p) for f in files for p in group)
    ]
    return f"{spec.name} (no {'; no '.join(absent)})" if absent else spec.name


def _scores(files: Sequence[str]) -> list[tuple[float, str, list[str], str | None]]:
    """(confidence, format, matched files, the layout's sign) of each format that matches."""
    scores = []
    for spec in FORMATS.values():
        groups, matched = _match(spec, files)
        if not groups:
            continue
        sign = spec.confirm(files) if spec.confirm else None
        full = groups == len(spec.markers)
        if full and spec.confirm is not None and sign is None:
            continue  # the names match, the layout does not: not this format at all
        scale = 1.0 if full else PARTIAL_MATCH_SCALE * groups / len(spec.markers)
        scores.append((round(FULL_MATCH_CONFIDENCE * scale, 3), spec.name, matched, sign))
    scores.sort(key=lambda s: -s[0])
    return scores


def wishes(choose: Mapping[str, str | None] | None) -> dict[str, str]:
    """The axes CHOOSE names (an option left out, None, names none)."""
    return {axis: value for axis, value in (choose or {}).items() if value is not None}


def stream_wish(stream: str | None, all_streams: bool, flags: tuple[str, str]) -> str | None:
    """The stream choice of ``--stream`` / ``--all-streams`` (FLAGS: how the caller names the
    two), refusing both at once."""
    if all_streams and stream is not None:
        raise UsageError(f"{flags[0]} and {flags[1]} exclude each other", "give one of them")
    return ALL_STREAMS if all_streams else stream


def detect_format(
    folder: str | Path,
    format: str | None = None,
    stream: str | None = None,
    *,
    choose: Mapping[str, str] | None = None,
) -> Detection:
    """Detect the recording format of FOLDER (or take FORMAT as given) and check its files.

    CHOOSE names, per axis (``record_node``, ``block``, ``stream``), what to convert; STREAM
    is short for ``choose={"stream": ...}``; the stream ``ALL_STREAMS`` converts every stream
    of the chosen record node and block into one NWB, through the format's NeuroConv
    converter (``--all-streams``). Raises UsageError when SOURCE is missing or
    empty, several formats match equally, a choice is not in the recording or is needed
    (the message lists the options), ConversionError when nothing is recognisable or the
    recording is corrupt.
    """
    path, files = check_source_folder(folder)
    wanted = wishes(choose)
    if stream is not None:
        wanted["stream"] = stream
    all_streams = wanted.get("stream") == ALL_STREAMS
    unknown = set(wanted) - set(AXES)
    if unknown:
        raise UsageError(f"unknown choice {sorted(unknown)[0]!r}", f"use one of: {', '.join(AXES)}")
    scores = _scores(files)
    if format is not None:
        spec = get_format(format)
        matched = next((m for _, n, m, _ in scores if n == spec.name), [])
        detection = Detection(
            format=spec.name,
            confidence=1.0,
            matched_files=tuple(matched[:MAX_EVIDENCE_FILES]),
            alternatives=tuple((n, c) for c, n, _, _ in scores if n != spec.name),
            method="user_option",
            reasoning=(f"format given with --format {spec.name}",),
        )
    else:
        full = [s for s in scores if s[0] >= FULL_MATCH_CONFIDENCE]
        if not full:
            seen = f"; partly like {_missing(FORMATS[scores[0][1]], files)}" if scores else ""
            raise ConversionError(
                f"no recognisable recording format in {path}{seen}",
                f"supported formats: {', '.join(FORMATS)}; pass --format NAME if it is one of them",
            )
        if len(full) > 1:
            names = ", ".join(n for _, n, _, _ in full)
            raise UsageError(
                f"{path} matches several formats: {names}",
                f"choose one with --format NAME (one of {names})",
            )
        confidence, name, matched, sign = full[0]
        spec = FORMATS[name]
        groups = "; ".join(" or ".join(g) for g in spec.markers)
        detection = Detection(
            format=name,
            confidence=confidence,
            matched_files=tuple(matched[:MAX_EVIDENCE_FILES]),
            alternatives=tuple((n, c) for c, n, _, _ in scores if n != name),
            reasoning=(
                f"every marker of {spec.display_name} is present ({groups})",
                *((sign,) if sign else ()),
                f"{len(matched)} file(s) matched",
            ),
        )
    if all_streams and spec.all_streams is None:
        raise UsageError(
            f"{spec.display_name} recordings are converted one stream at a time",
            "leave --all-streams out",
        )
    refuse_unknown_axes(spec, wanted)
    chosen = spec.layout(path, files, wanted)
    if spec.check is not None:
        spec.check(path, chosen)
    reasoning = tuple(c.reasoning() for c in chosen.choices)
    converter, source_data, options = None, chosen.source_data, {}
    if all_streams and spec.all_streams is not None:
        converter, source_data, options, why = spec.all_streams(chosen)
        reasoning = (
            *(c.reasoning() for c in chosen.choices if c.axis != "stream"),
            *why,
            f"every stream into one NWB file with NeuroConv's {converter}, as asked "
            "(--all-streams)",
        )
    return dataclasses.replace(
        detection,
        source_data=source_data,
        choices=chosen.choices,
        converter=converter,
        interface_options=options,
        reasoning=detection.reasoning + chosen.reasoning + reasoning,
    )


# --------------------------------------------------------------------------- interfaces


@cache
def _neuroconv_requirements() -> tuple[str, ...]:
    from importlib.metadata import requires

    return tuple(requires("neuroconv") or ())


def missing_requirements(extra: str, _seen: frozenset[str] = frozenset()) -> list[str]:
    """Requirements of ``neuroconv[EXTRA]`` that are not installed (or at a wrong version)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    missing: list[str] = []
    for text in _neuroconv_requirements():
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        if req.name == "neuroconv":
            for sub in sorted(req.extras - _seen - {extra}):
                missing += missing_requirements(sub, _seen | {extra})
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            missing.append(str(req))
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            missing.append(f"{req} (installed {installed})")
    return missing


def check_extra(spec: FormatSpec) -> None:
    """Raise a ConversionError naming the pip extra when the format's readers are missing."""
    missing = missing_requirements(spec.extra)
    if missing:
        raise ConversionError(
            f"{spec.display_name} needs {', '.join(missing)}, which is not installed",
            spec.install_hint(),
        )


def interface_class(spec: FormatSpec) -> type[BaseDataInterface]:
    check_extra(spec)
    import neuroconv.datainterfaces

    return getattr(neuroconv.datainterfaces, spec.interface)


def make_interface(detection: Detection) -> BaseDataInterface:
    """The NeuroConv interface (or, for all streams, converter) reading the detected
    recording; reader errors are one line."""
    cls = interface_class(detection.spec)
    if detection.converter is not None:
        import neuroconv.converters

        cls = getattr(neuroconv.converters, detection.converter)
    try:
        interface = cls(**detection.source_data)
        return with_interface_options(interface, detection.interface_options, detection.source_data)
    except Exception as exc:  # readers raise anything; the message is what the user needs
        source = next(
            (
                detection.source_data[k]
                for k in ("file_path", "folder_path")
                if k in detection.source_data
            ),
            "the recording",
        )
        raise ConversionError(
            f"{detection.spec.display_name} reader failed on {source}: {first_line(exc)}",
            "check that the recording is complete and unmodified",
        ) from exc


def with_interface_options(
    converter: Any, options: Mapping[str, Mapping[str, Any]], source_data: Mapping[str, Any]
) -> Any:
    """CONVERTER with the interfaces named in OPTIONS rebuilt on the same folder with those
    arguments (the generated script does the same)."""
    for key, arguments in options.items():
        part = converter.data_interface_objects[key]
        converter.data_interface_objects[key] = type(part)(
            folder_path=source_data["folder_path"], **arguments
        )
    return converter


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def recording_parts(interface: Any) -> dict[str, Any]:
    """The parts of INTERFACE (a converter's interfaces, or itself) that write an
    ElectricalSeries with electrodes, by key."""
    parts = getattr(interface, "data_interface_objects", None) or {"": interface}
    return {
        k: p for k, p in parts.items() if hasattr(p, "es_key") and hasattr(p, "recording_extractor")
    }


def series_sources(interface: Any) -> dict[str | None, Any]:
    """Which recording each written series comes from, for the read-back evaluation: a lone
    interface's recording goes with its one series; a converter's interfaces each name
    theirs (an ElectricalSeries by its metadata name, an NIDQ board's analog TimeSeries,
    a sync channel's TimeSeries)."""
    parts = getattr(interface, "data_interface_objects", None)
    if not parts:
        return {None: interface.recording_extractor}
    sources: dict[str | None, Any] = {}
    # The converter's metadata: it may rename its interfaces' series (OpenEphysBinaryConverter)
    metadata = interface.get_metadata()
    for part in parts.values():
        recording = part.recording_extractor
        if hasattr(part, "es_key"):
            # NeuroConv 0.10 keys a series by the interface's metadata_key, earlier by es_key
            ecephys = metadata.get("Ecephys", {})
            entry = ecephys.get("ElectricalSeries", {}).get(getattr(part, "metadata_key", ""))
            entry = entry or ecephys.get(part.es_key) or {"name": part.es_key}
            sources[entry["name"]] = recording
            continue
        entry = metadata.get("TimeSeries", {}).get(getattr(part, "metadata_key", ""), {})
        analog = getattr(part, "analog_channel_ids", None)
        if "name" not in entry:  # the NIDQ board: its analog channels in one TimeSeries
            entry = next((v for v in entry.values() if isinstance(v, dict) and "name" in v), {})
            if analog is not None:
                recording = recording.select_channels(list(analog))
        if "name" in entry:
            sources[entry["name"]] = recording
    return sources

"""Supported recording formats: registry, detection from a folder's files, up-front checks.

Each format names its NeuroConv interface, the pip extra that installs its readers, the files
that mark it, how to build the interface's source arguments from a folder, and which file
fields its metadata values come from (the evidence recorded for them). Detection and the
checks here only look at files (no NeuroConv import), so a bad folder fails in milliseconds
with one line instead of a deep reader traceback.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from ..errors import ConversionError, UsageError
from ..journal.records import ConfidenceLevel, ProvenanceRecord, ProvenanceSource

if TYPE_CHECKING:
    from neuroconv.datainterfaces.ecephys.baserecordingextractorinterface import (
        BaseRecordingExtractorInterface,
    )

# Files listed as evidence per detection; a folder may hold thousands of files.
MAX_EVIDENCE_FILES = 20
# Confidence of a detection whose every marker group matched / of a format given by name.
FULL_MATCH_CONFIDENCE = 0.95
PARTIAL_MATCH_SCALE = 0.5

SPIKEGLX_REQUIRED_META_KEYS = (
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
_SPIKEGLX_NAME = re.compile(r"^(?P<run>.+)_g\d+_t\d+\.(?P<probe>imec\d*)\.(?P<band>ap|lf)(\.bin)?$")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a metadata field's value is read from: a field pattern, a file pattern, a key."""

    field: str  # fnmatch pattern over dotted field paths
    file: str  # glob (relative to the source folder) of the file holding the value
    key: str  # key, element or rule inside that file


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One recording format NeuroConv can convert."""

    name: str
    display_name: str
    interface: str  # class name in neuroconv.datainterfaces
    extra: str  # pip extra of neuroconv that installs its readers
    # Every group must match at least one file; the patterns of a group are alternatives.
    markers: tuple[tuple[str, ...], ...]
    source_data: Callable[[Path, Sequence[str]], dict[str, Any]]
    evidence: tuple[Evidence, ...] = ()
    tested: bool = False  # converted end to end by this project's tests
    check: Callable[[Path, dict[str, Any]], None] | None = None  # up-front integrity check
    # The recording's streams (id, file), the one source_data converts first; None: one stream.
    streams: Callable[[Sequence[str]], list[tuple[str, str]]] | None = None
    # source_data for the stream chosen by id (formats with streams).
    stream_source: Callable[[Path, str, str], dict[str, Any]] | None = None

    def install_hint(self) -> str:
        return f'install its readers with `pip install "neuroconv[{self.extra}]"`'


@dataclass(frozen=True, slots=True)
class Detection:
    """Which format a folder holds, how sure we are, and the files that say so."""

    format: str
    confidence: float
    matched_files: tuple[str, ...]  # relative to the folder
    alternatives: tuple[tuple[str, float], ...] = ()
    method: str = "file_patterns"
    reasoning: tuple[str, ...] = ()
    source_data: dict[str, Any] = field(default_factory=dict)
    streams: tuple[str, ...] = ()  # every stream in the folder (source_data names the one used)

    @property
    def spec(self) -> FormatSpec:
        return get_format(self.format)

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


# --------------------------------------------------------------------------- source builders


def _first(folder: Path, files: Sequence[str], patterns: Sequence[str]) -> str:
    for pattern in patterns:
        for rel in files:
            if fnmatch.fnmatch(PurePath(rel).name, pattern):
                return str(folder / rel)
    raise ConversionError(
        f"no file matching {' or '.join(patterns)} in {folder}", "check the SOURCE folder"
    )


def _file_source(*patterns: str) -> Callable[[Path, Sequence[str]], dict[str, Any]]:
    def build(folder: Path, files: Sequence[str]) -> dict[str, Any]:
        return {"file_path": _first(folder, files, patterns)}

    return build


def _folder_source(folder: Path, files: Sequence[str]) -> dict[str, Any]:
    return {"folder_path": str(folder)}


def _spikeglx_streams(files: Sequence[str]) -> list[tuple[str, str]]:
    """(stream id, .bin file) of each SpikeGLX stream: AP streams first, then by name."""
    streams = []
    for rel in sorted(files):
        match = _SPIKEGLX_NAME.match(PurePath(rel).name)
        if match is not None and rel.endswith(".bin"):
            streams.append((f"{match['probe']}.{match['band']}", rel))
    streams.sort(key=lambda s: not s[0].endswith(".ap"))
    return streams


def _spikeglx_source(folder: Path, files: Sequence[str]) -> dict[str, Any]:
    """The first AP stream (else LF) by name; its folder and NeuroConv stream id."""
    streams = _spikeglx_streams(files)
    if not streams:
        raise ConversionError(
            f"no SpikeGLX stream named <run>_g<N>_t<N>.imec<N>.ap.bin in {folder}",
            "keep the file names SpikeGLX wrote",
        )
    return _spikeglx_stream_source(folder, *streams[0])


def _spikeglx_stream_source(folder: Path, stream_id: str, rel: str) -> dict[str, Any]:
    return {"folder_path": str((folder / rel).parent), "stream_id": stream_id}


# --------------------------------------------------------------------------- integrity checks


def read_spikeglx_meta(path: Path) -> dict[str, str]:
    """``key=value`` lines of a SpikeGLX .meta file (keys keep their ``~`` prefix)."""
    meta: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConversionError(f"cannot read {path}: {exc.strerror}", "check the file") from exc
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def _check_binary_size(path: Path, channels: int, what: str) -> int:
    size = path.stat().st_size
    frame = channels * 2
    if size == 0:
        raise ConversionError(f"{path} is empty", f"copy the {what} again; it holds no samples")
    if size % frame:
        raise ConversionError(
            f"{path} is truncated: {size} bytes is not a whole number of {channels}-channel "
            f"int16 samples ({frame} bytes each)",
            f"copy the {what} again from the acquisition machine",
        )
    return size // frame


def _check_spikeglx(folder: Path, source_data: dict[str, Any]) -> None:
    stream_folder = Path(source_data["folder_path"])
    for bin_path in sorted(stream_folder.glob("*.bin")):
        if not _SPIKEGLX_NAME.match(bin_path.name):
            continue
        meta_path = bin_path.with_suffix(".meta")
        if not meta_path.is_file():
            raise ConversionError(
                f"{bin_path.name} has no {meta_path.name} beside it",
                "copy the .meta file SpikeGLX wrote with the .bin",
            )
        meta = read_spikeglx_meta(meta_path)
        missing = [k for k in SPIKEGLX_REQUIRED_META_KEYS if not meta.get(k)]
        if missing:
            raise ConversionError(
                f"{meta_path} lacks required key{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}",
                "use the .meta file SpikeGLX wrote, unedited",
            )
        file_name = re.split(r"[\\/]", meta["fileName"])[-1]
        if not _SPIKEGLX_NAME.match(file_name):
            raise ConversionError(
                f"{meta_path}: fileName {meta['fileName']!r} is not <run>_g<N>_t<N>.imec<N>.ap|lf.bin",
                "use the .meta file SpikeGLX wrote, unedited",
            )
        try:
            channels = int(meta["nSavedChans"])
            float(meta["imSampRate"])
            float(meta["imAiRangeMax"])
        except ValueError as exc:
            raise ConversionError(
                f"{meta_path}: {exc}", "use the .meta file SpikeGLX wrote"
            ) from exc
        if channels < 1:
            raise ConversionError(
                f"{meta_path}: nSavedChans is {channels}", "use the original .meta"
            )
        _check_binary_size(bin_path, channels, "recording")


def _check_openephys(folder: Path, source_data: dict[str, Any]) -> None:
    settings = [p for p in folder.rglob("settings.xml") if not _hidden(p.relative_to(folder))]
    if len(settings) != 1:
        raise ConversionError(
            f"{folder} holds {len(settings)} settings.xml files; Open Ephys binary needs exactly one",
            "point SOURCE at one Record Node's recording",
        )
    oebins = sorted(folder.rglob("structure.oebin"))
    for oebin in oebins:
        try:
            structure = json.loads(oebin.read_text())
            streams = structure["continuous"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConversionError(
                f"{oebin} is not a valid structure.oebin ({type(exc).__name__}: {exc})",
                "use the structure.oebin Open Ephys wrote",
            ) from exc
        for i, stream in enumerate(streams):
            where = f"{oebin}: continuous[{i}]"
            for key in ("folder_name", "sample_rate", "channels"):
                if key not in stream:
                    raise ConversionError(
                        f"{where} lacks {key!r}", "use the original structure.oebin"
                    )
            for j, channel in enumerate(stream["channels"]):
                for key in ("channel_name", "bit_volts", "units"):
                    if key not in channel:
                        raise ConversionError(
                            f"{where}.channels[{j}] lacks {key!r}",
                            "use the original structure.oebin",
                        )
            data_folder = oebin.parent / "continuous" / stream["folder_name"].rstrip("/")
            dat = data_folder / "continuous.dat"
            if not dat.is_file():
                raise ConversionError(f"{dat} is missing", "copy the whole recording folder")
            if not any(
                (data_folder / n).is_file() for n in ("sample_numbers.npy", "timestamps.npy")
            ):
                raise ConversionError(
                    f"{data_folder} has neither sample_numbers.npy nor timestamps.npy",
                    "copy the whole recording folder",
                )
            _check_binary_size(dat, len(stream["channels"]), "recording")


# --------------------------------------------------------------------------- registry

_SPIKEGLX_EVIDENCE = (
    Evidence("NWBFile.session_start_time", "*.meta", "fileCreateTime"),
    Evidence("Devices.*.serial_number", "*.meta", "imDatPrb_sn"),
    Evidence("Devices.*.name", "*.meta", "fileName (probe imecN)"),
    Evidence("DeviceModels.*", "*.meta", "imDatPrb_pn (probe part number)"),
    Evidence("Ecephys.ElectrodeGroups.*.name", "*.meta", "~imroTbl (probe shanks)"),
    Evidence("Ecephys.ElectrodeGroups.*.device_metadata_key", "*.meta", "imDatPrb_sn"),
    Evidence("Ecephys.ElectricalSeries.*.name", "*.meta", "fileName (stream ap/lf)"),
)
_OPENEPHYS_EVIDENCE = (
    Evidence("NWBFile.session_start_time", "*settings.xml", "INFO/DATE"),
    Evidence("Devices.*", "*settings.xml", "SIGNALCHAIN (Neuropix-PXI probe)"),
    Evidence("DeviceModels.*", "*settings.xml", "SIGNALCHAIN (Neuropix-PXI probe)"),
    Evidence("Ecephys.ElectrodeGroups.*.name", "*structure.oebin", "continuous[].channels"),
)

FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "spikeglx",
            "SpikeGLX",
            "SpikeGLXRecordingInterface",
            "spikeglx",
            (("*.imec*.ap.bin", "*.imec*.lf.bin"), ("*.imec*.ap.meta", "*.imec*.lf.meta")),
            _spikeglx_source,
            _SPIKEGLX_EVIDENCE,
            tested=True,
            check=_check_spikeglx,
            streams=_spikeglx_streams,
            stream_source=_spikeglx_stream_source,
        ),
        FormatSpec(
            "openephys",
            "Open Ephys binary",
            "OpenEphysBinaryRecordingInterface",
            "openephys",
            (("structure.oebin",), ("continuous.dat",), ("settings.xml",)),
            _folder_source,
            _OPENEPHYS_EVIDENCE,
            tested=True,
            check=_check_openephys,
        ),
        FormatSpec(
            "openephys_legacy",
            "Open Ephys legacy",
            "OpenEphysLegacyRecordingInterface",
            "openephys",
            (("*.continuous",), ("settings*.xml", "*.openephys")),
            _folder_source,
        ),
        FormatSpec(
            "intan",
            "Intan",
            "IntanRecordingInterface",
            "intan",
            (("*.rhd", "*.rhs"),),
            _file_source("*.rhd", "*.rhs"),
        ),
        FormatSpec(
            "blackrock",
            "Blackrock",
            "BlackrockRecordingInterface",
            "blackrock",
            (("*.ns[0-6]",),),
            _file_source("*.ns6", "*.ns5", "*.ns[0-4]"),
        ),
        FormatSpec(
            "neuralynx",
            "Neuralynx",
            "NeuralynxRecordingInterface",
            "neuralynx",
            (("*.ncs",),),
            _folder_source,
        ),
        FormatSpec(
            "spikegadgets",
            "SpikeGadgets",
            "SpikeGadgetsRecordingInterface",
            "spikegadgets",
            (("*.rec",),),
            _file_source("*.rec"),
        ),
        FormatSpec(
            "plexon",
            "Plexon",
            "PlexonRecordingInterface",
            "plexon",
            (("*.plx",),),
            _file_source("*.plx"),
        ),
        FormatSpec(
            "plexon2",
            "Plexon2",
            "Plexon2RecordingInterface",
            "plexon2",
            (("*.pl2",),),
            _file_source("*.pl2"),
        ),
        FormatSpec(
            "edf", "EDF", "EDFRecordingInterface", "edf", (("*.edf",),), _file_source("*.edf")
        ),
        FormatSpec(
            "axona",
            "Axona",
            "AxonaRecordingInterface",
            "axona",
            (("*.bin",), ("*.set",)),
            _file_source("*.set"),
        ),
        FormatSpec(
            "biocam",
            "Biocam",
            "BiocamRecordingInterface",
            "biocam",
            (("*.brw", "*.bwr"),),
            _file_source("*.brw", "*.bwr"),
        ),
        FormatSpec(
            "maxwell",
            "Maxwell MaxOne",
            "MaxOneRecordingInterface",
            "maxwell",
            (("*.raw.h5",),),
            _file_source("*.raw.h5"),
        ),
        FormatSpec(
            "mcsraw",
            "MCS raw",
            "MCSRawRecordingInterface",
            "mcsraw",
            (("*.raw",),),
            _file_source("*.raw"),
        ),
        FormatSpec(
            "mearec",
            "MEArec",
            "MEArecRecordingInterface",
            "mearec",
            (("*.h5",),),
            _file_source("*.h5"),
        ),
        FormatSpec(
            "alphaomega",
            "AlphaOmega",
            "AlphaOmegaRecordingInterface",
            "alphaomega",
            (("*.mpx",),),
            _folder_source,
        ),
        FormatSpec(
            "spike2",
            "Spike2",
            "Spike2RecordingInterface",
            "spike2",
            (("*.smrx",),),
            _file_source("*.smrx"),
        ),
        FormatSpec(
            "tdt", "TDT", "TdtRecordingInterface", "tdt", (("*.tev",), ("*.tsq",)), _folder_source
        ),
    )
}


def get_format(name: str) -> FormatSpec:
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise UsageError(f"unknown format {name!r}", f"use one of: {', '.join(FORMATS)}") from None


# --------------------------------------------------------------------------- detection


def _hidden(rel: PurePath) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def list_files(folder: Path) -> list[str]:
    """Regular files under FOLDER (relative, sorted), skipping hidden folders like .git."""
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if not _hidden(rel) and (path.is_file() or path.is_symlink()):
            files.append(rel.as_posix())
    return sorted(files)


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
        hits = [f for f in files if any(fnmatch.fnmatch(PurePath(f).name, p) for p in group)]
        if hits:
            groups += 1
            matched.extend(h for h in hits if h not in matched)
    return groups, matched


def detect_format(
    folder: str | Path, format: str | None = None, stream: str | None = None
) -> Detection:
    """Detect the recording format of FOLDER (or take FORMAT as given) and check its files.

    STREAM picks one of the recording's streams (default: the format's first, e.g. SpikeGLX's
    first AP stream). Raises UsageError when SOURCE is missing/empty, several formats match
    equally or STREAM is not in the recording, ConversionError when nothing is recognisable
    or the recording is corrupt.
    """
    path, files = check_source_folder(folder)
    scores: list[tuple[float, str, list[str]]] = []
    for spec in FORMATS.values():
        groups, matched = _match(spec, files)
        if groups:
            scale = (
                1.0
                if groups == len(spec.markers)
                else PARTIAL_MATCH_SCALE * groups / len(spec.markers)
            )
            scores.append((round(FULL_MATCH_CONFIDENCE * scale, 3), spec.name, matched))
    scores.sort(key=lambda s: -s[0])

    if format is not None:
        spec = get_format(format)
        matched = next((m for _, n, m in scores if n == spec.name), [])
        detection = Detection(
            format=spec.name,
            confidence=1.0,
            matched_files=tuple(matched[:MAX_EVIDENCE_FILES]),
            alternatives=tuple((n, c) for c, n, _ in scores if n != spec.name),
            method="user_option",
            reasoning=(f"format given with --format {spec.name}",),
        )
    else:
        full = [s for s in scores if s[0] >= FULL_MATCH_CONFIDENCE]
        if not full:
            seen = f"; partly like {scores[0][1]}" if scores else ""
            raise ConversionError(
                f"no recognisable recording format in {path}{seen}",
                f"supported formats: {', '.join(FORMATS)}; pass --format NAME if it is one of them",
            )
        if len(full) > 1:
            names = ", ".join(n for _, n, _ in full)
            raise UsageError(
                f"{path} matches several formats: {names}",
                f"choose one with --format NAME (one of {names})",
            )
        confidence, name, matched = full[0]
        spec = FORMATS[name]
        groups = "; ".join(" or ".join(g) for g in spec.markers)
        detection = Detection(
            format=name,
            confidence=confidence,
            matched_files=tuple(matched[:MAX_EVIDENCE_FILES]),
            alternatives=tuple((n, c) for c, n, _ in scores if n != name),
            reasoning=(
                f"every marker of {spec.display_name} is present ({groups})",
                f"{len(matched)} file(s) matched",
            ),
        )
    found = spec.streams(files) if spec.streams else []
    streams = [stream_id for stream_id, _ in found]
    chosen: tuple[str, ...] = ()
    if stream is not None and spec.stream_source is None:
        raise UsageError(
            f"{spec.display_name} recordings have no streams to choose from", "leave --stream out"
        )
    if found and spec.stream_source is not None:
        wanted = stream or streams[0]
        rel = dict(found).get(wanted)
        if rel is None:
            raise UsageError(
                f"{path} has no stream {wanted!r} (its streams: {', '.join(streams)})",
                "pass one of them to --stream, or leave --stream out for the first",
            )
        source_data = spec.stream_source(path, wanted, rel)
        if stream is not None:
            chosen = (f"stream {stream} chosen by the user",)
    else:  # a single-stream format, or no stream at all (its builder says what is missing)
        source_data = spec.source_data(path, files)
    if spec.check is not None:
        spec.check(path, source_data)
    return dataclasses.replace(
        detection,
        source_data=source_data,
        streams=tuple(streams),
        reasoning=detection.reasoning
        + chosen
        + _stream_choice(streams, source_data.get("stream_id")),
    )


def _stream_choice(streams: Sequence[str], chosen: str | None) -> tuple[str, ...]:
    """Which of the recording's streams is converted, and which are not: for the record."""
    if not streams:
        return ()
    others = [s for s in streams if s != chosen]
    if not others:
        return (f"one stream: {chosen}",)
    return (
        f"{len(streams)} streams ({', '.join(streams)}): converting {chosen}; "
        f"not converted: {', '.join(others)}",
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


def interface_class(spec: FormatSpec) -> type[BaseRecordingExtractorInterface]:
    check_extra(spec)
    import neuroconv.datainterfaces

    return getattr(neuroconv.datainterfaces, spec.interface)


def make_interface(detection: Detection) -> BaseRecordingExtractorInterface:
    """The NeuroConv interface reading the detected recording; reader errors are one line."""
    cls = interface_class(detection.spec)
    try:
        return cls(**detection.source_data)
    except Exception as exc:  # readers raise anything; the message is what the user needs
        raise ConversionError(
            f"{detection.spec.display_name} reader failed: {first_line(exc)}",
            "check that the recording is complete and unmodified",
        ) from exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]

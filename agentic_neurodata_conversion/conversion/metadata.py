"""NWB metadata decided field by field, each decision with its source, confidence and evidence.

Values come from three places: the recording's files (read through the NeuroConv interface:
``auto_extracted``, or NeuroConv's format knowledge: ``domain_knowledge``), a user file given
with ``--metadata`` (``user_provided``; where it disagrees with a file value both are kept as a
conflict), and placeholders for what DANDI needs and nobody gave (flagged for review). The
decisions are flattened to dotted field paths (``NWBFile.session_start_time``,
``Subject.species``, ``Devices.<key>.description``, ...) and folded back into NeuroConv's
dict-based metadata by ``to_neuroconv``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import json
import os
import re
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..errors import ConversionError, UsageError
from ..journal.records import (
    REVIEW_CONFIDENCE,
    REVIEW_LEVELS,
    Candidate,
    ConfidenceLevel,
    Conflict,
    ProvenanceRecord,
    ProvenanceSource,
    encode_value,
)
from .formats import Detection, FormatSpec, first_line

if TYPE_CHECKING:
    from neuroconv.datainterfaces.ecephys.baserecordingextractorinterface import (
        BaseRecordingExtractorInterface,
    )

TOOL_NAME = "agentic-neurodata-conversion"
AGENT = "anc.conversion"
# NWBFile.was_generated_by: this tool (which wrote the script) and the packages that write the
# file, whose versions the script reads when it runs.
GENERATED_BY_PACKAGES = ("neuroconv", "spikeinterface", "pynwb", "hdmf")
IDENTIFIER_NAMESPACE = uuid.NAMESPACE_URL
# NeuroConv's provenance setting for the script: its record without the git keys, which
# change with every commit (a re-run must write the same bytes).
NEUROCONV_PROVENANCE = "no-git-info"

# What NeuroConv writes when it knows nothing: treated as "no value".
EMPTY_VALUES = ("", "unknown", "no description")
# get_metadata() fields the conversion sets itself (random or NeuroConv's own provenance text).
TOOL_FIELDS = (
    "NWBFile.identifier",
    "NWBFile.file_create_date",
    "NWBFile.source_script",
    "NWBFile.source_script_file_name",
    "NWBFile.was_generated_by",
)
# Lists of {name, description} dicts, flattened as keyed by name.
NAMED_LISTS = ("Ecephys.Electrodes",)
# Times NWB stores with a time zone; the files often give none.
DATETIME_FIELDS = ("NWBFile.session_start_time", "Subject.date_of_birth")
SECTION_ORDER = ("NWBFile", "Subject", "Devices", "DeviceModels", "Ecephys")

FILE_CONFIDENCE = 1.0
NEUROCONV_DEFAULT_CONFIDENCE = 0.8
ASSUMED_TIMEZONE_CONFIDENCE = 0.7
PLACEHOLDER_CONFIDENCE = 0.2
USER_CONFIDENCE = 1.0

# Allen CCF's top term ("root", the whole brain): valid for DANDI, says nothing about the region.
PLACEHOLDER_LOCATION = "root"
PLACEHOLDER_DEVICE_KEY = "recording_device"


# --------------------------------------------------------------------------- decisions


@dataclass(slots=True)
class FieldDecision:
    """The value chosen for one NWB field, and why."""

    field: str
    value: Any
    source: ProvenanceSource
    confidence: float
    level: ConfidenceLevel
    method: str
    evidence: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    conflict: Conflict | None = None

    @property
    def needs_review(self) -> bool:
        return self.level in REVIEW_LEVELS or self.confidence < REVIEW_CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": encode_value(self.value),
            "source": self.source.value,
            "confidence": self.confidence,
            "confidence_level": self.level.value,
            "method": self.method,
            "evidence": list(self.evidence),
            "reasoning": list(self.reasoning),
            "conflict": self.conflict.to_dict() if self.conflict else None,
            "needs_review": self.needs_review,
        }

    def to_record(self, agent: str = AGENT) -> ProvenanceRecord:
        """The provenance record of this decision, for the tracker's journal."""
        return ProvenanceRecord(
            source=self.source,
            operation="set_metadata_field",
            agent=agent,
            confidence=self.confidence,
            confidence_level=self.level,
            method=self.method,
            reasoning=list(self.reasoning),
            evidence=list(self.evidence),
            conflict=self.conflict,
            field=self.field,
            value=self.value,
        )


def _file_decision(path: str, value: Any, evidence: list[str], method: str) -> FieldDecision:
    return FieldDecision(
        path,
        value,
        ProvenanceSource.AUTO_EXTRACTED,
        FILE_CONFIDENCE,
        ConfidenceLevel.DEFINITIVE,
        method,
        evidence,
        ["read from the recording's files"],
    )


def _default_decision(path: str, value: Any, method: str, why: str) -> FieldDecision:
    return FieldDecision(
        path,
        value,
        ProvenanceSource.DOMAIN_KNOWLEDGE,
        NEUROCONV_DEFAULT_CONFIDENCE,
        ConfidenceLevel.HIGH_EVIDENCE,
        method,
        [],
        [why],
    )


def _placeholder(path: str, value: Any, why: str) -> FieldDecision:
    return FieldDecision(
        path,
        value,
        ProvenanceSource.DOMAIN_KNOWLEDGE,
        PLACEHOLDER_CONFIDENCE,
        ConfidenceLevel.PLACEHOLDER,
        "placeholder",
        [],
        [why, "placeholder: review it and give the real value with --metadata FILE"],
    )


def path_decisions(metadata: Mapping[str, Any], evidence: str) -> list[FieldDecision]:
    """The fields a folder-path pattern gave (NeuroConv's ``LocalPathExpander`` metadata:
    ``NWBFile.session_id``, ``Subject.subject_id`` ...), auto extracted from the path."""
    return [
        FieldDecision(
            path,
            value,
            ProvenanceSource.AUTO_EXTRACTED,
            FILE_CONFIDENCE,
            ConfidenceLevel.HIGH_EVIDENCE,
            "path_pattern",
            [evidence],
            ["named by the recording's folder path"],
        )
        for path, value in flatten(metadata).items()
        if value not in (None, "")
    ]


def add_path_decisions(
    extracted: Sequence[FieldDecision], from_path: Sequence[FieldDecision]
) -> list[FieldDecision]:
    """FROM_PATH fills the fields the files leave empty; where the files give a value too,
    theirs is kept and the path's is noted beside it."""
    merged = {d.field: d for d in extracted}
    for decision in from_path:
        kept = merged.get(decision.field)
        if kept is None:
            merged[decision.field] = decision
        elif not same_value(kept.value, decision.value):
            kept.reasoning.append(
                f"the folder path gives {shown(decision.value)} ({decision.evidence[0]}); "
                "the files' value is kept"
            )
    return list(merged.values())


# --------------------------------------------------------------------------- flatten / unflatten


def _plain(value: Any) -> Any:
    """numpy scalars and DeepDicts to plain Python, keys to str."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and type(value).__module__.startswith("numpy"):
        return value.item()
    return value


def flatten(metadata: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metadata to ``{dotted.path: leaf}``; dicts recurse, lists are leaves."""
    flat: dict[str, Any] = {}
    for key, value in metadata.items():
        path = f"{prefix}{key}"
        if path in NAMED_LISTS and isinstance(value, list):
            value = {
                str(item["name"]): {k: v for k, v in item.items() if k != "name"} for item in value
            }
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def to_neuroconv(decisions: Iterable[FieldDecision]) -> dict[str, Any]:
    """Decided fields back into NeuroConv's nested (dict-based) metadata."""
    nested: dict[str, Any] = {}
    for decision in decisions:
        if decision.field == "NWBFile.was_generated_by":
            continue  # computed by the script from the installed packages
        node = nested
        *parents, leaf = decision.field.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = decision.value
    for path in NAMED_LISTS:
        section, name = path.split(".")
        named = nested.get(section, {}).get(name)
        if isinstance(named, dict):
            nested[section][name] = [{"name": k, **v} for k, v in named.items()]
    return nested


# --------------------------------------------------------------------------- extraction


def _evidence(spec: FormatSpec, detection: Detection, path: str) -> list[str] | None:
    for rule in spec.evidence:
        if fnmatch.fnmatchcase(path, rule.field):
            files = [f for f in detection.matched_files if fnmatch.fnmatch(f, rule.file)]
            return [f"{files[0] if files else rule.file}: {rule.key}"]
    return None


def group_names(interface: BaseRecordingExtractorInterface) -> list[str]:
    """Electrode group names of the recording's channels (of every recording a converter
    writes with electrodes), as NeuroConv writes them."""
    from .formats import recording_parts

    found: set[str] = set()
    for part in recording_parts(interface).values():
        recording = part.recording_extractor
        names = recording.get_property("group_name")
        if names is None:
            names = recording.get_channel_groups()
        found |= {str(n) or "ElectrodeGroup" for n in names} if names is not None else set()
    return sorted(found) or ["ElectrodeGroup"]


def extract_metadata(
    interface: BaseRecordingExtractorInterface, detection: Detection
) -> list[FieldDecision]:
    """What the recording says about itself: one decision per non-empty field.

    Fields with a known place in the files are ``auto_extracted`` (DEFINITIVE, evidence names
    file and key); others are NeuroConv's knowledge of the format (``domain_knowledge``).
    ``session_start_time`` stays naive here: ``decide_fields`` chooses its time zone. Where
    the files hold none, it is inferred and flagged for review (``infer_session_start``).
    """
    spec = detection.spec
    method = f"neuroconv {spec.interface}.get_metadata()"
    try:
        metadata = _plain(interface.get_metadata())
    except Exception as exc:  # reader errors surface here for some formats
        raise ConversionError(
            f"{spec.display_name} metadata could not be read: {first_line(exc)}",
            "check that the recording is complete and unmodified",
        ) from exc
    decisions = []
    for path, value in flatten(metadata).items():
        if (
            path in TOOL_FIELDS
            or value is None
            or (isinstance(value, str) and value in EMPTY_VALUES)
        ):
            continue
        evidence = _evidence(spec, detection, path)
        if evidence is not None:
            decisions.append(_file_decision(path, value, evidence, method))
        else:
            decisions.append(
                _default_decision(
                    path, value, method, f"NeuroConv's default for {spec.display_name}"
                )
            )
    groups = {
        d.value for d in decisions if fnmatch.fnmatchcase(d.field, "Ecephys.ElectrodeGroups.*.name")
    }
    for name in group_names(interface):
        if name not in groups:
            # The interface names no group; NeuroConv would make one per channel group.
            path = f"Ecephys.ElectrodeGroups.{name}.name"
            evidence = _evidence(spec, detection, path) or list(detection.matched_files[:1])
            decisions.append(
                _file_decision(path, name, evidence, "channel groups of the recording")
            )
    if not any(d.field == START_TIME for d in decisions):
        inferred = infer_session_start(detection)
        if inferred is not None:
            decisions.append(inferred)
    return decisions


# --------------------------------------------------------------------------- session start time
# NWB requires a session start time and some recordings hold none (Intan, Blackrock's 2.1
# .nsX). Rather than refuse, a candidate is inferred from what else the acquisition left,
# in order of trust, and flagged for review; --metadata replaces it. Decided before anything
# is created, and written into the metadata file, so re-running the script never re-infers.

START_TIME = "NWBFile.session_start_time"
# Intan's RHX/RHD software names a recording <prefix>_YYMMDD_HHMMSS after the time it began:
# the .rhd/.rhs file, or the folder holding info.rhd in its one-file-per-signal layouts.
_INTAN_NAME = re.compile(r"(?:^|_)(\d{6}_\d{6})$")
# Blackrock's .nev basic header: file type, then SYSTEMTIME TimeOrigin (8 x uint16) at byte 28.
_NEV_TYPES = (b"NEURALEV", b"BREVENTS")
_NEV_TIME_ORIGIN = 28
NEV_TIME_CONFIDENCE = 0.45
NAME_TIME_CONFIDENCE = 0.4
MODIFIED_TIME_CONFIDENCE = 0.2
# File times up to here are an archiver's or a build's zero, not a recording's (nwbinspector
# also takes a start time before 1980 for an unset one): then nothing is inferred, and the
# metadata check refuses the conversion, naming the field to set.
_NO_FILE_TIME = dt.datetime(1980, 1, 1, tzinfo=dt.UTC).timestamp()
_REVIEW = "review it and give the real value with --metadata FILE (NWBFile.session_start_time)"


def _inferred_start(
    value: dt.datetime,
    source: ProvenanceSource,
    confidence: float,
    method: str,
    evidence: list[str],
    why: str,
) -> FieldDecision:
    return FieldDecision(
        START_TIME,
        value,
        source,
        confidence,
        ConfidenceLevel.LOW_EVIDENCE,
        method,
        evidence,
        ["the recording's files hold no session start time (NeuroConv read none)", why, _REVIEW],
    )


def _recording_path(detection: Detection) -> Path | None:
    for key in ("file_path", "folder_path"):
        if key in detection.source_data:
            return Path(detection.source_data[key])
    return None


def _intan_name_start(path: Path) -> FieldDecision | None:
    """The start time in an Intan file name, else in the name of the folder holding it."""
    for what, name in (("file name", path.stem), ("folder name", path.parent.name)):
        match = _INTAN_NAME.search(name)
        if match is None:
            continue
        try:
            value = dt.datetime.strptime(match.group(1), "%y%m%d_%H%M%S")
        except ValueError:  # six digits that are no date (e.g. month 13)
            continue
        return _inferred_start(
            value,
            ProvenanceSource.DOMAIN_KNOWLEDGE,
            NAME_TIME_CONFIDENCE,
            "intan_name_rule",
            [f"{what} {name}"],
            f"Intan folder/file-name rule: Intan's software names a recording "
            f"<prefix>_YYMMDD_HHMMSS after the time it began; the {what} {name!r} gives "
            f"{value.isoformat()}, a time that a rename would have changed",
        )
    return None


def read_nev_time_origin(path: Path) -> dt.datetime | None:
    """TimeOrigin of a Blackrock .nev file's basic header (naive, as NeuroConv reads the .nsX
    one), or None when the file is not one or holds no valid time."""
    try:
        with path.open("rb") as f:
            head = f.read(_NEV_TIME_ORIGIN + 16)
    except OSError:
        return None
    if len(head) < _NEV_TIME_ORIGIN + 16 or head[:8] not in _NEV_TYPES:
        return None
    year, month, _weekday, day, hour, minute, second, ms = struct.unpack_from(
        "<8H", head, _NEV_TIME_ORIGIN
    )
    try:
        return dt.datetime(year, month, day, hour, minute, second, ms * 1000)
    except ValueError:
        return None


def _blackrock_nev_start(path: Path) -> FieldDecision | None:
    """The TimeOrigin of the .nev file Blackrock's software wrote with this .nsX."""
    nev = path.with_suffix(".nev")
    value = read_nev_time_origin(nev)
    if value is None:
        return None
    return _inferred_start(
        value,
        ProvenanceSource.AUTO_EXTRACTED,
        NEV_TIME_CONFIDENCE,
        "blackrock_nev_time_origin",
        [f"{nev.name}: TimeOrigin"],
        f"Blackrock .nev rule: the .nev file of the same recording ({nev.name}, events written "
        f"beside {path.name}) has TimeOrigin {value.isoformat()} in its header; it is another "
        "file than the one converted, so the start of its signals may differ",
    )


def _recording_files(path: Path) -> list[Path]:
    """The files a recording's path stands for: a folder's, or a file and those beside it."""
    if not path.is_dir():
        return [f for f in path.parent.iterdir() if f.is_file() and not f.name.startswith(".")]
    files = []
    for top, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # .git, .datalad: not recorded
        files += [Path(top, name) for name in names if not name.startswith(".")]
    return files


def _modified_start(path: Path) -> FieldDecision | None:
    """The earliest modification time of the recording's files, in this machine's zone."""
    times = []
    for file in _recording_files(path):
        try:
            mtime = file.stat().st_mtime
        except OSError:
            continue
        if mtime > _NO_FILE_TIME:
            times.append((mtime, file.name))
    if not times:
        return None
    mtime, name = min(times)
    value = dt.datetime.fromtimestamp(int(mtime), dt.UTC).astimezone()
    return _inferred_start(
        value,
        ProvenanceSource.DOMAIN_KNOWLEDGE,
        MODIFIED_TIME_CONFIDENCE,
        "earliest_file_modification_time",
        [f"{name}: modification time {value.isoformat()}"],
        "earliest modification time of the recording's files: a file is last written as "
        "the recording ends, so the session began before it, and copying or downloading the "
        "files may have changed it to the time of the copy",
    )


def infer_session_start(detection: Detection) -> FieldDecision | None:
    """A session start time for a recording whose files hold none, flagged for review:
    Intan's name rule, Blackrock's .nev header, else the files' modification time."""
    path = _recording_path(detection)
    if path is None:
        return None
    candidates = []
    if detection.format == "intan":
        candidates.append(_intan_name_start)
    if detection.format == "blackrock" and path.suffix.lower() != ".nev":
        candidates.append(_blackrock_nev_start)
    candidates.append(_modified_start)
    for candidate in candidates:
        decision = candidate(path)
        if decision is not None:
            return decision
    return None


# --------------------------------------------------------------------------- user file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_number(value: Any) -> Any:
    """Times are ISO 8601 text (or a YAML timestamp); pydantic would read a number as Unix time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a number is not a date and time; write it in ISO 8601")
    return value


class UserNWBFile(_Strict):
    session_description: str | None = None
    session_start_time: dt.datetime | None = None
    experiment_description: str | None = None
    experimenter: list[str] | None = None
    institution: str | None = None
    lab: str | None = None
    keywords: list[str] | None = None
    session_id: str | None = None
    related_publications: list[str] | None = None
    protocol: str | None = None
    notes: str | None = None
    pharmacology: str | None = None
    surgery: str | None = None
    virus: str | None = None
    slices: str | None = None
    stimulus_notes: str | None = None
    data_collection: str | None = None

    _time = field_validator("session_start_time", mode="before")(_no_number)


class UserSubject(_Strict):
    subject_id: str | None = None
    species: str | None = None
    sex: Literal["M", "F", "U", "O"] | None = None
    age: str | None = None
    date_of_birth: dt.datetime | None = None
    description: str | None = None
    strain: str | None = None
    genotype: str | None = None
    weight: str | None = None

    _time = field_validator("date_of_birth", mode="before")(_no_number)


class UserDevice(_Strict):
    description: str | None = None
    manufacturer: str | None = None


class UserElectrodeGroup(_Strict):
    description: str | None = None
    location: str | None = None


class UserEcephys(_Strict):
    # Keyed by group name as written in the NWB file; "*" applies to every group.
    ElectrodeGroups: dict[str, UserElectrodeGroup] = {}  # pydantic copies defaults


class UserMetadata(_Strict):
    """What ``--metadata FILE`` may hold (YAML or JSON); unknown fields are refused."""

    timezone: str | None = None  # IANA name applied to times read without a zone
    NWBFile: UserNWBFile = UserNWBFile()
    Subject: UserSubject | None = None
    Devices: dict[str, UserDevice] = {}  # keyed by device name
    Ecephys: UserEcephys = UserEcephys()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


def load_user_metadata(path: str | Path) -> UserMetadata:
    """Read and validate a user metadata file; any problem is one UsageError naming the field."""
    path = Path(path)
    hint = "fix the metadata file (fields: NWBFile, Subject, Devices, Ecephys, timezone)"
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read metadata file {path}: {exc.strerror}", hint) from exc
    except UnicodeDecodeError:
        raise UsageError(
            f"metadata file {path} is not a text file (not UTF-8)",
            "give a YAML or JSON text file with NWBFile, Subject, ... sections",
        ) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}", hint) from exc
    except Exception as exc:  # yaml.YAMLError and its subclasses
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise UsageError(f"{path} is not valid YAML: {problem}{where}", hint) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a mapping of fields, not {type(data).__name__}", hint)
    return parse_user_metadata(data, str(path), hint)


def parse_user_metadata(data: Mapping[str, Any], where: str, hint: str) -> UserMetadata:
    """DATA (NWB's sections) validated as a metadata file's content; a problem is one
    UsageError naming WHERE and the field (``WHERE: field Subject.sex: ...``)."""
    try:
        return UserMetadata.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            problem = "unknown field"
        else:
            message = error["msg"].removeprefix("Value error, ")
            problem = f"{message} (got {_short(error.get('input'))})"
        from .metadata_check import EXAMPLES

        example = EXAMPLES.get(field)
        if example and error["type"] != "extra_forbidden":
            problem += f" (e.g. {example})"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UsageError(f"{where}: field {field}: {problem}{more}", hint) from None


def shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else _short(value)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def user_fields(
    user: UserMetadata, current: Mapping[str, FieldDecision], where: str
) -> dict[str, Any]:
    """The user's values as ``{field path: value}``, device and group names resolved to keys."""
    values: dict[str, Any] = {}
    for section in ("NWBFile", "Subject"):
        model = getattr(user, section)
        if model is not None:
            for name, value in model.model_dump(exclude_none=True).items():
                values[f"{section}.{name}"] = value

    def keys_named(prefix: str) -> dict[str, str]:
        """{name: key} of the entries ``<prefix><key>.name``."""
        depth = prefix.count(".") + 2
        return {
            d.value: path.split(".")[depth - 2]
            for path, d in current.items()
            if path.startswith(prefix) and path.endswith(".name") and path.count(".") + 1 == depth
        }

    devices = keys_named("Devices.")
    for name, device in user.Devices.items():
        if name not in devices:
            raise UsageError(
                f"{where}: field Devices.{name}: no device of that name in the recording",
                f"devices: {', '.join(devices) or 'none'}",
            )
        for key, value in device.model_dump(exclude_none=True).items():
            values[f"Devices.{devices[name]}.{key}"] = value
    groups = keys_named("Ecephys.ElectrodeGroups.")
    for name, group in user.Ecephys.ElectrodeGroups.items():
        if name != "*" and name not in groups:
            raise UsageError(
                f"{where}: field Ecephys.ElectrodeGroups.{name}: no electrode group of that name",
                f"groups: {', '.join(groups)} (or '*' for all)",
            )
        for target in groups.values() if name == "*" else [groups[name]]:
            for key, value in group.model_dump(exclude_none=True).items():
                path = f"Ecephys.ElectrodeGroups.{target}.{key}"
                if name == "*" and path in values:
                    continue  # a group named explicitly wins over "*"
                values[path] = value
    return values


# --------------------------------------------------------------------------- merge


@dataclass(frozen=True, slots=True)
class ConversionContext:
    """What the conversion itself fixes: identity, creation time, where script and output live."""

    conversion_id: str
    dataset_id: str
    created: dt.datetime  # timezone-aware; written as file_create_date
    output: str = "outputs/session.nwb"  # relative to the dataset root
    script: str = "scripts/convert.py"
    tool_version: str = ""
    # Whether the installed pynwb writes NWBFile.was_generated_by; None: ask pynwb (an
    # import of ~0.8 s, which `anc convert` leaves to its helper process).
    was_generated_by_supported: bool | None = None

    @property
    def identifier(self) -> str:
        """Fixed NWB identifier derived from the conversion id (same on every re-execution)."""
        return str(uuid.uuid5(IDENTIFIER_NAMESPACE, f"anc:conversion:{self.conversion_id}"))


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL_NAME)
    except PackageNotFoundError:
        return "0+unknown"


def generated_by(context: ConversionContext) -> list[list[str]]:
    """``was_generated_by`` rows: this tool, then the installed writing packages."""
    from importlib.metadata import version

    tool = [TOOL_NAME, context.tool_version or tool_version()]
    return [tool, *([name, version(name)] for name in GENERATED_BY_PACKAGES)]


def source_script_text(context: ConversionContext) -> str:
    """This conversion's keys for NWB ``source_script``, in NeuroConv's ``key: value`` form.

    The script appends them to NeuroConv's own provenance record, which it makes when it runs
    (see ``script._TEMPLATE``): that record names the NeuroConv that wrote the file, known only
    then. One line per key, so a reader of NeuroConv's format reads these too.
    """
    version = context.tool_version or tool_version()
    keys = {
        "tool": TOOL_NAME,
        "tool_version": version,
        "conversion_id": context.conversion_id,
        "dataset_id": context.dataset_id,
        "script": context.script,
        "reproduce": (
            f"`datalad rerun` of the [DATALAD RUNCMD] commit that wrote {context.output} in the "
            f"conversion dataset, or `python {context.script}` from its root "
            "(it reads the metadata file beside it)"
        ),
    }
    return "\n".join(f"{key}: {value}" for key, value in keys.items())


def _tool_decisions(context: ConversionContext) -> list[FieldDecision]:
    def tool(path: str, value: Any, why: str) -> FieldDecision:
        return FieldDecision(
            path,
            value,
            ProvenanceSource.DOMAIN_KNOWLEDGE,
            1.0,
            ConfidenceLevel.DEFINITIVE,
            "set_by_conversion",
            [f"conversion {context.conversion_id}"],
            [why],
        )

    decisions = [
        tool(
            "NWBFile.identifier",
            context.identifier,
            "uuid5 of the conversion id, so re-executing the script gives the same file",
        ),
        tool(
            "NWBFile.file_create_date",
            context.created,
            "time the conversion was prepared, fixed so re-execution is byte-identical",
        ),
        tool(
            "NWBFile.source_script",
            source_script_text(context),
            "the file holds NeuroConv's own provenance record (neuroconv_version, "
            "execution_environment, source_script), made by the script when it runs as NeuroConv "
            f"makes it, with NEUROCONV_PROVENANCE={NEUROCONV_PROVENANCE} (its git keys name the "
            "commit checked out at run time, which differs on every `datalad rerun`; DataLad's run "
            "record names it), followed by these keys: tool and version, conversion and dataset "
            "ids, the script's path in the dataset, how to reproduce",
        ),
        tool(
            "NWBFile.source_script_file_name",
            PurePosixPath(context.script).name,
            "the generated script's file name (NWB: a name, never a path; the path in the "
            "dataset is the `script:` key of source_script)",
        ),
    ]
    supported = context.was_generated_by_supported
    if supported is None:
        supported = supports_was_generated_by()
    if supported:
        decisions.append(
            tool(
                "NWBFile.was_generated_by",
                generated_by(context),
                "this tool, and the packages that wrote the file (versions read when the script runs)",
            )
        )
    return decisions


def supports_was_generated_by() -> bool:
    import pynwb

    return any(
        arg["name"] == "was_generated_by" for arg in pynwb.NWBFile.__init__.__docval__["args"]
    )


def same_value(a: Any, b: Any) -> bool:
    if (
        isinstance(a, dt.datetime)
        and isinstance(b, dt.datetime)
        and (a.tzinfo is None) != (b.tzinfo is None)
    ):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return a == b


def _apply_user(
    decided: dict[str, FieldDecision],
    user_values: Mapping[str, Any],
    where: str,
    method: str = "user_metadata_file",
    evidence_of: Mapping[str, str] | None = None,
) -> None:
    """The user's values over the decided ones; a disagreement with a file value is kept as a
    conflict resolved for the user. EVIDENCE_OF names where each value was given (a key path
    of a spec), else ``WHERE: path``."""
    for path, value in user_values.items():
        evidence = [(evidence_of or {}).get(path) or f"{where}: {path}"]
        previous = decided.get(path)
        if (
            previous is not None
            and previous.source is ProvenanceSource.AUTO_EXTRACTED
            and not same_value(previous.value, value)
        ):
            conflict = Conflict.human_override(
                Candidate(
                    previous.value, previous.source, previous.confidence, AGENT, previous.evidence
                ),
                Candidate(value, ProvenanceSource.USER_PROVIDED, USER_CONFIDENCE, "user", evidence),
            )
            decided[path] = FieldDecision(
                path,
                value,
                ProvenanceSource.USER_PROVIDED,
                USER_CONFIDENCE,
                ConfidenceLevel.HUMAN_OVERRIDE,
                method,
                evidence,
                [
                    f"the user's value replaces {previous.value!r} read from {', '.join(previous.evidence)}"
                ],
                conflict,
            )
        else:
            why = (
                "given in the user's metadata file" if evidence_of is None else f"given in {where}"
            )
            if previous is not None:
                why += (
                    "; agrees with the recording's files"
                    if previous.source is ProvenanceSource.AUTO_EXTRACTED
                    else f"; replaces {shown(previous.value)} ({previous.method})"
                )
            decided[path] = FieldDecision(
                path,
                value,
                ProvenanceSource.USER_PROVIDED,
                USER_CONFIDENCE,
                ConfidenceLevel.HUMAN_CONFIRMED,
                method,
                evidence,
                [why],
            )


def apply_timezone(
    decided: dict[str, FieldDecision], user: UserMetadata | None, where: str
) -> None:
    """Give naive times a zone: the user's ``timezone``, else this machine's (flagged)."""
    for path in DATETIME_FIELDS:
        decision = decided.get(path)
        if decision is None or not isinstance(decision.value, dt.datetime):
            continue
        if decision.value.tzinfo is not None:
            continue
        if user is not None and user.timezone:
            decision.value = decision.value.replace(tzinfo=ZoneInfo(user.timezone))
            decision.evidence.append(f"{where}: timezone")
            decision.reasoning.append(f"no time zone with the time; {user.timezone} from {where}")
            continue
        decision.value = decision.value.astimezone()  # naive means this machine's local time
        zone = decision.value.tzname() or str(decision.value.tzinfo)
        decision.reasoning.append(
            f"no time zone with the time; assumed this machine's ({zone}); "
            "set `timezone:` in the metadata file to change it"
        )
        if (
            decision.source is not ProvenanceSource.USER_PROVIDED
            and decision.confidence > ASSUMED_TIMEZONE_CONFIDENCE
        ):  # lowered, never raised: an inferred time stays as weak as it was
            decision.confidence = ASSUMED_TIMEZONE_CONFIDENCE
            decision.level = ConfidenceLevel.MEDIUM_EVIDENCE


def _fill_placeholders(
    decided: dict[str, FieldDecision], display_name: str, kind: str = "extracellular recording"
) -> None:
    """Defaults for what DANDI needs and neither the files nor the user gave (DISPLAY_NAME
    and KIND say what was converted, in the placeholder description and keywords)."""

    def need(path: str, value: Any, why: str) -> None:
        if path not in decided:
            decided[path] = _placeholder(path, value, why)

    need(
        "NWBFile.session_description",
        f"{display_name} {kind} (placeholder description)",
        "NWB requires a session description",
    )
    need(
        "NWBFile.experiment_description",
        "Placeholder: describe the experiment.",
        "DANDI best practice asks for an experiment description",
    )
    need("NWBFile.experimenter", ["Placeholder, Experimenter"], "DANDI asks for the experimenter")
    need("NWBFile.institution", "Placeholder institution", "DANDI asks for the institution")
    need("NWBFile.lab", "Placeholder lab", "DANDI asks for the lab")
    need(
        "NWBFile.keywords",
        ["extracellular electrophysiology", display_name],
        "DANDI asks for keywords; these name only the modality and format",
    )
    need("Subject.subject_id", "placeholder-subject", "DANDI requires a subject id")
    need("Subject.species", "Mus musculus", "DANDI requires a species (Latin binomial)")
    need("Subject.sex", "U", "DANDI requires sex; U means unknown")
    if "Subject.date_of_birth" not in decided:
        need("Subject.age", "P0D/", "DANDI requires an age; 'P0D/' means 0 days or older (unknown)")
    need(
        "Subject.description",
        "Placeholder: describe the subject.",
        "DANDI asks for a subject description",
    )

    devices = sorted({p.split(".")[1] for p in decided if p.startswith("Devices.")})
    groups = sorted({p.split(".")[2] for p in decided if p.startswith("Ecephys.ElectrodeGroups.")})
    if not devices and groups:
        devices = [PLACEHOLDER_DEVICE_KEY]
        need(
            f"Devices.{PLACEHOLDER_DEVICE_KEY}.name",
            "RecordingDevice",
            "the files name no device; NWB electrode groups need one",
        )
    for key in devices:
        prefix = f"Devices.{key}"
        if f"{prefix}.description" in decided:
            continue
        model_key = decided.get(f"{prefix}.device_model_metadata_key")
        model = model_key and decided.get(f"DeviceModels.{model_key.value}.description")
        if model:
            serial = decided.get(f"{prefix}.serial_number")
            text = model.value + (f", serial number {serial.value}" if serial else "")
            decided[f"{prefix}.description"] = _default_decision(
                f"{prefix}.description",
                text,
                "composed from the device model and serial number",
                "describes the device by its model, as read from the files",
            )
        else:
            need(
                f"{prefix}.description",
                "Placeholder: describe the recording device.",
                "DANDI asks for a device description",
            )
    for key in groups:
        prefix = f"Ecephys.ElectrodeGroups.{key}"
        need(
            f"{prefix}.description",
            f"Placeholder: describe electrode group {key}.",
            "NWB requires an electrode group description",
        )
        need(
            f"{prefix}.location",
            PLACEHOLDER_LOCATION,
            "NWB requires a location; 'root' is the Allen CCF term for the whole brain",
        )
        if f"{prefix}.device_metadata_key" not in decided:
            decided[f"{prefix}.device_metadata_key"] = _default_decision(
                f"{prefix}.device_metadata_key", devices[0], "link", "the recording's only device"
            )
    for key in sorted(
        {p.split(".")[2] for p in decided if p.startswith("Ecephys.ElectricalSeries.")}
    ):
        path = f"Ecephys.ElectricalSeries.{key}.description"
        if path not in decided:
            decided[path] = _default_decision(
                path,
                f"Raw {display_name} traces in digital counts; `conversion` gives volts.",
                "describe_series",
                "what NeuroConv writes: the unscaled int16 samples",
            )


def _order(path: str) -> int:
    section = path.split(".")[0]
    return SECTION_ORDER.index(section) if section in SECTION_ORDER else len(SECTION_ORDER)


def decide_fields(
    extracted: Sequence[FieldDecision],
    spec: FormatSpec,
    context: ConversionContext,
    user: UserMetadata | None = None,
    user_file: str | Path | None = None,
) -> list[FieldDecision]:
    """One decision per NWB field written: file values, user values (conflicts recorded),
    the session time zone, placeholders flagged for review, and the conversion's own fields."""
    # Copies with their own lists: the caller's decisions stay untouched.
    decided = {
        d.field: dataclasses.replace(d, evidence=list(d.evidence), reasoning=list(d.reasoning))
        for d in extracted
    }
    where = str(user_file or "metadata file")
    if user is not None:
        _apply_user(decided, user_fields(user, decided, where), where)
    apply_timezone(decided, user, where)
    _fill_placeholders(decided, spec.display_name)
    for decision in _tool_decisions(context):
        decided[decision.field] = decision
    # Stable: sections in NWB order, fields in the order they were decided.
    return sorted(decided.values(), key=lambda d: _order(d.field))


# --------------------------------------------------------------------------- converters


@dataclass(frozen=True, slots=True)
class MetadataLayer:
    """Metadata a user gave for a converter: one level of a YAML spec (global, experiment,
    session) or the ``metadata=`` of ``track_conversion``; later layers win."""

    values: Mapping[str, Any]  # nested, NeuroConv's form
    where: str  # the file (or call) holding it
    key_path: str = (
        ""  # where VALUES sit in that file, e.g. "experiments.ymaze.sessions[0].metadata"
    )


def extract_converter_metadata(converter: Any) -> list[FieldDecision]:
    """Every non-empty field of ``converter.get_metadata()``, ``auto_extracted``, each naming
    the interface whose own ``get_metadata()`` gave that value (else the converter)."""
    names = {key: type(part).__name__ for key, part in converter.data_interface_objects.items()}
    try:
        merged = flatten(_plain(converter.get_metadata()))
        own = {
            key: flatten(_plain(part.get_metadata()))
            for key, part in converter.data_interface_objects.items()
        }
    except Exception as exc:  # reader errors surface here
        raise ConversionError(
            f"{type(converter).__name__}.get_metadata() failed: {first_line(exc)}",
            "check that every source of the conversion is complete and readable",
        ) from exc
    decisions = []
    for path, value in merged.items():
        if (
            path in TOOL_FIELDS
            or value is None
            or (isinstance(value, str) and value in EMPTY_VALUES)
        ):
            continue
        givers = [
            key for key, flat in own.items() if path in flat and same_value(flat[path], value)
        ]
        if givers:
            key = givers[-1]  # NeuroConv merges in order: the last interface's value stands
            method = f"neuroconv {names[key]}.get_metadata()"
            evidence = [f"interface {key} ({names[key]}).get_metadata(): {path}"]
        else:
            method = f"neuroconv {type(converter).__name__}.get_metadata()"
            evidence = [f"converter {type(converter).__name__}.get_metadata(): {path}"]
        if path in DATETIME_FIELDS and isinstance(value, str):
            with_time = _parse_time(value)
            value = with_time if with_time is not None else value
        decisions.append(_file_decision(path, value, evidence, method))
    return decisions


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _layer_fields(layer: MetadataLayer) -> tuple[dict[str, Any], dict[str, str]]:
    """A layer's values by field path, and the evidence (file: key path) of each."""
    values = flatten(_plain(layer.values))
    evidence = {}
    for path, value in list(values.items()):
        if path in DATETIME_FIELDS:
            parsed = _parse_time(value)
            if parsed is None:
                raise UsageError(
                    f"{layer.where}: {layer.key_path + '.' if layer.key_path else ''}{path}: "
                    f"{value!r} is not a date and time",
                    "write it as ISO 8601, e.g. 2024-01-31T14:00:00+01:00",
                )
            values[path] = parsed
        prefix = f"{layer.key_path}." if layer.key_path else ""
        evidence[path] = f"{layer.where}: {prefix}{path}"
    return values, evidence


def decide_converter_fields(
    extracted: Sequence[FieldDecision],
    layers: Sequence[MetadataLayer],
    context: ConversionContext,
    display_name: str,
    keywords: Sequence[str] = (),
) -> list[FieldDecision]:
    """One decision per field for a NeuroConv converter: its interfaces' values
    (``auto_extracted``), the user's layers in order (``user_provided``: a disagreement with
    an extracted value is a conflict resolved for the user, a later layer replaces an
    earlier one), time zones, placeholders for what DANDI needs, the conversion's own fields."""
    decided = {
        d.field: dataclasses.replace(d, evidence=list(d.evidence), reasoning=list(d.reasoning))
        for d in extracted
    }
    for layer in layers:
        values, evidence = _layer_fields(layer)
        _apply_user(decided, values, layer.where, "user_specification", evidence)
    apply_timezone(decided, None, "the specification")
    if keywords and "NWBFile.keywords" not in decided:
        decided["NWBFile.keywords"] = _placeholder(
            "NWBFile.keywords", list(keywords), "DANDI asks for keywords; these name the interfaces"
        )
    _fill_placeholders(decided, display_name, "conversion")
    for decision in _tool_decisions(context):
        decided[decision.field] = decision
    return sorted(decided.values(), key=lambda d: _order(d.field))

"""Metadata checked before anything is written, with the rules the conversion will apply.

Three layers, in the order a conversion meets them:

1. NeuroConv: ``interface.validate_metadata`` (jsonschema over the JSON-encoded metadata,
   against the interface's ``get_metadata_schema()``), which ``run_conversion`` runs first;
2. pynwb: the ``NWBFile`` and ``Subject`` built in memory as scripts/convert.py builds them;
3. DANDI: nwbinspector's metadata checks with its DANDI configuration on that in-memory file.

The first blocking problem is one ``UsageError`` naming the field, the value and a valid
example; nwbinspector's lower importances (best practice) come back as warnings.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings as pywarnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..journal.records import ProvenanceSource
from . import metadata as md
from .script import _json_default

if TYPE_CHECKING:
    from neuroconv.basedatainterface import BaseDataInterface

# What a valid value looks like, for the error messages.
EXAMPLES = {
    "NWBFile.session_start_time": "'2024-03-01T14:30:00-05:00'",
    "NWBFile.session_description": "'Head-fixed mouse running on a wheel'",
    "NWBFile.session_id": "'session-001'",
    "NWBFile.experimenter": "['Doe, Jane']",
    "NWBFile.keywords": "['hippocampus', 'place cells']",
    "NWBFile.related_publications": "['doi:10.1016/j.neuron.2016.12.011']",
    "NWBFile.institution": "'University of Somewhere'",
    "NWBFile.experiment_description": "'Place cells in CA1 during navigation'",
    "Subject.subject_id": "'mouse-001'",
    "Subject.species": "'Mus musculus' or 'http://purl.obolibrary.org/obo/NCBITaxon_10090'",
    "Subject.sex": "'M', 'F', 'U' (unknown) or 'O' (other)",
    "Subject.age": "'P90D' for 90 days, 'P12W' for 12 weeks, 'P90D/' for 90 days or older",
    "Subject.date_of_birth": "'2024-01-15T00:00:00-05:00'",
    "Subject.weight": "'0.025 kg'",
    "Subject.strain": "'C57BL/6J'",
}
# The problem in words, where the checker's own text is a regex or a paragraph.
PROBLEMS = {
    "Subject.species": "is not a Latin binomial or NCBI taxonomy URL",
    "Subject.age": "is not an ISO 8601 duration",
    "Subject.sex": "is not one of M, F, U, O",
    "Subject.weight": "is not a number and a unit (kg, g, mg, ...)",
}
# nwbinspector check -> the field it judges, and our words for the problem (None: its own).
INSPECTOR_FIELDS: dict[str, tuple[str, str | None]] = {
    "check_session_start_time_old_date": ("NWBFile.session_start_time", None),
    "check_session_start_time_future_date": ("NWBFile.session_start_time", "is in the future"),
    "check_experimenter_exists": ("NWBFile.experimenter", None),
    "check_experimenter_form": ("NWBFile.experimenter", None),
    "check_experiment_description": ("NWBFile.experiment_description", None),
    "check_institution": ("NWBFile.institution", None),
    "check_keywords": ("NWBFile.keywords", None),
    "check_doi_publications": ("NWBFile.related_publications", None),
    "check_session_id_no_slashes": ("NWBFile.session_id", "contains '/'"),
    "check_subject_exists": ("Subject", "is missing"),
    "check_subject_id_exists": ("Subject.subject_id", "is missing"),
    "check_subject_id_no_slashes": ("Subject.subject_id", "contains '/'"),
    "check_subject_sex": ("Subject.sex", PROBLEMS["Subject.sex"]),
    "check_subject_species_exists": ("Subject.species", "is missing"),
    "check_subject_species_form": ("Subject.species", PROBLEMS["Subject.species"]),
    "check_subject_age": ("Subject.age", PROBLEMS["Subject.age"]),
    "check_subject_proper_age_range": ("Subject.age", None),
    "check_subject_weight": ("Subject.weight", PROBLEMS["Subject.weight"]),
}
INSPECTOR_MODULE = "nwbinspector.checks._nwbfile_metadata"
# Checks of the file on disk (its name), not of its metadata.
INSPECTOR_SKIPPED = ("check_file_extension",)
# DANDI names files and folders by these (sub-<subject_id>): empty counts as missing, though
# nwbinspector only asks that they are not None.
NON_EMPTY = ("Subject.subject_id",)
# NWBFile fields the script passes to pynwb itself, not through NeuroConv's metadata.
SCRIPT_ONLY_FIELDS = ("file_create_date", "was_generated_by")
JSON_TYPES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
}


@dataclass(frozen=True, slots=True)
class MetadataProblem:
    """One refused value: which field, what is wrong, which rule said so."""

    field: str
    value: Any
    problem: str
    rule: str
    missing: bool = False

    @property
    def message(self) -> str:
        if self.missing:
            text = f"metadata field {self.field} {self.problem}"
        else:
            text = f"metadata field {self.field}: {_show(self.value)} {self.problem}"
        example = EXAMPLES.get(self.field)
        return f"{text} (e.g. {example})" if example else text


@dataclass(frozen=True, slots=True)
class MetadataCheck:
    """What the check found acceptable but worth a look, and the rules it applied."""

    warnings: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"warnings": list(self.warnings), "rules": list(self.rules)}


@dataclass(slots=True)
class _Findings:
    problems: list[MetadataProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def _show(value: Any, limit: int = 80) -> str:
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def script_metadata(decisions: Iterable[md.FieldDecision]) -> dict[str, Any]:
    """NeuroConv's nested metadata as scripts/convert.py reads it (through its JSON file)."""
    return json.loads(json.dumps(md.to_neuroconv(decisions), default=_json_default))


# --------------------------------------------------------------------------- layers


def _field_path(parts: Sequence[Any]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in parts).replace(".[", "[")


def _check_neuroconv(interface: BaseDataInterface, metadata: dict[str, Any], found: _Findings):
    """NeuroConv's own validation, as ``run_conversion`` calls it with the script's metadata."""
    import jsonschema

    found.rules.append(
        f"neuroconv {version('neuroconv')} {type(interface).__name__}.validate_metadata "
        "(jsonschema against get_metadata_schema())"
    )
    given = dict(metadata)
    given["NWBFile"] = {
        k: v for k, v in metadata.get("NWBFile", {}).items() if k not in SCRIPT_ONLY_FIELDS
    }
    try:
        interface.validate_metadata(given)
    except jsonschema.ValidationError as exc:
        found.problems.append(_schema_problem(exc))
    except ValueError as exc:  # NeuroConv's device registry rule: one key per device name
        found.problems.append(
            MetadataProblem("Devices", None, f"is refused by NeuroConv: {exc}", "neuroconv", True)
        )


def _schema_problem(exc: Any) -> MetadataProblem:
    parts = list(exc.absolute_path)
    rule = f"neuroconv metadata schema ({exc.validator})"
    if exc.validator == "required":
        missing = re.match(r"'([^']+)'", exc.message)
        parts.append(missing.group(1) if missing else "?")
        return MetadataProblem(_field_path(parts), None, "is missing", rule, missing=True)
    if exc.validator == "additionalProperties":
        return MetadataProblem(_field_path(parts), None, f"is refused: {exc.message}", rule, True)
    path = _field_path(parts)
    if exc.validator == "type":
        expected = exc.validator_value
        names = [
            JSON_TYPES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)
        ]
        problem = f"is not {' or '.join(names)}"
    elif exc.validator == "enum":
        problem = f"is not one of {', '.join(map(str, exc.validator_value))}"
    elif path in PROBLEMS:
        problem = PROBLEMS[path]
    else:
        problem = f"is refused by NeuroConv's schema: {exc.message}"
    return MetadataProblem(path, exc.instance, problem, rule)


def _build_nwbfile(metadata: Mapping[str, Any], generated_by: list[list[str]] | None) -> Any:
    """The NWBFile and Subject, made as scripts/convert.py makes them (see script._TEMPLATE)."""
    from pynwb import NWBFile
    from pynwb.file import Subject

    fields = dict(metadata.get("NWBFile", {}))
    for name in ("session_start_time", "file_create_date"):
        if name in fields:  # a missing one is pynwb's to name
            fields[name] = dt.datetime.fromisoformat(fields[name])
    if generated_by:
        fields["was_generated_by"] = generated_by
    nwbfile = NWBFile(**fields)
    subject = dict(metadata.get("Subject", {}))
    if subject:
        if "date_of_birth" in subject:
            subject["date_of_birth"] = dt.datetime.fromisoformat(subject["date_of_birth"])
        nwbfile.subject = Subject(**subject)
    return nwbfile


def _check_pynwb(
    metadata: Mapping[str, Any], generated_by: list[list[str]] | None, found: _Findings
) -> Any:
    found.rules.append(f"pynwb {version('pynwb')} NWBFile and Subject built in memory")
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always", UserWarning)
        try:
            nwbfile = _build_nwbfile(metadata, generated_by)
        except (TypeError, ValueError) as exc:
            found.problems.append(_pynwb_problem(exc, metadata))
            return None
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            found.warnings.append(f"pynwb: {warning.message}")
    return nwbfile


def _pynwb_problem(exc: Exception, metadata: Mapping[str, Any]) -> MetadataProblem:
    text = str(exc)
    section = "Subject" if text.startswith("Subject") else "NWBFile"
    text = re.sub(r"^\w+\.__init__: ", "", text)
    named = re.search(r"'(\w+)'", text)
    name = named.group(1) if named else "?"
    if isinstance(exc, ValueError) and "isoformat" in text:
        # datetime.fromisoformat in the script: which of the two times?
        for section, name in (("NWBFile", "session_start_time"), ("Subject", "date_of_birth")):
            if repr(metadata.get(section, {}).get(name)) in text:
                break
        text = "is not an ISO 8601 date and time"
    else:
        text = f"is refused by pynwb: {text}"
    value = metadata.get(section, {}).get(name)
    return MetadataProblem(f"{section}.{name}", value, text, "pynwb")


def _inspector_checks() -> list[Any]:
    """nwbinspector's metadata checks (NWBFile and Subject), DANDI importances applied."""
    from nwbinspector import available_checks, configure_checks, load_config

    chosen = [
        c
        for c in available_checks
        if c.__module__ == INSPECTOR_MODULE and c.__name__ not in INSPECTOR_SKIPPED
    ]
    return configure_checks(checks=chosen, config=load_config("dandi"))


def _check_dandi(nwbfile: Any, decided: Mapping[str, Any], found: _Findings) -> None:
    from nwbinspector import Importance, inspect_nwbfile_object

    checks = _inspector_checks()
    found.rules.append(
        f"nwbinspector {version('nwbinspector')} dandi config: "
        + ", ".join(sorted(c.__name__ for c in checks))
    )
    for path in NON_EMPTY:
        value = decided.get(path)
        if isinstance(value, str) and not value.strip():
            found.problems.append(
                MetadataProblem(path, value, "is empty: DANDI requires it", "dandi (non-empty)")
            )
    for message in inspect_nwbfile_object(nwbfile, checks=checks):
        if message is None:
            continue
        check = message.check_function_name
        path, ours = INSPECTOR_FIELDS.get(check, (message.object_type or "NWBFile", None))
        own = " ".join(str(message.message).split())
        if message.importance in (Importance.CRITICAL, Importance.ERROR):
            missing = ours == "is missing"
            problem = ours or f"is refused by DANDI's rules: {own}"
            value = None if missing else decided.get(path)
            found.problems.append(
                MetadataProblem(path, value, problem, f"nwbinspector {check} (dandi)", missing)
            )
        else:
            found.warnings.append(
                f"{path}: {own} (nwbinspector {check}, {message.importance.name})"
            )


# --------------------------------------------------------------------------- entry point


def check_metadata(
    decisions: Sequence[md.FieldDecision],
    interface: BaseDataInterface,
    *,
    user_file: str | Path | None = None,
) -> MetadataCheck:
    """Apply NeuroConv's schema, pynwb and DANDI's rules to the decided fields.

    Raises UsageError on the first blocking problem (its hint says where to fix it); returns
    the best-practice warnings (field: message, deduplicated) and the rules applied.
    """
    by_field = {d.field: d for d in decisions}
    decided = {path: d.value for path, d in by_field.items()}
    metadata = script_metadata(decisions)
    generated = by_field.get("NWBFile.was_generated_by")
    found = _Findings()
    _check_neuroconv(interface, metadata, found)
    if not found.problems:
        nwbfile = _check_pynwb(metadata, generated.value if generated else None, found)
        if nwbfile is not None:
            _check_dandi(nwbfile, decided, found)
    if found.problems:
        first = found.problems[0]
        decision = by_field.get(first.field)
        # A value read from the files reports itself as such; the fix is still the user file.
        if first.value is None and decision is not None and not first.missing:
            first = MetadataProblem(first.field, decision.value, first.problem, first.rule)
        more = f" (+{len(found.problems) - 1} more)" if len(found.problems) > 1 else ""
        raise UsageError(first.message + more, _hint(first.field, decision, user_file))
    return MetadataCheck(tuple(dict.fromkeys(found.warnings)), tuple(found.rules))


def _hint(path: str, decision: md.FieldDecision | None, user_file: str | Path | None) -> str:
    where = f"the metadata file {user_file}" if user_file else "a metadata file (--metadata FILE)"
    if decision is None:
        return f"set {path} in {where}"
    if decision.source is ProvenanceSource.USER_PROVIDED:
        return f"fix {path} in {where}"
    origin = (
        "read from the recording"
        if decision.source is ProvenanceSource.AUTO_EXTRACTED
        else "the conversion's default"
    )
    return f"the value is {origin}: set {path} in {where} to replace it"

"""A NeuroConv YAML conversion specification, one ``ConverterPlan`` per session.

The spec is read and checked as NeuroConv's ``run_conversion_from_yaml`` reads it: its own
JSON schema (with the metadata schema it references), ``data_interfaces`` naming classes of
``neuroconv.datainterfaces``, each session's ``source_data`` relative to the data folder (the
spec's folder unless given), metadata layered global < experiment < session over what the
interfaces read, conversion options global < session. A session is named by its
``nwbfile_name``, else its ``NWBFile.session_id``, else ``<experiment>-<n>``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...names import slug
from ..metadata import MetadataLayer
from .plan import CODE_DIR, ConverterPlan, resolve_paths

SCHEMA_HINT = "see NeuroConv's YAML specification schema (neuroconv/schemas/yaml_conversion_specification_schema.json)"


@dataclass(frozen=True, slots=True)
class SpecSession:
    experiment: str
    index: int  # in the experiment's sessions
    name: str
    body: Mapping[str, Any]

    @property
    def key_path(self) -> str:
        return f"experiments.{self.experiment}.sessions[{self.index}]"


@dataclass(frozen=True, slots=True)
class Specification:
    path: Path
    data_folder: Path
    body: Mapping[str, Any]
    sessions: tuple[SpecSession, ...]
    warnings: tuple[str, ...] = ()

    @property
    def copy_path(self) -> str:
        """Where the spec is kept in the conversion dataset."""
        return f"scripts/{CODE_DIR}/{self.path.name}"

    def names(self) -> list[str]:
        return [s.name for s in self.sessions]


def _key_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _validate(path: Path, body: Any) -> None:
    """NeuroConv's own schema check, the error naming the key path."""
    from importlib import resources

    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match
    from neuroconv.utils import load_dict_from_file
    from referencing import Registry, Resource

    schemas = Path(str(resources.files("neuroconv") / "schemas"))
    schema = load_dict_from_file(schemas / "yaml_conversion_specification_schema.json")
    metadata_schema = load_dict_from_file(schemas / "metadata_schema.json")
    registry = Registry().with_resource(
        "metadata_schema.json", Resource.from_contents(metadata_schema)
    )
    errors = list(Draft7Validator(schema, registry=registry).iter_errors(body))
    if errors:
        error = best_match(errors)
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
        raise UsageError(f"{path}: {_key_path(error.absolute_path)}: {message}{more}", SCHEMA_HINT)


def _session_name(experiment: str, index: int, session: Mapping[str, Any]) -> str:
    name = session.get("nwbfile_name")
    if name:
        return slug(str(name).removesuffix(".nwb"))
    session_id = (session.get("metadata") or {}).get("NWBFile", {}).get("session_id")
    return slug(str(session_id)) if session_id else f"{slug(experiment)}-{index + 1}"


def load_spec(path: str | Path, data_folder: str | Path | None = None) -> Specification:
    """Read and check the spec at PATH; refuse (one line, key path named) what NeuroConv's
    schema refuses, and what would fail later: no ``data_interfaces``, an interface not in
    NeuroConv or not installed, two sessions of one name."""
    import yaml

    from .. import interfaces

    path = Path(path).absolute()
    if not path.is_file():
        raise UsageError(
            f"no YAML specification {path}", "give the path of your conversion .yml file"
        )
    try:
        body = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", "give a readable YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(
            f"{path}: not valid YAML{where}: {problem}", "fix the YAML syntax"
        ) from None
    if not isinstance(body, Mapping):
        raise UsageError(f"{path}: a YAML specification is a mapping", SCHEMA_HINT)
    _validate(path, body)
    declared = body.get("data_interfaces") or {}
    if not declared:
        raise UsageError(
            f"{path}: data_interfaces: missing; NeuroConv needs it to build the converter",
            "name each interface, e.g. `data_interfaces: {ap: SpikeGLXRecordingInterface}`",
        )
    interfaces.require_installed(declared.values())
    sessions: list[SpecSession] = []
    for experiment, block in body["experiments"].items():
        for index, session in enumerate(block["sessions"]):
            sessions.append(
                SpecSession(experiment, index, _session_name(experiment, index, session), session)
            )
            for key in session["source_data"]:
                if key not in declared:
                    raise UsageError(
                        f"{path}: experiments.{experiment}.sessions[{index}].source_data.{key}: "
                        "no such interface in data_interfaces",
                        f"data_interfaces: {', '.join(declared)}",
                    )
    if not sessions:
        raise UsageError(f"{path}: experiments: no session", "add a session under an experiment")
    seen: dict[str, SpecSession] = {}
    for s in sessions:
        if s.name in seen:
            raise UsageError(
                f"{path}: two sessions named {s.name} ({seen[s.name].key_path}, {s.key_path})",
                "give each session its own nwbfile_name",
            )
        seen[s.name] = s
    warnings = []
    if "upload_to_dandiset" in body:
        warnings.append(
            "upload_to_dandiset is not run: anc leaves the upload to `dandi upload` after review"
        )
    folder = Path(data_folder).absolute() if data_folder is not None else path.parent
    return Specification(path, folder, body, tuple(sessions), tuple(warnings))


def select(spec: Specification, name: str | None) -> list[SpecSession]:
    """Every session, or the one named NAME (refused, with the names, when not in the spec)."""
    if name is None:
        return list(spec.sessions)
    for session in spec.sessions:
        if session.name in (name, slug(name)):
            return [session]
    close = difflib.get_close_matches(name, spec.names(), n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"sessions: {', '.join(spec.names())}"
    raise UsageError(f"no session {name!r} in {spec.path}", hint)


def converter_class(data_interfaces: Mapping[str, str]) -> type:
    """The converter NeuroConv's YAML runner builds: one class of ``neuroconv.datainterfaces``
    per key (the generated script builds it the same way)."""
    from neuroconv import NWBConverter, datainterfaces

    classes = {key: getattr(datainterfaces, name) for key, name in data_interfaces.items()}
    return type("CustomNWBConverter", (NWBConverter,), {"data_interface_classes": classes})


def plan_session(spec: Specification, session: SpecSession) -> ConverterPlan:
    """The plan of one session: source paths resolved against the data folder, metadata
    layers with their key paths, options global < session."""
    body = spec.body
    source = {
        key: resolve_paths(arguments or {}, spec.data_folder)
        for key, arguments in session.body["source_data"].items()
    }
    everywhere = dict(body.get("conversion_options") or {})
    own = session.body.get("conversion_options") or {}
    options = {key: {**everywhere, **(own.get(key) or {})} for key in source}
    where = spec.copy_path
    experiment = body["experiments"][session.experiment]
    layers = [
        MetadataLayer(values, where, key_path)
        for values, key_path in (
            (body.get("metadata") or {}, "metadata"),
            (experiment.get("metadata") or {}, f"experiments.{session.experiment}.metadata"),
            (session.body.get("metadata") or {}, f"{session.key_path}.metadata"),
        )
        if values
    ]
    return ConverterPlan(
        kind="spec",
        name=session.name,
        converter_class=converter_class(body["data_interfaces"]),
        source_data=source,
        conversion_options=options,
        layers=layers,
        files={f"{CODE_DIR}/{spec.path.name}": spec.path},
        build={
            "kind": "spec",
            "spec": f"{CODE_DIR}/{spec.path.name}",
            "experiment": session.experiment,
            "session": session.index,
            "data_folder": str(spec.data_folder),
        },
        description=f"session {session.name} ({session.key_path}) of {spec.path.name}",
        user_file=str(spec.path),
    )

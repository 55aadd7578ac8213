"""The SOURCES of `anc batch` as sessions: a path pattern, a list of folders, or a YAML spec.

Which one: text holding ``{`` is a path pattern in NeuroConv's ``LocalPathExpander`` style
(``raw/{subject_id}/{session_id}``, ``sub-{subject_id}/ses-{session_id}``,
``{session_start_time:%Y%m%d}``), matched by NeuroConv itself; an existing ``.yml``/``.yaml``
file is a conversion specification (``conversion/converter/spec.py`` loads and names its
sessions); another existing file lists source folders, one a line.

Names are unique in a batch and safe as a folder name. A pattern's session is named by its
fields' values joined by ``_`` (in the order the pattern names them); two matches giving one
name are refused (the fields are the user's choice, so the user renames). A listed folder is
named by its own name; folders of one name get as many parent folder names in front as
tell them apart (``m1/s1``, ``m2/s1`` -> ``m1_s1``, ``m2_s1``). A spec session keeps the
name ``anc convert --spec --session`` takes.

A session's own metadata file is ``metadata.yml``, ``metadata.yaml`` or ``metadata.json``
in its source folder (the ``--metadata`` format); it is checked here, so a bad one is
refused before anything is written. Spec sessions have their metadata in the spec.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from ..errors import UsageError
from ..names import check_name, slug

METADATA_NAMES = ("metadata.yml", "metadata.yaml", "metadata.json")
SOURCES_HINT = (
    "give a quoted path pattern like 'raw/{subject_id}/{session_id}', "
    "a text file listing one folder per line, or a conversion .yml"
)
# A field of a format string: `{{` and `}}` are literal braces, `{name:format}` a field.
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHOWN = 5  # entries of a folder named in an error


@dataclass(frozen=True)
class BatchSession:
    """One conversion of a batch: where its data are and why it is one."""

    name: str  # unique in the batch, a safe folder name
    source: Path | None  # the recording folder (pattern, list); None for a spec session
    inputs: tuple[Path, ...]  # what identifies the session's content: source, or spec paths
    fields: Mapping[str, str]  # a pattern's fields as the path spells them; {} otherwise
    metadata: Mapping[str, Any]  # NeuroConv metadata from the fields (NWBFile, Subject)
    evidence: str  # why this is a session, in one line
    spec: Path | None = None  # the YAML spec of a spec session
    spec_session: str | None = None  # its name as `anc convert --spec --session` takes it
    metadata_file: Path | None = None  # <source>/metadata.yml|.yaml|.json when present


def expand_sources(sources: str, *, cwd: Path | None = None) -> list[BatchSession]:
    """The sessions SOURCES names (relative paths from CWD, default the current folder): a
    pattern's in folder order, a list's as listed, a spec's as the spec lists them. Any bad
    input is one UsageError, raised before anything is written."""
    cwd = Path(cwd if cwd is not None else Path.cwd()).absolute()
    if "{" in sources:
        return _from_pattern(sources, cwd)
    path = cwd / Path(sources).expanduser()
    if path.is_file():
        if path.suffix.lower() in (".yml", ".yaml"):
            return _from_spec(path)
        return _from_list(path)
    if path.is_dir():
        raise UsageError(
            f"SOURCES {sources} is a folder, not a pattern, list or spec",
            f"give a pattern of its session folders, e.g. '{sources.rstrip('/')}/{{session_id}}'",
        )
    raise UsageError(
        f"SOURCES {sources}: no such file, and no '{{field}}' of a pattern", SOURCES_HINT
    )


# --------------------------------------------------------------------------- pattern


def _field_names(pattern: str) -> list[str]:
    """The named fields of PATTERN in order of first appearance; anonymous or dotted ones
    (which parse would number or nest) refused."""
    names: list[str] = []
    for match in _FIELD.finditer(pattern):
        if match.group(1) is None:
            continue
        name = re.split(r"[:!]", match.group(1), maxsplit=1)[0]
        if not _IDENTIFIER.match(name):
            raise UsageError(
                f"pattern {pattern!r}: field {{{match.group(1)}}} has no plain name",
                "name every field with letters, digits and '_', e.g. {session_id}",
            )
        if name not in names:
            names.append(name)
    if not names:
        raise UsageError(f"pattern {pattern!r} names no field", SOURCES_HINT)
    return names


def _from_pattern(pattern: str, cwd: Path) -> list[BatchSession]:
    import parse
    from neuroconv.tools.path_expansion import LocalPathExpander

    names = _field_names(pattern)
    parts = PurePosixPath(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if "{" in part)
    base_text = str(PurePosixPath(*parts[:fixed])) if fixed else "."
    rest = list(parts[fixed:])
    base = (cwd / Path(base_text).expanduser()).resolve()
    if not base.is_dir():
        raise UsageError(
            f"pattern {pattern!r}: no folder {base_text}",
            "fix the pattern's leading part (relative patterns are from the current folder)",
        )
    folder_format = "/".join(rest)
    parser = parse.compile(folder_format)
    expanded = LocalPathExpander().expand_paths(
        {"source": {"base_directory": str(base), "folder_path": folder_format}}
    )
    if not expanded:
        _explain_no_match(pattern, base, base_text, rest)

    sessions = []
    for found in expanded:
        folder = Path(found["source_data"]["source"]["folder_path"])
        relative = folder.relative_to(base).as_posix()
        spans = parser.parse(relative).spans
        fields = {name: relative[slice(*spans[name])] for name in names}
        # NeuroConv puts fields it has no NWB place for under "extras"; fields keeps them.
        metadata = {k: v for k, v in found["metadata"].to_dict().items() if k != "extras"}
        where = _shown(base_text, relative)
        sessions.append(
            BatchSession(
                name=_safe_name("_".join(slug(fields[n]) for n in names), where),
                source=folder,
                inputs=(folder,),
                fields=fields,
                metadata=metadata,
                evidence=f"path pattern {pattern!r} matched {where}",
                metadata_file=_metadata_file(folder),
            )
        )
    sessions.sort(key=lambda s: str(s.source))
    first: dict[str, BatchSession] = {}
    for session in sessions:
        other = first.setdefault(session.name, session)
        if other is not session:
            raise UsageError(
                f"two folders give the session name {session.name}: {other.source}, {session.source}",
                "rename one folder, or use a pattern whose fields tell them apart",
            )
    return sessions


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _shown(base_text: str, relative: str) -> str:
    """A matched folder as the pattern spells it (relative to the current folder if it is)."""
    return str(PurePosixPath(base_text) / relative)


def _explain_no_match(pattern: str, base: Path, base_text: str, rest: Sequence[str]) -> NoReturn:
    """Raise the error of a pattern that matched nothing: the first component no folder
    matches and what is there instead (one listing per level, cheap beside the expansion)."""
    import parse

    def shown(folder: Path) -> str:
        return _shown(base_text, folder.relative_to(base).as_posix())

    level = [base]
    for part in rest:
        matcher = parse.compile(part)
        matching = [c for f in level for c in _children(f) if matcher.parse(c.name)]
        folders = [c for c in matching if c.is_dir()]
        if folders:
            level = folders
            continue
        # Name the first folder with entries: what it holds tells most.
        sample = next((f for f in level if _children(f)), level[0])
        more = f" (and {len(level) - 1} more folders)" if len(level) > 1 else ""
        if matching:
            found = f" as a folder; only files do: {', '.join(map(shown, matching[:_SHOWN]))}"
        else:
            entries = [c.name + ("/" if c.is_dir() else "") for c in _children(sample)]
            listed = ", ".join(entries[:_SHOWN]) + (", ..." if len(entries) > _SHOWN else "")
            found = f"; {shown(sample)} " + (f"holds {listed}" if entries else "is empty")
        raise UsageError(
            f"nothing under {shown(sample)}{more} matches {part!r}{found}",
            f"fix the pattern {pattern!r}: each part with a field must match folder names",
        )
    raise UsageError(
        f"no folder matches {pattern!r}",
        "a field named twice must have one value in a path; fix the pattern",
    )


# --------------------------------------------------------------------------- list file


def _from_list(path: Path) -> list[BatchSession]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read the list of sources {path}: {exc}", "give a text file, one folder a line"
        ) from None
    listed: dict[Path, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        folder = Path(entry).expanduser()
        folder = (folder if folder.is_absolute() else path.parent / folder).resolve()
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise UsageError(
                f"{path.name} line {number}: {folder} {what}",
                "fix or remove the line (relative lines are from the list file's folder)",
            )
        if folder in listed:
            raise UsageError(
                f"{path.name} lines {listed[folder]} and {number} both list {folder}",
                "list each folder once",
            )
        listed[folder] = number
    if not listed:
        raise UsageError(
            f"{path} lists no folder", "write one source folder per line ('#' starts a comment)"
        )
    folders = list(listed)
    return [
        BatchSession(
            name=_safe_name(name, str(folder)),
            source=folder,
            inputs=(folder,),
            fields={},
            metadata={},
            evidence=f"listed in {path.name} line {listed[folder]}",
            metadata_file=_metadata_file(folder),
        )
        for folder, name in zip(folders, _folder_names(folders), strict=True)
    ]


def _folder_names(folders: Sequence[Path]) -> list[str]:
    """Each folder's name, with parent names in front of those that share one until all
    differ (distinct folders whose names differ only in unsafe characters are refused)."""
    depth = [1] * len(folders)
    while True:
        names = [
            "_".join(slug(p) for p in f.parts[1:][-d:]) for f, d in zip(folders, depth, strict=True)
        ]
        count = Counter(names)
        clashing = [i for i, name in enumerate(names) if count[name] > 1]
        if not clashing:
            return names
        grown = False
        for i in clashing:
            if depth[i] < len(folders[i].parts) - 1:
                depth[i] += 1
                grown = True
        if not grown:
            pair = [folders[i] for i in clashing if names[i] == names[clashing[0]]][:2]
            raise UsageError(
                f"two folders give the session name {names[clashing[0]]}: {pair[0]}, {pair[1]}",
                "rename one of the folders",
            )


# --------------------------------------------------------------------------- spec


def _from_spec(path: Path) -> list[BatchSession]:
    import yaml

    from ..conversion.converter.spec import load_spec, plan_session

    try:
        body = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        load_spec(path)  # words the error (unreadable, or the YAML syntax with its line)
        raise
    if not isinstance(body, Mapping) or "experiments" not in body:
        raise UsageError(
            f"{path.name} is not a conversion specification (no 'experiments' at its top level)",
            "give a NeuroConv YAML conversion specification, or list folders in a .txt file",
        )
    spec = load_spec(path)
    sessions = []
    for session in spec.sessions:
        plan = plan_session(spec, session)
        missing = plan.missing_inputs()
        if missing:
            raise UsageError(
                f"{path.name} {session.key_path}: source {missing[0]} does not exist",
                "fix the path (a spec's relative paths are from its folder)",
            )
        sessions.append(
            BatchSession(
                name=session.name,
                source=None,
                inputs=tuple(plan.inputs()),
                fields={},
                metadata={},
                evidence=f"{path.name} {session.key_path}",
                spec=spec.path,
                spec_session=session.name,
            )
        )
    return sessions


# --------------------------------------------------------------------------- shared


def _safe_name(name: str, where: str) -> str:
    try:
        return check_name(name, "session name")
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}", exc.hint) from None


def _metadata_file(folder: Path) -> Path | None:
    """FOLDER's own metadata file, checked (a bad one is refused now, not mid-batch)."""
    from ..conversion.metadata import load_user_metadata

    found = [folder / name for name in METADATA_NAMES if (folder / name).is_file()]
    if len(found) > 1:
        raise UsageError(
            f"{folder} holds {len(found)} metadata files ({', '.join(p.name for p in found)})",
            "keep one",
        )
    if not found:
        return None
    load_user_metadata(found[0])
    return found[0]

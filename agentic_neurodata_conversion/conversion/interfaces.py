"""Every NeuroConv data interface one can choose, the pip extra it needs, and whether it's there.

Read without importing NeuroConv: importing ``neuroconv.datainterfaces`` loads pynwb, hdmf
and pandas (about 2 s). The names and module paths come from
``neuroconv/datainterfaces/__init__.py`` (its ``interface_list``), the display names and
suffixes from the lines assigning them in each class body (or a base class's), the extras
from the installed distribution's metadata (``Provides-Extra``, ``Requires-Dist``).
tests/conversion/test_interfaces.py checks all of it against the imported classes.

The extra of an interface is the one named like its module folder (``ecephys/spikeglx`` ->
``spikeglx``; a fiber photometry folder's with ``-fp``: ``csv`` -> ``csv-fp``), else its
modality's (``image``); ``EXTRA_EXCEPTIONS`` names the interfaces where that is wrong.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EnvironmentProblem, UsageError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

DISTRIBUTION = "neuroconv"
# Interfaces whose folder names no extra, or a wrong one; None: NeuroConv's own
# requirements suffice. Checked against NeuroConv 0.10.2's sources (what each module imports).
EXTRA_EXCEPTIONS: dict[str, str | None] = {
    # One folder, two readers: Plexon2 needs zugbruecke, legacy ScanImage its TIFF reader.
    "Plexon2RecordingInterface": "plexon2",
    "ScanImageLegacyImagingInterface": "scanimage-legacy",
    # Imports ndx_events whenever it is made; its own hint names medpc_legacy.
    "MedPCInterface": "medpc-legacy",
    # events/medpc_events reads MedPC text itself (no extra named medpc-events).
    "MedPCArrayEventsInterface": "medpc",
    "MedPCPackedEventsInterface": "medpc",
    # Reads .nvt files itself (behavior/neuralynx; the neuralynx extra is neo's reader).
    "NeuralynxNvtInterface": None,
    # Reads Bruker's CSV and XML with pandas and the standard library.
    "BrukerVoltageRecordingInterface": None,
}


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """One NeuroConv data interface and what installing it takes."""

    name: str  # class name in neuroconv.datainterfaces
    modality: str  # ecephys, icephys, ophys, fiber_photometry, behavior, events, text, image
    display_name: str | None
    associated_suffixes: tuple[str, ...]
    extra: str | None  # neuroconv[<extra>] brings what it needs; None: neuroconv alone
    installed: bool  # every requirement of the extra installed at a satisfying version
    missing: tuple[str, ...]  # the unmet requirements, e.g. 'ndx-pose>=0.2 (not installed)'
    pip: str  # the install line
    module: str  # where NeuroConv defines it

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modality": self.modality,
            "display_name": self.display_name,
            "associated_suffixes": list(self.associated_suffixes),
            "extra": self.extra,
            "installed": self.installed,
            "missing": list(self.missing),
            "pip": self.pip,
            "module": self.module,
        }


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the sources say of one interface (cached per process; the install state is not)."""

    name: str
    module: str
    modality: str
    display_name: str | None
    associated_suffixes: tuple[str, ...]
    extra: str | None


def list_interfaces(
    modality: str | None = None, installed_only: bool = False
) -> list[InterfaceInfo]:
    """Every interface of the installed NeuroConv, by modality and name.

    The sources are read once per process; whether each extra is installed is looked up on
    every call (a few milliseconds), so an extra installed meanwhile shows.
    """
    entries = _catalog()
    if modality is not None:
        known = sorted({e.modality for e in entries})
        if modality not in known:
            raise UsageError(f"unknown modality {modality!r}", f"one of: {', '.join(known)}")
    unmet = _Unmet()
    infos = []
    for entry in entries:
        if modality is not None and entry.modality != modality:
            continue
        missing = unmet(f"{DISTRIBUTION}[{entry.extra}]") if entry.extra else ()
        if installed_only and missing:
            continue
        infos.append(
            InterfaceInfo(
                name=entry.name,
                modality=entry.modality,
                display_name=entry.display_name,
                associated_suffixes=entry.associated_suffixes,
                extra=entry.extra,
                installed=not missing,
                missing=missing,
                pip=pip_line(entry.extra),
                module=entry.module,
            )
        )
    return infos


def pip_line(*extras: str | None) -> str:
    """The command installing NeuroConv with EXTRAS (None: none)."""
    wanted = sorted({e for e in extras if e})
    return (
        f'pip install "{DISTRIBUTION}[{",".join(wanted)}]"'
        if wanted
        else f"pip install {DISTRIBUTION}"
    )


def require_installed(interface_names: Iterable[str]) -> None:
    """Refuse (UsageError) an unknown interface name, or one whose extra is not installed.

    An unknown name is answered with the closest known ones; missing extras with one pip
    line that installs them all.
    """
    names = list(dict.fromkeys(interface_names))
    by_name = {info.name: info for info in list_interfaces()}
    for name in names:
        if name not in by_name:
            close = closest(name, list(by_name))
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise UsageError(
                f"unknown NeuroConv interface {name!r}",
                f"{hint}'anc interfaces' lists them all",
            )
    lacking = [by_name[n] for n in names if not by_name[n].installed]
    if lacking:
        needs = "; ".join(f"{i.name} needs {', '.join(i.missing)}" for i in lacking)
        raise UsageError(needs, pip_line(*(i.extra for i in lacking)))


def closest(name: str, known: list[str], n: int = 3) -> list[str]:
    """Up to N known names like NAME: those containing it (any case), then difflib's."""
    folded = {k.lower(): k for k in known}
    query = name.lower()
    hits = [k for k in known if query and query in k.lower()]
    hits += [folded[k] for k in difflib.get_close_matches(query, list(folded), n=n, cutoff=0.6)]
    return list(dict.fromkeys(hits))[:n]


# --------------------------------------------------------------------------- requirements


class _Unmet:
    """Unmet requirements of requirement texts, following extras (``neuroconv[ecephys]``,
    ``tifffile[codecs]``) into the requirements they add; memoised for one listing."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[str, ...]] = {}

    def __call__(self, text: str) -> tuple[str, ...]:
        from packaging.requirements import Requirement

        return tuple(dict.fromkeys(self._unmet(Requirement(text), frozenset())))

    def _unmet(self, req: Requirement, seen: frozenset[tuple[str, str]]) -> Iterator[str]:
        from importlib.metadata import PackageNotFoundError, version

        from packaging.utils import canonicalize_name

        name = canonicalize_name(req.name)
        key = f"{name}{req.specifier}"
        if key not in self._done:
            try:
                have = version(req.name)
            except PackageNotFoundError:
                self._done[key] = (f"{req.name}{req.specifier} (not installed)",)
            else:
                ok = not req.specifier or req.specifier.contains(have, prereleases=True)
                self._done[key] = () if ok else (f"{req.name}{req.specifier} (have {have})",)
        yield from self._done[key]
        if self._done[key]:
            return  # not there: what its extras add cannot be there either
        for extra in sorted(canonicalize_name(e) for e in req.extras):
            if (name, extra) in seen:
                continue
            for sub in _extra_requirements(name, extra):
                yield from self._unmet(sub, seen | {(name, extra)})


@cache
def _requirements(distribution: str) -> tuple[tuple[Requirement, str], ...]:
    """DISTRIBUTION's requirements, each with its marker in canonical spelling ('' if none)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        texts = requires(distribution) or ()
    except PackageNotFoundError:
        return ()
    reqs = [Requirement(t) for t in texts]
    return tuple((r, _canonical(str(r.marker)) if r.marker else "") for r in reqs)


@cache
def _extra_requirements(distribution: str, extra: str) -> tuple[Requirement, ...]:
    """The requirements DISTRIBUTION[EXTRA] adds to its own, on this machine (markers)."""
    return tuple(
        r
        for r, marker in _requirements(distribution)
        # the text test only spares evaluating the markers of other extras (40k calls, 0.7 s)
        if extra in marker
        and r.marker is not None
        and r.marker.evaluate({"extra": extra})
        and not r.marker.evaluate({"extra": ""})
    )


def _canonical(text: str) -> str:
    """TEXT with names spelled as packaging compares them (lower case, one '-' for -_.)."""
    return re.sub(r"[-_.]+", "-", text).lower()


# --------------------------------------------------------------------------- the sources


@cache
def _catalog() -> tuple[_Entry, ...]:
    """NeuroConv's interfaces, read from its sources."""
    from importlib.metadata import PackageNotFoundError, metadata
    from importlib.util import find_spec

    from packaging.utils import canonicalize_name

    spec = find_spec(DISTRIBUTION)  # finds the package without importing it
    try:
        provided = metadata(DISTRIBUTION).get_all("Provides-Extra") or []
    except PackageNotFoundError:
        provided = []
    if spec is None or not spec.submodule_search_locations or not provided:
        raise EnvironmentProblem("NeuroConv is not installed", f"pip install {DISTRIBUTION}")
    extras = {canonicalize_name(e) for e in provided}
    root = Path(next(iter(spec.submodule_search_locations)))
    sources = _Sources(root)
    entries = []
    for name, module in _listed(root / "datainterfaces" / "__init__.py"):
        parts = module.split(".")
        display_name, suffixes = sources.attributes(f"datainterfaces.{module}", name)
        entries.append(
            _Entry(
                name=name,
                module=f"{DISTRIBUTION}.datainterfaces.{module}",
                modality=parts[0],
                display_name=display_name,
                associated_suffixes=tuple(suffixes),
                extra=extra_of(name, parts, extras),
            )
        )
    return tuple(sorted(entries, key=lambda e: (e.modality, e.name)))


def extra_of(name: str, parts: list[str], extras: set[str]) -> str | None:
    """The extra of interface NAME in module PARTS (below datainterfaces), given EXTRAS."""
    if name in EXTRA_EXCEPTIONS:
        return EXTRA_EXCEPTIONS[name]
    modality = parts[0]
    candidates = []
    if len(parts) > 2:  # a format folder
        folder = parts[1].replace("_", "-")
        if modality == "fiber_photometry":
            candidates.append(f"{folder}-fp")
        candidates.append(folder)
    candidates.append(modality.replace("_", "-"))
    return next((c for c in candidates if c in extras), None)


def _listed(init: Path) -> list[tuple[str, str]]:
    """(class name, module below datainterfaces) for each class in ``interface_list``."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    modules: dict[str, str] = {}
    listed: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                modules[alias.asname or alias.name] = node.module
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "interface_list" for t in node.targets)
            and isinstance(node.value, ast.List)
        ):
            listed = [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    if not listed:
        raise EnvironmentProblem(
            f"no interface_list in {init}: this NeuroConv is not one anc knows",
            "install neuroconv 0.10 (pip install 'neuroconv>=0.10,<0.11')",
        )
    return [(name, modules[name]) for name in listed if name in modules]


_ATTRIBUTES = ("display_name", "associated_suffixes")
# A class statement at the start of a line; its bases may span lines.
_CLASS = re.compile(r"^class\s+(\w+)\s*(?:\(([^)]*)\))?\s*:", re.M)
# A statement at the start of a line ends the class body (or a docstring line, rarely:
# then an attribute after it is missed, which the tests against the classes notice).
_TOP_LEVEL = re.compile(r"^[^\s#]", re.M)
_ATTRIBUTE = re.compile(r"^    (display_name|associated_suffixes)\s*(?::[^=\n]*)?=(.*)$", re.M)
_FROM_IMPORT = re.compile(r"^from\s+(\.*)([\w.]*)\s+import\s+(\([^)]*\)|[^\n]*)", re.M)
_MAX_STATEMENT_LINES = 30


@dataclass
class _Module:
    """One NeuroConv module's source: its classes (header end, bases) and imported names."""

    text: str
    classes: dict[str, tuple[int, str]]
    imports: dict[str, str]  # name -> module, dotted below neuroconv ('' if not NeuroConv's)


class _Sources:
    """Class attributes read from NeuroConv's modules (dotted names below the package),
    following base classes.

    Only the lines of the two attributes are parsed: parsing the modules whole takes
    0.45 s, reading them a few milliseconds.
    """

    def __init__(self, root: Path) -> None:
        self.root = root  # the neuroconv package folder
        self._modules: dict[str, _Module | None] = {}

    def attributes(self, module: str, cls: str) -> tuple[str | None, tuple[str, ...]]:
        found = self._find(module, cls, set())
        return found.get("display_name"), tuple(found.get("associated_suffixes") or ())

    def _module(self, module: str) -> _Module | None:
        if module not in self._modules:
            path = self.root.joinpath(*module.split("."))
            self._modules[module] = None
            for file, package in ((path.with_suffix(".py"), False), (path / "__init__.py", True)):
                if file.is_file():
                    text = file.read_text(encoding="utf-8")
                    here = module.split(".") if package else module.split(".")[:-1]
                    self._modules[module] = _Module(
                        text,
                        {m.group(1): (m.end(), m.group(2) or "") for m in _CLASS.finditer(text)},
                        _imports(text, here),
                    )
                    break
        return self._modules[module]

    def _find(self, module: str, cls: str, seen: set[tuple[str, str]]) -> dict[str, Any]:
        """The attributes CLS defines or inherits (first base first), as far as read."""
        source = self._module(module)
        if source is None or (module, cls) in seen:
            return {}
        seen.add((module, cls))
        if cls not in source.classes:  # imported here from elsewhere
            where = source.imports.get(cls)
            return self._find(where, cls, seen) if where else {}
        start, bases = source.classes[cls]
        end = _TOP_LEVEL.search(source.text, start)
        body = source.text[start : end.start() if end else len(source.text)]
        found: dict[str, Any] = {}
        for match in _ATTRIBUTE.finditer(body):
            value = _statement_value(body, match)
            if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
                # `associated_suffixes = OtherInterface.associated_suffixes`
                other = self._find(module, value.value.id, seen)
                if value.attr in other:
                    found[match.group(1)] = other[value.attr]
                continue
            try:
                found[match.group(1)] = ast.literal_eval(value) if value is not None else None
            except ValueError:
                continue  # not a literal: the tests against the imported classes notice
        for base in bases.split(","):
            base = base.strip()
            if all(a in found for a in _ATTRIBUTES):
                break
            if base.isidentifier():
                found = {**self._find(module, base, seen), **found}
        return found


def _statement_value(body: str, match: re.Match[str]) -> ast.expr | None:
    """The expression assigned where MATCH starts, read over as many lines as it spans."""
    lines = [match.group(2)]
    rest = body[match.end() :].splitlines()[1:]
    for more in [None, *rest[:_MAX_STATEMENT_LINES]]:
        if more is not None:
            lines.append(more)
        try:
            tree = ast.parse("\n".join(lines).strip(), mode="eval")
        except SyntaxError:
            continue
        return tree.body
    return None


def _imports(text: str, package: list[str]) -> dict[str, str]:
    """Names TEXT imports with ``from X import``: name -> module dotted below neuroconv
    ('' for another package's); PACKAGE is what its relative imports start from."""
    names: dict[str, str] = {}
    for match in _FROM_IMPORT.finditer(text):
        dots = len(match.group(1))
        target = [p for p in match.group(2).split(".") if p]
        if dots:
            up = dots - 1
            where = ".".join([*package[: len(package) - up], *target]) if up <= len(package) else ""
        else:
            where = ".".join(target[1:]) if target[:1] == [DISTRIBUTION] else ""
        for item in match.group(3).strip("()").split(","):
            item = item.split("#")[0].split()
            if item:
                names[item[-1]] = where  # `A as B` binds B
    return names

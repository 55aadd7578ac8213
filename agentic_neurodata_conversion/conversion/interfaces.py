"""Every NeuroConv data interface an agent or a user can choose, with the extra it needs.

The extra comes from the installed NeuroConv's own metadata (``Provides-Extra``, and the
``Requires-Dist`` entries marked ``extra == "<name>"``): an interface's module folder names
its extra (``ecephys/spikeglx`` -> ``spikeglx``, ``events/csv_events`` -> ``csv-events``,
``fiber_photometry/doric`` -> ``doric-fp``), else its modality's (``icephys``, ``image``).
It is installed when every requirement of that extra (and of the extras it names) is.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata
from typing import Any

from ..errors import UsageError

DISTRIBUTION = "neuroconv"


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    name: str  # as in neuroconv.datainterfaces
    modality: str  # ecephys, ophys, behavior, ...
    display_name: str
    suffixes: tuple[str, ...]
    extra: str | None  # neuroconv[<extra>]
    installed: bool
    missing: tuple[str, ...]  # requirements not met

    @property
    def pip(self) -> str:
        return f'pip install "neuroconv[{self.extra}]"' if self.extra else "pip install neuroconv"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "suffixes": list(self.suffixes), "pip": self.pip}


@cache
def _extras() -> dict[str, list[Any]]:
    """{extra: its requirements} of the installed NeuroConv."""
    from packaging.requirements import Requirement

    dist = metadata.distribution(DISTRIBUTION)
    extras = {name: [] for name in dist.metadata.get_all("Provides-Extra") or []}
    for line in dist.requires or []:
        requirement = Requirement(line)
        if requirement.marker is None:
            continue
        for name, listed in extras.items():
            if requirement.marker.evaluate({"extra": name}):
                listed.append(requirement)
    return extras


def _unmet(extra: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """The requirements of EXTRA (and of the NeuroConv extras it names) not installed."""
    from packaging.utils import canonicalize_name

    unmet: list[str] = []
    for requirement in _extras().get(extra, []):
        if canonicalize_name(requirement.name) == DISTRIBUTION:
            for inner in sorted(requirement.extras - seen):
                unmet += _unmet(inner, seen | {extra})
            continue
        try:
            found = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(str(requirement).split(";")[0].strip())
            continue
        if requirement.specifier and not requirement.specifier.contains(found, prereleases=True):
            unmet.append(f"{str(requirement).split(';')[0].strip()} (installed {found})")
    return unmet


def _extra_of(module: str) -> tuple[str, str | None]:
    """(modality, extra) of an interface from its module path."""
    parts = module.split(".")  # neuroconv.datainterfaces.<modality>[.<folder>].<module>
    modality = parts[2]
    folder = parts[3] if len(parts) >= 5 else modality
    extras = _extras()
    dashed = folder.replace("_", "-")
    for candidate in (
        folder,
        dashed,
        dashed.removesuffix("-events") if modality == "events" else None,
        f"{dashed}-fp" if modality == "fiber_photometry" else None,
        modality.replace("_", "-"),
    ):
        if candidate and candidate in extras:
            return modality, candidate
    return modality, None


@cache
def list_interfaces() -> tuple[InterfaceInfo, ...]:
    """Every interface of ``neuroconv.datainterfaces`` (read once per process)."""
    from neuroconv.datainterfaces import interface_list

    infos = []
    for cls in interface_list:
        modality, extra = _extra_of(cls.__module__)
        missing = tuple(_unmet(extra)) if extra else ()
        infos.append(
            InterfaceInfo(
                name=cls.__name__,
                modality=modality,
                display_name=getattr(cls, "display_name", None) or cls.__name__,
                suffixes=tuple(getattr(cls, "associated_suffixes", ()) or ()),
                extra=extra,
                installed=not missing,
                missing=missing,
            )
        )
    return tuple(sorted(infos, key=lambda i: (i.modality, i.name)))


def require_installed(interface_names: Iterable[str]) -> None:
    """Refuse (one line) a name that is no NeuroConv interface, suggesting the closest, or
    one whose extra is not installed, with the pip line that brings it."""
    known = {i.name: i for i in list_interfaces()}
    for name in interface_names:
        info = known.get(name)
        if info is None:
            close = difflib.get_close_matches(name, known, n=3)
            raise UsageError(
                f"{name} is not a NeuroConv interface",
                f"did you mean {', '.join(close)}?" if close else "see `anc interfaces`",
            )
        if not info.installed:
            raise UsageError(
                f"{name} needs neuroconv[{info.extra}], not installed here "
                f"(missing {', '.join(info.missing[:3])})",
                info.pip,
            )

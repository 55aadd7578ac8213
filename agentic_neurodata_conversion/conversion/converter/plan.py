"""What a converter conversion runs: the class, its interfaces' arguments, the user's metadata."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..metadata import MetadataLayer

# Where the spec or the user's modules are copied, under scripts/.
CODE_DIR = "code"


def is_path_key(key: str) -> bool:
    """NeuroConv's path arguments: ``file_path``, ``folder_path``, ``file_paths``,
    ``xml_file_path``, ..."""
    return key.endswith(("_path", "_paths"))


def resolve_paths(arguments: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """ARGUMENTS with every relative path argument made absolute against BASE."""

    def absolute(value: Any) -> Any:
        if isinstance(value, str | os.PathLike):
            path = Path(value).expanduser()
            return str(path if path.is_absolute() else (base / path).absolute())
        return value

    resolved: dict[str, Any] = {}
    for key, value in arguments.items():
        if is_path_key(key) and isinstance(value, list | tuple):
            resolved[key] = [absolute(v) for v in value]
        elif is_path_key(key) and value is not None:
            resolved[key] = absolute(value)
        else:
            resolved[key] = value
    return resolved


def source_paths(source_data: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Path]]:
    """(interface.argument, path) of every path argument, in order."""
    found: list[tuple[str, Path]] = []
    for interface, arguments in source_data.items():
        for key, value in arguments.items():
            if not is_path_key(key) or value is None:
                continue
            for one in value if isinstance(value, list | tuple) else [value]:
                found.append((f"{interface}.{key}", Path(one)))
    return found


@dataclass
class ConverterPlan:
    """One conversion of a NeuroConv converter (a spec's session or a user's class)."""

    kind: Literal["spec", "module"]
    name: str  # the conversion id's stem: the session, or the class
    converter_class: type
    source_data: dict[str, dict[str, Any]]  # paths absolute
    conversion_options: dict[str, dict[str, Any]]
    layers: list[MetadataLayer]
    # Files copied into scripts/: their path there -> where they are now.
    files: dict[str, Path] = field(default_factory=dict)
    # What the script needs to rebuild the converter class (see script.py).
    build: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # one line for the script's docstring and the journal
    user_file: str | None = None  # where the user's metadata lives (for hints)

    def inputs(self) -> list[Path]:
        """The source files and folders, those inside another one left out."""
        paths = list(dict.fromkeys(p for _, p in source_paths(self.source_data)))
        return [p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths)]

    def missing_inputs(self) -> list[str]:
        return [
            f"{arg} = {path}" for arg, path in source_paths(self.source_data) if not path.exists()
        ]

    def interface_names(self) -> dict[str, str]:
        """{interface key: class name}."""
        return {
            key: cls.__name__ for key, cls in self.converter_class.data_interface_classes.items()
        }

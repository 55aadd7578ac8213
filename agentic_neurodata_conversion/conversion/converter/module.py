"""A user's own ``NWBConverter`` subclass as a plan: its module, and the modules of its own
package that module imports, are copied into ``scripts/code/`` so the generated script
imports exactly that code, on any machine, under ``datalad rerun`` and ``anc verify``."""

from __future__ import annotations

import ast
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...names import slug
from ..metadata import MetadataLayer
from .plan import CODE_DIR, ConverterPlan, resolve_paths


def _check_class(cls: Any) -> None:
    from neuroconv import NWBConverter

    if not (isinstance(cls, type) and issubclass(cls, NWBConverter)):
        shown = cls.__name__ if isinstance(cls, type) else repr(cls)[:60]
        raise UsageError(
            f"{shown} is not a NeuroConv NWBConverter subclass",
            "pass the class (not an instance) of a converter: class MyConverter(NWBConverter)",
        )
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise UsageError(
            f"{cls.__name__} is defined in the running script, not in a module it imports",
            "move the class into a module (e.g. mylab_conversion.py) and import it from there",
        )


def _module_file(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imported(file: Path, module: str) -> set[str]:
    """Names of the modules FILE (the module MODULE) imports, relative ones made absolute."""
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            names |= {f"{target}.{alias.name}" for alias in node.names}  # submodules
    return {n for n in names if n}


def module_files(cls: type) -> dict[str, Path]:
    """{path under the copy root: file} of the class's module, the ``__init__.py`` of each
    package above it, and every module of the same top-level package it imports, in turn."""
    module = cls.__module__
    top = module.split(".")[0]
    first = _module_file(module)
    if first is None:
        raise UsageError(
            f"the module {module} of {cls.__name__} is not a .py file",
            "define the converter in a Python source file",
        )
    depth = module.count(".") + (1 if first.name == "__init__.py" else 0)
    root = first.parents[depth]
    files: dict[str, Path] = {}
    todo = [module]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] != top:
            continue
        seen.add(name)
        try:
            file = _module_file(name)
        except (ImportError, ValueError):
            file = None
        if file is None or not file.is_relative_to(root):
            continue
        files[file.relative_to(root).as_posix()] = file
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # its packages
        todo += sorted(_imported(file, name))
    return files


def _layer(metadata: Mapping[str, Any] | str | Path | None) -> list[MetadataLayer]:
    if metadata is None:
        return []
    if isinstance(metadata, Mapping):
        return [MetadataLayer(dict(metadata), "track_conversion(metadata=...)")]
    path = Path(metadata).absolute()
    if not path.is_file():
        raise UsageError(f"no metadata file {path}", "give a YAML or JSON file, or a dict")
    import yaml

    try:
        values = (
            json.loads(path.read_text())
            if path.suffix == ".json"
            else yaml.safe_load(path.read_text())
        )
    except (ValueError, yaml.YAMLError) as exc:
        raise UsageError(
            f"{path}: not valid YAML/JSON: {str(exc).splitlines()[0]}", "fix it"
        ) from None
    if not isinstance(values, Mapping):
        raise UsageError(f"{path}: metadata is a mapping (NWBFile:, Subject:, ...)", "fix it")
    return [MetadataLayer(values, str(path))]


def plan_converter(
    cls: type,
    source_data: Mapping[str, Mapping[str, Any]],
    *,
    metadata: Mapping[str, Any] | str | Path | None = None,
    conversion_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> ConverterPlan:
    """The plan of the user's converter CLS on SOURCE_DATA (relative paths: from here)."""
    _check_class(cls)
    known = set(cls.data_interface_classes)
    for key in [*source_data, *(conversion_options or {})]:
        if key not in known:
            raise UsageError(
                f"{cls.__name__} has no interface {key!r}",
                f"its interfaces: {', '.join(sorted(known))}",
            )
    files = {f"{CODE_DIR}/{rel}": path for rel, path in module_files(cls).items()}
    here = Path.cwd()
    return ConverterPlan(
        kind="module",
        name=slug(cls.__name__),
        converter_class=cls,
        source_data={k: resolve_paths(v, here) for k, v in source_data.items()},
        conversion_options={k: dict(v) for k, v in (conversion_options or {}).items()},
        layers=_layer(metadata),
        files=files,
        build={
            "kind": "module",
            "path": CODE_DIR,
            "module": cls.__module__,
            "class": cls.__qualname__,
        },
        description=f"{cls.__qualname__} of the module {cls.__module__}",
        user_file=str(metadata) if isinstance(metadata, str | Path) else None,
    )

"""Monitoring policies in one settings file (TOML or YAML); unknown keys and wrong types fail.

The file is ``anc.toml`` in the analysed folder (for the MCP server: its output folder)
unless one is named explicitly. Every key is optional; the defaults are shown here::

    [thresholds]
    slow_operation_s = 30.0     # an operation or stage slower than this raises an alert
    min_free_disk_gb = 5.0      # less free disk than this under the folder raises an alert
    max_memory_percent = 90.0   # system memory use above this (now or sampled) raises an alert
    fsck_failures = 0           # more failed `git annex fsck` checks than this raises an alert
    # stale_lock_s: deprecated 2026-12-01 and ignored: a git lock is stale when no live
    # process holds it (datalad_layer/locks.py), whatever its age

    [resources]                 # admission of conversion runs (the MCP server's run_conversion)
    max_concurrent_conversions = 2
    memory_reserve_gb = 1.0     # memory that must stay available after a conversion starts
    conversion_memory_gb = 0.5  # what one run is expected to take (peak of a 64-channel run: 0.34)
    wait_s = 600.0              # how long a run waits for a slot and memory before it is refused

    [cache]                     # readings of recordings (detection, metadata) in the MCP server
    ttl_s = 3600.0
    max_entries = 1024

    [sampler]
    interval_s = 1.0
    max_snapshots = 600         # kept per conversion; older ones are thinned evenly
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import UsageError

DEFAULT_FILE = "anc.toml"


class _Section(BaseModel):
    # strict: "30" is not a number and 1.5 is not an integer; ints are accepted for floats.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Thresholds(_Section):
    slow_operation_s: float = Field(30.0, gt=0)
    min_free_disk_gb: float = Field(5.0, ge=0)
    max_memory_percent: float = Field(90.0, gt=0, le=100)
    fsck_failures: int = Field(0, ge=0)
    stale_lock_s: float | None = Field(None, ge=0)  # deprecated 2026-12-01, ignored

    @model_validator(mode="after")
    def _deprecated(self) -> Thresholds:
        if self.stale_lock_s is not None:
            warnings.warn(
                "thresholds.stale_lock_s is ignored since 2026-12-01: a git lock is stale "
                "when no live process holds it; remove the key",
                DeprecationWarning,
                stacklevel=2,
            )
        return self


class ResourcePolicy(_Section):
    max_concurrent_conversions: int = Field(2, ge=1)
    memory_reserve_gb: float = Field(1.0, ge=0)
    conversion_memory_gb: float = Field(0.5, ge=0)
    wait_s: float = Field(600.0, ge=0)


class CacheSettings(_Section):
    ttl_s: float = Field(3600.0, gt=0)
    max_entries: int = Field(1024, ge=1)


class SamplerSettings(_Section):
    interval_s: float = Field(1.0, gt=0)
    max_snapshots: int = Field(600, ge=2)


class Settings(_Section):
    thresholds: Thresholds = Thresholds()
    resources: ResourcePolicy = ResourcePolicy()
    cache: CacheSettings = CacheSettings()
    sampler: SamplerSettings = SamplerSettings()


def _parse(path: Path) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as fh:
                return tomllib.load(fh)
        if suffix in (".yaml", ".yml"):
            import yaml

            with path.open(encoding="utf-8") as fh:
                return yaml.safe_load(fh) or {}
    except OSError as exc:
        raise UsageError(
            f"cannot read settings file {path}: {exc.strerror or exc}",
            "check the path and its permissions",
        ) from exc
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise UsageError(
            f"settings file {path} is not valid {suffix[1:].upper()}: {exc}", "fix its syntax"
        ) from exc
    raise UsageError(f"settings file {path} has an unknown type", "use a .toml or .yaml file")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key}")
        else:
            parts.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def settings_from_dict(data: Any, source: str = "settings") -> Settings:
    """Validate DATA (the parsed file); errors name each offending key."""
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a table of sections", "see monitoring/settings.py")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise UsageError(
            f"{source}: {_describe(exc)}", "see the keys and types in monitoring/settings.py"
        ) from exc


def load_settings(path: str | Path | None = None, base_dir: str | Path | None = None) -> Settings:
    """Read PATH, else BASE_DIR/anc.toml when it exists, else return the defaults."""
    if path is None:
        if base_dir is None or not (Path(base_dir) / DEFAULT_FILE).is_file():
            return Settings()
        path = Path(base_dir) / DEFAULT_FILE
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"settings file {path} does not exist", "check the --settings path")
    return settings_from_dict(_parse(path), f"settings file {path}")

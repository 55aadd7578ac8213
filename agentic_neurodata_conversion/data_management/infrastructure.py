"""Set up the development data infrastructure from a list of suggested datasets.

The list (``possible-datasets.yaml``; the package ships one) names each dataset's source,
target path, description and the parts worth fetching. Each is installed as a subdataset
without content; sources that cannot be reached are skipped and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from ..datalad_layer.integrity import list_subdatasets
from ..errors import AncError, UsageError
from .repository import DataLadRepositoryManager, InitResult
from .test_datasets import get_content, install_subdataset, validate_dataset_name

SPEC_NAME = "possible-datasets.yaml"
# The spec entry holding GIN's ephy_testing_data, whose `get` parts the test suite reads.
TEST_DATA_ENTRY = "ephy-testing-data"


def default_spec() -> Path:
    """The list of suggested datasets shipped with the package."""
    return Path(str(resources.files("agentic_neurodata_conversion") / "data" / SPEC_NAME))


def _relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ValueError("must be a relative path without '..'")
    return path.as_posix()


@cache
def _models() -> tuple[type, type]:
    """The pydantic models, built on first use (pydantic costs ~0.1 s to import)."""
    from pydantic import BaseModel, ConfigDict, field_validator, model_validator

    class DatasetEntry(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str
        source: str
        path: str
        description: str = ""
        get: list[str] = []

        @field_validator("name")
        @classmethod
        def _name(cls, value: str) -> str:
            try:
                return validate_dataset_name(value)
            except UsageError as exc:
                raise ValueError(exc.message) from None

        @field_validator("source")
        @classmethod
        def _source(cls, value: str) -> str:
            if not value.strip():
                raise ValueError("must not be empty")
            return value.strip()

        @field_validator("path")
        @classmethod
        def _path(cls, value: str) -> str:
            return _relative_path(value)

        @field_validator("get")
        @classmethod
        def _get(cls, value: list[str]) -> list[str]:
            return [_relative_path(v) for v in value]

    class DatasetSpec(BaseModel):
        model_config = ConfigDict(extra="forbid")
        datasets: list[DatasetEntry]

        @model_validator(mode="after")
        def _unique(self) -> DatasetSpec:
            for attr in ("name", "path"):
                seen: set[str] = set()
                for entry in self.datasets:
                    value = getattr(entry, attr)
                    if value in seen:
                        raise ValueError(f"{attr} {value!r} is listed twice")
                    seen.add(value)
            return self

    return DatasetEntry, DatasetSpec


def read_spec(path: str | Path) -> list[Any]:
    """Read and validate a possible-datasets file; UsageError names the bad entry."""
    import yaml
    from pydantic import ValidationError

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"dataset list {path} does not exist", "check the --spec path") from None
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(
            f"{path} is not readable YAML: {' '.join(str(exc).split())}", "fix the file"
        ) from None
    _entry, spec_model = _models()
    try:
        return spec_model.model_validate(data).datasets
    except ValidationError as exc:
        raise UsageError(f"{path}: {_describe(exc, data)}", "fix that entry") from None


def _describe(exc: Any, data: Any) -> str:
    """The first validation error as 'entry N (name): field: message'."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] == "datasets" and isinstance(loc[1], int):
        entries = data.get("datasets") or []
        name = entries[loc[1]].get("name") if isinstance(entries[loc[1]], dict) else None
        where = f"entry {loc[1] + 1}" + (f" ({name})" if name else "")
        field_name = ".".join(str(p) for p in loc[2:]) or "entry"
        return f"{where}: {field_name}: {msg}"
    return f"{'.'.join(map(str, loc)) or 'file'}: {msg}"


@dataclass
class SetupReport:
    """What `setup_development_data_infrastructure` did for each suggested dataset."""

    path: str
    spec: str
    init: InitResult
    installed: list[dict[str, Any]] = field(default_factory=list)
    present: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "spec": self.spec,
            "init": self.init.to_dict(),
            "installed": self.installed,
            "present": self.present,
            "skipped": self.skipped,
        }


def setup_development_data_infrastructure(
    base_path: str | Path = ".", spec: str | Path | None = None
) -> SetupReport:
    """Create or adopt the development dataset and install the suggested datasets."""
    spec_path = Path(spec) if spec is not None else default_spec()
    entries = read_spec(spec_path)
    manager = DataLadRepositoryManager(base_path)
    init = manager.initialize()
    root = manager.base_path
    report = SetupReport(path=str(root), spec=str(spec_path), init=init)
    installed = {s.path: s for s in list_subdatasets(root)}
    for entry in entries:
        item = {
            "name": entry.name,
            "source": entry.source,
            "path": entry.path,
            "get": [f"{entry.path}/{part}" for part in entry.get],
        }
        if entry.path in installed and installed[entry.path].installed:
            report.present.append(item)
            continue
        try:
            install_subdataset(root, entry.source, entry.path)
        except AncError as exc:
            report.skipped.append(item | {"reason": exc.message})
        else:
            report.installed.append(item)
    return report


def install_test_data(
    base_path: str | Path = ".", spec: str | Path | None = None
) -> dict[str, Any]:
    """Install GIN's ephy_testing_data (the spec's `ephy-testing-data` entry) into the
    development dataset at BASE_PATH and fetch its `get` parts: the real recordings the
    tests read. Unlike `setup_development_data_infrastructure`, a failure is raised, not
    skipped; a failed clone leaves no folder behind (`install_subdataset`)."""
    spec_path = Path(spec) if spec is not None else default_spec()
    entry = next((e for e in read_spec(spec_path) if e.name == TEST_DATA_ENTRY), None)
    if entry is None:
        raise UsageError(
            f"{spec_path} has no entry named {TEST_DATA_ENTRY!r}",
            "add it, or leave --spec out to use the packaged list",
        )
    manager = DataLadRepositoryManager(base_path)
    manager.initialize()
    root = manager.base_path
    present = {s.path for s in list_subdatasets(root) if s.installed}
    installed = entry.path not in present
    if installed:
        install_subdataset(root, entry.source, entry.path)
    fetched = [get_content(root, f"{entry.path}/{part}") for part in entry.get]
    return {
        "dataset": str(root),
        "path": str(root / entry.path),
        "source": entry.source,
        "installed": installed,
        "fetched_files": sum(f["fetched_files"] for f in fetched),
        "already_present": sum(f["already_present"] for f in fetched),
        "parts": list(entry.get),
    }


SAMPLE_NAME = "sample-recording"


def write_sample_recording(folder: Path, channels: int = 8, seconds: float = 2.0) -> dict[str, Any]:
    """Write a small synthetic recording (raw int16 .dat plus a channel table); its metadata."""
    import numpy as np

    rate = 30_000
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    signal = 200 * np.sin(2 * np.pi * 8 * t)[:, None] + rng.normal(0, 50, (t.size, channels))
    folder.mkdir(parents=True)
    signal.astype("<i2").tofile(folder / "continuous.dat")
    rows = [f"{i},CH{i},{0.195}" for i in range(channels)]
    (folder / "channels.csv").write_text("index,name,bit_volts\n" + "\n".join(rows) + "\n")
    return {
        "sampling_rate_hz": rate,
        "channels": channels,
        "dtype": "int16",
        "layout": "samples x channels, little-endian",
    }


def demo_development_data(output: str | Path | None = None) -> dict[str, Any]:
    """Create a development dataset (in a new temporary folder unless OUTPUT), add a
    synthetic sample recording once, and return what was done, the listing and a check."""
    import shutil
    import tempfile

    from ..datalad_layer.integrity import check_dataset_integrity
    from .test_datasets import TestDatasetManager

    root = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix="anc-demo-"))
    manager = DataLadRepositoryManager(root)
    init = manager.initialize()
    datasets = TestDatasetManager(manager)
    added = None
    if not (datasets.test_data_path / SAMPLE_NAME).exists():
        scratch = Path(tempfile.mkdtemp(prefix="anc-sample-"))
        try:
            meta = write_sample_recording(scratch / SAMPLE_NAME)
            added = datasets.add_test_dataset(
                SAMPLE_NAME,
                scratch / SAMPLE_NAME,
                "Synthetic 8-channel extracellular recording (2 s at 30 kHz)",
                meta,
            )
        finally:
            shutil.rmtree(scratch)
    return {
        "path": str(manager.base_path),
        "init": init.to_dict(),
        "added": added,
        "datasets": datasets.get_available_datasets(),
        "check": check_dataset_integrity(manager.base_path).to_dict(),
    }

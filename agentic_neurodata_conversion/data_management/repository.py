"""The development data repository: one DataLad dataset with the project's folder layout.

``etl/`` holds input and evaluation data, ``tests/`` test data, ``examples/`` examples; each
folder gets a README. The annex rules keep code and text in git and annex data files
(`annex.DEVELOPMENT_RULES`). Initializing twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..datalad_layer import annex
from ..datalad_layer import dataset as dsops
from ..errors import UsageError

if TYPE_CHECKING:
    from datalad.api import Dataset

TOP_LEVEL = {
    "etl": "Data for extract-transform-load development: inputs, evaluation data, workflows",
    "tests": "Data used by the test suite",
    "examples": "Examples for documentation and demonstrations",
}
STRUCTURE = {
    "etl": {
        "input-data": "Raw input datasets for testing",
        "evaluation-data": "Datasets for evaluation and benchmarking",
        "workflows": "ETL workflow definitions",
        "prompt-input-data": "Data for prompt engineering and testing",
    },
    "tests": {
        "fixtures": "Test data fixtures",
        "integration-tests": "Integration test data",
        "unit-tests": "Unit test data",
    },
    "examples": {
        "conversion-examples": "Example conversion repositories",
        "sample-datasets": "Small sample datasets for documentation",
    },
}
INPUT_DATA = Path("etl") / "input-data"
DESCRIPTION = "Agentic neurodata conversion: development data"


@dataclass
class InitResult:
    """What initializing a development repository did."""

    path: str
    created: bool
    readmes_written: list[str] = field(default_factory=list)
    committed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "created": self.created,
            "readmes_written": self.readmes_written,
            "committed": self.committed,
        }


def readme_text(folder: str, description: str) -> str:
    return f"# {folder}\n\n{description}\n"


def is_development_dataset(path: Path) -> bool:
    """True for the top of a dataset laid out by `DataLadRepositoryManager`."""
    return dsops.is_dataset(path) and (path / INPUT_DATA).is_dir()


def find_development_dataset(start: str | Path = ".") -> Path:
    """The development dataset at START or above it; UsageError when there is none."""
    start = Path(start).absolute()
    for probe in (start, *start.parents):
        if is_development_dataset(probe):
            return probe
    raise UsageError(
        f"{start} is not inside a development dataset",
        "run `anc dev init DIR` first, or pass --dataset DIR",
    )


class DataLadRepositoryManager:
    """Creates or adopts the development dataset at BASE_PATH and lays out its folders."""

    def __init__(self, base_path: str | Path = ".") -> None:
        self.base_path = Path(base_path).absolute()
        self.structure = STRUCTURE

    def initialize(self) -> InitResult:
        """Create (or adopt) the dataset, its annex rules, folders and READMEs."""
        created = not dsops.is_dataset(self.base_path)
        head_before = None if created else head_commit(self.base_path)
        ds = dsops.create_dataset(
            self.base_path,
            DESCRIPTION,
            rules=annex.DEVELOPMENT_RULES,
            refuse_inside_plain_git=True,
        )
        written = self._write_readmes()
        if written:
            dsops.save(
                ds,
                "Lay out the development data folders",
                paths=[self.base_path / p for p in written],
            )
        return InitResult(
            path=str(self.base_path),
            created=created,
            readmes_written=written,
            committed=created or head_commit(self.base_path) != head_before,
        )

    def initialize_development_repository(self) -> Dataset:
        """The seed's name for `initialize`; returns the dataset."""
        self.initialize()
        return dsops.open_dataset(self.base_path)

    def _write_readmes(self) -> list[str]:
        """Create missing folders and READMEs; existing READMEs are never rewritten."""
        written = []
        for top, subs in self.structure.items():
            folders = {top: TOP_LEVEL[top]} | {f"{top}/{sub}": text for sub, text in subs.items()}
            for rel, text in folders.items():
                readme = self.base_path / rel / "README.md"
                readme.parent.mkdir(parents=True, exist_ok=True)
                if not readme.exists() and not readme.is_symlink():
                    readme.write_text(readme_text(rel, text))
                    written.append(f"{rel}/README.md")
        return written


def head_commit(root: Path) -> str:
    """The commit checked out in ROOT (empty before the first commit)."""
    return dsops.git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).decode().strip()

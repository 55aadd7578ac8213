"""The seed's ``DataLadWrapper`` names over the DataLad layer.

Each method does its job or raises a typed error (``UsageError``, ``DataLadError``, ...);
nothing is logged and swallowed. New code can call `dataset` and `integrity` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from . import dataset as dsops
from . import integrity

if TYPE_CHECKING:
    from datalad.api import Dataset


class DataLadWrapper:
    """DataLad operations that raise typed errors instead of returning None or False."""

    def safe_create_dataset(
        self, path: str | Path, description: str = "", force: bool = False
    ) -> Dataset:
        """Create a dataset at PATH, or return the one already there.

        A non-empty folder that is not a dataset is only adopted with FORCE, as in DataLad.
        """
        target = Path(path)
        if not force and not dsops.is_dataset(target) and target.is_dir() and any(target.iterdir()):
            raise UsageError(f"{target} is not empty", "pass force=True to create a dataset in it")
        return dsops.create_dataset(target, description)

    def safe_install_subdataset(
        self, parent_dataset: Dataset, source: str, path: str, recursive: bool = False
    ) -> Dataset:
        """Install SOURCE as a subdataset of PARENT_DATASET at PATH (no content fetched)."""
        return dsops.install_subdataset(parent_dataset, source, path, recursive=recursive)

    def safe_save(
        self,
        dataset: Dataset,
        message: str,
        path: list[str] | None = None,
        recursive: bool = False,
    ) -> bool:
        """Save changes (all, or PATH); True once saved, DataLadError otherwise."""
        dsops.save(dataset, message, paths=path, recursive=recursive)
        return True

    def safe_get(self, dataset: Dataset, path: str | list[str], source: str | None = None) -> bool:
        """Fetch the content of PATH; True once fetched, DataLadError otherwise."""
        dsops.get(dataset, path, source=source)
        return True

    def check_dataset_integrity(
        self, dataset: Dataset | str | Path, full: bool = False
    ) -> dict[str, Any]:
        """The seed's dict (is_valid, issues, warnings, statistics, ...) of an integrity check."""
        return integrity.check_dataset_integrity(dataset, full=full).to_dict()

    def repair_dataset(self, dataset: Dataset | str | Path) -> bool:
        """Repair what is safe; True when nothing remains that it could not fix.

        `integrity.repair_dataset` returns the full report of what was done.
        """
        return integrity.repair_dataset(dataset).ok

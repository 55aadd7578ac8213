"""Asset paths as `dandi organize` names them, by the `dandi` package's own functions.

``dandi.organize.create_unique_filenames_from_metadata`` takes one metadata row per file
(subject and session id, the neurodata types it turns into modalities) and returns its
``dandi_path`` (``sub-<subject>/sub-<subject>_ses-<session>_<modalities>.nwb``). The rows
are built from the conversions' decided fields, so only the neurodata types are read from
the NWB file (once, with dandi's reader).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ..errors import UsageError
from .assets import ConversionAsset
from .offline import offline


def metadata_row(asset: ConversionAsset) -> dict[str, Any]:
    """The row dandi's naming reads for ASSET."""
    from dandi.pynwb_utils import get_neurodata_types

    values = asset.values
    return {
        "path": str(asset.nwb),
        "subject_id": values.get("Subject.subject_id"),
        "session_id": values.get("NWBFile.session_id"),
        # as dandi reads it: without a session id, dandi names the session by its date
        "session_start_time": values.get("NWBFile.session_start_time"),
        "nd_types": get_neurodata_types(asset.nwb),
    }


def dandi_paths(assets: Sequence[ConversionAsset]) -> list[str]:
    """Each asset's path in the dandiset, in ASSETS' order; two conversions that would share
    one path are refused, both named."""
    offline()
    from dandi.exceptions import OrganizeImpossibleError
    from dandi.organize import create_unique_filenames_from_metadata

    rows = [metadata_row(a) for a in assets]
    try:
        named = create_unique_filenames_from_metadata(rows)
    except OrganizeImpossibleError:
        _refuse_collisions(assets, rows)
        raise
    by_path = {r["path"]: r["dandi_path"] for r in named}
    return [by_path[str(a.nwb)] for a in assets]


def _refuse_collisions(assets: Sequence[ConversionAsset], rows: list[dict[str, Any]]) -> None:
    """Name the conversions that map to one path (dandi says only that some do)."""
    from dandi import organize as dorg

    rows = copy.deepcopy(rows)
    dorg._populate_modalities(rows)
    for row in rows:
        row["extension"] = ".nwb"
        for key in ("subject_id", "session_id"):
            if row.get(key):
                row[key] = dorg._sanitize_value(row[key], key)
    dorg._assign_dandi_names(rows)
    groups: dict[str, list[str]] = {}
    for asset, row in zip(assets, rows, strict=True):
        groups.setdefault(row["dandi_path"], []).append(asset.conversion_id)
    clashes = [(path, ids) for path, ids in groups.items() if len(ids) > 1]
    if clashes:
        path, ids = clashes[0]
        more = f" (+{len(clashes) - 1} more paths)" if len(clashes) > 1 else ""
        raise UsageError(
            f"conversions {' and '.join(ids)} both map to the asset path {path}{more}",
            "give each session its own NWBFile.session_id (or subject) with `anc revise "
            "CONVERSION --set NWBFile.session_id=...`, or organise them apart",
        )

"""Per-asset provenance in a dandiset: which conversion made each asset, and how.

``provenance/assets.json`` maps each asset path to its conversion (id, DataLad dataset id,
tag, commit, run commit, annex key, where the conversion lies); ``provenance/<asset>.json``
holds the asset's ``wasGeneratedBy`` activity in the form dandischema's models accept
(checked with ``dandischema.models`` offline) and the conversion's field report (every
field's value, source, confidence level and history).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .. import __version__
from ..errors import UsageError
from .assets import ConversionAsset

FOLDER = "provenance"
INDEX = f"{FOLDER}/assets.json"
TOOL = "agentic-neurodata-conversion"
# Software named in an activity besides this tool, when the run recorded its version.
SOFTWARE = ("neuroconv", "spikeinterface", "pynwb", "hdmf", "datalad", "git-annex", "python")


def record_path(asset_path: str) -> str:
    """Where the provenance of the asset at ASSET_PATH lies in the dandiset."""
    return f"{FOLDER}/{PurePosixPath(asset_path).with_suffix('.json')}"


def activity(asset: ConversionAsset) -> dict[str, Any]:
    """The asset's ``wasGeneratedBy`` activity (a dandischema ``Activity``), as JSON."""
    software = [{"schemaKey": "Software", "name": TOOL, "version": __version__}]
    software += [
        {"schemaKey": "Software", "name": name, "version": str(asset.software[name])}
        for name in SOFTWARE
        if asset.software.get(name)
    ]
    what = f"{asset.recording_format} recording" if asset.recording_format else "recording"
    revised = f", revision {asset.revision}" if asset.revision > 1 else ""
    data: dict[str, Any] = {
        "schemaKey": "Activity",
        "identifier": f"datalad:{asset.dataset_id}:{asset.run_commit or asset.commit}",
        "name": f"Conversion {asset.conversion_id} to NWB{revised}",
        "description": (
            f"The {what} converted to NWB by {TOOL} under `datalad run` (run commit "
            f"{asset.run_commit}) in the DataLad dataset {asset.dataset_id}, tagged {asset.tag}; "
            "re-executable with `anc verify`."
        ),
        "wasAssociatedWith": software,
    }
    if asset.started:
        data["startDate"] = asset.started
    if asset.ended:
        data["endDate"] = asset.ended
    return data


def check_activities(activities: Sequence[Mapping[str, Any]]) -> None:
    """Validate ACTIVITIES as a ``BareAsset.wasGeneratedBy`` (dandischema, offline)."""
    from dandischema.models import BareAsset
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(BareAsset.model_fields["wasGeneratedBy"].annotation)
    try:
        adapter.validate_python(list(activities))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise UsageError(
            f"a wasGeneratedBy activity is not valid for dandischema: {where}: {error['msg']}",
            "report it: the activity is built from the conversion's records",
        ) from None


def asset_entry(asset: ConversionAsset, path: str) -> dict[str, Any]:
    return {
        "conversion_id": asset.conversion_id,
        "dataset_id": asset.dataset_id,
        "dataset_path": str(asset.root),
        "tag": asset.tag,
        "revision": asset.revision,
        "commit": asset.commit,
        "run_commit": asset.run_commit,
        "annex_key": str(asset.key),
        "nwb": asset.nwb.relative_to(asset.root).as_posix(),
        "provenance": record_path(path),
    }


def records(
    assets: Sequence[ConversionAsset], paths: Sequence[str], dandiset_id: str | None
) -> dict[str, str]:
    """{relative file: text} of the provenance folder; each activity is validated first."""
    activities = [activity(a) for a in assets]
    check_activities(activities)
    index = {
        "dandiset_id": dandiset_id,
        "tool": {"name": TOOL, "version": __version__},
        "assets": {p: asset_entry(a, p) for a, p in zip(assets, paths, strict=True)},
    }
    files = {INDEX: _text(index)}
    for asset, path, act in zip(assets, paths, activities, strict=True):
        files[record_path(path)] = _text(
            {
                "path": path,
                "conversion": asset_entry(asset, path),
                "wasGeneratedBy": [act],
                "field_report": asset.field_report,
            }
        )
    return files


def read_index(dandiset: Path) -> dict[str, Any]:
    path = dandiset / INDEX
    if not path.is_file():
        raise UsageError(
            f"{dandiset} has no {INDEX}", "give a dandiset made by `anc dandi organize`"
        )
    return json.loads(path.read_text())


def _text(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n"

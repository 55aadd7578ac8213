"""RO-Crate (Process Run Crate 0.5 on RO-Crate 1.1) describing a conversion dataset.

The conversion is a ``CreateAction``: instrument = this tool (and ``scripts/convert.py``),
object = the inputs, result = the outputs, agent = the people in the journal (or the tool),
start and end time, status. Every file is described with its size and a checksum: sha256 for
files in git (hashed here; they are small), and for annexed files the git-annex key as
``identifier`` plus the sha256 when the key is a SHA256E key (a BLAKE3 key's hash is not a
sha256, and annexed content is never read here).

Files the tracker rewrites after the finalize hooks (``provenance/conversion.json``,
``CONVERSION_SUMMARY.md``) are not described, so the crate stays true after the final commit.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..datalad_layer.keys import key_of_file
from ..journal.chain import JOURNAL_DIR, sealed_segments
from ..provenance.inputs import sha256_file
from .model import ConversionView

TOOL_ID = "https://pypi.org/project/agentic-neurodata-conversion/"
PROCESS_PROFILE = "https://w3id.org/ro/wfrun/process/0.5"
STATUS = {
    "completed": "http://schema.org/CompletedActionStatus",
    "failed": "http://schema.org/FailedActionStatus",
    "cancelled": "http://schema.org/FailedActionStatus",
}
PROVENANCE_FILES = (
    "provenance/conversion_session.json",
    "provenance/pipeline_state.json",
    "reports/provenance_report.html",
)
MEDIA_TYPES = {
    ".nwb": "application/x-hdf5",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".md": "text/markdown",
    ".html": "text/html",
    ".py": "text/x-python",
    ".txt": "text/plain",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}
_SLUG = re.compile(r"[^A-Za-z0-9]+")


def crate_time(text: str | None) -> str | None:
    """ISO 8601 in the form the Process Run Crate profile checks (seconds, +00:00)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def describe_file(root: Path, rel: str) -> dict[str, Any]:
    """Size and checksum of one file of the dataset, without reading annexed content."""
    path = root / rel
    props: dict[str, Any] = {"name": Path(rel).name}
    media = MEDIA_TYPES.get(Path(rel).suffix.lower())
    if media:
        props["encodingFormat"] = media
    key = key_of_file(path)
    if key is not None:
        props["identifier"] = str(key)
        if key.size is not None:
            props["contentSize"] = str(key.size)
        if key.backend.startswith("SHA256"):
            props["sha256"] = key.hash
        return props
    if path.is_file():
        props["contentSize"] = str(path.stat().st_size)
        props["sha256"] = sha256_file(path)
    return props


def _walk(root: Path, rel: str) -> list[str]:
    """Files under REL (a file or folder of the dataset), .git and .gitkeep excluded."""
    path = root / rel
    if not path.is_dir() or path.is_symlink():
        return [rel] if path.is_file() or path.is_symlink() else []
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            if name != ".gitkeep":
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return found


def build_crate(view: ConversionView) -> dict[str, Any]:
    """The RO-Crate JSON-LD of VIEW's conversion (``ro-crate-metadata.json``)."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    root = view.path
    o = view.overview
    crate = ROCrate(version="1.1")
    crate.metadata.extra_terms["sha256"] = "http://schema.org/sha256"
    described: dict[str, Any] = {}

    def add_file(rel: str, extra: dict[str, Any] | None = None) -> Any:
        if rel not in described:
            props = {**describe_file(root, rel), **(extra or {})}
            described[rel] = crate.add_file(dest_path=quote(rel), properties=props)
        return described[rel]

    def add_folder(rel: str, props: dict[str, Any], files: list[str]) -> Any:
        folder = crate.add_dataset(dest_path=quote(rel.rstrip("/")) + "/", properties=props)
        parts = [add_file(f) for f in files]
        if parts:
            folder["hasPart"] = parts
        return folder

    def entity(identifier: str, props: dict[str, Any]) -> Any:
        return crate.add(ContextEntity(crate, identifier, properties=props))

    tool = entity(
        TOOL_ID,
        {
            "@type": "SoftwareApplication",
            "name": o.tool,
            "softwareVersion": o.tool_version or __version__,
            "url": TOOL_ID,
        },
    )
    instruments = [tool]
    if (root / "scripts" / "convert.py").is_file():
        script = add_file("scripts/convert.py", {"@type": ["File", "SoftwareSourceCode"]})
        script["name"] = "convert.py"
        script["programmingLanguage"] = "Python"
        instruments.append(script)

    objects = []
    for inp in view.inputs:
        desc = f"input {inp.name} ({inp.mode}): {inp.reason}".strip()
        if inp.mode == "reference":
            objects.append(add_file(inp.path, {"description": f"{desc}; source {inp.source}"}))
        elif inp.mode == "subdataset":
            top = "/".join(inp.path.split("/")[:2])
            props = {"name": inp.name, "description": desc}
            if inp.dataset_id:
                props["identifier"] = f"datalad:{inp.dataset_id}"
            if inp.dataset_commit:
                props["version"] = inp.dataset_commit
            objects.append(add_folder(top, props, []))
        else:
            objects.append(
                add_folder(inp.path, {"name": inp.name, "description": desc}, _walk(root, inp.path))
            )

    results = []
    for art in view.artifacts:
        if art.artifact_type in ("conversion_script", "input_data"):
            continue
        extra = {"description": art.description} if art.description else {}
        if (root / art.path).is_dir() and not (root / art.path).is_symlink():
            results.append(
                add_folder(art.path, {"name": Path(art.path).name, **extra}, _walk(root, art.path))
            )
        else:
            results.append(add_file(art.path, extra))

    people, others = [], []
    for name, agent in view.agents.items():
        ident = f"#agent-{_SLUG.sub('-', name).strip('-').lower() or 'x'}"
        if agent.kind == "person":
            people.append(entity(ident, {"@type": "Person", "name": name}))
        elif agent.kind in ("ai_model", "mcp_client"):
            others.append(
                entity(
                    ident, {"@type": "SoftwareApplication", "name": name, "description": agent.kind}
                )
            )

    for segment in sealed_segments(root / JOURNAL_DIR):
        add_file(
            segment.relative_to(root).as_posix(), {"description": "provenance journal segment"}
        )
    if (root / JOURNAL_DIR / "HEAD.json").is_file():
        add_file(
            (JOURNAL_DIR / "HEAD.json").as_posix(), {"description": "last sealed journal record"}
        )
    for rel in PROVENANCE_FILES:
        if (root / rel).is_file():
            add_file(rel)

    action_props: dict[str, Any] = {
        "@type": "CreateAction",
        "name": f"Conversion {o.conversion_id} to NWB",
        "description": (
            f"Conversion of {o.source_path or 'a recording'} to NWB by {o.tool}; "
            f"{view.records} provenance records, {len(view.fields)} metadata fields."
        ),
        # A string, as in the profile's examples (its shape compares literals).
        "actionStatus": STATUS.get(o.status, "http://schema.org/ActiveActionStatus"),
    }
    start, end = crate_time(o.start_time), crate_time(o.end_time)
    if start:
        action_props["startTime"] = start
    if end:
        action_props["endTime"] = end
    if o.error and o.status != "completed":
        action_props["error"] = o.error
    action = crate.add_action(
        _one(instruments),
        identifier=f"#conversion-{o.conversion_id}",
        object=_one(objects),
        result=_one(results),
        properties=action_props,
    )
    action["agent"] = _one(people) or tool
    if others:
        action["participant"] = _one(others)

    profile = entity(
        PROCESS_PROFILE,
        {"@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"},
    )
    license_ = entity(
        "#license",
        {
            "@type": "CreativeWork",
            "name": "License not recorded",
            "description": "No license was recorded for this conversion; ask the data owner.",
        },
    )
    rd = crate.root_dataset
    rd["name"] = f"Conversion {o.conversion_id}"
    rd["description"] = (
        f"One conversion to NWB made by {o.tool} {o.tool_version}: inputs, outputs, scripts, "
        "reports and the hash-chained provenance journal of every decision."
    )
    rd["datePublished"] = end or start or crate_time(datetime.now(UTC).isoformat())
    rd["license"] = license_
    rd["conformsTo"] = profile
    rd["mentions"] = action
    if people:
        rd["author"] = _one(people)
    if o.dataset_id:
        rd["identifier"] = f"datalad:{o.dataset_id}"
    return crate.metadata.generate()


def _one(items: list[Any]) -> Any:
    """A single value rather than a singleton list (RO-Crate 1.1 JSON-LD recommendation)."""
    if not items:
        return None
    return items[0] if len(items) == 1 else items


def render_rocrate(view: ConversionView) -> str:
    return json.dumps(build_crate(view), indent=2, ensure_ascii=False) + "\n"

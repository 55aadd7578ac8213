"""Go on with a conversion that stopped before it was finalized, or throw it away.

``resume`` reopens the dataset (the tracker clears stale locks and cuts a torn journal line),
drops what an interrupted stage left half done, and runs the pipeline from the first stage
not completed, with what the user asked for at the start (kept in the pipeline state).
``discard`` deletes a conversion folder this tool made, unless the conversion completed.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import interrupts
from ..datalad_layer.dataset import (
    enclosing_dataset,
    record_subdataset,
    remove_tree,
    untracked_files,
)
from ..datalad_layer.integrity import list_subdatasets
from ..errors import UsageError
from ..names import slug
from ..provenance.layout import CONVERSION_FILE, STATE_FILE, TOOL, read_json
from ..provenance.session import TERMINAL_STATUSES
from .pipeline import ConversionPipeline, ConversionResult, Progress
from .stages import STAGES
from .verify import conversion_root
from .workers import HeavyWorker


def resume(path: str | Path, *, progress: Progress | None = None) -> ConversionResult:
    """Run the stages an interrupted conversion has not completed, then finalize it."""
    root = conversion_root(path)
    status = _status(root)
    if status in TERMINAL_STATUSES:
        raise UsageError(
            f"conversion {root.name} is {status}: there is nothing to resume",
            "start a new conversion with `anc convert`",
        )
    if "command" in (read_json(root / STATE_FILE) or {}):  # made by `anc run`
        raise UsageError(
            f"conversion {root.name} ran a command of its own (`anc run`): a command cut short "
            "cannot be resumed",
            f"run it again with `anc run`, and discard this one with `anc discard {root}`",
        )
    spare = interrupts.current_children()
    with HeavyWorker() as worker:
        pipeline = ConversionPipeline.open(root, progress, worker)
        pipeline.spare_children = spare
        try:
            stage = pipeline.next_stage()
            request = dict(pipeline.state.get("request") or {})
            pipeline.tracker.mark_resumed(stage)
            if stage == "start":
                _restart_input(pipeline, request.get("input_mode", "auto"))
                stage = "detect"
            if STAGES.index(stage) <= STAGES.index("convert"):
                pipeline.remove_partial_outputs()  # a SIGKILL leaves them too
            metadata = request.get("metadata_file")
            if metadata and not Path(metadata).is_file():
                raise UsageError(
                    f"the metadata file {metadata} given at the start is gone",
                    "put it back, or discard this conversion and start again",
                )
            detected = pipeline.state
            return pipeline.run(
                format=detected.get("format") or request.get("format"),
                choose=detected.get("choose") or request.get("choose"),
                metadata_file=metadata,
                from_stage=stage,
            )
        finally:
            pipeline.tracker.close()


def _restart_input(pipeline: ConversionPipeline, mode: str) -> None:
    """The start stage was cut short: remove its leftovers under inputs/ and add the input."""
    source = pipeline.source_folder()
    leftover = [p for p in untracked_files(pipeline.path, "inputs") if not p.endswith(".gitkeep")]
    partial = pipeline.path / "inputs" / slug(source.name)
    if (partial / ".git").exists() and (pipeline.path / ".gitmodules").is_file():
        raise UsageError(
            f"the interrupted start left {partial} half registered",
            f"discard the conversion with `anc discard {pipeline.path}` and convert again",
        )
    for rel in leftover:
        (pipeline.path / rel).unlink(missing_ok=True)
    if partial.is_dir():
        remove_tree(partial)
    try:
        pipeline.add_input(source, mode, checkpoint=False)
    except KeyboardInterrupt:
        pipeline.interrupted("start")


def discard(path: str | Path) -> Path:
    """Delete the conversion folder at PATH; refused for a completed (tagged) conversion."""
    root = conversion_root(path)
    info = json.loads((root / CONVERSION_FILE).read_text())
    if info.get("tool") != TOOL:
        raise UsageError(f"{root} was not made by {TOOL}", "delete it yourself if you mean to")
    if info.get("status") == "completed":
        raise UsageError(
            f"conversion {info.get('conversion_id')} is completed and tagged: discard keeps it",
            "delete the folder yourself if you really mean to",
        )
    superdataset = enclosing_dataset(root.parent)
    registered = superdataset is not None and any(
        superdataset / sub.path == root for sub in list_subdatasets(superdataset)
    )
    remove_tree(root)
    if registered:
        # saving the vanished path removes it from the superdataset's .gitmodules and index
        record_subdataset(superdataset, root, f"[anc] discard conversion {info['conversion_id']}")
    return root


def _status(root: Path) -> str:
    return json.loads((root / CONVERSION_FILE).read_text()).get("status", "started")

"""The stage rules of one conversion: their order, what each needs, and what comes next.

The pipeline applies them; the CLI and the MCP tools only translate them (a stage into a
command or a tool name). The pipeline state (``provenance/pipeline_state.json``) says which
stage completed last (``stage``) and holds what each stage produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UsageError

STAGES = ("start", "detect", "metadata", "script", "convert", "validate", "finalize")
# The state key each stage needs, and the stage that produces it.
NEEDS = {
    "detect": "input",
    "metadata": "format",
    "script": "fields",
    "convert": "script",
    "validate": "nwb",
    "finalize": "validation_passes",
}
PRODUCED_BY = {
    "input": "start",
    "format": "detect",
    "fields": "metadata",
    "script": "script",
    "nwb": "convert",
    "validation_passes": "validate",
}
# State keys the pipeline itself writes; agents may add others, never these.
PIPELINE_KEYS = frozenset(
    {
        "stage",
        "request",
        "input",
        "agent",
        "format",
        "stream",
        "fields",
        "needs_review",
        "metadata_warnings",
        "script",
        "nwb",
        "run_commit",
        "validation_passes",
        "evaluation_passes",
        "validation_counts",
    }
)


class StageOrderError(UsageError):
    """A stage was asked for before the one it needs; ``needed`` names that one."""

    def __init__(self, conversion_id: str, key: str, needed: str, current: str) -> None:
        super().__init__(
            f"conversion {conversion_id} has no {key} yet", f"run the {needed} stage first"
        )
        self.needed, self.current = needed, current


def next_stage(state: Mapping[str, Any]) -> str:
    """The first stage not yet completed."""
    done = state.get("stage")
    if "input" not in state or done not in STAGES:
        return "start"
    return STAGES[min(STAGES.index(done) + 1, len(STAGES) - 1)]


def require(state: Mapping[str, Any], stage: str, conversion_id: str) -> Any:
    """What STAGE needs from the state; StageOrderError names the stage to run first."""
    key = NEEDS[stage]
    if key not in state:
        raise StageOrderError(conversion_id, key, PRODUCED_BY[key], state.get("stage", "start"))
    return state[key]

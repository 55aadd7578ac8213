"""The conversion subprocess of a batch task: reads a ``SessionTask`` as JSON on stdin,
converts, and prints its outcome as the last line of stdout (``{"status": ...}``).

A failure of the conversion is an outcome, not a crash: the error's one line is returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import AncError
from .task import SessionTask


def convert(task: SessionTask) -> dict[str, Any]:
    from ..conversion.workers import quiet_readers

    quiet_readers()
    if task.spec is not None:
        from ..conversion.converter import convert_spec

        (result,) = convert_spec(
            task.spec,
            task.lab,
            session=task.spec_session,
            conversion_id=task.conversion_id,
            standalone=True,
        )
    else:
        from ..conversion import metadata as md
        from ..conversion.pipeline import convert as convert_recording

        result = convert_recording(
            task.source,  # type: ignore[arg-type]
            task.lab,
            metadata_file=task.metadata_file,
            conversion_id=task.conversion_id,
            from_path=md.path_decisions(task.path_metadata, task.evidence),
            standalone=True,
        )
    if result.status != "completed":
        return {"status": "failed", "error": result.reason or f"conversion {result.status}"}
    if task.ria_url is not None:
        from ..datalad_layer.ria import publish

        publish(Path(result.path), task.ria_url)
    return {"status": "completed", "tag": result.tag}


def main() -> int:
    task = SessionTask(**json.loads(sys.stdin.read()))
    try:
        outcome = convert(task)
    except AncError as exc:
        outcome = {"status": "failed", "error": str(exc)}
    except Exception as exc:  # a reader's own error: one line for the batch record
        outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    sys.stdout.write("\n" + json.dumps(outcome) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The two ways in for conversions users already have: a YAML spec, or their own converter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..pipeline import ConversionResult
from . import module, run, spec

Progress = Callable[[str, str], None]
DEFAULT_OUTPUT = "conversions"


def convert_spec(
    spec_file: str | Path,
    output_dir: str | Path = DEFAULT_OUTPUT,
    *,
    session: str | None = None,
    data_folder: str | Path | None = None,
    progress: Progress | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_result: Callable[[ConversionResult], None] | None = None,
    requested_by: str | None = None,
    conversion_id: str | None = None,
    standalone: bool = False,
) -> list[ConversionResult]:
    """One tracked conversion per session of the NeuroConv YAML spec (or the one named
    SESSION). Every session is read and checked before the first dataset is created; a
    session that then fails is recorded as failed and the others still run (its error is
    in its result's ``reason``). CONVERSION_ID names the conversion of SESSION; STANDALONE:
    a batch collector registers the conversions in their superdataset."""
    from ...errors import AncError, Interrupted, UsageError

    if conversion_id is not None and session is None:
        raise UsageError("a conversion id names one session", "give the session too")
    loaded = spec.load_spec(spec_file, data_folder)
    for warning in loaded.warnings if on_warning else ():
        on_warning(warning)  # type: ignore[misc]
    chosen = spec.select(loaded, session)
    prepared = [
        run.prepare(spec.plan_session(loaded, s), output_dir, conversion_id) for s in chosen
    ]
    results = []
    for one in prepared:
        for warning in one.check.warnings if on_warning else ():
            on_warning(f"{one.plan.name}: {warning}")  # type: ignore[misc]
        try:
            result = run.execute(one, progress, requested_by, standalone=standalone)
        except Interrupted:
            raise
        except AncError as exc:  # recorded in its dataset; the other sessions go on
            result = run.failed_result(one, exc)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def track_conversion(
    converter: type,
    source_data: Mapping[str, Mapping[str, Any]],
    *,
    metadata: Mapping[str, Any] | str | Path | None = None,
    conversion_options: Mapping[str, Mapping[str, Any]] | None = None,
    output: str | Path = DEFAULT_OUTPUT,
    conversion_id: str | None = None,
    progress: Progress | None = None,
) -> ConversionResult:
    """Run the user's ``NWBConverter`` subclass CONVERTER as a tracked conversion under
    OUTPUT: its module (and the modules of its package it imports) copied into
    ``scripts/code/``, every interface's metadata recorded field by field, METADATA (a dict
    or a YAML/JSON file) recorded as the user's, the NWB validated and read back per
    interface. Raises on a refusal (nothing created) or a failure (recorded, finalized)."""
    plan = module.plan_converter(
        converter, source_data, metadata=metadata, conversion_options=conversion_options
    )
    return run.execute(run.prepare(plan, output, conversion_id), progress)

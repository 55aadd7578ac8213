"""A ``ConverterPlan`` as a tracked conversion, from the metadata check to the tag.

check (before anything is created) -> dataset + inputs by reference -> decided fields
-> scripts/ (copied spec or modules, convert.py, metadata.json) -> datalad run
-> validation + read-back per interface -> finalize (tag when both pass)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import interrupts
from ...errors import AncError, ConversionError, Interrupted, UsageError
from ...journal.records import ConfidenceLevel, ProvenanceSource
from ...names import check_name, slug
from ...provenance.layout import conversion_folder
from ...provenance.tracker import ConversionProvenanceTracker
from .. import metadata as md
from ..formats import first_line
from ..pipeline import (
    SCRIPT,
    ConversionPipeline,
    ConversionResult,
    check_locations,
    load_report_writers,
    remove_unfinished,
)
from .plan import ConverterPlan

AGENT = "converter_pipeline"
Progress = Callable[[str, str], None]


def build_converter(plan: ConverterPlan) -> Any:
    """The converter on the plan's sources; a reader's error is one line naming the class."""
    cls = plan.converter_class
    try:
        return cls(source_data=plan.source_data)
    except Exception as exc:  # readers raise anything; the message is what the user needs
        raise ConversionError(
            f"{cls.__name__} could not read its sources: {first_line(exc)}",
            "check each interface's source_data (paths, extra arguments)",
        ) from exc


def check_options(plan: ConverterPlan, converter: Any) -> None:
    """Each interface's conversion options against its schema, as ``run_conversion`` checks
    them first: refused here, naming the interface and the options it takes."""
    schema = converter.get_conversion_options_schema().get("properties", {})
    for key, options in plan.conversion_options.items():
        allowed = schema.get(key, {}).get("properties", {})
        unknown = [name for name in options if name not in allowed]
        if unknown:
            cls = type(converter.data_interface_objects[key]).__name__
            raise UsageError(
                f"{plan.description}: conversion option {unknown[0]!r} is not one of "
                f"{cls}'s (interface {key})",
                f"{cls} takes: {', '.join(allowed) or 'none'}; set options per interface "
                "(a spec's top-level conversion_options apply to every interface)",
            )
    try:
        converter.validate_conversion_options(plan.conversion_options)
    except Exception as exc:  # jsonschema's ValidationError: the first line names the problem
        raise UsageError(
            f"{plan.description}: conversion_options: {first_line(exc)}",
            "give each option the type its interface's schema asks for",
        ) from None


def _keywords(plan: ConverterPlan) -> list[str]:
    return [name.removesuffix("Interface") for name in plan.interface_names().values()]


def _decide(
    plan: ConverterPlan, extracted: list[md.FieldDecision], context: md.ConversionContext
) -> list[md.FieldDecision]:
    return md.decide_converter_fields(
        extracted, plan.layers, context, plan.converter_class.__name__, _keywords(plan)
    )


def _context(conversion_id: str, dataset_id: str, created: dt.datetime) -> md.ConversionContext:
    return md.ConversionContext(
        conversion_id=conversion_id,
        dataset_id=dataset_id,
        created=created,
        output=f"outputs/{conversion_id}.nwb",
        script=SCRIPT,
    )


def _input_names(paths: list[Path]) -> list[str]:
    names: list[str] = []
    for path in paths:
        base = slug(path.name) or "input"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_plan(plan: ConverterPlan, output_dir: Path, conversion_id: str) -> None:
    """What is refused before the converter is even built."""
    missing = plan.missing_inputs()
    if missing:
        raise UsageError(
            f"{plan.description}: source {missing[0]} does not exist",
            "fix the path (a spec's relative paths are from its data folder)",
        )
    for path in plan.inputs():
        check_locations(path, output_dir)
    check_name(conversion_id, "conversion id")
    target = conversion_folder(output_dir, conversion_id)
    if target.exists():
        raise UsageError(f"{target} exists already", "choose another --id or output folder")


@dataclass
class Prepared:
    """A plan read and checked, nothing created yet: what ``execute`` needs."""

    plan: ConverterPlan
    output: Path
    conversion_id: str
    converter: Any
    extracted: list[md.FieldDecision]
    check: Any  # metadata_check.MetadataCheck
    created: dt.datetime
    generated_by: bool


def prepare(
    plan: ConverterPlan, output_dir: str | Path, conversion_id: str | None = None
) -> Prepared:
    """Refuse what would fail (missing sources, a reader error, metadata NeuroConv, pynwb or
    DANDI's rules refuse) before anything is created."""
    from ..metadata_check import check_metadata

    output = Path(output_dir).absolute()
    conversion_id = conversion_id or f"{plan.name}-{uuid.uuid4().hex[:8]}"
    check_plan(plan, output, conversion_id)
    converter = build_converter(plan)
    check_options(plan, converter)
    extracted = md.extract_converter_metadata(converter)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    generated_by = md.supports_was_generated_by()
    provisional = dataclasses.replace(
        _context(conversion_id, "(not created yet)", created),
        was_generated_by_supported=generated_by,
    )
    check = check_metadata(
        _decide(plan, extracted, provisional), converter, user_file=plan.user_file
    )
    return Prepared(plan, output, conversion_id, converter, extracted, check, created, generated_by)


def execute(
    prepared: Prepared,
    progress: Progress | None = None,
    requested_by: str | None = None,
    *,
    standalone: bool = False,
) -> ConversionResult:
    """Create the conversion dataset of a prepared plan and run it to its end; a failure is
    recorded and finalized as failed, then raised. REQUESTED_BY names who asked (an MCP
    client), recorded with the plan; STANDALONE: a batch collector registers it."""
    say = progress or (lambda stage, message: None)
    plan, output, conversion_id = prepared.plan, prepared.output, prepared.conversion_id
    extracted, check, created = prepared.extracted, prepared.check, prepared.created
    generated_by, converter = prepared.generated_by, prepared.converter
    made_output = not output.exists()
    target = conversion_folder(output, conversion_id)
    inputs = plan.inputs()
    try:
        tracker = ConversionProvenanceTracker(
            conversion_id,
            output,
            source_path=inputs[0] if inputs else None,
            checkpoint=False,
            standalone=standalone,
        )
    except BaseException:
        with interrupts.shielded():
            remove_unfinished(target, False)
            if made_output and output.is_dir() and not any(output.iterdir()):
                output.rmdir()
        raise
    say("start", f"conversion {conversion_id} in {tracker.path}")
    stage = "start"
    try:
        stage = "start"
        _record_plan(tracker, plan, requested_by)
        manifests = [
            tracker.add_input(path, mode="reference", name=name, commit=False).path
            for path, name in zip(inputs, _input_names(inputs), strict=True)
        ]
        context = dataclasses.replace(
            _context(conversion_id, tracker.dataset.id, created),
            was_generated_by_supported=generated_by,
        )
        stage = "metadata"
        decisions = _decide(plan, extracted, context)
        tracker.append_many(d.to_record(agent=AGENT) for d in decisions)
        _record_check(tracker, check, len(decisions))
        stage = "script"
        copied = _write_scripts(tracker, plan, decisions, context)
        review = [d.field for d in decisions if d.needs_review]
        tracker.update_pipeline_state(
            {
                "stage": "script",
                "format": f"converter:{plan.kind}",
                "script": SCRIPT,
                "fields": len(decisions),
                "needs_review": review,
                "metadata_warnings": list(check.warnings),
            }
        )
        tracker.checkpoint(
            f"conversion script written ({len(decisions)} metadata fields, "
            f"{len(review)} need review)"
        )
        stage = "convert"
        say("convert", "converting to NWB (datalad run)")
        nwb = _run(tracker, conversion_id, context.output, [*manifests, *copied])
        stage = "validate"
        say("validate", "validating (nwbinspector, DANDI) and reading the NWB back")
        validation, evaluation = _validate(tracker, nwb, converter)
        stage = "finalize"
        return _finalize(tracker, decisions, validation.passes, evaluation.passes)
    except KeyboardInterrupt:
        with interrupts.shielded():
            interrupts.end_children(frozenset())
            ConversionPipeline(tracker).fail(Interrupted("interrupted"), stage)
        raise Interrupted(
            f"interrupted during {stage}; the conversion {tracker.path} was finalized as failed: "
            "run it again"
        ) from None
    except BaseException as exc:
        ConversionPipeline(tracker).fail(exc, stage)
        if isinstance(exc, AncError):
            raise
        raise ConversionError(
            f"{stage} failed: {type(exc).__name__}: {exc}",
            f"the conversion was finalized as failed; see {tracker.path / 'CONVERSION_SUMMARY.md'}",
        ) from exc
    finally:
        tracker.close()


def _record_plan(
    tracker: ConversionProvenanceTracker, plan: ConverterPlan, requested_by: str | None
) -> None:
    tracker.record_provenance(
        ProvenanceSource.USER_PROVIDED,
        requested_by or "user",
        "converter_plan",
        {
            "kind": plan.kind,
            "what": plan.description,
            "user_file": plan.user_file,
            "files": {rel: str(path) for rel, path in plan.files.items()},
        },
        {
            "converter": plan.converter_class.__name__,
            "interfaces": plan.interface_names(),
            "source_data": plan.source_data,
            "conversion_options": plan.conversion_options,
            "build": plan.build,
        },
        confidence=1.0,
        confidence_level=ConfidenceLevel.HUMAN_CONFIRMED,
        method="NeuroConv YAML specification" if plan.kind == "spec" else "track_conversion()",
    )


def _record_check(tracker: ConversionProvenanceTracker, check: Any, fields: int) -> None:
    tracker.record_provenance(
        ProvenanceSource.AUTO_EXTRACTED,
        AGENT,
        "metadata_check",
        {"fields": fields, "checked_before_start": True},
        {**check.to_dict(), "blocking": 0},
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        method="metadata_check: neuroconv schema, pynwb, nwbinspector (dandi)",
        reasoning=["checked before the conversion dataset was created"],
    )


def _write_scripts(
    tracker: ConversionProvenanceTracker,
    plan: ConverterPlan,
    decisions: list[md.FieldDecision],
    context: md.ConversionContext,
) -> list[str]:
    """Copy the spec or the user's modules into scripts/, write convert.py and metadata.json
    beside them; returns the copies' paths (the run's inputs)."""
    from .script import render

    root = tracker.path
    copied = []
    for rel, source in plan.files.items():
        target = root / "scripts" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        shutil.copyfile(source, target)
        copied.append(target.relative_to(root).as_posix())
    tracker.record_provenance(
        ProvenanceSource.USER_PROVIDED,
        "user",
        "copy_user_code",
        {"files": {rel: str(path) for rel, path in plan.files.items()}},
        {"copies": {c: _sha256(root / c) for c in copied}},
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        reasoning=["kept with the conversion so `datalad rerun` and `anc verify` run this code"],
    )
    rendered = render(plan, decisions, context)
    for path in rendered.write(root / "scripts"):
        tracker.save_conversion_artifact(path, "conversion_script", commit=False)
    tracker.record_environment()
    return copied


def _run(
    tracker: ConversionProvenanceTracker, conversion_id: str, output: str, inputs: list[str]
) -> Path:
    from .. import engine

    result = engine.run_conversion(
        tracker.path,
        SCRIPT,
        inputs=inputs,
        outputs=[output],
        message=f"[anc] convert {conversion_id}: NeuroConv converter to NWB",
    )
    tracker.record_provenance(
        ProvenanceSource.AUTO_EXTRACTED,
        AGENT,
        "run_conversion",
        {"script": SCRIPT, "inputs": inputs},
        {**result.to_dict(), "software": engine.software_versions()},
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        method="datalad run",
    )
    nwb = tracker.path / output
    tracker.save_conversion_artifact(nwb, "nwb_file", commit=False)
    tracker.update_pipeline_state({"stage": "convert", "nwb": output, "run_commit": result.commit})
    return nwb


def _validate(tracker: ConversionProvenanceTracker, nwb: Path, converter: Any) -> tuple[Any, Any]:
    from ..evaluation import write_evaluation_reports
    from ..validation import validate_nwb, write_validation_reports
    from .evaluate import evaluate_converter

    root = tracker.path
    validation = validate_nwb(nwb, root=root)
    evaluation = evaluate_converter(nwb, converter, root)
    for path in write_validation_reports(validation, root / "reports"):
        tracker.save_conversion_artifact(path, "validation_report", commit=False)
    for path in write_evaluation_reports(evaluation, root / "reports"):
        tracker.save_conversion_artifact(path, "evaluation_report", commit=False)
    tracker.record_provenance(
        ProvenanceSource.AUTO_EXTRACTED,
        "evaluation",
        "validate",
        {"nwb": nwb.relative_to(root).as_posix()},
        {
            "validation": validation.to_dict().get("counts"),
            "validation_passes": validation.passes,
            "evaluation_passes": evaluation.passes,
            "not_read_back": dict(evaluation.unchecked),
        },
        confidence=1.0,
        confidence_level=ConfidenceLevel.DEFINITIVE,
        method="nwbinspector (dandi config) + pynwb.validate + read-back per interface",
    )
    tracker.update_pipeline_state(
        {
            "stage": "validate",
            "validation_passes": validation.passes,
            "evaluation_passes": evaluation.passes,
            "validation_counts": validation.to_dict().get("counts"),
        }
    )
    return validation, evaluation


def _finalize(
    tracker: ConversionProvenanceTracker,
    decisions: list[md.FieldDecision],
    validation_passes: bool,
    evaluation_passes: bool,
) -> ConversionResult:
    reason = None
    if not validation_passes:
        reason = "validation found CRITICAL issues or schema errors (see reports/validation.md)"
    elif not evaluation_passes:
        reason = "the NWB data differ from the sources (see reports/evaluation.md)"
    status = "completed" if reason is None else "failed"
    load_report_writers()
    tag = tracker.finalize_conversion(status, {d.field: d.value for d in decisions}, error=reason)
    return ConversionPipeline(tracker).result(tag, reason)


def failed_result(prepared: Prepared, error: AncError) -> ConversionResult:
    """The result of a session whose conversion failed after its dataset was made."""
    target = conversion_folder(prepared.output, prepared.conversion_id)
    return ConversionResult(
        conversion_id=prepared.conversion_id,
        path=target,
        status="failed",
        tag=None,
        nwb=None,
        validation=None,
        evaluation_passed=None,
        reason=error.message,
    )

"""`anc revise`: a new iteration of a finished conversion, with values a person gives.

A revision reopens the finalized conversion dataset (``tracker.begin_revision``), records
each value given as ``user_provided`` (``human_override`` with the previous value as the
replaced candidate, ``human_confirmed`` when it confirms the value), and runs the pipeline
again from the script stage: the script's metadata file is re-rendered, the NWB file re-made
under ``datalad run`` (the old version stays in history), validated and evaluated, and
finalize rebuilds the summary, HTML report and RO-Crate and tags ``conversion-<id>-v<N>``.
Everything is checked before anything is written: the dataset clean, its journal intact, the
recording unchanged, every value of the right type and acceptable to NeuroConv, pynwb and
DANDI's rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datalad_layer.dataset import changed_paths
from ..errors import UsageError
from ..journal.chain import verify_journal
from ..journal.records import Candidate, ConfidenceLevel, Conflict, ProvenanceSource
from ..provenance.layout import CONVERSION_FILE, STATE_FILE, read_json
from ..provenance.session import TERMINAL_STATUSES
from . import workers
from .pipeline import ConversionPipeline, ConversionResult, Progress
from .verify import conversion_root
from .workers import HeavyWorker

AGENT = "anc.revise"
SECTIONS = ("NWBFile", "Subject", "Devices", "Ecephys")
SET_HINT = "give --set SECTION.FIELD=VALUE, e.g. --set Subject.species='Mus musculus'"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One value a revision gives, and the one it replaces."""

    field: str
    value: Any
    previous: Any
    previous_level: str | None
    evidence: str

    @property
    def changed(self) -> bool:
        from .metadata import same_value

        return not same_value(self.previous, self.value)

    def to_dict(self) -> dict[str, Any]:
        from ..journal.records import encode_value

        return {
            "field": self.field,
            "value": encode_value(self.value),
            "previous": encode_value(self.previous),
            "previous_level": self.previous_level,
            "changed": self.changed,
            "evidence": self.evidence,
        }


@dataclass
class RevisionResult:
    revision: int
    changes: list[FieldChange]
    nwb_remade: bool
    conversion: ConversionResult

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.conversion.to_dict(),
            "revision": self.revision,
            "nwb_remade": self.nwb_remade,
            "changes": [c.to_dict() for c in self.changes],
        }


# --------------------------------------------------------------------------- what was given


def _is_list_field(section: str, name: str) -> bool:
    from . import metadata as md

    model = {"NWBFile": md.UserNWBFile, "Subject": md.UserSubject}.get(section)
    info = model.model_fields.get(name) if model is not None else None
    return info is not None and "list" in str(info.annotation)


def _value(section: str, name: str, field: str, text: str) -> Any:
    """TEXT as the field's type: a list field takes ``[a, b]`` (YAML) or one item."""
    if not _is_list_field(section, name):
        return text
    if not text.lstrip().startswith("["):
        return [text]
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise UsageError(
            f"--set {field}: {text!r} is not a list", "write a list as [a, b] or give one item"
        ) from None


def parse_sets(sets: Sequence[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` items as the nested sections of a metadata file (not validated)."""
    data: dict[str, Any] = {}
    for item in sets:
        field, sep, text = item.partition("=")
        field = field.strip()
        parts = field.split(".")
        if not sep or not field or any(not p for p in parts):
            raise UsageError(f"--set {item!r}: expected FIELD=VALUE", SET_HINT)
        if parts[0] not in SECTIONS and field != "timezone":
            raise UsageError(
                f"--set {field}: unknown field (sections: {', '.join(SECTIONS)})", SET_HINT
            )
        if len(parts) == 1 and field != "timezone":
            raise UsageError(f"--set {field}: name a field of the section", SET_HINT)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--set {field}: {part} is a field, not a section", SET_HINT)
            node = child
        node[parts[-1]] = _value(parts[0], parts[-1], field, text) if len(parts) > 1 else text
    return data


def given_values(
    pipeline: ConversionPipeline, sets: Sequence[str], metadata_file: str | Path | None
) -> tuple[dict[str, tuple[Any, str]], str | None]:
    """``{field: (value, evidence)}`` from METADATA_FILE, then SETS over it (validated as a
    metadata file is: the error names the field), and the time zone given for naive times."""
    from . import metadata as md

    current = {d.field: d for d in pipeline.decisions()}
    values: dict[str, tuple[Any, str]] = {}
    timezone = None
    if metadata_file is not None:
        user = md.load_user_metadata(metadata_file)
        where = str(Path(metadata_file).absolute())
        for path, value in md.user_fields(user, current, where).items():
            values[path] = (value, f"{where}: {path}")
        timezone = user.timezone
    if sets:
        user = md.parse_user_metadata(
            parse_sets(sets), "--set", "fix the value given with --set FIELD=VALUE"
        )
        for path, value in md.user_fields(user, current, "--set").items():
            values[path] = (value, f"anc revise --set {path}")
        timezone = user.timezone or timezone
    if not values:
        raise UsageError(
            f"nothing to revise in conversion {pipeline.tracker.conversion_id}",
            "give --set FIELD=VALUE (one or more) or --metadata FILE",
        )
    return values, timezone


# --------------------------------------------------------------------------- checks


def check_revisable(root: Path) -> None:
    """Refuse a conversion that is not finished, was made by `anc run` or has no decided
    metadata, whose dataset has uncommitted changes, or whose journal chain is broken."""
    info = read_json(root / CONVERSION_FILE)
    status = info.get("status", "started")
    cid = info.get("conversion_id", root.name)
    if status not in TERMINAL_STATUSES:
        raise UsageError(
            f"conversion {cid} is {status}, not finished: there is nothing to revise yet",
            f"go on with `anc resume {root}` (or `anc discard {root}`)",
        )
    state = read_json(root / STATE_FILE, {})
    if "command" in state:
        raise UsageError(
            f"conversion {cid} ran a command of its own (`anc run`): it has no metadata to revise",
            "change your command and run it again with `anc run`",
        )
    if "fields" not in state or "format" not in state:
        raise UsageError(
            f"conversion {cid} {status} before its metadata was decided: nothing to revise",
            "convert the recording again with `anc convert --metadata FILE`",
        )
    if str(state["format"]).startswith("converter:"):
        raise UsageError(
            f"conversion {cid} ran a NeuroConv converter ({state['format']}): its script is "
            "the converter's, which `anc revise` does not re-render",
            "change the metadata in the spec (or the converter call) and convert again",
        )
    dirty = changed_paths(root)
    if dirty:
        more = f" (+{len(dirty) - 3} more)" if len(dirty) > 3 else ""
        raise UsageError(
            f"conversion {cid} has uncommitted changes: {', '.join(dirty[:3])}{more}",
            f"commit or undo them first (`git -C {root} status`)",
        )
    journal = verify_journal(root)
    if not journal.ok:
        raise UsageError(
            f"the journal of conversion {cid} is broken: {journal.problems[0]}",
            f"see `anc check {root}`; a conversion whose record is not intact is not revised",
        )


def _decide(
    pipeline: ConversionPipeline,
    values: Mapping[str, tuple[Any, str]],
    timezone: str | None,
    reason: str | None,
) -> tuple[list[Any], list[FieldChange]]:
    """The new decision per field given, and what each replaces."""
    from . import metadata as md

    current = {d.field: d for d in pipeline.decisions()}
    decided: dict[str, md.FieldDecision] = {}
    for path, (value, evidence) in values.items():
        decided[path] = md.FieldDecision(
            path, value, ProvenanceSource.USER_PROVIDED, md.USER_CONFIDENCE,
            ConfidenceLevel.HUMAN_CONFIRMED, "revise", [evidence], [],
        )  # fmt: skip
    zone = md.UserMetadata(timezone=timezone) if timezone else None
    md.apply_timezone(decided, zone, "--set timezone")
    changes: list[FieldChange] = []
    why = reason or "revised by the user"
    for path, decision in decided.items():
        previous = current.get(path)
        change = FieldChange(
            path,
            decision.value,
            previous.value if previous else None,
            previous.level.value if previous else None,
            decision.evidence[0],
        )
        changes.append(change)
        if previous is None:
            decision.reasoning = [why, "the field had no value before"]
        elif change.changed:
            decision.level = ConfidenceLevel.HUMAN_OVERRIDE
            decision.reasoning = [
                why,
                f"replaces {md.shown(previous.value)} ({previous.level.value}, "
                f"{previous.source.value}, {previous.method})",
            ]
            decision.conflict = Conflict.human_override(
                Candidate(
                    previous.value, previous.source, previous.confidence, AGENT, previous.evidence
                ),
                Candidate(
                    decision.value, ProvenanceSource.USER_PROVIDED, md.USER_CONFIDENCE, "user",
                    decision.evidence,
                ),
            )  # fmt: skip
        else:
            decision.reasoning = [why, f"confirms the value ({previous.level.value} before)"]
    merged = {**current, **decided}
    added = [d for p, d in decided.items() if p not in current]
    return [merged[p] for p in current] + added, changes


# --------------------------------------------------------------------------- the revision


def revise(
    path: str | Path,
    sets: Sequence[str] = (),
    *,
    metadata_file: str | Path | None = None,
    reason: str | None = None,
    progress: Progress | None = None,
    agent: str = "user",
) -> RevisionResult:
    """Revise the conversion at PATH with SETS (``FIELD=VALUE``) and/or METADATA_FILE."""
    root = conversion_root(path)
    with HeavyWorker.take() as worker:
        pipeline = ConversionPipeline.open(root, progress, worker)
        try:
            return revise_pipeline(
                pipeline, sets, metadata_file=metadata_file, reason=reason, agent=agent
            )
        finally:
            pipeline.tracker.close()


def revise_pipeline(
    pipeline: ConversionPipeline,
    sets: Sequence[str] = (),
    *,
    metadata_file: str | Path | None = None,
    reason: str | None = None,
    agent: str = "user",
) -> RevisionResult:
    """The revision on an open PIPELINE (the MCP server holds its conversions open)."""
    root = pipeline.path
    check_revisable(root)
    values, timezone = given_values(pipeline, sets, metadata_file)
    decisions, changes = _decide(pipeline, values, timezone, reason)
    state = pipeline.state
    fmt, choose = state["format"], dict(state.get("choose") or {})
    given_file = str(Path(metadata_file).absolute()) if metadata_file else None
    check = (pipeline.input_folder(), fmt, choose, decisions, given_file)
    job = (
        None if pipeline.worker is None else pipeline.worker.submit(workers.check_decisions, *check)
    )
    changed_input = pipeline.tracker.verify_inputs()  # (while the helper checks the values)
    try:
        job.result() if job is not None else workers.check_decisions(*check)
    except UsageError as exc:  # the message names the field; the fix is a revision's
        raise UsageError(
            exc.message, "give a value the rules accept: `anc revise CONVERSION --set FIELD=VALUE`"
        ) from None
    if changed_input:
        raise UsageError(
            f"the recording changed since conversion {pipeline.tracker.conversion_id}: "
            f"{changed_input[0]}",
            "a revision re-makes the NWB file from the recording as it was: restore it, "
            "or convert the changed recording anew",
        )
    # Checked: from here on the revision is recorded (a failure finalizes it as failed).
    tracker = pipeline.tracker
    given = [c.field for c in changes]
    revision = tracker.begin_revision(
        given,
        reason,
        sorted({c.evidence for c in changes}),
        agent=agent,
        extra={"values": {c.field: c.to_dict()["value"] for c in changes}},
    )
    remade = any(c.changed for c in changes)
    by_field = {c.field for c in changes}
    try:
        if metadata_file is not None:
            pipeline.keep_user_file(Path(metadata_file), revision)
        tracker.append_many(d.to_record(agent=AGENT) for d in decisions if d.field in by_field)
        review = [d.field for d in decisions if d.needs_review]
        pipeline.tracker.update_pipeline_state(
            {"fields": len(decisions), "needs_review": review, "revision": revision}
        )
    except BaseException as exc:
        pipeline.fail(exc, "metadata")
        raise
    if remade:
        result = pipeline.run(format=fmt, choose=choose, from_stage="script")
    else:  # only confirmations: the NWB file and its validation stay as they are
        tracker.checkpoint(f"revision {revision}: {len(changes)} values confirmed")
        result = pipeline.finalize()
    return RevisionResult(revision, changes, remade, result)


__all__ = ["FieldChange", "RevisionResult", "parse_sets", "revise", "revise_pipeline"]

"""Helpers the seed design gave agents, users and external enrichment, over a tracker's
public API (one record each; no commit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..journal.records import (
    _UNSET,
    Candidate,
    ConfidenceLevel,
    Conflict,
    ProvenanceRecord,
    ProvenanceSource,
)

if TYPE_CHECKING:
    from .tracker import ConversionProvenanceTracker


class ProvenanceIntegration:
    """Seed-compatible helpers for agents, users and external enrichment."""

    AGENT_SOURCES: ClassVar[dict[str, ProvenanceSource]] = {
        "conversation": ProvenanceSource.AI_GENERATED,
        "conversion": ProvenanceSource.AUTO_EXTRACTED,
        "evaluation": ProvenanceSource.AUTO_EXTRACTED,
        "knowledge_graph": ProvenanceSource.EXTERNAL_ENRICHED,
    }

    def __init__(self, provenance_tracker: ConversionProvenanceTracker) -> None:
        self.tracker = provenance_tracker

    def record_agent_operation(
        self,
        agent_name: str,
        operation: str,
        input_data: Mapping[str, Any],
        output_data: Mapping[str, Any],
        confidence: float | None = None,
        **details: Any,
    ) -> ProvenanceRecord:
        source = details.pop("source", None) or self.AGENT_SOURCES.get(
            agent_name, ProvenanceSource.AI_GENERATED
        )
        return self.tracker.record_provenance(
            source,
            agent_name,
            operation,
            input_data,
            output_data,
            confidence,
            metadata={"mcp_server_operation": details.pop("mcp", False)},
            **details,
        )

    def record_user_input(
        self,
        field: str,
        value: Any,
        context: Mapping[str, Any] | None = None,
        *,
        override_of: Any = _UNSET,
    ) -> ProvenanceRecord:
        """A value a person gave. With ``override_of`` it replaces an evidence-based value."""
        conflict = None
        level = ConfidenceLevel.HUMAN_CONFIRMED
        if override_of is not _UNSET and override_of != value:
            level = ConfidenceLevel.HUMAN_OVERRIDE
            conflict = Conflict.human_override(
                Candidate(value=override_of, source=ProvenanceSource.AUTO_EXTRACTED),
                Candidate(value=value, source=ProvenanceSource.USER_PROVIDED, confidence=1.0),
            )
        return self.tracker.record_provenance(
            ProvenanceSource.USER_PROVIDED,
            "user",
            "user_input",
            {"field": field, "context": dict(context or {})},
            {"field": field, "value": value},
            confidence=1.0,
            confidence_level=level,
            conflict=conflict,
            field=field,
            value=value,
            metadata={"user_provided": True},
        )

    def record_external_enrichment(
        self,
        source_system: str,
        field: str,
        original_value: Any,
        enriched_value: Any,
        confidence: float,
        *,
        evidence: Sequence[Any] | None = None,
    ) -> ProvenanceRecord:
        return self.tracker.record_provenance(
            ProvenanceSource.EXTERNAL_ENRICHED,
            source_system,
            "external_enrichment",
            {"field": field, "original_value": original_value},
            {"field": field, "enriched_value": enriched_value},
            confidence,
            metadata={"external_source": source_system},
            evidence=evidence,
            field=field,
            value=enriched_value,
        )

    def generate_metadata_provenance_report(self) -> dict[str, Any]:
        from .field_report import build_field_report

        return build_field_report(self.tracker.iter_records())

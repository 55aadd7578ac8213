"""Record schema: validation, levels, and values JSON cannot hold."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from pathlib import PurePath

import numpy as np
import orjson
import pytest

from agentic_neurodata_conversion.errors import ProvenanceError
from agentic_neurodata_conversion.journal.records import (
    Candidate,
    ConfidenceLevel,
    Conflict,
    ProvenanceRecord,
    ProvenanceSource,
    decode_value,
    encode_value,
)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "high"])
def test_confidence_outside_range_is_refused(bad: object) -> None:
    with pytest.raises(ProvenanceError, match="confidence"):
        ProvenanceRecord(source="auto_extracted", operation="x", confidence=bad)  # type: ignore[arg-type]


def test_unknown_source_and_level_name_the_valid_ones() -> None:
    with pytest.raises(ProvenanceError, match="unknown provenance source 'guess'.*user_provided"):
        ProvenanceRecord(source="guess", operation="x")  # type: ignore[arg-type]
    with pytest.raises(ProvenanceError, match="unknown confidence level 'sure'.*definitive"):
        ProvenanceRecord(source="auto_extracted", operation="x", confidence_level="sure")  # type: ignore[arg-type]


def test_human_override_is_distinguishable_from_evidence() -> None:
    override = ProvenanceRecord(
        source=ProvenanceSource.USER_PROVIDED,
        operation="set_field",
        confidence=1.0,
        confidence_level=ConfidenceLevel.HUMAN_OVERRIDE,
    )
    evidence = ProvenanceRecord(
        source=ProvenanceSource.AUTO_EXTRACTED, operation="set_field", confidence=1.0
    )
    assert override.is_human_decision and not evidence.is_human_decision
    assert evidence.confidence_level is ConfidenceLevel.DEFINITIVE
    assert (
        ProvenanceRecord.from_dict(override.to_dict()).confidence_level
        is ConfidenceLevel.HUMAN_OVERRIDE
    )


def test_review_flags() -> None:
    assert ProvenanceRecord(source="ai_generated", operation="x", confidence=0.3).needs_review
    assert ProvenanceRecord(
        source="domain_knowledge", operation="x", confidence_level="placeholder"
    ).needs_review
    assert not ProvenanceRecord(
        source="auto_extracted", operation="x", confidence=0.95
    ).needs_review


class Opaque:
    def __repr__(self) -> str:
        return "Opaque<42>"


def test_values_json_cannot_hold_are_kept_with_their_type() -> None:
    value = {
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2024, 1, 2),
        "pair": (1, 2),
        "tags": {"b", "a"},
        "raw": b"\x00\xff",
        "nan": math.nan,
        "inf": -math.inf,
        "big": 2**80,
        "path": PurePath("/x/y"),
        "id": uuid.UUID(int=7),
        "money": Decimal("1.10"),
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "scalar": np.float32(1.5),
        "level": ConfidenceLevel.HEURISTIC,
        "opaque": Opaque(),
        3: "int key",
        "bad": "\udcff",
    }
    record = ProvenanceRecord(source="auto_extracted", operation="x", value=value)
    from agentic_neurodata_conversion.journal.chain import _encode

    line = _encode(record.to_dict())  # must not raise
    back = decode_value(orjson.loads(line)["value"])
    assert back["when"] == value["when"] and back["day"] == value["day"]
    assert back["pair"] == (1, 2) and back["tags"] == {"a", "b"} and back["raw"] == b"\x00\xff"
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf and back["big"] == 2**80
    assert back["path"] == PurePath("/x/y") and back["id"] == uuid.UUID(int=7)
    assert back["money"] == Decimal("1.10")
    assert back["array"].dtype == np.int16 and back["array"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["scalar"] == np.float32(1.5) and back["level"] == "heuristic"
    assert back["opaque"]["repr"] == "Opaque<42>"
    assert back[3] == "int key"
    assert back["bad"] == "\udcff"


def test_conflict_round_trip() -> None:
    conflict = Conflict(
        candidates=[
            Candidate(
                value=30000.0,
                source="auto_extracted",
                confidence=1.0,
                evidence=["x.meta:imSampRate"],
            ),
            Candidate(value=30001.0, source="user_provided", confidence=1.0),
        ],
        resolution="user_value_preferred",
        chosen_value=30001.0,
        resolved_by="user",
    )
    record = ProvenanceRecord(
        source="user_provided",
        operation="set_field",
        field="rate",
        value=30001.0,
        conflict=conflict,
    )
    back = ProvenanceRecord.from_dict(record.to_dict())
    assert back.conflict is not None
    assert [c.source for c in back.conflict.candidates] == [
        ProvenanceSource.AUTO_EXTRACTED,
        ProvenanceSource.USER_PROVIDED,
    ]
    assert (
        back.conflict.chosen_value == 30001.0 and back.conflict.resolution == "user_value_preferred"
    )
    assert encode_value(back.value) == 30001.0

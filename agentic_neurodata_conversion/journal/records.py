"""Provenance records: what was decided, by whom, from what, how sure, and why.

A record is a plain, slotted dataclass so that tens of thousands can be built per second.
Validation happens once, in ``__post_init__``; encoding to JSON keeps every value, including
those JSON cannot hold natively (they are stored with their type, see ``encode_value``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field  # `field` is also a record attribute
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from ..errors import ProvenanceError

TYPE_KEY = "__type__"


class ProvenanceSource(enum.Enum):
    """Where a value or decision came from."""

    USER_PROVIDED = "user_provided"
    AUTO_EXTRACTED = "auto_extracted"
    AI_GENERATED = "ai_generated"
    EXTERNAL_ENRICHED = "external_enriched"
    DOMAIN_KNOWLEDGE = "domain_knowledge"


class ConfidenceLevel(enum.Enum):
    """How a value is justified. Human decisions are levels of their own, never a number."""

    DEFINITIVE = "definitive"  # read verbatim from the data files
    HIGH_EVIDENCE = "high_evidence"
    HUMAN_CONFIRMED = "human_confirmed"  # a person confirmed a proposed value
    HUMAN_OVERRIDE = "human_override"  # a person replaced the evidence-based value
    MEDIUM_EVIDENCE = "medium_evidence"
    HEURISTIC = "heuristic"
    LOW_EVIDENCE = "low_evidence"
    PLACEHOLDER = "placeholder"  # a stand-in that must be reviewed
    UNKNOWN = "unknown"


# The resolution of a conflict a person's value settled (older journals say
# "user_value_preferred" for the same thing).
HUMAN_OVERRIDE = ConfidenceLevel.HUMAN_OVERRIDE.value
HUMAN_LEVELS = frozenset({ConfidenceLevel.HUMAN_CONFIRMED, ConfidenceLevel.HUMAN_OVERRIDE})
REVIEW_LEVELS = frozenset(
    {ConfidenceLevel.PLACEHOLDER, ConfidenceLevel.UNKNOWN, ConfidenceLevel.LOW_EVIDENCE}
)
# Below this numeric confidence a field is flagged for human review.
REVIEW_CONFIDENCE = 0.5


_SOURCES = {s.value: s for s in ProvenanceSource}
_LEVELS = {level.value: level for level in ConfidenceLevel}


def parse_source(value: ProvenanceSource | str) -> ProvenanceSource:
    if isinstance(value, ProvenanceSource):
        return value
    try:
        return _SOURCES[value]  # a dict look-up: Enum(value) costs ~1 us per record
    except (KeyError, TypeError):
        valid = ", ".join(s.value for s in ProvenanceSource)
        raise ProvenanceError(
            f"unknown provenance source {value!r}", f"use one of: {valid}"
        ) from None


def parse_level(value: ConfidenceLevel | str) -> ConfidenceLevel:
    if isinstance(value, ConfidenceLevel):
        return value
    try:
        return _LEVELS[value]
    except (KeyError, TypeError):
        valid = ", ".join(level.value for level in ConfidenceLevel)
        raise ProvenanceError(
            f"unknown confidence level {value!r}", f"use one of: {valid}"
        ) from None


def check_confidence(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ProvenanceError(
            f"confidence must be a number between 0 and 1, got {value!r}",
            "pass a float in [0, 1] or None",
        )
    if not 0.0 <= value <= 1.0:
        raise ProvenanceError(
            f"confidence {value} is outside 0-1", "pass a float in [0, 1] or None"
        )
    return float(value)


def default_level(source: ProvenanceSource, confidence: float | None) -> ConfidenceLevel:
    """The level implied when a caller gives only a source and a number."""
    if confidence is None:
        return ConfidenceLevel.UNKNOWN
    if source is ProvenanceSource.USER_PROVIDED:
        return ConfidenceLevel.HUMAN_CONFIRMED
    if confidence >= 0.99:
        return ConfidenceLevel.DEFINITIVE
    if confidence >= 0.8:
        return ConfidenceLevel.HIGH_EVIDENCE
    if confidence >= 0.6:
        return ConfidenceLevel.MEDIUM_EVIDENCE
    if confidence >= REVIEW_CONFIDENCE:
        return ConfidenceLevel.HEURISTIC
    return ConfidenceLevel.LOW_EVIDENCE


# --------------------------------------------------------------------------- value encoding


_NATIVE = frozenset({str, int, bool, type(None)})
_INT64 = 2**63  # the JSON encoder's integer range


def encode_value(value: Any) -> Any:
    """Turn any value into JSON-safe data, keeping its type where JSON would lose it."""
    kind = type(value)
    # Fast paths by exact type: records are built tens of thousands of times per second.
    if kind in _NATIVE:
        if kind is int and not -_INT64 <= value < _INT64:
            return {TYPE_KEY: "bigint", "value": str(value)}
        return value
    if kind is float:
        return value if math.isfinite(value) else {TYPE_KEY: "float", "value": repr(value)}
    if kind is list:
        return [encode_value(v) for v in value]
    if kind is dict and all(type(k) is str for k in value):
        return {k: encode_value(v) for k, v in value.items()}
    return _encode_other(value)


def _encode_other(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # before int: IntEnum is an int
        return {
            TYPE_KEY: "enum",
            "class": type(value).__qualname__,
            "value": encode_value(value.value),
        }
    if isinstance(value, bool | int):
        return {TYPE_KEY: type(value).__name__, "value": int(value)}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return encode_value(float(value))
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return {str(k): encode_value(v) for k, v in value.items()}
        return {
            TYPE_KEY: "mapping",
            "items": [[encode_value(k), encode_value(v)] for k, v in value.items()],
        }
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return {TYPE_KEY: type(value).__name__, "value": [encode_value(v) for v in items]}
    if isinstance(value, _dt.datetime):
        return {TYPE_KEY: "datetime", "value": value.isoformat()}
    if isinstance(value, _dt.date):
        return {TYPE_KEY: "date", "value": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {TYPE_KEY: "timedelta", "value": value.total_seconds()}
    if isinstance(value, PurePath):
        return {TYPE_KEY: "path", "value": str(value)}
    if isinstance(value, uuid.UUID):
        return {TYPE_KEY: "uuid", "value": str(value)}
    if isinstance(value, Decimal):
        return {TYPE_KEY: "decimal", "value": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {TYPE_KEY: "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            TYPE_KEY: "dataclass",
            "class": type(value).__qualname__,
            "value": {
                f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)
            },
        }
    numpy_form = _encode_numpy(value)
    if numpy_form is not None:
        return numpy_form
    return {
        TYPE_KEY: "object",
        "class": f"{type(value).__module__}.{type(value).__qualname__}",
        "repr": repr(value),
    }


def escape_surrogates(data: Any) -> Any:
    """Tag strings that are not valid UTF-8 (lone surrogates) so they can be stored."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return {TYPE_KEY: "str-surrogates", "hex": data.encode("utf-8", "surrogatepass").hex()}
        return data
    if isinstance(data, list):
        return [escape_surrogates(v) for v in data]
    if isinstance(data, dict):
        return {
            escape_surrogates(k)
            if isinstance(k, str) and _valid(k)
            else repr(k): escape_surrogates(v)
            for k, v in data.items()
        }
    return data


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encode_numpy(value: Any) -> dict[str, Any] | None:
    module = type(value).__module__
    if not module.startswith("numpy"):
        return None
    import numpy as np  # only reached when a numpy value is present

    if isinstance(value, np.ndarray):
        return {
            TYPE_KEY: "ndarray",
            "dtype": str(value.dtype),
            "shape": list(value.shape),
            "value": encode_value(value.tolist()),
        }
    if isinstance(value, np.generic):
        return {TYPE_KEY: f"numpy.{type(value).__name__}", "value": encode_value(value.item())}
    return None


def decode_value(data: Any) -> Any:
    """Inverse of ``encode_value`` for the types it can rebuild; others stay tagged dicts."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    kind = data.get(TYPE_KEY)
    if kind is None:
        return {k: decode_value(v) for k, v in data.items()}
    if kind == "float":
        return float(data["value"])
    if kind == "bigint":
        return int(data["value"])
    if kind == "str-surrogates":
        return bytes.fromhex(data["hex"]).decode("utf-8", "surrogatepass")
    if kind == "mapping":
        return {_hashable(decode_value(k)): decode_value(v) for k, v in data["items"]}
    if kind == "tuple":
        return tuple(decode_value(v) for v in data["value"])
    if kind in ("set", "frozenset"):
        items = {_hashable(decode_value(v)) for v in data["value"]}
        return items if kind == "set" else frozenset(items)
    if kind == "datetime":
        return _dt.datetime.fromisoformat(data["value"])
    if kind == "date":
        return _dt.date.fromisoformat(data["value"])
    if kind == "timedelta":
        return _dt.timedelta(seconds=data["value"])
    if kind == "path":
        return PurePath(data["value"])
    if kind == "uuid":
        return uuid.UUID(data["value"])
    if kind == "decimal":
        return Decimal(data["value"])
    if kind == "bytes":
        return base64.b64decode(data["base64"])
    if kind == "ndarray":
        import numpy as np

        return np.asarray(decode_value(data["value"]), dtype=data["dtype"]).reshape(data["shape"])
    if kind.startswith("numpy."):
        import numpy as np

        return getattr(np, kind.split(".", 1)[1])(data["value"])
    if kind in ("enum", "dataclass"):
        return decode_value(data["value"])
    return data  # "object", int subclasses and unknown tags stay as their tagged description


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class Candidate:
    """One competing value in a conflict."""

    value: Any
    source: ProvenanceSource
    confidence: float | None = None
    agent: str | None = None
    evidence: list[Any] = dc_field(default_factory=list)

    def __post_init__(self) -> None:
        self.source = parse_source(self.source)
        self.confidence = check_confidence(self.confidence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": encode_value(self.value),
            "source": self.source.value,
            "confidence": self.confidence,
            "agent": self.agent,
            "evidence": encode_value(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        return cls(
            value=decode_value(data.get("value")),
            source=parse_source(data["source"]),
            confidence=data.get("confidence"),
            agent=data.get("agent"),
            evidence=list(data.get("evidence") or []),
        )


@dataclass(slots=True)
class Conflict:
    """Competing values for one field and how the disagreement was settled."""

    candidates: list[Candidate]
    resolution: str  # HUMAN_OVERRIDE when a person's value won; agents may name their rule
    chosen_value: Any
    resolved_by: str | None = None  # agent or person who settled it

    @classmethod
    def human_override(
        cls, replaced: Candidate, given: Candidate, resolved_by: str = "user"
    ) -> Conflict:
        """A person's value GIVEN replaces the evidence-based REPLACED: the one vocabulary
        for overrides (the field's level is ConfidenceLevel.HUMAN_OVERRIDE too)."""
        return cls([replaced, given], HUMAN_OVERRIDE, given.value, resolved_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "resolution": self.resolution,
            "chosen_value": encode_value(self.chosen_value),
            "resolved_by": self.resolved_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Conflict:
        return cls(
            candidates=[Candidate.from_dict(c) for c in data.get("candidates", [])],
            resolution=data.get("resolution", ""),
            chosen_value=decode_value(data.get("chosen_value")),
            resolved_by=data.get("resolved_by"),
        )


_UNSET: Any = object()


@dataclass(slots=True)
class ProvenanceRecord:
    """One decision or event in a conversion.

    ``field``/``value`` name the NWB metadata field a record sets (``None`` for events such
    as state updates or artifacts). ``seq`` and ``time`` are assigned by the journal.
    """

    source: ProvenanceSource
    operation: str
    agent: str | None = None
    input_data: dict[str, Any] = dc_field(default_factory=dict)
    output_data: dict[str, Any] = dc_field(default_factory=dict)
    confidence: float | None = None
    confidence_level: ConfidenceLevel | None = None
    method: str | None = None
    reasoning: list[str] = dc_field(default_factory=list)
    evidence: list[Any] = dc_field(default_factory=list)
    conflict: Conflict | None = None
    field: str | None = None
    value: Any = _UNSET
    metadata: dict[str, Any] = dc_field(default_factory=dict)
    seq: int = -1
    time: str = ""

    def __post_init__(self) -> None:
        self.source = parse_source(self.source)
        self.confidence = check_confidence(self.confidence)
        self.confidence_level = (
            default_level(self.source, self.confidence)
            if self.confidence_level is None
            else parse_level(self.confidence_level)
        )
        if not isinstance(self.operation, str) or not self.operation:
            raise ProvenanceError(
                "a record needs a non-empty operation name", "pass operation='...'"
            )
        if isinstance(self.reasoning, str):
            self.reasoning = [self.reasoning]
        if self.field is None and self.output_data and "field" in self.output_data:
            # Seed-style records name the field inside output_data.
            self.field = str(self.output_data["field"])
            if self.value is _UNSET:
                for key in ("value", "enriched_value"):
                    if key in self.output_data:
                        self.value = self.output_data[key]
                        break
        if self.value is _UNSET:
            self.value = None

    # Seed compatibility: records used to carry a float timestamp.
    @property
    def timestamp(self) -> float:
        return _dt.datetime.fromisoformat(self.time).timestamp() if self.time else 0.0

    @property
    def is_human_decision(self) -> bool:
        return self.confidence_level in HUMAN_LEVELS

    @property
    def needs_review(self) -> bool:
        if self.confidence_level in REVIEW_LEVELS:
            return True
        return self.confidence is not None and self.confidence < REVIEW_CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; the journal's line format (see docs/journal-format.md)."""
        assert self.confidence_level is not None
        return {
            "seq": self.seq,
            "time": self.time,
            "source": self.source._value_,  # attribute, not the slower Enum.value property
            "agent": self.agent,
            "operation": self.operation,
            "field": self.field,
            "value": encode_value(self.value),
            "confidence": self.confidence,
            "confidence_level": self.confidence_level._value_,
            "method": self.method,
            "reasoning": [str(r) for r in self.reasoning],
            "evidence": encode_value(self.evidence) if self.evidence else [],
            "conflict": self.conflict.to_dict() if self.conflict else None,
            "input_data": encode_value(self.input_data) if self.input_data else {},
            "output_data": encode_value(self.output_data) if self.output_data else {},
            "metadata": encode_value(self.metadata) if self.metadata else {},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProvenanceRecord:
        conflict = data.get("conflict")
        return cls(
            source=parse_source(data["source"]),
            operation=data["operation"],
            agent=data.get("agent"),
            input_data=decode_value(data.get("input_data") or {}),
            output_data=decode_value(data.get("output_data") or {}),
            confidence=data.get("confidence"),
            confidence_level=parse_level(data.get("confidence_level") or "unknown"),
            method=data.get("method"),
            reasoning=list(data.get("reasoning") or []),
            evidence=decode_value(data.get("evidence") or []),
            conflict=Conflict.from_dict(conflict) if conflict else None,
            field=data.get("field"),
            value=decode_value(data.get("value")),
            metadata=decode_value(data.get("metadata") or {}),
            seq=int(data.get("seq", -1)),
            time=data.get("time", ""),
        )


_second_cache: list[Any] = [None, ""]


def utc_now() -> str:
    """ISO-8601 UTC with microseconds and a Z suffix, the time format of every record."""
    now = time.time()
    second = int(now)
    if _second_cache[0] != second:  # formatting the date part once a second saves ~3 us
        _second_cache[0] = second
        _second_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second_cache[1]}.{int((now - second) * 1e6):06d}Z"

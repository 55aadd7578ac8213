"""Make tool arguments and results safe to keep in a journal: secrets out, size bounded.

Values under keys that look secret (token, password, api_key, secret, authorization, ...)
are replaced, as are ``Bearer ...`` credentials inside any string. Long strings and lists are
cut with a note of how much was left out, so a huge result cannot bloat the journal.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
SECRET_KEY = re.compile(
    r"token|passw(or)?d|api[-_]?key|secret|authori[sz]ation|credential|private[-_]?key|cookie",
    re.IGNORECASE,
)
# An HTTP credential inside free text ("Authorization: Bearer eyJ..."); 16+ characters so
# that ordinary prose ("bearer of ...") is left alone.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{16,}")
MAX_TEXT = 4000
MAX_ITEMS = 200
MAX_DEPTH = 20


def is_secret_key(key: str) -> bool:
    return SECRET_KEY.search(key) is not None


def sanitize(
    value: Any,
    *,
    max_text: int | None = MAX_TEXT,
    max_items: int | None = MAX_ITEMS,
    _depth: int = 0,
) -> Any:
    """A copy of VALUE with secrets redacted and long strings and lists cut (None: no cut)."""
    if isinstance(value, str):
        value = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        if max_text is not None and len(value) > max_text:
            return f"{value[:max_text]}... [{len(value) - max_text} more characters]"
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if _depth >= MAX_DEPTH:
        return f"[nested deeper than {MAX_DEPTH} levels]"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i == max_items:
                out["..."] = f"{len(value) - max_items} more keys"
                break
            key = str(key)
            out[key] = (
                REDACTED
                if is_secret_key(key)
                else sanitize(item, max_text=max_text, max_items=max_items, _depth=_depth + 1)
            )
        return out
    if isinstance(value, list | tuple):
        items = [
            sanitize(v, max_text=max_text, max_items=max_items, _depth=_depth + 1)
            for v in value[:max_items]
        ]
        if max_items is not None and len(value) > max_items:
            items.append(f"... {len(value) - max_items} more items")
        return items
    return sanitize(repr(value), max_text=max_text, max_items=max_items, _depth=_depth)


def redact(value: Any) -> Any:
    """A copy of VALUE with secrets redacted, nothing cut: for values that are kept as data."""
    return sanitize(value, max_text=None, max_items=None)

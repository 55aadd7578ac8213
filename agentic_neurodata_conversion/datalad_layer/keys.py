"""git-annex keys: the one parser, from a key string, a symlink's target or a pointer file.

A key is ``BACKEND[-sSIZE][-mMTIME][-SCHUNKSIZE-CCHUNKNUMBER]--NAME`` (git-annex writes the
fields in that order). For hashing backends NAME is the content hash, followed by the file's
extension when the backend's name ends in ``E`` (``BLAKE3_256E-s12--ab12.nwb``); WORM and URL
keys name a file or a URL instead and carry no hash. In a symlink's target, a pointer file
and ``.git/annex/objects`` a key is spelled as a file name: ``&``, ``%``, ``:`` and ``/``
escaped (``AnnexKey.file_name``; the same text for hashing backends). Pure string work, no
git call, so the reports and the storage scan read keys without starting a process.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# Backends whose key holds a hash of the content (git-annex's list, E variants included).
_HASHING = re.compile(
    r"^(MD5|SHA1|SHA224|SHA256|SHA384|SHA512|SHA3_\d+|SKEIN\d+|BLAKE2\w*|BLAKE3_256|XXH3\w*)E?$"
)
_BACKEND = re.compile(r"^[A-Z][A-Z0-9_]*$")
POINTER_MAX = 1024  # bytes; an unlocked annexed file's pointer is far smaller
LINK_PART = "/annex/objects/"  # in every annexed symlink's target and at a pointer's start
_TO_FILE = {"&": "&a", "%": "&s", ":": "&c", "/": "%"}
_FROM_FILE = {"a": "&", "s": "%", "c": ":"}


@dataclass(frozen=True, slots=True)
class AnnexKey:
    """One git-annex key. ``hash`` and ``ext`` split NAME for hashing backends ("" else)."""

    backend: str
    size: int | None
    hash: str
    ext: str = ""
    name: str = ""  # the part after "--" as git-annex wrote it (hash + ext when hashing)
    mtime: int | None = None
    chunk_size: int | None = None
    chunk_number: int | None = None

    @classmethod
    def parse(cls, text: str) -> AnnexKey:
        """The key TEXT spells; ValueError when it is not a key."""
        head, sep, name = text.partition("--")
        backend, *fields = head.split("-")
        if not sep or not _BACKEND.match(backend):
            raise ValueError(f"not a git-annex key: {text!r}")
        values: dict[str, int] = {}
        for item in fields:
            letter, digits = item[:1], item[1:]
            if not letter or letter not in "smSC" or not digits.isdigit() or letter in values:
                raise ValueError(f"not a git-annex key: {text!r}")
            values[letter] = int(digits)
        digest, ext = "", ""
        if _HASHING.match(backend):
            digest, dot, rest = name.partition(".") if backend.endswith("E") else (name, "", "")
            ext = dot + rest
        key = cls(
            backend,
            values.get("s"),
            digest,
            ext,
            name,
            values.get("m"),
            values.get("S"),
            values.get("C"),
        )
        if str(key) != text:  # fields out of git-annex's order, or a leading zero
            raise ValueError(f"not a git-annex key: {text!r}")
        return key

    def __str__(self) -> str:
        fields = (("s", self.size), ("m", self.mtime), ("S", self.chunk_size))
        fields += (("C", self.chunk_number),)
        head = "".join(f"-{letter}{value}" for letter, value in fields if value is not None)
        return f"{self.backend}{head}--{self.name or self.hash + self.ext}"

    @classmethod
    def from_file_name(cls, name: str) -> AnnexKey:
        """The key whose file name (a symlink target's last part) is NAME; ValueError if none."""
        return cls.parse(_unescape(name))

    @property
    def file_name(self) -> str:
        """The key as git-annex names its object file and writes it in links and pointers."""
        text = str(self)
        return (
            "".join(_TO_FILE.get(c, c) for c in text) if any(c in _TO_FILE for c in text) else text
        )

    @property
    def hashed(self) -> bool:
        """True when the key holds a hash of the content (so the content can be verified)."""
        return bool(self.hash)

    @property
    def content_id(self) -> str | None:
        """Backend, size and hash without the extension: equal ids, equal content.

        ``SHA256E`` and ``SHA256`` keys of the same bytes share one id. None for keys that
        do not hash the content (WORM, URL).
        """
        if not self.hashed:
            return None
        fields = (("s", self.size), ("S", self.chunk_size), ("C", self.chunk_number))
        head = "".join(f"-{letter}{value}" for letter, value in fields if value is not None)
        return f"{self.backend.removesuffix('E')}{head}--{self.hash}"


def _unescape(name: str) -> str:
    """Undo git-annex's file-name escaping: ``%`` is ``/``, ``&c`` ``:``, ``&s`` ``%``, ``&a`` ``&``."""
    parts = []
    for piece in name.split("%"):
        first, *rest = piece.split("&")
        parts.append(first + "".join(_FROM_FILE.get(r[:1], r[:1]) + r[1:] for r in rest))
    return "/".join(parts)


def parse_key(text: str) -> AnnexKey | None:
    """The key TEXT spells, or None."""
    try:
        return AnnexKey.parse(text)
    except ValueError:
        return None


def key_size(key: str) -> int | None:
    """The ``-s<bytes>`` field of the key KEY, when it is a key and has one."""
    parsed = parse_key(key)
    return parsed.size if parsed else None


def content_id(key: str) -> str | None:
    """``AnnexKey.content_id`` of the key KEY (None for a non-key or a key without hash)."""
    parsed = parse_key(key)
    return parsed.content_id if parsed else None


def same_key(expected: str, computed: str) -> bool:
    """Keys match on backend, fields and hash; the extension may be derived differently
    (``git annex calckey`` of an object file names no extension)."""
    a, b = parse_key(expected), parse_key(computed)
    if a is None or b is None:
        return expected == computed
    if not a.hashed:
        return a == b

    def core(k: AnnexKey) -> tuple[object, ...]:
        return (k.backend, k.size, k.mtime, k.chunk_size, k.chunk_number, k.hash)

    return core(a) == core(b)


def _from_file_name(name: str) -> AnnexKey | None:
    try:
        return AnnexKey.from_file_name(name)
    except ValueError:
        return None


def key_of_link(target: str | bytes) -> AnnexKey | None:
    """The key an annexed file's symlink TARGET points to (``../.git/annex/objects/..``)."""
    text = os.fsdecode(target).strip()
    return _from_file_name(text.rsplit("/", 1)[-1]) if LINK_PART in text else None


def key_of_pointer(content: str | bytes) -> AnnexKey | None:
    """The key an unlocked annexed file's pointer CONTENT (``/annex/objects/KEY``) names."""
    if len(content) > POINTER_MAX:
        return None
    text = content.decode(errors="replace") if isinstance(content, bytes) else content
    text = text.strip()
    if not text.startswith(LINK_PART) or "\n" in text:
        return None
    return _from_file_name(text.rsplit("/", 1)[-1])


def key_of_blob(mode: str, blob: bytes) -> AnnexKey | None:
    """The key a committed tree entry names: a symlink (mode 120000) or a pointer file."""
    return key_of_link(blob) if mode == "120000" else key_of_pointer(blob)


def key_of_file(path: str | Path) -> AnnexKey | None:
    """The key of the locked annexed file PATH, from its symlink (content is not read)."""
    try:
        return key_of_link(os.readlink(path))
    except OSError:  # missing, or not a symlink
        return None

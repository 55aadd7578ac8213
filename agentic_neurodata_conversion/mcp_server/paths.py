"""Root confinement: every path an agent gives must stay inside the roots the server serves.

A path is taken as given when absolute, else relative to the first root. It must lie inside
a root both as written (after normalising ``..``) and once every symlink is resolved, so
``..``, absolute paths and symlinks that leave the roots are all refused. Folders are also
walked for symlinks leading out (a recording folder could hold one). The check is
point-in-time, like ``mcp.shared.path_security.safe_join``; the resolved path is returned so
later access does not follow a link again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver.exceptions import ToolError

from ..errors import UsageError


class PathRefused(ToolError):
    """A path outside the roots. Recorded with status ``refused``."""


class Roots:
    """The folders the server may read; each kept as written and resolved."""

    def __init__(self, roots: Sequence[str | Path]) -> None:
        if not roots:
            raise UsageError("no root folder given", "pass --root DIR (one or more)")
        self._roots: list[tuple[Path, Path]] = []
        for root in roots:
            path = Path(os.path.abspath(root))
            if not path.is_dir():
                raise UsageError(f"root {root} is not a folder", "pass existing folders to --root")
            self._roots.append((path, path.resolve()))

    @property
    def paths(self) -> list[Path]:
        """The resolved roots, first one first (relative paths start there)."""
        return [real for _, real in self._roots]

    def describe(self) -> str:
        return ", ".join(str(p) for p in self.paths)

    def _inside(self, path: Path, *, resolved: bool) -> bool:
        return any(
            path.is_relative_to(real) or (not resolved and path.is_relative_to(written))
            for written, real in self._roots
        )

    def _refuse(self, given: str, why: str) -> PathRefused:
        return PathRefused(
            f"path {given!r} is refused: {why}, outside the allowed roots ({self.describe()}). "
            f"Give a path inside one of them; relative paths are taken from {self.paths[0]}"
        )

    def resolve(self, given: str) -> Path:
        """The resolved path of GIVEN, or PathRefused if it leads outside every root."""
        if not given:
            raise self._refuse(given, "it is empty")
        if "\0" in given:
            raise self._refuse(given, "it contains a NUL byte")
        candidate = Path(given) if os.path.isabs(given) else self._roots[0][0] / given
        written = Path(os.path.normpath(candidate))
        if not self._inside(written, resolved=False):
            how = "it is an absolute path" if os.path.isabs(given) else "its '..' lead"
            raise self._refuse(given, f"{how} to {written}")
        real = candidate.resolve()
        if not self._inside(real, resolved=True):
            raise self._refuse(given, f"it resolves through a symlink to {real}")
        return real

    def check_tree(self, given: str, folder: Path) -> None:
        """Refuse FOLDER if a symlink inside it leads outside the roots (``.git`` skipped)."""
        if not folder.is_dir():
            return
        for top, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in (*dirs, *files):
                entry = Path(top, name)
                if entry.is_symlink():
                    real = entry.resolve()
                    if not self._inside(real, resolved=True):
                        rel = entry.relative_to(folder)
                        raise self._refuse(given, f"it holds a symlink {rel} leading to {real}")

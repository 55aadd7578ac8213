"""git-annex settings: which files are annexed (largefiles rules) and with which backend.

Keys are parsed in ``keys``; this module only decides what gets a key and how.
"""

from __future__ import annotations

from functools import cache

from .git import call_git

# Cryptographic and fast (hashes ~3.5x faster than SHA256E here); SHA256E where missing.
PREFERRED_BACKENDS = ("BLAKE3_256E", "SHA256E")

# Text and code in git, big binaries annexed. Later lines win over earlier ones.
# The catch-all keeps unknown text in git and unknown binaries in the annex.
DEVELOPMENT_RULES = """\
# --- anc annex rules: code and text in git, data annexed ---
* annex.largefiles=((mimeencoding=binary)and(largerthan=0))
*.py annex.largefiles=nothing
*.md annex.largefiles=nothing
*.rst annex.largefiles=nothing
*.txt annex.largefiles=nothing
*.json annex.largefiles=nothing
*.jsonl annex.largefiles=nothing
*.yaml annex.largefiles=nothing
*.yml annex.largefiles=nothing
*.toml annex.largefiles=nothing
*.cfg annex.largefiles=nothing
*.ini annex.largefiles=nothing
*.sh annex.largefiles=nothing
*.ipynb annex.largefiles=nothing
*.html annex.largefiles=nothing
*.xml annex.largefiles=nothing
*.oebin annex.largefiles=nothing
*.meta annex.largefiles=nothing
# small tabular data in git, large annexed
*.csv annex.largefiles=(largerthan=10MB)
*.tsv annex.largefiles=(largerthan=10MB)
# recordings and containers: always annexed
*.nwb annex.largefiles=anything
*.dat annex.largefiles=anything
*.bin annex.largefiles=anything
*.h5 annex.largefiles=anything
*.hdf5 annex.largefiles=anything
*.mat annex.largefiles=anything
*.npy annex.largefiles=anything
*.npz annex.largefiles=anything
*.ncs annex.largefiles=anything
*.nev annex.largefiles=anything
*.ns1 annex.largefiles=anything
*.ns2 annex.largefiles=anything
*.ns3 annex.largefiles=anything
*.ns4 annex.largefiles=anything
*.ns5 annex.largefiles=anything
*.ns6 annex.largefiles=anything
# images: annexed, except svg (text)
*.png annex.largefiles=anything
*.jpg annex.largefiles=anything
*.jpeg annex.largefiles=anything
*.gif annex.largefiles=anything
*.tif annex.largefiles=anything
*.tiff annex.largefiles=anything
*.svg annex.largefiles=nothing
# archives: always annexed
*.zip annex.largefiles=anything
*.tar annex.largefiles=anything
*.gz annex.largefiles=anything
*.tgz annex.largefiles=anything
*.bz2 annex.largefiles=anything
*.xz annex.largefiles=anything
*.7z annex.largefiles=anything
# documents and logs: in git while small
*.pdf annex.largefiles=(largerthan=1MB)
*.log annex.largefiles=(largerthan=1MB)
"""

# Conversion datasets: the same rules; the provenance journal and the environment's lock
# file (scripts/requirements.lock, read by `git show` to rebuild it) are always in git.
CONVERSION_RULES = (
    DEVELOPMENT_RULES
    + """\
provenance/** annex.largefiles=nothing
requirements.lock annex.largefiles=nothing
"""
)

RULES_MARKER = DEVELOPMENT_RULES.splitlines()[0]


@cache
def _version_text() -> str:
    """``git annex version`` once per process: the version and the backends both come from it."""
    return call_git(None, "annex", "version", check=False).decode(errors="replace")


def version() -> str | None:
    """The installed git-annex's version (what ``git annex version --raw`` prints)."""
    for line in _version_text().splitlines():
        if line.startswith("git-annex version:"):
            return line.split(":", 1)[1].strip() or None
    return None


@cache
def available_backends() -> frozenset[str]:
    out = _version_text()
    for line in out.splitlines():
        if line.startswith("key/value backends:"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@cache
def preferred_backend() -> str:
    backends = available_backends()
    for name in PREFERRED_BACKENDS:
        if name in backends:
            return name
    return "MD5E"


def git_only_patterns(rules: str) -> list[str]:
    """The path patterns RULES keep in git (``annex.largefiles=nothing``)."""
    return [
        line.split()[0]
        for line in rules.splitlines()
        if line.strip() and not line.startswith("#") and line.endswith("annex.largefiles=nothing")
    ]


# Kept in git whatever the rules say: git's and DataLad's own files.
TOOL_FILE_RULES = "**/.git* annex.largefiles=nothing\n**/.datalad/** annex.largefiles=nothing\n"


def gitattributes_text(rules: str, backend: str) -> str:
    """The whole .gitattributes of a dataset we create."""
    return f"* annex.backend={backend}\n{TOOL_FILE_RULES}{rules}"

"""Register finished datasets in their superdataset in batches, with git's plumbing alone.

``register_subdatasets`` records what ``datalad save -d LAB LAB/conversion_x`` records for a
new subdataset: a gitlink (mode 160000) holding the subdataset's HEAD commit and a
``.gitmodules`` section ``[submodule "<rel>"]`` with ``path``, ``url = ./<rel>`` and
``datalad-id``. A batch takes a constant number of git calls (11), 1-4 ms per subdataset
in batches of 50-100 and flat, where one ``datalad save`` costs 0.3-2.5 s and grows with the
superdataset (bench/bench_register.py).

Not written: the ``[submodule "<rel>"] active, url`` section DataLad also appends to the
superdataset's own ``.git/config`` (local, never committed or cloned). Every git process in
the superdataset parses that file, so three lines per subdataset make each git call there
cost O(subdatasets) (a git call 2.7x slower at 1,000; a batch's CPU time doubled).
DataLad's status, subdatasets, clone and get work without it (tests/datalad_layer/
test_register.py); ``git submodule status`` lists such subdatasets as not initialised
(``git submodule init`` writes the sections).

Atomic: the commit is built in a temporary index (``read-tree HEAD``, the gitlinks and the
new ``.gitmodules`` blob, ``write-tree``, ``commit-tree``) and lands with one
``update-ref HEAD new old``; the real index (those paths only) and the work tree's
``.gitmodules`` follow. A marker in .git, written before ``update-ref`` and removed after
the last step, names the commit and its paths, so ``repair_registration`` finishes exactly
what a crash in between left. Registrations hold ``dataset.REGISTER_LOCK``, the lock that
``dataset.record_subdataset`` (``datalad save``) holds too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import timing
from ..errors import DataLadError, GitError, UsageError
from .dataset import REGISTER_LOCK, is_dataset
from .git import call_git
from .locks import clear_stale_locks, git_dirs

# In the superdataset's git dir: the marker (a commit made whose index and work tree may
# lag) and the temporary files of a registration, left only by a crash.
PENDING = "anc-register.pending"
TEMP_INDEX = "anc-register.index"
GITMODULES_TMP = "anc-register.gitmodules"  # the new .gitmodules before its os.replace
TEMP_FILES = (TEMP_INDEX, f"{TEMP_INDEX}.lock", GITMODULES_TMP, f"{PENDING}.tmp")
LOCK_WAIT_S = 30.0  # how long a git lock held by a live process is waited for
GITLINK = "160000"
NO_COMMIT = "0" * 40
HEX40 = re.compile(r"[0-9a-f]{40}")
# DataLad names the corresponding branch of an adjusted one (git-annex on crippled file
# systems) `adjusted/<branch>(unlocked)` or `adjusted/<branch>(fixed)`.
ADJUSTED = re.compile(r"refs/heads/adjusted/(.+?)(?:\(unlocked\)|\(fixed\))?")


@dataclass(frozen=True)
class Subdataset:
    """A dataset to register: where it is, the commit to record, its DataLad id."""

    path: Path  # absolute, inside the superdataset
    commit: str  # its HEAD commit, 40 hex
    datalad_id: str | None  # datalad.dataset.id of its .datalad/config


# --- reading a subdataset: files, not git processes ---------------------------------------


def read_subdataset(path: Path) -> Subdataset:
    """The HEAD commit (of the corresponding branch, as DataLad records it) and DataLad id
    of the dataset at PATH, read from its files; git is asked only when they do not say."""
    path = Path(path).absolute()
    if not (path / ".git").exists():
        raise UsageError(
            f"{path} is not a git repository",
            "create the dataset there first (`datalad create`), or give its top folder",
        )
    return Subdataset(path, _head_commit(path), dataset_id(path))


def _head_commit(path: Path) -> str:
    gitdir, common = git_dirs(path)
    head = _read_text(gitdir / "HEAD").strip()
    if head.startswith("ref: "):
        ref = head[5:]
        adjusted = ADJUSTED.fullmatch(ref)
        ref = f"refs/heads/{adjusted[1]}" if adjusted else ref
        commit = _read_ref(common, ref)
    else:
        ref, commit = "HEAD", head  # detached: DataLad records HEAD
    if not HEX40.fullmatch(commit):
        # a ref format the files do not tell (reftable, a symbolic ref), or no commit
        commit = os.fsdecode(
            call_git(path, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        ).strip()
    if not HEX40.fullmatch(commit):
        raise UsageError(
            f"{path} has no commit to record",
            "save the dataset once (`datalad save`) before registering it",
        )
    return commit


def _read_ref(common: Path, ref: str) -> str:
    """REF's commit from its loose file, else from packed-refs ('' when neither has it)."""
    loose = _read_text(common / ref).strip()
    if loose:
        return loose
    for line in _read_text(common / "packed-refs").splitlines():
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return ""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="surrogateescape")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return ""


def dataset_id(path: Path) -> str | None:
    found = None
    for section in _parse_config(_read_text(path / ".datalad" / "config")):
        if section.name == "datalad" and section.sub == "dataset" and "id" in section.keys:
            found = section.keys["id"][0]
    return found or None


# --- git config text: the part of its syntax git and DataLad write ------------------------


@dataclass
class _Section:
    name: str  # lower case
    sub: str | None  # subsection, case kept
    keys: dict[str, tuple[str, int]]  # lower-case key: (value, line index); last one wins
    last: int  # index of its last line holding a key


_HEADER = re.compile(r'\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\\n]|\\.)*)")?\s*\](.*)')
_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=(.*))?$")
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b"}


def _parse_config(text: str) -> list[_Section]:
    """The sections of git config TEXT (no continuation lines, no includes)."""
    sections: list[_Section] = []
    for i, line in enumerate(text.splitlines()):
        header = _HEADER.match(line)
        if header:
            name, sub, line = header.groups()
            if sub is None and "." in name:  # the old [section.subsection] form
                name, _, sub = name.partition(".")
                sub = sub.lower()
            elif sub is not None:
                sub = re.sub(r"\\(.)", r"\1", sub)
            sections.append(_Section(name.lower(), sub, {}, i))
        key = _KEY.match(line)
        if key and sections:
            raw = key[2]
            sections[-1].keys[key[1].lower()] = ("true" if raw is None else _value(raw), i)
            sections[-1].last = i
    return sections


def _value(raw: str) -> str:
    """A config value as git reads it: quotes, escapes, comments, outer blanks dropped."""
    out: list[str] = []
    blanks, quoted, chars = "", False, iter(raw.lstrip(" \t"))
    for c in chars:
        if c in " \t" and not quoted:
            blanks += c  # kept only when something follows
            continue
        if c in "#;" and not quoted:
            break
        out.append(blanks)
        blanks = ""
        if c == '"':
            quoted = not quoted
        elif c == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, nxt))
        else:
            out.append(c)
    return "".join(out)


def _quote(value: str) -> str:
    """DataLad's ``quote_config``: backslashes and quotes escaped, the value quoted when it
    starts or ends with a blank or holds a comment character."""
    value = value.replace("\\", "\\\\").replace('"', '\\"')
    if value[0] in " \t" or value[-1] in " \t" or "#" in value or ";" in value:
        value = f'"{value}"'
    return value


def _section_text(kind: str, name: str, props: dict[str, str]) -> str:
    """A section as DataLad's ``write_config_section`` writes it."""
    quoted = _quote(name)
    header = f"[{kind} {quoted}]" if quoted.startswith('"') else f'[{kind} "{quoted}"]'
    return header + "\n" + "".join(f"\t{key} = {_quote(v)}\n" for key, v in props.items())


# --- registering ----------------------------------------------------------------------------


@timing.timed("datalad.register_batch")
def register_subdatasets(
    superdataset: Path,
    subs: Sequence[Subdataset],
    message: str,
    *,
    files: Mapping[str, bytes] | None = None,
) -> str | None:
    """Record SUBS in SUPERDATASET in one commit with MESSAGE and return it (None when each is
    registered at its commit already). A registration at another commit is updated. FILES
    ({path: content}, small files of the caller's own, kept in git) land in the same commit,
    so that a record of the registration and the registration are never apart.

    The real index changes only at those paths and .gitmodules (whatever else is staged
    stays staged and out of the commit). A crash left by an earlier call is finished first.
    """
    sup = _superdataset_root(superdataset)
    todo = _validated(sup, subs)
    if (todo or files) and not message.strip():
        raise UsageError("a registration needs a commit message", "give one")
    gitdir = git_dirs(sup)[0]
    from filelock import FileLock

    with FileLock(gitdir / REGISTER_LOCK):
        if any((gitdir / name).exists() for name in (PENDING, *TEMP_FILES)):
            _repair(sup, gitdir)
        return _register(sup, gitdir, todo, message, dict(files or {})) if todo or files else None


def _superdataset_root(path: Path) -> Path:
    sup = Path(path).resolve()
    if not is_dataset(sup):
        raise UsageError(
            f"{sup} is not a DataLad dataset",
            f"create it with `datalad create {sup}`, or give the superdataset's top folder",
        )
    return sup


def _validated(sup: Path, subs: Sequence[Subdataset]) -> dict[str, Subdataset]:
    """SUBS by their path relative to SUP, checked without a git call."""
    todo: dict[str, Subdataset] = {}
    for sub in subs:
        path = Path(sub.path).absolute()
        try:
            rel = path.resolve().relative_to(sup)
        except ValueError:
            raise UsageError(
                f"{path} is not inside the superdataset {sup}",
                "create the dataset inside it, or register it into its own superdataset",
            ) from None
        if not rel.parts or rel.parts[0] == ".git" or "\n" in str(rel):
            raise UsageError(f"{path} cannot be a subdataset of {sup}", "give a folder below it")
        for parent in list(rel.parents)[:-1]:
            if (sup / parent / ".git").exists():
                raise UsageError(
                    f"{path} is inside {sup / parent}, a dataset of its own",
                    f"register it into {sup / parent}",
                )
        if not (path / ".git").exists():
            raise UsageError(
                f"{path} is not a git repository",
                "create the dataset there first (`datalad create`)",
            )
        if not HEX40.fullmatch(sub.commit):
            raise UsageError(
                f"{sub.commit!r} ({path}) is not a commit id", "read it with read_subdataset()"
            )
        if sub.datalad_id is not None and not re.fullmatch(r"[\w.:-]+", sub.datalad_id):
            raise UsageError(
                f"{sub.datalad_id!r} ({path}) is not a DataLad id", "read it with read_subdataset()"
            )
        key = rel.as_posix()
        if key in todo and todo[key] != sub:
            raise UsageError(
                f"{path} is given twice, with different commits or ids", "give each path once"
            )
        todo[key] = sub
    return todo


@dataclass
class _Plan:
    """What a registration changes: read and checked before anything is written."""

    old: str  # HEAD's commit ('' on an unborn branch)
    links: dict[str, tuple[str | None, str]]  # rel: (commit in HEAD or None, commit to record)
    old_blob: str | None  # .gitmodules in HEAD
    old_text: str
    text: str  # .gitmodules to commit


def _plan(sup: Path, todo: dict[str, Subdataset]) -> _Plan:
    """Read HEAD, the index and .gitmodules for TODO's paths (four git calls) and refuse
    what would be lost or cannot be a gitlink."""
    rels = list(todo)
    if not call_git(sup, "symbolic-ref", "-q", "HEAD", check=False).strip():
        raise UsageError(
            f"HEAD of {sup} is detached",
            f"check out a branch first: `git -C {sup} switch <branch>`",
        )
    old = os.fsdecode(call_git(sup, "rev-parse", "-q", "--verify", "HEAD", check=False)).strip()
    committed = _entries(sup, old, rels) if old else {}
    staged = _entries(sup, None, rels)
    for rel in rels:
        if {committed.get(rel, (GITLINK,))[0], staged.get(rel, (GITLINK,))[0]} != {GITLINK}:
            raise UsageError(
                f"{sup} tracks {rel} as a file, or files inside it",
                f"remove them from its index first (`git -C {sup} rm -r --cached {rel}`)",
            )
    old_blob = committed.get(".gitmodules", ("", None))[1]
    # the work tree's .gitmodules is HEAD's when its blob id says so: no git call to read it
    current = _worktree_gitmodules(sup)
    in_tree = None if current is None else _blob_id(current)
    if staged.get(".gitmodules", ("", None))[1] != old_blob or in_tree != old_blob:
        raise UsageError(
            f"{sup}/.gitmodules has changes that are not committed",
            f"commit them (`datalad save -d {sup} .gitmodules`) or undo them "
            f"(`git -C {sup} checkout -- .gitmodules`), then register again",
        )
    links = {
        rel: (committed.get(rel, ("", None))[1], sub.commit)
        for rel, sub in todo.items()
        if committed.get(rel, ("", None))[1] != sub.commit
    }
    old_text = _decode(current or b"")
    return _Plan(old, links, old_blob, old_text, _updated_gitmodules(old_text, todo))


def _register(
    sup: Path, gitdir: Path, todo: dict[str, Subdataset], message: str, files: dict[str, bytes]
) -> str | None:
    plan = _plan(sup, todo)
    committed = _entries(sup, plan.old, list(files)) if files and plan.old else {}
    blobs = {
        path: [committed.get(path, ("", None))[1], _blob_id(data)] for path, data in files.items()
    }
    blobs = {path: pair for path, pair in blobs.items() if pair[0] != pair[1]}
    if not plan.links and plan.text == plan.old_text and not blobs:
        return None
    blob = plan.old_blob
    if plan.text != plan.old_text:
        blob = os.fsdecode(
            call_git(sup, "hash-object", "-w", "--stdin", input=_encode(plan.text))
        ).strip()
    info = "".join(f"{GITLINK} {new}\t{rel}\0" for rel, (_, new) in plan.links.items())
    if blob != plan.old_blob:
        info += f"100644 {blob}\t.gitmodules\0"
    for path in blobs:  # one small file per batch, as a rule (the batch's record)
        call_git(sup, "hash-object", "-w", "--no-filters", "--stdin", input=files[path])
    info += "".join(f"100644 {new}\t{path}\0" for path, (_, new) in blobs.items())
    new = _commit(sup, gitdir, plan.old, info, message)
    pending = {
        "new": new,
        "paths": plan.links,
        "gitmodules": [plan.old_blob, blob] if blob != plan.old_blob else None,
        "files": blobs,
    }
    _write_atomic(gitdir / PENDING, json.dumps(pending).encode(), gitdir / f"{PENDING}.tmp")
    subject = message.strip().partition("\n")[0]
    try:
        _retry_on_lock(
            sup,
            lambda: call_git(
                sup, "update-ref", "-m", f"commit: {subject}", "HEAD", new, plan.old or NO_COMMIT
            ),
        )
    except GitError as exc:
        os.unlink(gitdir / PENDING)
        raise DataLadError(
            f"{sup} moved on while registering {len(plan.links)} subdatasets: {exc.last_line}",
            "register them again",
        ) from exc
    _finish(sup, gitdir, info, plan if blob != plan.old_blob else None, files)
    return new


def _commit(sup: Path, gitdir: Path, old: str, info: str, message: str) -> str:
    """A commit of OLD's tree with the index lines INFO, built in a temporary index (the
    real one, with whatever the user staged, is not touched) and not yet on any ref."""
    temp = {"GIT_INDEX_FILE": str(gitdir / TEMP_INDEX)}
    if old:
        call_git(sup, "read-tree", old, env=temp)
    call_git(sup, "update-index", "-z", "--index-info", input=info.encode(), env=temp)
    tree = os.fsdecode(call_git(sup, "write-tree", env=temp)).strip()
    parent = ("-p", old) if old else ()
    body = (message.strip() + "\n").encode()
    new = os.fsdecode(call_git(sup, "commit-tree", tree, *parent, "-F", "-", input=body)).strip()
    os.unlink(gitdir / TEMP_INDEX)
    return new


def _entries(sup: Path, tree: str | None, rels: list[str]) -> dict[str, tuple[str, str]]:
    """(mode, object) of .gitmodules and of RELS in TREE (None: the real index), one git
    call. A path with files below it, or in a merge conflict, maps to ("conflict", "")."""
    paths = [".gitmodules", *rels]
    if tree:
        out = call_git(sup, "--literal-pathspecs", "ls-tree", "-r", "-z", tree, "--", *paths)
    else:
        out = call_git(sup, "--literal-pathspecs", "ls-files", "-s", "-z", "--", *paths)
    wanted, found = set(paths), {}
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, _, name = os.fsdecode(item).partition("\t")
        mode, second, *rest = meta.split()
        sha, stage = (rest[0], "0") if tree else (second, rest[0])  # ls-tree: mode type sha
        if name in wanted and stage == "0":
            found[name] = (mode, sha)
        else:  # below one of RELS (rare: the loop over them is no cost)
            top = next((r for r in rels if name == r or name.startswith(r + "/")), name)
            found[top] = ("conflict", "")
    return found


def _worktree_gitmodules(sup: Path) -> bytes | None:
    try:
        return (sup / ".gitmodules").read_bytes()
    except FileNotFoundError:
        return None


def _decode(data: bytes) -> str:
    """Text that encodes back to the very same bytes (any line ends, any encoding)."""
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


_SECTION_START = re.compile(r"^[ \t]*\[", re.M)


def _updated_gitmodules(text: str, todo: dict[str, Subdataset]) -> str:
    """TEXT with a section appended for each subdataset it does not name and the datalad-id
    of those it names set. Only the sections of TODO's paths are parsed (one
    regular-expression scan finds them)."""
    found: dict[str, tuple[int, int]] = {}
    if text:
        forms = {form: rel for rel in todo for form in (rel, _quote(rel))}
        path_line = re.compile(
            r"^[ \t]*path[ \t]*=[ \t]*(" + "|".join(map(re.escape, forms)) + r")[ \t]*$", re.M
        )
        for match in path_line.finditer(text):
            start = text.rfind("\n[", 0, match.start()) + 1
            end = _SECTION_START.search(text, match.end())
            found.setdefault(forms[match[1]], (start, end.start() if end else len(text)))
    edits = []
    for rel, (start, end) in found.items():
        want = todo[rel].datalad_id
        lines = text[start:end].splitlines(keepends=True)
        section = _parse_config("".join(lines))
        if not want or not section or section[0].name != "submodule":
            continue
        have = section[0].keys.get("datalad-id")
        if have and have[0] == want:
            continue
        line = f"\tdatalad-id = {want}\n"
        if have:
            lines[have[1]] = line
        else:
            lines.insert(section[0].last + 1, line)
        edits.append((start, end, "".join(lines)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    added = [rel for rel in todo if rel not in found]
    if added and text and not text.endswith("\n"):
        text += "\n"
    for rel in added:
        props = {"path": rel, "url": f"./{rel}"}
        if todo[rel].datalad_id:
            props["datalad-id"] = todo[rel].datalad_id
        text += _section_text("submodule", rel, props)
    return text


def _retry_on_lock(sup: Path, step: Callable[[], object]) -> None:
    """Run STEP; when a git lock blocks it, wait for that lock (or remove a stale one) once."""
    try:
        step()
    except GitError as exc:
        if "File exists" not in exc.stderr:
            raise
        clear_stale_locks(sup, wait_s=LOCK_WAIT_S)
        step()


def _finish(
    sup: Path, gitdir: Path, info: str, plan: _Plan | None, files: Mapping[str, bytes]
) -> None:
    """After the commit: the real index at its paths (INFO), then the work tree's
    .gitmodules (when PLAN changes it) and FILES, then the marker goes."""
    try:
        _retry_on_lock(
            sup, lambda: call_git(sup, "update-index", "-z", "--index-info", input=info.encode())
        )
    except GitError as exc:
        raise DataLadError(
            f"registered in HEAD of {sup}, but its index was not updated: {exc.last_line}",
            "register again (or call repair_registration): that finishes it first",
        ) from exc
    if plan is not None:
        if _worktree_gitmodules(sup) != (_encode(plan.old_text) if plan.old_blob else None):
            os.unlink(gitdir / PENDING)
            raise DataLadError(
                f"registered in HEAD of {sup}, but its .gitmodules was edited meanwhile and kept",
                f"merge your edit with the committed one (`git -C {sup} diff .gitmodules`)",
            )
        _write_atomic(sup / ".gitmodules", _encode(plan.text), gitdir / GITMODULES_TMP)
    for path, data in files.items():
        _write_file(sup, path, data, gitdir)
    os.unlink(gitdir / PENDING)


def _write_file(sup: Path, path: str, data: bytes, gitdir: Path) -> None:
    (sup / path).parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(sup / path, data, gitdir / GITMODULES_TMP)


def _write_atomic(path: Path, data: bytes, temp: Path) -> None:
    """Write DATA to PATH through the file TEMP and one os.replace: never half written."""
    temp.write_bytes(data)
    os.replace(temp, path)


# --- repair ---------------------------------------------------------------------------------


def repair_registration(superdataset: Path) -> list[str]:
    """Finish a registration a crash interrupted after its commit: bring the index and the
    work tree's .gitmodules of SUPERDATASET to HEAD at that registration's paths (a
    .gitmodules edited since is kept and reported), remove its temporary files and stale git
    locks. Returns one line per thing done (or kept); [] when there was nothing."""
    sup = _superdataset_root(superdataset)
    gitdir = git_dirs(sup)[0]
    from filelock import FileLock

    with FileLock(gitdir / REGISTER_LOCK):
        return _repair(sup, gitdir)


def _repair(sup: Path, gitdir: Path) -> list[str]:
    removed = clear_stale_locks(sup, wait_s=LOCK_WAIT_S)
    done = [f"removed stale git lock {lock.relative_to(sup)}" for lock in removed]
    for name in TEMP_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(gitdir / name)
            done.append(f"removed leftover {name}")
    try:
        pending = json.loads((gitdir / PENDING).read_bytes())
    except FileNotFoundError:
        return done
    new = pending["new"]
    head = os.fsdecode(call_git(sup, "rev-parse", "-q", "--verify", "HEAD", check=False)).strip()
    if head == new:
        done += _bring_to_head(sup, gitdir, pending)
    elif head and os.fsdecode(call_git(sup, "merge-base", new, head, check=False)).strip() == new:
        done.append(
            f"left as is: HEAD moved on from the registration commit {new[:10]} "
            f"(look at `git -C {sup} status`)"
        )
    else:
        done.append(f"nothing to finish: the registration commit {new[:10]} never landed")
    os.unlink(gitdir / PENDING)
    return done


def _bring_to_head(sup: Path, gitdir: Path, pending: dict[str, Any]) -> list[str]:
    """The index and work tree at PENDING's paths from its old state to HEAD's."""
    wanted = {rel: (GITLINK, old, new) for rel, (old, new) in pending["paths"].items()}
    if pending["gitmodules"]:
        wanted[".gitmodules"] = ("100644", *pending["gitmodules"])
    staged = _entries(
        sup, None, [r for r in [*wanted, *pending.get("files", {})] if r != ".gitmodules"]
    )
    fix, kept, done = [], [], []
    for rel, (_mode, old, new) in wanted.items():
        now = staged.get(rel, ("", None))[1]
        if now == old:
            fix.append(rel)
        elif now != new:
            kept.append(rel)
    for path, (old, new) in pending.get("files", {}).items():
        if staged.get(path, ("", None))[1] == old:
            fix.append(path)
        wanted[path] = ("100644", old, new)
        have = (sup / path).read_bytes() if (sup / path).is_file() else None
        if have is None or _blob_id(have) == old:
            _write_file(sup, path, call_git(sup, "cat-file", "blob", new), gitdir)
            done.append(f"work tree: {path} set to HEAD")
    if fix:
        info = "".join(f"{wanted[r][0]} {wanted[r][2]}\t{r}\0" for r in fix)
        call_git(sup, "update-index", "-z", "--index-info", input=info.encode())
        done.append(f"index: {_names(fix)} set to HEAD")
    if kept:
        done.append(f"kept in the index (staged since): {_names(kept)}")
    if pending["gitmodules"]:
        old, new = pending["gitmodules"]
        current = _worktree_gitmodules(sup)
        have = None if current is None else _blob_id(current)
        if have == old:
            text = call_git(sup, "cat-file", "blob", new)
            _write_atomic(sup / ".gitmodules", text, gitdir / GITMODULES_TMP)
            done.append("work tree: .gitmodules set to HEAD")
        elif have != new:
            done.append(
                "kept .gitmodules in the work tree: edited since "
                f"(compare with `git -C {sup} diff HEAD -- .gitmodules`)"
            )
    return done


def _names(paths: list[str], shown: int = 3) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _blob_id(data: bytes) -> str:
    """The id git gives a blob of DATA (sha1 object format)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def registered_paths(superdataset: Path) -> set[str]:
    """The subdataset paths HEAD of SUPERDATASET records (relative, as git spells them)."""
    head = call_git(superdataset, "rev-parse", "-q", "--verify", "HEAD", check=False).strip()
    if not head:
        return set()
    found = set()
    for item in call_git(superdataset, "ls-tree", "-r", "-z", "HEAD").split(b"\0"):
        meta, _, name = os.fsdecode(item).partition("\t")
        if meta.startswith(GITLINK + " "):
            found.add(name)
    return found

"""git-annex keys parsed from what a real ``git annex add`` wrote: links, pointers, names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agentic_neurodata_conversion.datalad_layer.git import call_git
from agentic_neurodata_conversion.datalad_layer.keys import (
    AnnexKey,
    content_id,
    key_of_blob,
    key_of_file,
    key_of_link,
    key_of_pointer,
    key_size,
    parse_key,
    same_key,
)

CONTENT = b"a recording\n"
FILES = {  # name: backend
    "rec.nwb": "BLAKE3_256E",
    "rec.dat": "SHA256E",
    "noext": "SHA256E",
    "rec.tar.gz": "SHA256E",
    "rec.bin": "MD5E",
    "plain.dat": "SHA256",
    "worm.dat": "WORM",
}


@pytest.fixture(scope="module")
def annex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("keys") / "repo"
    root.mkdir()
    call_git(root, "init", "-q")
    call_git(root, "annex", "init", "-q")
    for name, backend in FILES.items():
        (root / name).write_bytes(CONTENT)
        call_git(root, "annex", "add", "-q", "--force-large", f"--backend={backend}", name)
    call_git(root, "commit", "-q", "-m", "add")
    return root


def lookup(root: Path, name: str) -> str:
    return call_git(root, "annex", "lookupkey", name).decode().strip()


@pytest.mark.parametrize("name", FILES)
def test_keys_of_real_links_parse_and_round_trip(annex: Path, name: str) -> None:
    key = key_of_file(annex / name)
    assert key is not None and str(key) == lookup(annex, name)
    assert key == AnnexKey.parse(lookup(annex, name))
    assert key.backend == FILES[name]
    assert key.size == len(CONTENT)
    assert key_size(str(key)) == len(CONTENT)
    assert key == key_of_link(os.readlink(annex / name))


def test_hash_and_extension(annex: Path) -> None:
    sha256 = hashlib.sha256(CONTENT).hexdigest()
    md5 = hashlib.md5(CONTENT).hexdigest()
    keys = {name: key_of_file(annex / name) for name in FILES}
    assert (keys["rec.dat"].hash, keys["rec.dat"].ext) == (sha256, ".dat")
    assert (keys["noext"].hash, keys["noext"].ext) == (sha256, "")
    assert (keys["rec.tar.gz"].hash, keys["rec.tar.gz"].ext) == (sha256, ".tar.gz")
    assert (keys["plain.dat"].hash, keys["plain.dat"].ext) == (sha256, "")  # no E: no extension
    assert (keys["rec.bin"].hash, keys["rec.bin"].ext) == (md5, ".bin")
    blake = keys["rec.nwb"]
    assert len(blake.hash) == 64 and int(blake.hash, 16) >= 0 and blake.ext == ".nwb"
    assert all(k.hashed and k.mtime is None for n, k in keys.items() if n != "worm.dat")


def test_same_content_one_id_whatever_the_extension_or_e(annex: Path) -> None:
    ids = {name: key_of_file(annex / name).content_id for name in FILES}
    sha = {ids[n] for n in ("rec.dat", "noext", "rec.tar.gz", "plain.dat")}
    assert sha == {f"SHA256-s{len(CONTENT)}--{hashlib.sha256(CONTENT).hexdigest()}"}
    assert ids["rec.bin"].startswith("MD5-s") and ids["rec.nwb"].startswith("BLAKE3_256-s")
    assert ids["worm.dat"] is None
    assert content_id(lookup(annex, "rec.dat")) == content_id(lookup(annex, "noext"))


def test_a_worm_key_has_no_hash(annex: Path) -> None:
    key = key_of_file(annex / "worm.dat")
    assert key.backend == "WORM" and not key.hashed and key.hash == "" and key.ext == ""
    assert key.name == "worm.dat" and key.mtime is not None and key.size == len(CONTENT)


def test_a_url_key_spelled_as_a_file_name(annex: Path) -> None:
    """A URL key's ``:`` and ``/`` are escaped in links and in .git/annex/objects."""
    call_git(
        annex,
        "-c",
        "annex.security.allowed-url-schemes=http https ftp file",
        "annex",
        "addurl",
        "--relaxed",
        "-q",
        "--file",
        "remote.txt",
        f"file://{annex}/noext",
    )
    real = lookup(annex, "remote.txt")
    key = key_of_file(annex / "remote.txt")
    assert key is not None and str(key) == real and key.backend.endswith("URL")
    assert not key.hashed and key.size is None and key.content_id is None
    assert key.file_name == os.path.basename(os.readlink(annex / "remote.txt")) != real
    assert AnnexKey.from_file_name(key.file_name) == key
    # the fields git-annex itself reads from the key
    fields = call_git(annex, "annex", "examinekey", "--format=${backend} ${keyname}\n", real)
    assert fields.decode().split() == [key.backend, key.name]


def test_pointer_files_of_unlocked_files(annex: Path) -> None:
    (annex / "pointer.nwb").write_bytes(CONTENT)
    call_git(annex, "annex", "add", "-q", "--force-large", "--backend=BLAKE3_256E", "pointer.nwb")
    call_git(annex, "annex", "unlock", "-q", "pointer.nwb")
    call_git(annex, "add", "pointer.nwb")
    blob = call_git(annex, "cat-file", "blob", ":pointer.nwb")
    assert blob.startswith(b"/annex/objects/")
    assert str(key_of_pointer(blob)) == lookup(annex, "pointer.nwb")
    assert key_of_blob("100644", blob) == key_of_pointer(blob) == key_of_file(annex / "rec.nwb")
    assert key_of_file(annex / "pointer.nwb") is None  # no symlink, and content is not read
    link = call_git(annex, "cat-file", "blob", "HEAD:rec.dat")
    assert key_of_blob("120000", link) == key_of_file(annex / "rec.dat")
    assert key_of_blob("100644", CONTENT) is None  # a file kept in git


def test_chunked_keys_and_what_is_not_a_key(annex: Path) -> None:
    chunk = "SHA256E-s10-S5-C1--ab.nwb"
    key = AnnexKey.parse(chunk)
    assert (key.size, key.chunk_size, key.chunk_number, key.hash, key.ext) == (
        10,
        5,
        1,
        "ab",
        ".nwb",
    )
    assert str(key) == chunk and key.content_id == "SHA256-s10-S5-C1--ab"
    fields = call_git(annex, "annex", "examinekey", "--format=${bytesize} ${keyname}\n", chunk)
    assert fields.decode().split() == ["10", "ab.nwb"]
    for text in ("rec.nwb", "SHA256E-s10", "sha256e-s1--ab", "SHA256E-m1-s2--ab", "SHA256E-x1--ab"):
        assert parse_key(text) is None, text
        with pytest.raises(ValueError):
            AnnexKey.parse(text)
    assert key_of_link("../elsewhere/SHA256E-s1--ab") is None  # not into the annex
    assert key_of_pointer(b"/annex/objects/SHA256E-s1--ab\nmore text") is None


def test_same_key_ignores_only_the_extension(annex: Path) -> None:
    stored = lookup(annex, "rec.dat")
    obj = (annex / "rec.dat").resolve()
    computed = call_git(annex, "annex", "calckey", "--backend=SHA256E", str(obj)).decode().strip()
    assert same_key(stored, computed)
    assert not same_key(stored, lookup(annex, "rec.bin"))
    assert not same_key(stored, stored.replace("-s12-", "-s13-"))

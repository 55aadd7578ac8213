"""environment.py: this interpreter's distributions, the lock file, its round trips."""

from __future__ import annotations

import platform
import re
from importlib import metadata
from pathlib import Path

from agentic_neurodata_conversion import environment
from agentic_neurodata_conversion.environment import Distribution, Environment, normalize

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^=\s]+$")


def test_capture_names_every_distribution_as_importlib_reads_it() -> None:
    env = environment.capture()
    assert env.python == platform.python_version()
    # The header-only reader agrees with importlib's full parse for every distribution.
    first: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            first.setdefault(normalize(name), (name, dist.version))
    assert {normalize(d.name): (d.name, d.version) for d in env.distributions} == first
    assert env.versions(["pytest", "numpy", "no-such-dist"]) == {
        "pytest": metadata.version("pytest"),
        "numpy": metadata.version("numpy"),
    }


def test_the_lock_pins_what_an_index_holds_and_comments_the_rest(tmp_path: Path) -> None:
    env = Environment(
        "3.11.7",
        "cpython CPython",
        "Linux",
        "x86_64",
        (
            Distribution("Foo_Bar", "1.0"),
            Distribution("pip", "26.3"),  # every new environment brings its own
            Distribution("ours", "0.1.0", "editable file:///src/ours"),
        ),
    )
    lock = environment.write_lock(tmp_path / "scripts", env, made_by="anc 0.1.0")
    assert lock == tmp_path / "scripts" / "requirements.lock"
    text = lock.read_text()
    assert "# ours==0.1.0  from editable file:///src/ours" in text
    assert "# Python 3.11.7 (cpython CPython) on Linux (x86_64)." in text
    assert environment.read_lock(lock) == ["Foo_Bar==1.0"]
    assert Environment.from_dict(env.to_dict()) == env


def test_the_lock_of_this_interpreter_is_exact_pins(tmp_path: Path) -> None:
    lines = environment.read_lock(environment.write_lock(tmp_path))
    assert lines and all(PIN.match(line) for line in lines), [
        ln for ln in lines if not PIN.match(ln)
    ]
    pinned = {normalize(line.split("==")[0]): line.split("==")[1] for line in lines}
    assert pinned["neuroconv"] == metadata.version("neuroconv")
    assert pinned["pynwb"] == metadata.version("pynwb")
    assert "pip" not in pinned

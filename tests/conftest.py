"""Shared fixtures: small DataLad datasets built by the tests, the CLI run in-process, a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentic_neurodata_conversion.cli.main import main
from agentic_neurodata_conversion.datalad_layer import dataset as dsops

# Output is tested as piped. pytest-xdist workers start with COLUMNS=80 and LINES=24 in
# the environment, which the CLI (cli/output.py) rightly takes as a terminal's width.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


@pytest.fixture
def source_dataset(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: a small local DataLad dataset standing in for a remote one.

    It holds ``README.md`` (in git), ``data/rec.dat`` (annexed, 64 KiB) and any extra FILES
    ({relative path: bytes}); all saved.
    """

    def make(name: str = "source", files: dict[str, bytes] | None = None) -> Path:
        root = tmp_path_factory.mktemp("src") / name
        ds = dsops.create_dataset(root, f"test source {name}")
        content = {"README.md": f"# {name}\n".encode(), "data/rec.dat": os.urandom(65536)}
        for rel, data in (content | (files or {})).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        dsops.save(ds, f"Add {name} content")
        return root

    return make


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `anc ARGS...` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def bare_env() -> Callable[[Path], dict[str, str]]:
    """Callable: the environment of a fresh user calling .venv/bin/anc with HOME at the
    given folder: no venv on PATH, no git identity or config."""

    def make(home: Path) -> dict[str, str]:
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GIT_", "VIRTUAL_ENV", "DATALAD_"))
        }
        return keep | {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    return make


@pytest.fixture
def snapshot() -> Callable[[Path], tuple[str, ...]]:
    """Callable: a fingerprint of a folder (commit, git status, file list) to prove no writes."""

    def take(path: Path) -> tuple[str, ...]:
        files = sorted(
            str(Path(d, f).relative_to(path))
            for d, dirs, names in os.walk(path)
            for f in names + [x for x in dirs if x == ".git"]
            if ".git" not in Path(d).relative_to(path).parts
        )
        if not (path / ".git").exists():
            return tuple(files)
        git = ["git", "-C", str(path)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        status = subprocess.run(
            [*git, "status", "--porcelain", "--ignored"], capture_output=True, text=True
        ).stdout
        return (head, status, *files)

    return take


# --------------------------------------------------------------------------- conversion engine
# Small synthetic recordings (tests/test_conversion_*.py).


@pytest.fixture(scope="session")
def recording_size() -> dict[str, float]:
    """Channels and seconds of the test recordings. 32 SpikeGLX channels: fewer give a
    two-valued adc_group column, which nwbinspector suggests making boolean."""
    return {"channels": 32, "seconds": 0.5}


@pytest.fixture
def write_recording(tmp_path: Path, recording_size: dict[str, float]) -> Callable[..., object]:
    """Factory: write a synthetic recording (``spikeglx`` or ``openephys``) under tmp_path."""
    from agentic_neurodata_conversion.conversion import synthetic

    def make(fmt: str = "spikeglx", folder: Path | None = None, **kwargs: object) -> object:
        return synthetic.write_recording(fmt, folder or tmp_path / fmt, **(recording_size | kwargs))

    return make


# Recordings real acquisition software wrote (their README lists them); read-only there.
EPHY_TESTING_DATA = Path(os.environ.get("ANC_EPHY_TESTING_DATA", "/work/shared/ephy_testing_data"))


@pytest.fixture
def real_recording(tmp_path: Path) -> Callable[[str], Path]:
    """Factory: a writable copy, under tmp_path, of the folder NAME of the real recordings
    (same folder name; file times are those of the copy)."""

    def copy(name: str) -> Path:
        source = EPHY_TESTING_DATA / name
        if not source.is_dir():
            pytest.skip(f"real recording {source} is not on this machine")
        target = tmp_path / "real" / Path(name).name
        shutil.copytree(source, target, copy_function=shutil.copyfile)
        for folder, _dirs, _files in os.walk(target):
            Path(folder).chmod(0o755)  # copytree kept the source's read-only folder modes
        return target

    return copy


@pytest.fixture(scope="session")
def spikeglx_extracted(
    tmp_path_factory: pytest.TempPathFactory, recording_size: dict[str, float]
) -> tuple[object, list[object]]:
    """A SpikeGLX recording's detection and extracted metadata (NeuroConv read once)."""
    from agentic_neurodata_conversion.conversion import formats, metadata, synthetic

    rec = synthetic.write_spikeglx(tmp_path_factory.mktemp("sglx") / "rec", **recording_size)
    detection = formats.detect_format(rec.folder)
    return detection, metadata.extract_metadata(formats.make_interface(detection), detection)


# --------------------------------------------------------------------------- a small disk


class SmallDisk:
    """A tmpfs of a given size mounted at ``path``: a disk that fills up for real."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        path.mkdir(parents=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
        )

    def grow(self, size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)

    def free(self) -> int:
        return os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], SmallDisk]]:
    """Factory: mount a tmpfs of SIZE bytes (needs root, as on CI; elsewhere skipped)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the disk-full tests mount a tmpfs and must run as root on CI")
        pytest.skip("mounting a tmpfs needs root")
    disks: list[SmallDisk] = []

    def make(size: int) -> SmallDisk:
        disks.append(SmallDisk(tmp_path / f"disk{len(disks)}", size))
        return disks[-1]

    yield make
    for disk in disks:
        disk.unmount()


# --------------------------------------------------------------------------- a read-only folder


@pytest.fixture
def readonly_folder(tmp_path: Path) -> Iterator[Path]:
    """An empty folder the current user cannot write to, for real.

    Root ignores permission bits, so as root it is a read-only tmpfs (the kernel refuses the
    write and ``os.access`` says so); a user is given a mode-555 folder. Neither runs anything
    as another user, so the test works wherever the checkout and its venv live (a clone in a
    private ``mktemp -d`` folder included).
    """
    folder = tmp_path / "readonly"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k,mode=755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:  # root without CAP_SYS_ADMIN (a container): as small_disk
        why = f"mounting a read-only tmpfs failed: {done.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# --------------------------------------------------------------------------- browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright (never `playwright install`)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()

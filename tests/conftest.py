"""Shared fixtures: small DataLad datasets built by the tests, the CLI run in-process, real
recordings copied in, a browser."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar, NoReturn

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


# --------------------------------------------------------------------------- real recordings
# Small recordings written by acquisition software (../shared/ephy_testing_data/README.md):
# tests must not depend only on our own synthetic writers. Named by their folder there.

TEST_DATA_ENV = "ANC_TEST_DATA"
REQUIRE_TEST_DATA_ENV = "ANC_REQUIRE_TEST_DATA"
REPO_ROOT = Path(__file__).resolve().parents[1]
# Where the set lies beside a checkout, and where `anc dev setup --test-data -d ../devdata`
# puts GIN's (the spec's path for it).
DEFAULT_TEST_DATA = (
    REPO_ROOT.parent / "shared" / "ephy_testing_data",
    REPO_ROOT.parent / "devdata" / "tests" / "integration-tests" / "ephy_testing_data",
)
GET_TEST_DATA = (
    f"set {TEST_DATA_ENV} to a copy of shared/ephy_testing_data, or install GIN's with "
    "`anc dev setup --test-data -d ../devdata`"
)


@dataclass(frozen=True)
class RealData:
    """Where the real recordings are (``root``), in which layout, or why they cannot be used.

    ``shared``: the folders of shared/ephy_testing_data (with SHA256SUMS, verified once);
    ``gin``: a clone of GIN's ephy_testing_data, whose files GIN_PARTS maps to those folders.
    """

    root: Path | None
    layout: str = ""
    problem: str = ""  # set: every real_recording() fails or skips with it
    corrupt: bool = False  # present but not as SHA256SUMS says: fails even locally

    # shared name -> (GIN path, sub-folder of the copy it goes to); None: not on GIN.
    GIN_PARTS: ClassVar[dict[str, tuple[tuple[str, str], ...] | None]] = {
        "sglx_Noise4Sam_g0/Noise4Sam_g0": (("spikeglx/Noise4Sam_g0", ""),),
        "sglx_multi_trigger_multi_gate_CI0/5-19-2022-CI0": (
            ("spikeglx/multi_trigger_multi_gate/SpikeGLX/5-19-2022-CI0", ""),
        ),
        "oebin_v0.4.4.1_with_spikes": (("openephysbinary/v0.4.4.1_with_spikes", ""),),
        "oe_pytools_v067_binary": None,  # from the open-ephys-python-tools sdist
        "intan_fps_test_231117_052500": (("intan/intan_fps_test_231117_052500", ""),),
        "blackrock_2_1": (
            ("blackrock/blackrock_2_1/l101210-001.ns2", ""),
            ("blackrock/blackrock_2_1/l101210-001.nev", ""),
        ),
        "axona_raw": (("axona/axona_raw.bin", ""), ("axona/axona_raw.set", "")),
        # GIN keeps the block's files flat; NeuroConv wants <tank>/<block>/.
        "tdt_ECTest_B1/ECTest-220207-135355": (("tdt/dataset_1_single_block", "ECTest_B1"),),
        "plexon_3_plx": (("plexon/File_plexon_3.plx", ""),),
        "biocam_hw3.0_fw1.6": (("biocam/biocam_hw3.0_fw1.6.brw", ""),),
        "alphaomega_mpx_map_version4/mpx_map_version4": (("alphaomega/mpx_map_version4", ""),),
        "spikegadgets_W122": (("spikegadgets/W122_06_09_2019_1_fromSD.rec", ""),),
        "neuroscope_test1": (("neuroscope/test1", ""),),
        "neuroscope_YutaMouse42_dataset_1": (("neuroscope/dataset_1", ""),),
        "neuralynx_cheetah_v5.4.0/original_data": (("neuralynx/Cheetah_v5.4.0/original_data", ""),),
        "phy_example_0": (("phy/phy_example_0", ""),),
        "cellexplorer_dataset_1": (("cellexplorer/dataset_1", ""),),
    }


def real_data_required(env: Mapping[str, str] = os.environ) -> bool:
    """Missing recordings fail on CI (or when asked to), else skip."""
    return bool(env.get("CI")) or env.get(REQUIRE_TEST_DATA_ENV) == "1"


def locate_real_data(env: Mapping[str, str] = os.environ) -> RealData:
    """$ANC_TEST_DATA if set, else the first default location holding a set (no checks)."""
    given = env.get(TEST_DATA_ENV)
    candidates = (Path(given),) if given else DEFAULT_TEST_DATA
    for root in candidates:
        if (root / "SHA256SUMS").is_file():
            return RealData(root, "shared")
        if (root / "spikeglx").is_dir():
            return RealData(root, "gin")
    where = f"{TEST_DATA_ENV}={given}" if given else " or ".join(map(str, candidates))
    return RealData(None, problem=f"no real test recordings at {where}: {GET_TEST_DATA}")


def verify_sha256sums(root: Path) -> str:
    """The first file differing from ROOT/SHA256SUMS ('' when all match; ~0.05 s for 40 MB)."""
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, _, rel = line.partition("  ")
        try:
            with open(root / rel, "rb") as fh:
                actual = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError as exc:
            return f"{rel}: {exc.strerror}"
        if actual != digest:
            return f"{rel} differs from SHA256SUMS"
    return ""


@pytest.fixture(scope="session")
def real_data() -> RealData:
    """The real recordings, located and (shared layout) verified once per session."""
    found = locate_real_data()
    if found.layout == "shared":
        bad = verify_sha256sums(found.root)
        if bad:
            problem = f"real test recordings at {found.root} are damaged: {bad}; copy them again"
            return RealData(found.root, found.layout, problem, corrupt=True)
    return found


def unavailable(reason: str, *, corrupt: bool = False) -> NoReturn:
    """Fail (CI, ANC_REQUIRE_TEST_DATA=1, damaged data) or skip, with a one-line reason."""
    if corrupt or real_data_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _writable_copy(src: Path, dst: Path) -> None:
    """Copy file or folder SRC to DST (following annex symlinks); the originals are
    read-only and copies keep their modes, so give the user write permission back."""
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst / src.name)
    for dirpath, dirs, files in os.walk(dst):
        for name in [".", *dirs, *files]:
            path = Path(dirpath, name)
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture
def real_recording(real_data: RealData, tmp_path: Path) -> Callable[[str], Path]:
    """Factory: copy the named real recording (a folder of shared/ephy_testing_data, e.g.
    ``"sglx_Noise4Sam_g0/Noise4Sam_g0"``) into tmp_path; returns the copy (same leaf name)."""

    def copy(name: str) -> Path:
        if real_data.root is None or real_data.problem:
            unavailable(real_data.problem, corrupt=real_data.corrupt)
        if name not in RealData.GIN_PARTS:
            pytest.fail(f"{name!r} is not a recording of the set (see its README.md)")
        target = tmp_path / "real" / PurePosixPath(name).name
        if target.exists():
            pytest.fail(f"{name!r} was copied already in this test")
        if real_data.layout == "shared":
            if not (real_data.root / name).is_dir():
                unavailable(f"{real_data.root / name} is missing: {GET_TEST_DATA}")
            _writable_copy(real_data.root / name, target)
            return target
        parts = RealData.GIN_PARTS[name]
        if parts is None:
            unavailable(f"{name} is not part of GIN's ephy_testing_data: {GET_TEST_DATA}")
        for part, sub in parts:
            src = real_data.root / part
            if not src.exists():  # not installed, or an annexed file whose content is absent
                unavailable(
                    f"{src} is missing or not fetched: run `datalad get {part}` in "
                    f"{real_data.root}, or `anc dev setup --test-data`"
                )
            try:
                _writable_copy(src, target / sub)
            except shutil.Error as exc:
                unavailable(f"{src} is not fully fetched ({exc.args[0][0][2]}): run `datalad get`")
        return target

    return copy

"""Development data management: layout, annex rules, adding, subdatasets, suggested datasets."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.data_management import (
    DataLadRepositoryManager,
    DataLadWrapper,
    TestDatasetManager,
    setup_development_data_infrastructure,
)
from agentic_neurodata_conversion.data_management.infrastructure import default_spec, read_spec
from agentic_neurodata_conversion.data_management.test_datasets import (
    get_content,
    update_subdatasets,
)
from agentic_neurodata_conversion.datalad_layer import dataset as dsops
from agentic_neurodata_conversion.errors import UsageError

MB = 1024 * 1024


def git(root: Path, *args: str) -> str:
    return dsops.git(root, *args).decode()


def disk_use(root: Path) -> int:
    """Bytes allocated under ROOT, each inode counted once (what `du` reports)."""
    seen: set[int] = set()
    total = 0
    for dirpath, dirs, names in os.walk(root):
        for name in names + dirs:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> TestDatasetManager:
    """One development dataset shared by the tests that only add distinct names to it."""
    manager = DataLadRepositoryManager(tmp_path_factory.mktemp("dev") / "devdata")
    manager.initialize()
    return TestDatasetManager(manager)


def test_init_lays_out_folders_rules_and_changes_nothing_twice(tmp_path: Path) -> None:
    manager = DataLadRepositoryManager(tmp_path / "devdata")
    first = manager.initialize()
    root = manager.base_path
    assert first.created and len(first.readmes_written) == 12
    assert (root / "etl/input-data/README.md").read_text() == (
        "# etl/input-data\n\nRaw input datasets for testing\n"
    )
    for sub in ("etl/workflows", "tests/fixtures", "examples/sample-datasets", "tests"):
        assert (root / sub / "README.md").is_file()

    out = git(
        root,
        "check-attr",
        "annex.largefiles",
        "--",
        "a.nwb",
        "b.py",
        "c.csv",
        "d.svg",
        "e.pdf",
        "f.ns5",
        "g.png",
        "h.tar",
        "i.log",
        "j.tsv",
        "k.md",
    )
    rules = dict(line.split(": annex.largefiles: ") for line in out.splitlines())
    assert rules == {
        "a.nwb": "anything",
        "b.py": "nothing",
        "c.csv": "(largerthan=10MB)",
        "d.svg": "nothing",
        "e.pdf": "(largerthan=1MB)",
        "f.ns5": "anything",
        "g.png": "anything",
        "h.tar": "anything",
        "i.log": "(largerthan=1MB)",
        "j.tsv": "(largerthan=10MB)",
        "k.md": "nothing",
    }

    head = git(root, "rev-parse", "HEAD")
    second = manager.initialize()
    assert not second.created and not second.committed and second.readmes_written == []
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "status", "--porcelain") == ""
    ds = manager.initialize_development_repository()
    assert Path(ds.path) == root


def test_add_file_stores_50mb_once_and_leaves_the_source_alone(
    dev: TestDatasetManager, tmp_path: Path
) -> None:
    source = tmp_path / "recording.dat"
    source.write_bytes(os.urandom(50 * MB))
    stat_before = source.stat()
    root = dev.repo_manager.base_path
    before = disk_use(root)

    meta = dev.add_test_dataset("big-recording", source, "50 MB of noise", {"probe": "np1"})

    growth = disk_use(root) - before
    assert growth <= 1.05 * 50 * MB, f"dataset grew {growth / MB:.1f} MB for a 50 MB file"
    stored = root / "etl/input-data/big-recording/recording.dat"
    assert stored.is_symlink() and stored.stat().st_size == 50 * MB
    assert source.stat().st_mtime_ns == stat_before.st_mtime_ns and source.stat().st_nlink == 1
    assert meta["files"] == [{"path": "recording.dat", "size": 50 * MB}]
    assert meta["custom_metadata"] == {"probe": "np1"} and meta["version"] == 1
    assert meta["added"].endswith("Z") and meta["source"] == str(source)
    saved = json.loads((stored.parent / "dataset_metadata.json").read_text())
    assert saved == meta
    assert git(root, "status", "--porcelain") == ""
    assert os.listdir(root / ".git" / "anc-staging") == []


def test_add_folder_annexes_big_text_and_lists_it(dev: TestDatasetManager, tmp_path: Path) -> None:
    source = tmp_path / "session"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "units.csv").write_text("unit,rate\n1,2.5\n")
    (source / "big.txt").write_bytes(b"x" * (11 * MB))
    dev.add_test_dataset("session-1", source, "a folder")
    target = dev.test_data_path / "session-1"
    assert not (target / "sub" / "units.csv").is_symlink()  # small text stays in git
    assert (target / "big.txt").is_symlink()  # large content annexed whatever the rule
    listed = {d["name"]: d for d in dev.get_available_datasets()}
    assert listed["session-1"]["path"] == "etl/input-data/session-1"
    assert [f["path"] for f in listed["session-1"]["files"]] == ["big.txt", "sub/units.csv"]


def test_new_version_only_with_the_flag_and_history_kept(
    dev: TestDatasetManager, tmp_path: Path
) -> None:
    (tmp_path / "v1.csv").write_text("a\n1\n")
    dev.add_test_dataset("versioned", tmp_path / "v1.csv", "first")
    (tmp_path / "v2.csv").write_text("a\n2\n")
    with pytest.raises(UsageError, match="already exists"):
        dev.add_test_dataset("versioned", tmp_path / "v2.csv")
    meta = dev.add_test_dataset("versioned", tmp_path / "v2.csv", "second", new_version=True)
    target = dev.test_data_path / "versioned"
    assert meta["version"] == 2 and meta["previous_versions"][0]["description"] == "first"
    assert sorted(os.listdir(target)) == ["dataset_metadata.json", "v2.csv"]
    root = dev.repo_manager.base_path
    old = git(root, "show", "HEAD~1:etl/input-data/versioned/v1.csv")
    assert old == "a\n1\n"


def test_failed_copy_leaves_nothing(dev: TestDatasetManager, tmp_path: Path) -> None:
    source = tmp_path / "broken"
    source.mkdir()
    (source / "ok.csv").write_text("a\n")
    (source / "dangling.dat").symlink_to(tmp_path / "nowhere")
    root = dev.repo_manager.base_path
    head = git(root, "rev-parse", "HEAD")
    with pytest.raises(UsageError, match="cannot copy"):
        dev.add_test_dataset("broken", source)
    assert not (dev.test_data_path / "broken").exists()
    assert git(root, "rev-parse", "HEAD") == head and git(root, "status", "--porcelain") == ""
    assert os.listdir(root / ".git" / "anc-staging") == []


@pytest.mark.slow
def test_subdataset_install_get_update(tmp_path: Path, source_dataset: Callable[..., Path]) -> None:
    source = source_dataset()
    manager = DataLadRepositoryManager(tmp_path / "devdata")
    manager.initialize()
    root = manager.base_path
    datasets = TestDatasetManager(manager)
    result = datasets.install_subdataset(str(source), "etl/evaluation-data/source")
    assert result["path"] == "etl/evaluation-data/source"
    rec = root / "etl/evaluation-data/source/data/rec.dat"
    assert rec.is_symlink() and not rec.exists()
    assert datasets.get_subdatasets() == [
        {"path": "etl/evaluation-data/source", "url": str(source), "installed": True}
    ]

    fetched = get_content(root, "etl/evaluation-data/source/data")
    assert (
        fetched["fetched_files"] == 1 and rec.read_bytes() == (source / "data/rec.dat").read_bytes()
    )

    (source / "new.md").write_text("news\n")
    dsops.save(dsops.open_dataset(source), "news")
    report = update_subdatasets(root)
    assert report == {"updated": ["etl/evaluation-data/source"], "unchanged": [], "failed": []}
    assert (root / "etl/evaluation-data/source/new.md").exists()
    assert git(root, "status", "--porcelain") == ""


def write_spec(path: Path, entries: list[dict]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"datasets": entries}))
    return path


@pytest.mark.slow
def test_setup_installs_reachable_and_skips_the_rest(
    tmp_path: Path, source_dataset: Callable[..., Path]
) -> None:
    source = source_dataset()
    spec = write_spec(
        tmp_path / "spec.yaml",
        [
            {
                "name": "local",
                "source": str(source),
                "path": "tests/fixtures/local",
                "description": "reachable",
                "get": ["data"],
            },
            {
                "name": "offline",
                "source": "https://127.0.0.1:9/nothing",
                "path": "etl/evaluation-data/x",
            },
            {"name": "gone", "source": str(tmp_path / "gone"), "path": "etl/evaluation-data/gone"},
        ],
    )
    report = setup_development_data_infrastructure(tmp_path / "devdata", spec)
    assert [i["name"] for i in report.installed] == ["local"]
    assert report.installed[0]["get"] == ["tests/fixtures/local/data"]
    reasons = {i["name"]: i["reason"] for i in report.skipped}
    assert "Failed to connect" in reasons["offline"] or "Could not" in reasons["offline"]
    assert reasons["gone"].endswith("does not exist")
    root = tmp_path / "devdata"
    assert not (root / "etl/evaluation-data/x").exists()
    assert not (root / "tests/fixtures/local/data/rec.dat").exists()  # no content fetched

    head = git(root, "rev-parse", "HEAD")
    again = setup_development_data_infrastructure(root, spec)
    assert [i["name"] for i in again.present] == ["local"] and len(again.skipped) == 2
    assert git(root, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [
                {"name": "a", "source": "s", "path": "ok"},
                {"name": "b", "source": "s", "path": "../x"},
            ],
            "entry 2 (b): path: must be a relative path without '..'",
        ),
        (
            [{"name": "a/b", "source": "s", "path": "p"}],
            "entry 1 (a/b): name: invalid dataset name",
        ),
        ([{"name": "a", "source": "s", "path": "p", "url": "u"}], "entry 1 (a): url: Extra inputs"),
        ([{"name": "a", "path": "p"}], "entry 1 (a): source: Field required"),
        (
            [{"name": "a", "source": "s", "path": "p"}, {"name": "a", "source": "t", "path": "q"}],
            "name 'a' is listed twice",
        ),
    ],
)
def test_spec_errors_name_the_bad_entry(tmp_path: Path, entries: list[dict], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_spec(write_spec(tmp_path / "spec.yaml", entries))


def test_spec_file_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("datasets: [unclosed\n")
    with pytest.raises(UsageError, match="is not readable YAML"):
        read_spec(tmp_path / "bad.yaml")
    with pytest.raises(UsageError, match="does not exist"):
        read_spec(tmp_path / "missing.yaml")


def test_packaged_spec_lists_real_public_sources() -> None:
    entries = read_spec(default_spec())
    sources = {e.source for e in entries}
    assert "https://gin.g-node.org/NeuralEnsemble/ephy_testing_data" in sources
    assert sum(s.startswith("https://github.com/dandisets/") for s in sources) >= 3
    assert all(e.description for e in entries)
    repo_copy = Path(__file__).parents[2] / "documents" / "possible-datasets.yaml"
    assert repo_copy.is_symlink() and repo_copy.resolve() == default_spec().resolve()


def test_seed_names_work_together(tmp_path: Path) -> None:
    wrapper = DataLadWrapper()
    manager = DataLadRepositoryManager(str(tmp_path / "devdata"))
    ds = manager.initialize_development_repository()
    assert wrapper.check_dataset_integrity(ds)["is_valid"]
    assert wrapper.repair_dataset(ds) is True
    assert TestDatasetManager(manager).get_available_datasets() == []
    assert git(Path(ds.path), "status", "--porcelain") == ""


def test_listing_survives_folders_without_readable_metadata(tmp_path: Path) -> None:
    datasets = TestDatasetManager(DataLadRepositoryManager(tmp_path))
    for name in ("a-ok", "b-none", "c-bad", ".hidden"):
        (datasets.test_data_path / name).mkdir(parents=True)
    (datasets.test_data_path / "a-ok" / "dataset_metadata.json").write_text('{"name": "a-ok"}')
    (datasets.test_data_path / "c-bad" / "dataset_metadata.json").write_text("{oops")
    listed = datasets.get_available_datasets()
    assert [d["name"] for d in listed] == ["a-ok", "b-none", "c-bad"]
    assert listed[1]["description"] == "No dataset_metadata.json available"
    assert listed[2]["description"].startswith("Unreadable dataset_metadata.json")

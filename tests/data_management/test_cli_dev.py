"""`anc dev` and `anc check` from the command line: results, bad input, repair."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentic_neurodata_conversion.data_management import DataLadRepositoryManager
from agentic_neurodata_conversion.datalad_layer import dataset as dsops

ANC = Path(sys.executable).parent / "anc"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def devdata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A development dataset holding one test dataset, `existing`; tests must not change it."""
    root = tmp_path_factory.mktemp("cli") / "devdata"
    DataLadRepositoryManager(root).initialize()
    sample = tmp_path_factory.mktemp("sample") / "sample.csv"
    sample.write_text("a,b\n1,2\n")
    from agentic_neurodata_conversion.cli.main import main

    assert main(["dev", "add", "existing", str(sample), "-d", str(root)]) == 0
    return root


def assert_one_line_error(result: tuple[int, str, str], code: int, message: str) -> None:
    got_code, out, err = result
    assert got_code == code, (got_code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a/b", "invalid dataset name 'a/b'"),
        ("..", "invalid dataset name '..'"),
        ("x..y", "invalid dataset name 'x..y'"),
        ("", "dataset name is empty"),
        ("existing", "dataset 'existing' already exists in"),
    ],
)
def test_add_refuses_bad_names(
    run_cli: Run, snapshot: Callable, devdata: Path, tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "f.csv").write_text("x\n")
    before = snapshot(devdata)
    result = run_cli("dev", "add", name, str(tmp_path / "f.csv"), "-d", str(devdata))
    assert_one_line_error(result, 2, message)
    assert snapshot(devdata) == before


def test_add_refuses_missing_source_bad_meta_and_outside_a_dev_dataset(
    run_cli: Run,
    snapshot: Callable,
    devdata: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = snapshot(devdata)
    missing = tmp_path / "missing.dat"
    assert_one_line_error(
        run_cli("dev", "add", "new", str(missing), "-d", str(devdata)),
        2,
        f"source {missing} does not exist (check the path)",
    )
    (tmp_path / "f.csv").write_text("x\n")
    assert_one_line_error(
        run_cli(
            "dev", "add", "new", str(tmp_path / "f.csv"), "--meta", "novalue", "-d", str(devdata)
        ),
        2,
        "--meta 'novalue' is not KEY=VALUE",
    )
    assert snapshot(devdata) == before

    monkeypatch.chdir(tmp_path)
    outside = snapshot(tmp_path)
    assert_one_line_error(
        run_cli("dev", "add", "new", "f.csv"), 2, f"{tmp_path} is not inside a development dataset"
    )
    assert snapshot(tmp_path) == outside


def test_init_refuses_plain_git_repositories(
    run_cli: Run, snapshot: Callable, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    before = snapshot(repo)
    assert_one_line_error(
        run_cli("dev", "init", str(repo / "data")),
        2,
        f"{repo / 'data'} is inside the plain git repository {repo}",
    )
    assert_one_line_error(
        run_cli("dev", "init", str(repo)),
        2,
        f"{repo} is a git repository but not a DataLad dataset",
    )
    assert snapshot(repo) == before


def test_install_refuses_unreachable_sources(
    run_cli: Run, snapshot: Callable, devdata: Path, tmp_path: Path
) -> None:
    before = snapshot(devdata)
    assert_one_line_error(
        run_cli(
            "dev",
            "install",
            "https://127.0.0.1:9/none",
            "etl/evaluation-data/new/x",
            "-d",
            str(devdata),
        ),
        1,
        "cannot install https://127.0.0.1:9/none: unable to access",
    )
    missing = tmp_path / "nowhere"
    assert_one_line_error(
        run_cli("dev", "install", str(missing), "etl/evaluation-data/x", "-d", str(devdata)),
        2,
        f"source {missing} does not exist",
    )
    assert_one_line_error(
        run_cli("dev", "install", str(devdata), "../outside", "-d", str(devdata)),
        2,
        "is not a path inside",
    )
    assert snapshot(devdata) == before


def test_check_of_a_folder_that_is_no_dataset(run_cli: Run, tmp_path: Path) -> None:
    assert_one_line_error(run_cli("check", str(tmp_path)), 2, "is not in a DataLad dataset")


def test_init_refuses_a_folder_that_is_not_writable(
    readonly_folder: Path, bare_env: Callable[[Path], dict[str, str]]
) -> None:
    target = readonly_folder / "devdata"
    proc = subprocess.run(
        [str(ANC), "dev", "init", str(target)],
        capture_output=True,
        text=True,
        env=bare_env(readonly_folder),
    )
    assert_one_line_error(
        (proc.returncode, proc.stdout, proc.stderr), 3, f"{readonly_folder} is not writable"
    )
    assert os.listdir(readonly_folder) == []


def test_list_json_shows_datasets_and_subdatasets(run_cli: Run, devdata: Path) -> None:
    code, out, err = run_cli("dev", "list", "--json", "-d", str(devdata))
    assert code == 0, err
    data = json.loads(out)
    assert data["dataset"] == str(devdata) and data["subdatasets"] == []
    assert [d["name"] for d in data["datasets"]] == ["existing"]
    code, out, _ = run_cli("dev", "list", "-d", str(devdata))
    assert code == 0 and "existing  v1  1 files" in out


@pytest.mark.slow
def test_check_repair_removes_stale_lock_and_reinstalls_deleted_subdataset(
    run_cli: Run, tmp_path: Path, source_dataset: Callable[..., Path]
) -> None:
    source = source_dataset()
    root = tmp_path / "devdata"
    assert run_cli("dev", "init", str(root))[0] == 0
    code, out, err = run_cli(
        "dev", "install", str(source), "etl/evaluation-data/src", "-d", str(root)
    )
    assert code == 0 and "installed" in out and err == ""
    shutil.rmtree(root / "etl/evaluation-data/src")
    lock = root / ".git" / "index.lock"
    lock.write_bytes(b"")  # left by a killed git: stale however young

    code, out, _ = run_cli("check", str(root))
    assert code == 4 and "issue: stale" in out and "1 registered subdatasets are not" in out

    code, out, err = run_cli("check", str(root), "--repair", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["actions"][0].startswith("removed stale")
    assert report["actions"][1].startswith("reinstalled subdataset etl/evaluation-data/src")
    assert report["after"]["is_valid"] and report["after"]["missing_subdatasets"] == []
    assert not lock.exists() and (root / "etl/evaluation-data/src/README.md").exists()


@pytest.mark.slow
def test_get_fetches_only_the_asked_part(
    run_cli: Run,
    tmp_path: Path,
    source_dataset: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = source_dataset(files={"other/big.dat": os.urandom(1024)})
    root = tmp_path / "devdata"
    assert run_cli("dev", "init", str(root))[0] == 0
    monkeypatch.chdir(root / "etl")
    assert run_cli("dev", "install", str(source), "evaluation-data/src")[0] == 0
    code, out, err = run_cli("dev", "get", "evaluation-data/src/data")
    assert code == 0 and "fetched 1 files" in out, err
    assert (root / "etl/evaluation-data/src/data/rec.dat").exists()
    assert not (root / "etl/evaluation-data/src/other/big.dat").exists()
    code, out, _ = run_cli("dev", "update")
    assert code == 0 and out.startswith("updated 0, unchanged 1, failed 0")


def test_dev_demo_creates_adds_lists_and_checks(run_cli: Run, tmp_path: Path) -> None:
    code, out, err = run_cli("dev", "demo", "--output", str(tmp_path / "demo"))
    assert code == 0, err
    assert "added sample-recording: channels.csv (117 bytes), continuous.dat" in out
    assert "check: ok (1 annexed files, 0 untracked)" in out
    code, out, _ = run_cli("dev", "demo", "--output", str(tmp_path / "demo"))
    assert code == 0 and "already present: nothing added" in out


@pytest.mark.slow
def test_installed_anc_works_without_venv_on_path_or_git_identity(
    tmp_path: Path, bare_env: Callable[[Path], dict[str, str]]
) -> None:
    env = bare_env(tmp_path)
    root = tmp_path / "devdata"
    (tmp_path / "rec.nwb").write_bytes(os.urandom(4096))

    def anc(*args: str) -> str:
        proc = subprocess.run(
            [str(ANC), *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return proc.stdout

    assert "created development dataset" in anc("dev", "init", str(root))
    assert "added rec version 1" in anc(
        "dev", "add", "rec", "rec.nwb", "-d", str(root), "--meta", "lab=test"
    )
    assert json.loads(anc("dev", "list", "--json", "-d", str(root)))["datasets"][0]["name"] == "rec"
    assert json.loads(anc("check", str(root), "--json"))["is_valid"]
    attrs = dsops.git(root, "check-attr", "annex.largefiles", "--", "x.nwb", "x.py", "x.csv")
    assert attrs.decode().split("\n")[:3] == [
        "x.nwb: annex.largefiles: anything",
        "x.py: annex.largefiles: nothing",
        "x.csv: annex.largefiles: (largerthan=10MB)",
    ]
    author = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%an <%ae>"],
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    assert author == "anc (agentic-neurodata-conversion) <anc@localhost>"
    assert (root / "etl/input-data/rec/rec.nwb").is_symlink()


def test_help_lists_the_commands(run_cli: Run) -> None:
    code, out, _ = run_cli("dev", "--help")
    assert code == 0
    for command in ("init", "add", "list", "install", "update", "get", "setup"):
        assert command in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dev", "list", "--bogus"), "error: No such option: --bogus (see 'anc dev list --help')"),
        (("bogus",), "error: No such command 'bogus'. (see 'anc --help')"),
        (("dev", "add"), "error: Missing argument 'name'. (see 'anc dev add --help')"),
        (
            ("mcp", "serve", "--port", "0"),
            "error: Invalid value for '--port': Input should be greater than or equal to 1"
            " (see 'anc mcp serve --help')",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(
    run_cli: Run, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run_cli(*args)
    assert (code, out, err.strip()) == (2, "", message)


def test_a_group_without_a_command_shows_its_help_as_a_usage_error(run_cli: Run) -> None:
    code, out, err = run_cli("dev")
    assert code == 2 and out == "" and err.startswith("Usage: anc dev") and "install" in err


@pytest.mark.slow
def test_setup_reports_installed_and_skipped(
    run_cli: Run, tmp_path: Path, source_dataset: Callable[..., Path]
) -> None:
    source = source_dataset()
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"datasets:\n"
        f"  - {{name: local, source: '{source}', path: tests/fixtures/local, get: [data]}}\n"
        f"  - {{name: offline, source: 'https://127.0.0.1:9/x', path: etl/evaluation-data/x}}\n"
    )
    code, out, err = run_cli("dev", "setup", "--spec", str(spec), "-d", str(tmp_path / "dev"))
    assert code == 0, err
    assert "installed 1, already present 0, skipped 1" in out
    assert "installed tests/fixtures/local; fetch: anc dev get tests/fixtures/local/data" in out
    assert "skipped offline: cannot install https://127.0.0.1:9/x: unable to access" in out


@pytest.mark.slow
def test_setup_test_data_fails_in_one_line_and_writes_nothing_elsewhere(
    tmp_path: Path, snapshot: Callable, bare_env: Callable[[Path], dict[str, str]]
) -> None:
    """No network here: an unreachable source stands in for GIN. `--test-data` must fail
    (not skip, as plain setup does), leave the development dataset as it was and write
    nothing in the current folder or HOME."""
    home, cwd, root = tmp_path / "home", tmp_path / "cwd", tmp_path / "devdata"
    home.mkdir()
    cwd.mkdir()
    DataLadRepositoryManager(root).initialize()
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "datasets:\n  - {name: ephy-testing-data, source: 'https://127.0.0.1:9/ephy_testing_data',"
        " path: tests/integration-tests/ephy_testing_data, get: [spikeglx/Noise4Sam_g0]}\n"
    )
    before = {p: snapshot(p) for p in (home, cwd, root)}

    def anc(*args: str) -> tuple[int, str, str]:
        proc = subprocess.run(
            [str(ANC), "dev", "setup", "--test-data", *args],
            capture_output=True,
            text=True,
            env=bare_env(home),
            cwd=cwd,
        )
        return proc.returncode, proc.stdout, proc.stderr

    assert_one_line_error(
        anc("--spec", str(spec), "-d", str(root)),
        1,
        "cannot install https://127.0.0.1:9/ephy_testing_data: unable to access",
    )
    assert not (root / "tests/integration-tests/ephy_testing_data").exists()
    spec.write_text("datasets:\n  - {name: other, source: 'x', path: p}\n")
    assert_one_line_error(
        anc("--spec", str(spec), "-d", str(root)), 2, "has no entry named 'ephy-testing-data'"
    )
    assert {p: snapshot(p) for p in (home, cwd, root)} == before

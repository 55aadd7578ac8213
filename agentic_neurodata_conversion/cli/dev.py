"""`anc dev`: the development data repository (init, add, list, install, update, get, setup)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import DataLadError, UsageError
from ..units import binary_size
from .output import print_json

dev_app = typer.Typer(
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~90 ms at start-up
    help="Development data: one DataLad dataset of test and evaluation datasets.",
    no_args_is_help=True,
)
DatasetOption = Annotated[
    Path | None,
    typer.Option(
        "--dataset",
        "-d",
        help="The development dataset (default: the one holding the current folder).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(dev_app, name="dev")


def _root(dataset: Path | None) -> Path:
    from ..data_management.repository import find_development_dataset

    return find_development_dataset(dataset if dataset is not None else Path.cwd())


def _in_dataset(root: Path, path: str) -> Path:
    """PATH relative to the current folder when it is inside ROOT, else to ROOT."""
    cwd = Path.cwd()
    base = cwd if cwd == root or root in cwd.parents else root
    return base / path


def _parse_meta(items: list[str]) -> dict[str, str]:
    meta = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--meta {item!r} is not KEY=VALUE", "write it as --meta key=value")
        meta[key.strip()] = value
    return meta


@dev_app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create or adopt.")] = Path("."),
) -> None:
    """Create (or adopt) a development dataset with the project's folders and annex rules."""
    from ..data_management.repository import DataLadRepositoryManager

    result = DataLadRepositoryManager(directory).initialize()
    verb = "created" if result.created else "adopted"
    if result.committed:
        typer.echo(
            f"{verb} development dataset {result.path} "
            f"({len(result.readmes_written)} folder READMEs written)"
        )
    else:
        typer.echo(f"{result.path} is already a development dataset: nothing changed")


@dev_app.command()
def add(
    name: Annotated[str, typer.Argument(help="Dataset name (folder under etl/input-data).")],
    source: Annotated[Path, typer.Argument(help="File or folder to add (it is copied).")],
    description: Annotated[str, typer.Option(help="What the dataset is.")] = "",
    meta: Annotated[
        list[str] | None, typer.Option(help="Custom metadata KEY=VALUE (repeat the option).")
    ] = None,
    new_version: Annotated[
        bool, typer.Option("--new-version", help="Replace an existing NAME by a new version.")
    ] = False,
    dataset: DatasetOption = None,
) -> None:
    """Add a file or folder as test dataset NAME, with its dataset_metadata.json."""
    from ..data_management import DataLadRepositoryManager, TestDatasetManager

    custom = _parse_meta(meta or [])
    manager = TestDatasetManager(DataLadRepositoryManager(_root(dataset)))
    record = manager.add_test_dataset(name, source, description, custom, new_version=new_version)
    typer.echo(
        f"added {record['name']} version {record['version']}: {len(record['files'])} "
        f"files, {binary_size(record['total_size'])}"
    )


@dev_app.command("list")
def list_datasets(
    as_json: JsonOption = False,
    dataset: DatasetOption = None,
) -> None:
    """List the test datasets and the installed subdatasets."""
    from ..data_management import DataLadRepositoryManager, TestDatasetManager

    manager = TestDatasetManager(DataLadRepositoryManager(_root(dataset)))
    data = {
        "dataset": str(manager.repo_manager.base_path),
        "datasets": manager.get_available_datasets(),
        "subdatasets": manager.get_subdatasets(),
    }
    if as_json:
        print_json(data)
    else:
        _print_listing(data)


def _print_listing(data: dict[str, Any]) -> None:
    typer.echo(
        f"{data['dataset']}: {len(data['datasets'])} datasets, "
        f"{len(data['subdatasets'])} subdatasets"
    )
    for d in data["datasets"]:
        size = binary_size(d["total_size"]) if "total_size" in d else "?"
        typer.echo(
            f"  {d.get('name')}  v{d.get('version', '?')}  {len(d.get('files', []))} files"
            f"  {size}  {d.get('description', '')}"
        )
    for s in data["subdatasets"]:
        state = "installed" if s["installed"] else "not installed"
        typer.echo(f"  [subdataset] {s['path']}  ({state})  {s['url']}")


@dev_app.command()
def install(
    source: Annotated[str, typer.Argument(help="Local path or URL of a DataLad dataset.")],
    path: Annotated[str, typer.Argument(help="Where to put it inside the development dataset.")],
    dataset: DatasetOption = None,
) -> None:
    """Install a dataset as a subdataset (file tree only; fetch content with `anc dev get`)."""
    from ..data_management.test_datasets import install_subdataset

    root = _root(dataset)
    result = install_subdataset(root, source, _in_dataset(root, path))
    typer.echo(f"installed {result['source']} as subdataset {result['path']} (no content yet)")


@dev_app.command()
def update(dataset: DatasetOption = None) -> None:
    """Bring installed subdatasets up to date with their sources."""
    from ..data_management.test_datasets import update_subdatasets

    report = update_subdatasets(_root(dataset))
    typer.echo(
        f"updated {len(report['updated'])}, unchanged {len(report['unchanged'])}, "
        f"failed {len(report['failed'])}"
    )
    for path in report["updated"]:
        typer.echo(f"  updated {path}")
    if report["failed"]:
        first = report["failed"][0]
        raise DataLadError(
            f"could not update {first['path']}: {first['reason']}",
            "check that its source is reachable",
        )


@dev_app.command()
def get(
    path: Annotated[str, typer.Argument(help="File or folder to fetch (often in a subdataset).")],
    dataset: DatasetOption = None,
) -> None:
    """Fetch the content of PATH only."""
    from ..data_management.test_datasets import get_content

    root = _root(dataset)
    result = get_content(root, _in_dataset(root, path))
    typer.echo(
        f"{result['path']}: fetched {result['fetched_files']} files, "
        f"{result['already_present']} already present"
    )


@dev_app.command()
def setup(
    spec: Annotated[
        Path | None, typer.Option(help="List of suggested datasets (default: the packaged one).")
    ] = None,
    test_data: Annotated[
        bool,
        typer.Option(
            "--test-data",
            help="Only install GIN's ephy_testing_data and fetch the recordings the tests "
            "read (fails if it cannot).",
        ),
    ] = False,
    dataset: DatasetOption = None,
) -> None:
    """Create the development dataset and install the suggested datasets (no content)."""
    from ..data_management.infrastructure import setup_development_data_infrastructure
    from ..data_management.repository import is_development_dataset

    base = dataset if dataset is not None else _enclosing_or_cwd(is_development_dataset)
    if test_data:
        _setup_test_data(base, spec)
        return
    report = setup_development_data_infrastructure(base, spec)
    typer.echo(
        f"{report.path}: installed {len(report.installed)}, already present "
        f"{len(report.present)}, skipped {len(report.skipped)} (from {report.spec})"
    )
    for item in report.installed:
        parts = " ".join(item["get"])
        typer.echo(
            f"  installed {item['path']}" + (f"; fetch: anc dev get {parts}" if parts else "")
        )
    for item in report.skipped:
        typer.echo(f"  skipped {item['name']}: {item['reason']}")


def _setup_test_data(base: Path, spec: Path | None) -> None:
    from ..data_management.infrastructure import install_test_data

    result = install_test_data(base, spec)
    verb = "installed" if result["installed"] else "already installed"
    typer.echo(
        f"{verb} {result['source']} at {result['path']}: fetched {result['fetched_files']} "
        f"files, {result['already_present']} already present"
    )
    typer.echo(f"the tests find it with: export ANC_TEST_DATA={result['path']}")


def _enclosing_or_cwd(is_dev: Any) -> Path:
    cwd = Path.cwd()
    return next((p for p in (cwd, *cwd.parents) if is_dev(p)), cwd)


@dev_app.command("demo")
def demo(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder for the demo dataset (default: a new temp folder)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a development dataset, add a small synthetic recording, list and check it."""
    from ..data_management.infrastructure import demo_development_data

    result = demo_development_data(output)
    if as_json:
        print_json(result)
        return
    init, check = result["init"], result["check"]
    verb = "created" if init["created"] else "adopted"
    typer.echo(
        f"{verb} development dataset {result['path']} "
        "(annex rules: code and text in git, recordings annexed)"
    )
    if result["added"]:
        added = result["added"]
        typer.echo(
            f"added {added['name']}: "
            + ", ".join(f"{f['path']} ({f['size']} bytes)" for f in added["files"])
        )
    else:
        typer.echo("sample-recording was already present: nothing added")
    typer.echo(f"datasets: {', '.join(d['name'] for d in result['datasets'])}")
    stats = check["statistics"]
    typer.echo(
        f"check: {'ok' if check['is_valid'] else 'problems found'} "
        f"({stats.get('annexed_files', 0)} annexed files, "
        f"{stats.get('untracked_files', 0)} untracked)"
    )

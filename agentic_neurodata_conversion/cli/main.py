"""The `anc` entry point: assembles the command groups and turns errors into one line.

Command modules import heavy libraries (DataLad, NeuroConv, MCP) only inside their command
functions, so `anc --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from ..errors import AncError

# Each module defines `register(app)`; the order here is the order in `anc --help`.
COMMAND_MODULES = ("demo", "convert", "dev", "check", "report", "storage", "perf", "mcp")

app = typer.Typer(
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~90 ms at start-up
    name="anc",
    help="Agentic neurodata conversion: tracked, reproducible conversions to NWB with DataLad.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of unexpected errors."),
) -> None:
    """Agentic neurodata conversion: tracked, reproducible conversions to NWB with DataLad."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__package__}.{_name}").register(app)


def _fail(message: str, code: int) -> int:
    click.echo(f"error: {message}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # default_map: typer would otherwise import pydantic (~80 ms) to resolve the root
        # `help` option whenever a group is named, pushing `anc <group> --help` past 0.3 s.
        result = app(args=args, prog_name="anc", standalone_mode=False, default_map={"help": False})
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return _fail("aborted", 130)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except AncError as exc:
        if debug:
            raise
        return _fail(str(exc), exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)", 1)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())

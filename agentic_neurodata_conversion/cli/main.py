"""The `anc` entry point: assembles the command groups and turns errors into one line.

Command modules import heavy libraries (DataLad, NeuroConv, MCP) only inside their command
functions, so `anc --help` stays fast.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

import typer

# Typer vendors click from 0.26 on; its usage errors are these, not the `click` package's.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError

from .. import interrupts
from ..errors import AncError, Interrupted

# Each module defines `register(app)`; the order here is the order in `anc --help`.
COMMAND_MODULES = (
    "demo",
    "convert",
    "revise",
    "dandi",
    "batch",
    "run",
    "interfaces",
    "dev",
    "check",
    "index",
    "report",
    "storage",
    "perf",
    "mcp",
)

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
    print(f"error: {message}", file=sys.stderr)
    return code


def _usage_hint(exc: ClickException) -> str:
    """Where to look for the right usage: the failing command's --help."""
    ctx = getattr(exc, "ctx", None) if isinstance(exc, ClickUsageError) else None
    return f"see '{ctx.command_path} --help'" if ctx is not None else "see 'anc --help'"


def main(argv: list[str] | None = None) -> int:
    """Run one command; ARGV None means the process's own arguments (the `anc` program)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if not debug:
        # Readers' progress bars (tqdm reads this when it is imported) stay off the terminal,
        # which shows one line per stage.
        os.environ.setdefault("TQDM_DISABLE", "1")
    handlers = interrupts.install()
    try:
        return _run(args, debug)
    finally:
        interrupts.restore(handlers)
        if argv is None:
            # The process ends next: with DataLad loaded, the collector's passes over every
            # object at interpreter shutdown take ~0.35 s; frozen objects are skipped (the
            # memory goes back to the system with the process). Not for in-process callers.
            gc.freeze()


def _run(args: list[str], debug: bool) -> int:
    try:
        # default_map: typer would otherwise import pydantic (~80 ms) to resolve the root
        # `help` option whenever a group is named, pushing `anc <group> --help` past 0.3 s.
        result = app(args=args, prog_name="anc", standalone_mode=False, default_map={"help": False})
    except NoArgsIsHelpError as exc:  # `anc dev` alone: the group's help, as a usage error
        exc.show()
        return exc.exit_code
    except ClickException as exc:
        return _fail(f"{exc.format_message()} ({_usage_hint(exc)})", exc.exit_code)
    except typer.Abort:
        return _fail("aborted", 130)
    except KeyboardInterrupt:
        if debug:
            raise
        return _fail("interrupted", 130)
    except Interrupted as exc:  # one line that says where it stopped and how to go on
        if debug:
            raise
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    except AncError as exc:
        if debug:
            raise
        return _fail(str(exc), exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)", 1)
    if result == 130 and interrupts.received():
        # typer turns a KeyboardInterrupt that no command handled into a silent 130
        return _fail("interrupted", 130)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())

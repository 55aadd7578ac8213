"""`anc mcp serve`: the MCP server for AI agents (stdio, or streamable HTTP with a token)."""

from __future__ import annotations

from pathlib import Path

import typer

mcp_app = typer.Typer(
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~90 ms at start-up
    help="The Model Context Protocol server: conversions driven by AI agents, every call recorded.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(mcp_app, name="mcp")


@mcp_app.command("serve")
def serve(
    root: list[Path] = typer.Option(
        None,
        "--root",
        help="Folder the agent may read (repeatable; default: the current folder).",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        help="Where conversion_<id>/ folders go (default: FIRST_ROOT/conversions).",
    ),
    http: bool = typer.Option(False, "--http", help="Serve streamable HTTP instead of stdio."),
    host: str = typer.Option("127.0.0.1", "--host", help="HTTP address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="HTTP port."),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        help="File holding the HTTP bearer token (else $ANC_MCP_TOKEN; never on the command line).",
    ),
    settings: Path | None = typer.Option(
        None,
        "--settings",
        help="Settings file: admission of runs, cache of readings (default: OUTPUT/anc.toml if present).",
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Debug logging (to stderr)."),
) -> None:
    """Serve the conversion tools over stdio (default) or HTTP; logs go to stderr."""
    import logging

    from ..errors import UsageError
    from ..mcp_server.auth import read_token
    from ..mcp_server.server import build_server, configure_logging, serve_http, serve_stdio

    configure_logging(logging.DEBUG if verbose else logging.INFO)
    if token_file is not None and not http:
        raise UsageError("--token-file is only used with --http", "add --http or drop it")
    token = read_token(token_file) if http else None
    server = build_server(
        root or [Path.cwd()], output, token=token, host=host, port=port, settings_file=settings
    )
    if http:
        serve_http(server, host, port)
    else:
        serve_stdio(server)

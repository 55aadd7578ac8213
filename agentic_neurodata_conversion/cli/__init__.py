"""Command-line front end (`anc`): thin typer commands over the library API."""

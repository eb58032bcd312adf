"""Terminal output shared by every ``muse`` command: the consoles and the row printer.

Its own module so that ``cli.py`` (which registers the sub-commands) and the
``cli_*`` modules (which print) do not import each other.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

# soft_wrap: lines (paths, notes) are never broken mid-word by rich; the terminal wraps them
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def print_rows(rows: list[dict], *, as_json: bool, title: str, columns: tuple[str, ...], cells) -> None:
    """Print ``rows`` as JSON (for machines) or as a table whose cells come from ``cells(row)``."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title=title)
    for col in columns:
        t.add_column(col, no_wrap=True)
    for r in rows:
        t.add_row(*cells(r))
    console.print(t)

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


def print_rows(rows: list[dict], *, as_json: bool, title: str, columns: tuple[str, ...], cells,
               wrap: tuple[str, ...] = ()) -> None:
    """Print ``rows`` as JSON (for machines) or as a table whose cells come from ``cells(row)``.

    Columns named in ``wrap`` may wrap inside their cell; the others never do.
    When even that does not fit the terminal (80 columns is the floor we
    design for), every row is printed as a block of ``column: value`` lines
    instead, so no column (ids above all) is ever dropped or cut.
    """
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title=title)
    for col in columns:
        t.add_column(col, no_wrap=col not in wrap, overflow="fold")
    table_rows = [tuple(cells(r)) for r in rows]
    for r in table_rows:
        t.add_row(*r)
    def need(i: int, col: str) -> int:  # the narrowest this column can be without cutting anything
        vals = [str(r[i]) for r in table_rows] + [col]
        if col in wrap:
            return max(len(w) for v in vals for w in (v.split() or [""]))
        return max(len(v) for v in vals)

    # rich squeezes no-wrap columns to nothing rather than refuse, so measure the cells ourselves:
    # each column costs its content plus 3 (padding and a rule), the table one more
    if sum(need(i, c) + 3 for i, c in enumerate(columns)) + 1 <= console.width:
        console.print(t)
        return
    console.print(f"[bold]{title}[/] ({len(table_rows)} rows, one block each: too narrow for a table)", highlight=False, soft_wrap=False)
    width = max(len(c) for c in columns)
    for r in table_rows:
        console.print("")
        for col, val in zip(columns, r):
            console.print(f"  {col:<{width}}  {val}", highlight=False)

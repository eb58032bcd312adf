"""Terminal output shared by every ``muse`` command: the consoles and the row printer.

Its own module so that ``cli.py`` (which registers the sub-commands) and the
``cli_*`` modules (which print) do not import each other.
"""

from __future__ import annotations

import json
import textwrap

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


def make_console(*, stderr: bool = False) -> Console:
    """A console for command output. In a log or a pipe (not a terminal) lines are never broken: rich
    would otherwise cut a long path at column 80 with a hard newline, mid-word, and it would not paste."""
    con = Console(stderr=stderr)
    con.soft_wrap = not con.is_terminal
    return con


console = make_console()
err_console = make_console(stderr=True)


def _flags_take_no_value() -> None:
    """Help shows a flag as ``--timeline``, not ``--timeline <bool>`` (typer ≥ 0.29 prints the type of
    every option, flags included, as if they took a value); other options keep their ``<type>``."""
    from typer.core import TyperOption

    show = getattr(TyperOption, "display_type_rich", None)
    if show is None or getattr(show, "_muse_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and not self.count else show(self, ctx)

    display_type_rich._muse_flags = True
    TyperOption.display_type_rich = display_type_rich


_flags_take_no_value()


def natural_width(table: Table, con: Console | None = None) -> int:
    """Columns ``table`` needs with no cell wrapped or cut (rich would otherwise squash or drop columns)."""
    con = con or console
    return Measurement.get(con, con.options.update_width(10_000), table).maximum


def print_rows(rows: list[dict], *, as_json: bool, title: str, columns: tuple[str, ...], cells, con: Console | None = None) -> None:
    """Print ``rows`` as JSON (for machines) or as a table whose cells come from ``cells(row)``.

    When the table does not fit the terminal (80 columns, a log) it switches to a vertical layout, one
    block per row (``column: value``), so no column — the run id above all — is ever cut or dropped."""
    con = con or console
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title=title)
    for col in columns:
        t.add_column(col, no_wrap=True)
    body = [tuple(cells(r)) for r in rows]
    for cs in body:
        t.add_row(*cs)
    if natural_width(t, con) <= con.width:
        con.print(t)
        return
    con.print(f"[italic]{title}[/]", highlight=False)
    names = [c or "note" for c in columns]
    pad = max(map(len, names[1:]), default=0)
    room = max(20, con.width - pad - 4)
    for cs in body:
        con.print(Text(f"{names[0]} {cs[0]}", style="bold"), soft_wrap=True)
        for name, v in zip(names[1:], cs[1:]):
            if v in ("", "-"):
                continue
            # wrapped at spaces only: a path or a backend id is never split
            parts = textwrap.wrap(str(v), room, break_long_words=False, break_on_hyphens=False) or [""]
            for i, part in enumerate(parts):
                con.print(Text(f"  {name if i == 0 else '':<{pad}}  {part}"), soft_wrap=True)

"""CLI commands of the mix analyzer (`muse analyze`, `muse profiles ...`); filled in by issue 4."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the analyzer's commands to the root ``muse`` app (none until the analyzer lands)."""
    return None

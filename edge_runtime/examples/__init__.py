"""Bundled example material: ``example_mix.flac`` (see README.md here and ``make_example.py``)."""

from __future__ import annotations

from pathlib import Path

#: the shipped target the example was balanced against (its planted fault is judged against it)
EXAMPLE_GENRE = "pop"
EXAMPLE_FILE = "example_mix.flac"


def example_path() -> Path:
    """Filesystem path of the bundled example mix, located through ``importlib.resources``."""
    from importlib.resources import files

    from edge_runtime.errors import InputError

    res = files("edge_runtime.examples").joinpath(EXAMPLE_FILE)
    if not res.is_file():
        raise InputError(f"the bundled example {EXAMPLE_FILE} is missing from this installation; "
                         "regenerate it with `python -m edge_runtime.examples.make_example`")
    return Path(str(res))

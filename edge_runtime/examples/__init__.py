"""Bundled example material: ``example_mix.flac`` for the analyzer (see README.md here and
``make_example.py``), ``classify_piano.flac`` and ``classify_drums.flac`` for the classifier
(``python -m nomad_muse.training.make_classifier_examples``)."""

from __future__ import annotations

from pathlib import Path

#: the shipped target the example was balanced against (its planted fault is judged against it)
EXAMPLE_GENRE = "pop"
EXAMPLE_FILE = "example_mix.flac"


CLASSIFY_EXAMPLES = {"piano": "classify_piano.flac", "drums": "classify_drums.flac"}


def example_path(name: str = EXAMPLE_FILE) -> Path:
    """Filesystem path of a bundled example (default: the mix), located through ``importlib.resources``."""
    from importlib.resources import files

    from nomad_muse.errors import InputError

    res = files("nomad_muse.examples").joinpath(name)
    if not res.is_file():
        raise InputError(f"the bundled example {name} is missing from this installation; "
                         "regenerate it with `python -m nomad_muse.examples.make_example`")
    return Path(str(res))

"""One exception root for everything the runtime raises on purpose.

A :class:`MuseError` is a *user* error or an environment problem: the CLI
prints its message as one line (no traceback) and exits non-zero.  Messages
name the bad value, what was expected and what to do.
"""

from __future__ import annotations


class MuseError(Exception):
    """Root of all errors raised deliberately by Nomad Muse Edge.

    ``field``: the library's name of the setting or argument (``block_size``)
    when the message starts with ``FIELD=VALUE``; the CLI shows its flag
    instead (``--block-size VALUE``, :mod:`nomad_muse.app.flags`).  ``parts``: the
    errors one message joins (``"; "``), each with its own field.
    """

    def __init__(self, message: str = "", *, field: str | None = None, parts: tuple = ()) -> None:
        super().__init__(message)
        self.field = field
        self.parts = tuple(parts)


class ParameterError(MuseError, ValueError):
    """A parameter has a value outside what is accepted; the message names it."""


class BackendError(MuseError):
    """A model could not be loaded or run on a backend (file, device, inputs)."""


class InputError(MuseError):
    """An input file (audio, MIDI, profile) is missing, corrupt or unusable."""

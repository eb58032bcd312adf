"""Library field → CLI flag: the library's errors name the setting (``block_size=5 must be …``); the CLI
shows the flag the user typed (``--block-size 5 must be …``).

A :class:`~nomad_muse.errors.ParameterError` carries the field it names in
``field`` when its message starts with ``FIELD=VALUE``; :func:`user_message`
rewrites that start for every field a ``muse`` flag sets.  Messages of
fields with no flag (a profile's ``tuned.block_size``) stay as they are.
"""

from __future__ import annotations

from nomad_muse.errors import MuseError

#: library field → the flag that sets it (the same field means the same flag in every command)
FIELD_FLAGS = {
    "block_size": "--block-size",
    "lookahead_beats": "--lookahead",
    "chunk": "--chunk",
    "mode": "--mode",
    "key": "--key",
    "renderer": "--renderer",
    "genre": "--genre",
    "tempo_bpm": "--tempo",
    "seed": "--seed",
    "family": "--family",
    "bundled": "--bundled",
    "temperature": "--temperature",
    "replay_blocks": "--blocks",
    "out_dir": "--out",
    "out": "-o",
    "report": "--report",
    "audio_device": "--audio-device",
    "midi_in": "--midi-in",
    "midi_out": "--midi-out",
    "target_python": "--target-python",
    "wheels": "--wheels",
    "spec": "--spec",
    "adapter_map": "--map",
    "style": "--style",
    "target": "--target",
    "profile": "--profile",
    "port": "--port",
}


def user_message(e: MuseError) -> str:
    """``e``'s message as the CLI prints it: a leading ``field=`` becomes ``--flag `` (in each part)."""
    if getattr(e, "parts", ()):
        return "; ".join(user_message(p) for p in e.parts)
    msg = str(e)
    field = getattr(e, "field", None)
    flag = FIELD_FLAGS.get(field) if field else None
    if flag and msg.startswith(f"{field}="):
        return f"{flag} {msg[len(field) + 1:]}"
    return msg

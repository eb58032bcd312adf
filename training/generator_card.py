"""Write ``models/generator.json``, the generator's model card, from measurements.

    python -m nomad_muse.training.generator_card [--data-dir DIR]

Reads the training run's statistics (``DIR/generator_train_stats.json``,
written by ``training.train_generator``: per-source, per-style and per-mode
NLL on the validation and test splits, the headline held-out set, the n-gram
beside every figure), then measures on the **test split** with the exported
ONNX model through the runtime's own Generator (up to ``--streams-per-source``
test streams per source, in file-hash order, each with its source's STYLE token):

* constraints (runtime masks on, as ``muse generate`` runs): the share of
  generated tonal pitches in the stream's key and of drum-mode onsets that
  are drum hits (must be 100 %);
* the model alone (masks off, grammar only): the same two rates, i.e. how
  well the network itself has learnt mode and key.

Prompts are the first 4 bars of each stream, 8 bars generated, 3 seeds.
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


def generation_rates(model: Path, streams, seeds=(0, 1, 2), *, constrained: bool) -> dict:
    """In-key and drum-vocabulary rates of 8-bar continuations of ``streams`` (runtime masks on or off)."""
    gen = Generator(model, candidates=[Candidate("onnxruntime")])
    in_key = [0, 0]
    drum = [0, 0]
    for s in streams:
        prompt = first_bars(s.tokens, 4)
        for seed in seeds:
            gen.prime(prompt, mode=s.mode, key=s.key, constrained=constrained)
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


def test_streams(stats: dict, per_source: int) -> list:
    """Up to ``per_source`` test streams per source (file-hash order), with the source's STYLE token."""
    import hashlib

    from nomad_muse.training.generator_data import Source

    out = []
    for src in stats["sources"]:
        s = Source(src["name"], Path(src["root"]), src["style"])
        files = sorted((k.split("/", 1)[1] for k in stats["test_files"] if k.split("/", 1)[0] == src["name"]),
                       key=lambda r: hashlib.sha256(r.encode()).hexdigest())
        taken = 0
        for rel in files:
            if taken >= per_source:
                break
            try:
                streams = score_streams(read_midi(s.root / rel), style=s.style_of(rel))
            except Exception:
                continue
            out += streams
            taken += len(streams)
    return out


def _table(grouped: dict, prefix: str) -> dict:
    return {k[len(prefix):]: {"nll_per_token": v["nll"], "perplexity": v["perplexity"], "tokens": v["tokens"]}
            for k, v in grouped.items() if k.startswith(prefix)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "nomad-muse-edge" / "training-data")
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--comparison", type=Path, help="training.compare_generators --out JSON: this model against the one it replaces")
    ap.add_argument("--rule", default="", help="The replacement rule, fixed before the comparison was run.")
    ap.add_argument("--streams-per-source", type=int, default=12)
    ap.add_argument("--reference", type=Path, help="JSON of muse evaluate generator of the replaced model on the headline set")
    args = ap.parse_args(argv)
    stats = json.loads((args.data_dir / "generator_train_stats.json").read_text())
    model = args.models / "generator.onnx"
    streams = test_streams(stats, args.streams_per_source)
    constrained = generation_rates(model, streams, constrained=True)
    alone = generation_rates(model, streams, constrained=False)
    g = stats["grouped"]
    lmms = [src for src in stats["sources"] if src["name"] == "lmms"]
    lmms_provenance = []
    for src in lmms:
        meta = Path(src["root"]) / "lmms_midi.json"
        version = json.loads(meta.read_text()).get("lmms_common_version", "unknown") if meta.is_file() else "unknown"
        if version == "unknown":
            version = "1.2.2+dfsg1-6 (apt-get download lmms-common; projects only)"
        lmms_provenance.append(lmms_provenance_line(src["files"], version, parts="all"))
    hl = {k: g["test"][k] for k in ("headline", "headline/tonal", "headline/drums") if k in g["test"]}
    hl_ng = {k: g["ngram_test"][k] for k in hl if k in g["ngram_test"]}
    hl_any = {k: g["test_style_any"][k] for k in hl if k in g["test_style_any"]}
    headline_files = sorted(k for k in stats["test_files"] if k.split("/", 1)[0] in ("planetblupi", "lmms"))
    card = {
        "name": "generator",
        "file": "generator.onnx",
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "size_bytes": model.stat().st_size,
        "task": "next-event prediction over MIDI event tokens; stateful single-step decoding",
        "architecture": f"embedding 96 -> 2-layer GRU 144 -> linear {V.VOCAB_SIZE}; one model for drum and tonal modes, conditioned on the TRACK and STYLE context tokens",
        "parameters": stats["params"],
        "vocabulary": {"size": V.VOCAB_SIZE, "styles": list(V.STYLES), "doc": "docs/generator.md"},
        "inputs": {"token": "int64 [1,1]", "h": "float32 [2,1,144] (state)"},
        "outputs": {"logits": f"float32 [1,{V.VOCAB_SIZE}] (= head(h_out[-1]), a linear layer on the top GRU state)", "h_out": "float32 [2,1,144] (state)"},
        "data": {
            "sources": stats["sources"],
            "style_weights": stats["style_weights"],
            "provenance": [
                "music21 10.5 bundled corpus (music21/corpus/license.txt: research/non-commercial use): bach (Riemenschneider chorales, encodings (c) Margaret Greentree), beethoven (5 of 26 files exported in the time given), joplin, leadSheet, mozart (2 files) exported to MIDI by music21 (training.generator_data.export_music21_corpus); style classical, joplin/leadSheet popular. palestrina and the other composers were not exported in this run (music21's MIDI writer: ~0.3 s per file under load)",
                "music21 ABC folk collections essenFolksong (Essen: permission for non-commercial use only), oneills1850, ryansMammoth, airdsAirs, miscFolk (transcriptions by named contributors) and Debian abcmidi 2023.02.08 examples (GPL-2+): every tune converted by abc2midi (training.generator_data.export_abc_folk); style folk",
                "Debian package planetblupi-music-midi 1.14.2 (GPL-3+): 10 GM multitrack MIDIs (game music: pop, rock, blues, boogie), all tracks; style popular",
            ] + [p + "; style electronic" for p in lmms_provenance],
            "not_used": ["MuseScore demo scores (musescore3-common): .mscx, no converter here without MuseScore itself",
                         "music21 palestrina and the remaining composers: export time (see provenance)"],
            "reserved_never_used": ["music21 monteverdi", "music21 trecento", "Debian hydrogen-data demo songs", "lmms-common sample files"],
            "split": "by file per source, stable SHA-256 hash of the path relative to its source root: 80/10/10 train/validation/test (planetblupi and lmms: 70/10/20, so the headline set has more than 4 files); folders of >= 3 files get at least one test and one validation file",
            "augmentation": "transpose -2..+2 semitones (tonal only), tempo x0.9..1.1 (TEMPO token), STYLE token -> STYLE:any with p=%s" % stats["args"].get("p_any"),
            "streams": stats["streams"],
        },
        "training": {
            "steps": stats["train_steps"],
            "seconds": stats["train_seconds"],
            "device": stats["device"],
            "args": stats["args"],
            "selection": "best style-weighted validation NLL (up to --val-tokens tokens per style) among checkpoints every --eval-every steps",
            "history": stats["history"],
        },
        "metrics": {
            "units": "NLL in nats per predicted token after each stream's header (5 tokens + STYLE); state carried over whole streams",
            "headline": {
                "what": "held-out non-classical multitrack set: the TEST split of planetblupi (20 %) and of the LMMS projects (20 %), split off by file before training",
                "files": headline_files,
                "model": {k: {"nll_per_token": v["nll"], "perplexity": v["perplexity"], "tokens": v["tokens"]} for k, v in hl.items()},
                "model_style_any": {k: {"nll_per_token": v["nll"], "perplexity": v["perplexity"]} for k, v in hl_any.items()},
                "ngram": {k: {"nll_per_token": v["nll"], "perplexity": v["perplexity"]} for k, v in hl_ng.items()},
                "aim": "perplexity <= 8",
            },
            "test": {"by_source": _table(g["test"], "source/"), "by_collection": _table(g["test"], "sub/"),
                     "by_style": _table(g["test"], "style/"), "by_mode": _table(g["test"], "mode/"),
                     "all": _table(g["test"], "all")[""] if "all" in g["test"] else None},
            "validation": {"by_source": _table(g["validation"], "source/"), "by_style": _table(g["validation"], "style/"),
                           "by_mode": _table(g["validation"], "mode/")},
            "constraints_runtime": constrained,
            "model_alone": alone,
            "generation_protocol": f"test split, up to {args.streams_per_source} streams per source, prompt = first 4 bars with the source's STYLE token, 8 bars generated with temperature 1.0, top-p 0.95, seeds 0-2; constraints_runtime: masks on (muse generate); model_alone: masks off (grammar only)",
        },
        "baseline": {
            "name": "interpolated absolute-discounting trigram (D=0.75) fitted on the same training split",
            "file": "generator_ngram.json.gz",
            "test": {"by_source": _table(g["ngram_test"], "source/"), "by_style": _table(g["ngram_test"], "style/"),
                     "by_mode": _table(g["ngram_test"], "mode/")},
            "validation": {"by_source": _table(g["ngram_validation"], "source/")},
        },
        "reproduce": ("pip install '.[training]' && apt-get install planetblupi-music-midi lmms-common abcmidi && "
                      f"python -m nomad_muse.training.train_generator --data-dir DIR --steps {stats['train_steps']} --threads 1 "
                      "&& python -m nomad_muse.training.generator_card --data-dir DIR"
                      "  (music21 exports: training.generator_data.export_music21_corpus(DIR/music21_midi, COLLECTIONS); this run had "
                      "the collections listed in data.sources; ABC folk: export_abc_folk(DIR/folk_midi))"),
    }
    if args.reference:
        ref = json.loads(args.reference.read_text())
        card["metrics"]["headline"]["replaced_model"] = {
            "what": "the shipped 252-token model on the same files (muse evaluate generator); it had trained on the drum part of lmms Impulslogik-Zen",
            "nll_per_token": ref["model"]["nll_per_token"], "perplexity": ref["model"]["perplexity"],
            "by_mode": {m: v["model"] for m, v in ref["by_mode"].items() if v.get("tokens")},
        }
    if args.comparison:
        cmp = json.loads(args.comparison.read_text())
        card["replaces_previous"] = {
            "rule_fixed_before_the_run": args.rule,
            "validation_nll": cmp.get("validation"),
            "test_nll_reported_only": cmp.get("test"),
            "command": "python -m nomad_muse.training.compare_generators --old OLD.onnx --new NEW.onnx --old-ngram A --new-ngram B --data-dir DIR --out FILE",
        }
    out = args.models / "generator.json"
    out.write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card["metrics"]["headline"], indent=1))
    print(json.dumps({"constraints_runtime": constrained, "model_alone": alone}, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()

"""Render the classifier's bundled examples from the bundled prompts (our own material).

``edge_runtime/examples/classify_piano.flac``: ``models/prompts/tonal_c_major.mid``
(GM program 0, acoustic grand piano) and ``classify_drums.flac``:
``models/prompts/drums_rock.mid`` (channel 10), both rendered by FluidSynth with
FluidR3_GM (MIT licence) at 22.05 kHz mono, 16-bit FLAC.

    apt-get install fluidsynth fluid-soundfont-gm && python -m nomad_muse.training.make_classifier_examples
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def render(mid: Path, out: Path, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "x.wav"
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.7", "-r", "22050", "-F", str(wav), "-T", "wav", str(SF2), str(mid)], check=True)
        y, sr = sf.read(str(wav), always_2d=True)
    y = y.mean(axis=1)[: int(seconds * sr)]
    y = y / max(np.abs(y).max(), 1e-9) * 0.7
    sf.write(str(out), y, sr, subtype="PCM_16", format="FLAC")
    print(out, f"{len(y) / sr:.1f} s")


def main() -> None:
    ex = ROOT / "edge_runtime" / "examples"
    render(ROOT / "models" / "prompts" / "tonal_c_major.mid", ex / "classify_piano.flac", 8.0)
    render(ROOT / "models" / "prompts" / "drums_rock.mid", ex / "classify_drums.flac", 4.0)


if __name__ == "__main__":
    main()

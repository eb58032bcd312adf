#!/usr/bin/env bash
# README command 1: set up this machine and run the main job on the bundled default.
# Installs system libraries (as root, with apt), makes .venv, installs the package
# from a real wheel (`pip install .`), then runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

# jackd2: the README's `jackd -d dummy …` line (real audio I/O without a sound card)
apt_install libportaudio2 libasound2 libsndfile1 jackd2
find_python
make_venv
echo "installing nomad-muse-edge into .venv ..."
pip_install .

# The main job: the hardware probe with the backend each module would use, then
# `muse demo` — the whole real-time pipeline (classifier, generator, renderer, mix
# analyzer) run block by block on the bundled example clip and MIDI prompt, no
# sound card needed: out/continuation.mid, out/render.wav, out/report.html.
# Then the single-module jobs on the same bundled material.
.venv/bin/muse info
mkdir -p out
.venv/bin/muse demo --out out
.venv/bin/muse generate --bundled tonal --bars 4 --seed 1 -o out/tonal_continuation.mid
.venv/bin/muse generate --bundled drums --bars 4 --seed 1 -o out/drums_continuation.mid
# ... the classifier naming the family of the two bundled examples ...
.venv/bin/muse classify --example piano
.venv/bin/muse classify --example drums
# ... and the mix analyzer on the bundled example mix: meters, suggestions, HTML report
.venv/bin/muse analyze --example --report out/example_analysis.html

#!/usr/bin/env bash
# README command 2: install what the tests need and run the whole suite.
# `.ci/run` calls exactly this.  pytest's exit code 5 ("no tests collected")
# counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

# chromium + chromium-driver: the live view's browser tests (tests/test_ui.py) drive the real browser, never a download
apt_install libportaudio2 libasound2 libsndfile1 jackd2 planetblupi-music-midi abcmidi fluidsynth timgm6mb-soundfont rt-tests chromium chromium-driver
find_python
make_venv
echo "installing nomad-muse-edge[test,training] into .venv ..."
# the training extra (torch==2.13.0 CPU, music21, onnx) too: the shard, DDP, LOSO and batch tests need it
pip_install -e ".[test,training]"

set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit $rc

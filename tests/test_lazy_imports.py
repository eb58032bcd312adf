"""`muse --help` and `muse analyze` load no inference runtime (issue 19: import only what a command uses)."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

HEAVY = ("openvino", "nncf", "onnxruntime", "onnx", "torch")

CODE = (
    "import sys\n"
    "sys.argv = ['muse'] + sys.argv[1:]\n"
    "from nomad_muse.app.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "else:\n"
    "    code = 0\n"
    f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
    "print('HEAVY', heavy, 'EXIT', code, file=sys.stderr)\n"
)


def _heavy(*args: str) -> str:
    r = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, timeout=120)
    line = [x for x in r.stderr.splitlines() if x.startswith("HEAVY")]
    assert line, r.stderr[-2000:]
    return line[-1]


def test_help_imports_no_runtime():
    assert _heavy("--help") == "HEAVY [] EXIT 0"


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_analyze_imports_no_runtime(tmp_path, extra):
    wav = tmp_path / "mix.wav"
    t = np.arange(48000 * 2) / 48000
    sf.write(wav, np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1) * 0.3, 48000)
    assert _heavy("analyze", str(wav), *extra) == "HEAVY [] EXIT 0"

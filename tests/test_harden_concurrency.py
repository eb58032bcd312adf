"""Issue 15 item 6/7: two `muse calibrate` at once leave a valid profile and history; INT8 variant files
are written to a temp file and renamed, never rewritten in place."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def test_int8_variant_is_replaced_by_rename_not_rewritten(onnx_models, tmp_path):
    onnx = pytest.importorskip("onnx")
    from nomad_muse.calibration.quantize import _save_onnx

    model = onnx.load(str(onnx_models["mlp"]))
    out = tmp_path / "m.int8.onnx"
    _save_onnx(model, out)
    first = out.read_bytes()
    ino = out.stat().st_ino
    with open(out, "rb") as reader:  # a process that has the old variant open (a running engine)
        model.doc_string = "second writer"
        _save_onnx(model, out)
        assert reader.read() == first  # it still reads the whole old file: the new one is another inode
    assert out.stat().st_ino != ino and out.read_bytes() != first
    assert onnx.load(str(out)).doc_string == "second writer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.int8.onnx"]  # no temp file left
    assert (out.stat().st_mode & 0o777) != 0o600


@pytest.mark.slow
def test_two_calibrations_at_once_leave_a_valid_profile_and_history(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSE_")}
    env.update(MUSE_HOME=str(tmp_path / "home"), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-m", "nomad_muse", "calibrate", "--quick", "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=1500) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode in (0, 1), err[-2000:]  # 1: a loaded box missed the budget, and says so
        assert "Traceback" not in err
        json.loads(out)
    data = tmp_path / "home" / "data"
    from nomad_muse.machine_profile import read_profile

    prof = read_profile(data / "profile.json")  # whole and valid: one writer's rename won
    assert prof.modules
    for m in prof.modules.values():  # the variant files it names exist whole (the hash it recorded is the file's)
        from nomad_muse.machine_profile.profile import model_file_sha256
        from nomad_muse.paths import models_dir

        p = Path(m.model) if Path(m.model).is_absolute() else models_dir() / m.model
        assert p.is_file() and model_file_sha256(p) == m.model_sha256, (m.model, "variant rewritten under the profile")
    con = sqlite3.connect(data / "history.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM runs WHERE kind = 'calibrate'").fetchone()[0] == 2
    con.close()
    assert not [p for p in data.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]  # no temp files left

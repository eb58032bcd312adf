"""Issue 15 item 7/9: inputs a user can produce get one line on stderr and exit 2 (no traceback, old
outputs intact), one test per class; plus the small ones: -o DIR/ makes the folder, profiles build
refuses to overwrite, a user target shadowing a shipped one is said, Ctrl-C prints "stopped"."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harden_util import muse, one_line, tree_hashes
from nomad_muse.errors import MuseError
from nomad_muse.examples import example_path
from nomad_muse.paths import models_dir

GEN = models_dir() / "generator.onnx"


def test_model_file_over_the_limit_is_refused_by_stat(tmp_path):
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(3 << 30)  # 3 GiB hole: refused before a byte is read (the child has 1.5 GiB of address space)
    line = one_line(muse(["generate", "--model", big, "-o", "g.mid", "--bars", "1"], tmp_path))
    assert "over the 1024 MiB limit" in line and "big.onnx" in line
    assert not (tmp_path / "g.mid").exists()


def test_generate_into_a_directory_and_dev_full(tmp_path):
    (tmp_path / "d").mkdir()
    assert "is a directory" in one_line(muse(["generate", "--bundled", "tonal", "-o", "d", "--bars", "1"], tmp_path))
    assert "No space left" in one_line(muse(["generate", "--bundled", "tonal", "-o", "/dev/full", "--bars", "1"], tmp_path))
    assert Path("/dev/full").is_char_device()


def test_report_to_dev_full_leaves_the_device(tmp_path):
    """write_page used to rename its temp file over /dev/full (a regular file replaced the device)."""
    line = one_line(muse(["analyze", "--example", "--report", "/dev/full"], tmp_path))
    assert "/dev/full" in line and Path("/dev/full").is_char_device()


def test_dash_o_newdir_slash_makes_the_folder(tmp_path):
    r = muse(["generate", "--bundled", "tonal", "-o", "newdir/", "--bars", "1", "--seed", "1"], tmp_path)
    assert r.returncode == 0, r.stderr[-1500:]
    out = tmp_path / "newdir" / "generated.mid"
    assert out.is_file() and (out.stat().st_mode & 0o777) != 0o600  # the umask's mode, not mkstemp's
    r = muse(["analyze", "--example", "--report", "rep/"], tmp_path)
    assert r.returncode == 0 and (tmp_path / "rep" / "report.html").is_file(), r.stderr[-1500:]


def test_profiles_build_refuses_to_overwrite_and_says_it_shadows(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "a.flac").write_bytes(example_path().read_bytes())
    r = muse(["profiles", "build", "pop", refs], tmp_path)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "shadows the shipped one" in r.stderr
    mine = tmp_path / "muse-home" / "data" / "profiles" / "pop.toml"
    before = mine.read_bytes()
    line = one_line(muse(["profiles", "build", "pop", refs], tmp_path))
    assert "exists" in line and "--force" in line and mine.read_bytes() == before
    assert muse(["profiles", "build", "pop", refs, "--force"], tmp_path).returncode == 0
    rows = json.loads(muse(["profiles", "list", "--json"], tmp_path).stdout)
    assert {r["origin"] for r in rows if r["name"] == "pop"} == {"user (shadows shipped)"}
    (tmp_path / "d").mkdir()
    assert "is a directory" in one_line(muse(["profiles", "build", "x", refs, "-o", "d"], tmp_path))
    assert muse(["profiles", "build", "x", refs, "-o", "d2/"], tmp_path).returncode == 0
    assert (tmp_path / "d2" / "x.toml").is_file()


def test_muse_home_that_is_a_file(tmp_path):
    (tmp_path / "home-file").write_text("x")
    r = muse(["profile", "show"], tmp_path, env={"MUSE_HOME": str(tmp_path / "home-file")})
    assert "MUSE_HOME" in one_line(r) and "is a file" in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_muse_home_read_only(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line(muse(["bench", "history"], tmp_path, env={"MUSE_HOME": str(ro)}))
    finally:
        ro.chmod(0o755)


def test_demo_checks_its_output_folder_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    t0 = time.perf_counter()
    line = one_line(muse(["demo", "--out", "afile/sub"], tmp_path))
    assert "afile/sub" in line and "cannot write" in line
    assert "not a directory" in one_line(muse(["demo", "--out", "afile"], tmp_path))
    del t0  # (no timing asserted: the point is the message comes from the check, not from a late write)


def _profile_with(tmp_path, **overrides) -> Path:
    from nomad_muse.machine_profile.profile import PROFILE_VERSION

    d = {"version": PROFILE_VERSION, "fingerprint": "x", "created": "now", "modules": {}, **overrides}
    p = tmp_path / "p.json"
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize("text,needle", [
    ("[" * 200_000 + "]" * 200_000, "nested too deep"),
    ('{"version": ' + "9" * 5000 + "}", "ValueError"),
    ("[]", "not an object"),
])
def test_hostile_profile_json_is_one_line(tmp_path, text, needle):
    (tmp_path / "p.json").write_text(text)
    from nomad_muse.machine_profile.profile import read_profile

    with pytest.raises(MuseError, match=needle):
        read_profile(tmp_path / "p.json")
    one_line(muse(["profile", "import", "p.json"], tmp_path))


@pytest.mark.parametrize("tuned,needle", [([], "tuned"), ({"block_size": 100.5}, "block_size=100.5"),
                                          ({"block_size": True}, "block_size"), ({"classifier_hop_ms": "20"}, "classifier_hop_ms")])
def test_malformed_tuned_sizes_are_named(tmp_path, tuned, needle):
    from nomad_muse.machine_profile.profile import read_profile

    p = _profile_with(tmp_path, tuned=tuned)
    with pytest.raises(MuseError, match=needle):
        read_profile(p)
    assert needle.split("=")[0] in one_line(muse(["profile", "import", p], tmp_path))


def test_history_db_with_another_schema_is_refused_untouched(tmp_path):
    home = tmp_path / "h"
    (home / "data").mkdir(parents=True)
    db = home / "data" / "history.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, what TEXT)")
    con.execute("INSERT INTO runs (what) VALUES ('someone else''s')")
    con.commit()
    con.close()
    before = db.read_bytes()
    line = one_line(muse(["bench", "history"], tmp_path, env={"MUSE_HOME": str(home)}))
    assert "history.sqlite" in line and "columns" in line
    assert db.read_bytes() == before and not list(db.parent.glob("*.corrupt-*"))


def _broken_generator(tmp_path, kind: str) -> Path:
    import copy

    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = copy.deepcopy(onnx.load(str(GEN)))
    g = m.graph
    for n in g.node:
        for i, o in enumerate(n.output):
            if o == "logits":
                n.output[i] = "logits_raw"
    if kind == "nan":
        g.initializer.append(numpy_helper.from_array(np.array([np.nan], np.float32), "nanc"))
        g.node.append(helper.make_node("Mul", ["logits_raw", "nanc"], ["logits"]))
    else:
        g.initializer.extend([numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("s0", 0), ("s1", 10), ("ax", -1))])
        g.node.append(helper.make_node("Slice", ["logits_raw", "s0", "s1", "ax"], ["logits"]))
        next(o for o in g.output if o.name == "logits").type.tensor_type.shape.dim[-1].dim_value = 10
    p = tmp_path / f"{kind}.onnx"
    onnx.save(m, str(p))
    return p


@pytest.mark.parametrize("kind,needle", [("nan", "NaN or infinite logits"), ("v10", "has 10 logits")])
def test_broken_generator_models_are_one_line(tmp_path, kind, needle):
    pytest.importorskip("onnx")
    model = _broken_generator(tmp_path, kind)
    out = tmp_path / "keep.mid"
    out.write_bytes(b"old")
    line = one_line(muse(["generate", "--model", model, "-o", out, "--bars", "1", "--seed", "1"], tmp_path))
    assert needle in line and out.read_bytes() == b"old"


def test_max_files_below_one_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    assert "--max-files -1" in one_line(muse(["evaluate", "generator", "m", "--max-files", "-1"], tmp_path))


def test_ctrl_c_prints_stopped(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "nomad_muse", "demo", "--out", "o"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "o").exists():  # demo is past its checks and working
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-1500:]
    assert err.strip().splitlines()[-1] == "stopped" and "Traceback" not in err
    assert not (tmp_path / "o" / "render.wav").exists()  # the half-written render stayed a temp file, removed


def test_nothing_pre_existing_changes_on_refusals(tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.mid").write_bytes(b"MThd-old")
    before = tree_hashes(tmp_path)
    one_line(muse(["generate", "--bundled", "tonal", "-o", "keep", "--bars", "1"], tmp_path))
    # muse-home is this test's MUSE_HOME: the data directory's cache (the sampler graph) may fill, nothing else changes
    assert {k: v for k, v in tree_hashes(tmp_path).items() if not k.startswith("muse-home/cache/")} == before

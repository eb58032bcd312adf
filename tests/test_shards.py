"""training.shards + training.train_ddp on small real samples: Lakh's folder layout, a GigaMIDI-style parquet
built here from the same real files, resume after an interruption, and a 2-process DDP run on CPU (gloo)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from nomad_muse.errors import InputError, ParameterError  # noqa: E402
from nomad_muse.generator.midi_io import read_midi  # noqa: E402
from nomad_muse.generator.tokenizer import HEADER_LEN, score_streams  # noqa: E402
from nomad_muse.training import shards  # noqa: E402

DATA = Path(__file__).parent / "data" / "generator_adapt"  # real folk tunes (music21 ryansMammoth), README there
FILES = sorted(DATA.glob("*.mid"))


def _md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


def _expected() -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """Per file md5: the (mode, tokens) streams the runtime's own tokenizer makes of it."""
    out = {}
    for f in FILES:
        out[_md5(f)] = sorted((s.mode, s.tokens) for s in score_streams(read_midi(f)) if len(s.tokens) > HEADER_LEN + shards.MIN_BODY_TOKENS)
    return out


def _lakh(tmp_path: Path) -> Path:
    """Lakh MIDI's lmd_full layout: <first hex digit of md5>/<md5>.mid."""
    root = tmp_path / "lmd_full"
    for f in FILES:
        h = _md5(f)
        (root / h[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, root / h[0] / f"{h}.mid")
    (root / "README.txt").write_text("not MIDI, ignored")
    return root


def _gigamidi(tmp_path: Path, extra_bad: bool = True) -> Path:
    """A GigaMIDI-style parquet: md5, the MIDI file's bytes in `music`, metadata columns; small row groups."""
    rows = [{"md5": _md5(f), "music": f.read_bytes(), "NOMML": 1, "num_tracks": 1} for f in FILES]
    if extra_bad:
        rows.append({"md5": "0" * 32, "music": b"MThd-not-really", "NOMML": 0, "num_tracks": 0})
    t = pa.table({k: [r[k] for r in rows] for k in rows[0]}, schema=pa.schema(
        [("md5", pa.string()), ("music", pa.binary()), ("NOMML", pa.int64()), ("num_tracks", pa.int64())]))
    p = tmp_path / "giga" / "train-00000.parquet"
    p.parent.mkdir(parents=True)
    pq.write_table(t, p, row_group_size=16)
    return p


def _by_item(streams, key=lambda name: Path(name).stem):
    out: dict[str, list] = {}
    for name, mode, toks in streams:
        out.setdefault(key(name), []).append((mode, tuple(toks)))
    return {k: sorted(v) for k, v in out.items()}


def test_lakh_folder_shards_hold_exactly_the_runtime_streams(tmp_path):
    root = _lakh(tmp_path)
    res = shards.build([root], tmp_path / "out", workers=2, shard_size=7)
    assert res["complete"] and res["units"] == -(-len(FILES) // 7) and res["items"] == len(FILES) and res["unreadable"] == 0
    got = _by_item(shards.load_shards(tmp_path / "out"))
    assert got == _expected()
    # the split is by item: every stream of a file on one side, the same side as its hash says
    for name, mode, _ in shards.load_shards(tmp_path / "out", "validation"):
        assert shards.split_of(name) == 1
    n = {s: len(shards.load_shards(tmp_path / "out", s)) for s in shards.SPLITS}
    assert sum(n.values()) == sum(len(v) for v in got.values()) and n["train"] > 0


def test_gigamidi_parquet_rows_shard_like_the_files_and_a_bad_row_is_counted(tmp_path):
    p = _gigamidi(tmp_path)
    res = shards.build([p.parent], tmp_path / "out", workers=2, shard_size=10)
    n_rows = len(FILES) + 1
    # row groups of 16 rows, units of at most 10 rows inside a row group
    assert res["units"] == sum(-(-min(16, n_rows - g) // 10) for g in range(0, n_rows, 16))
    assert res["items"] == n_rows and res["unreadable"] == 1
    assert _by_item(shards.load_shards(tmp_path / "out"), key=str) == _expected()


def test_parquet_without_a_bytes_column_is_refused_in_one_line(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"md5": ["a"], "n": [1]}), p)
    with pytest.raises(InputError, match="no binary column"):
        shards.plan([p])
    with pytest.raises(InputError, match="no column 'midi'"):
        shards.plan([p], bytes_column="midi")


def test_an_interrupted_run_resumes_and_ends_with_the_same_shards(tmp_path):
    root = _lakh(tmp_path)
    out = tmp_path / "out"
    first = shards.build([root], out, workers=1, shard_size=5, limit_units=3)  # "killed" after 3 shards
    assert first["new_shards"] == 3 and not first["complete"]
    with open(out / "manifest.jsonl", "a") as fh:
        fh.write('{"shard": "shard-0000')  # a line torn by the kill: ignored
    (out / ".shard-000004.npz.999.tmp").write_bytes(b"half")  # a temp file of the killed worker: never loaded
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.npz")}
    second = shards.build([root], out, workers=2, shard_size=5)
    assert second["resumed_done"] == 3 and second["new_shards"] == first["units"] - 3 and second["complete"]
    assert all((out / n).stat().st_mtime_ns == t for n, t in mtimes.items())  # finished shards not redone
    fresh = tmp_path / "fresh"
    shards.build([root], fresh, workers=1, shard_size=5)
    assert shards.load_shards(out) == shards.load_shards(fresh)
    third = shards.build([root], out, workers=1, shard_size=5)
    assert third["new_shards"] == 0 and third["complete"]
    with pytest.raises(ParameterError, match="another plan"):
        shards.build([root], out, workers=1, shard_size=6)


def test_cli_bad_source_is_one_line_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nomad_muse.training.shards", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not a folder" in r.stderr


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu_trains_from_the_shards(tmp_path):
    root = _lakh(tmp_path)
    out = tmp_path / "shards"
    shards.build([root], out, workers=1, shard_size=6)
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = ([str(torchrun)] if torchrun.is_file() else [sys.executable, "-m", "torch.distributed.run"]) + [
        "--standalone", "--nproc_per_node", "2", "-m", "nomad_muse.training.train_ddp", "--shards", str(out),
        "--out", str(tmp_path / "model"), "--steps", "6", "--batch", "4", "--seq-len", "64", "--eval-every", "3", "--no-onnx"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    st = json.loads((tmp_path / "model" / "ddp_stats.json").read_text())
    assert st["world_size"] == 2 and st["backend"] == "gloo" and st["ranks_in_sync"]
    assert len(st["history"]) == 2 and np.isfinite(st["best_val_nll"])
    import torch

    sd = torch.load(tmp_path / "model" / "generator.pt")
    assert sd["head.weight"].shape[0] > 0

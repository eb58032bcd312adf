"""training.classifier_loso (frozen trunk + retrained head, LOSO) and training.classifier_reserved (labelled layout)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from nomad_muse.gm import FAMILIES
from nomad_muse.training import classifier_loso as cl
from nomad_muse.training import classifier_reserved as cr


def _windows(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 1, 128, 8)).astype(np.float32)


def _full(path, X):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([s.run(["logits"], {"mel": X[i : i + 1]})[0] for i in range(len(X))])


def test_trunk_plus_numpy_head_is_the_shipped_graph():
    X = _windows(6)
    feats = cl.trunk_session().run(None, {"mel": X})[0].reshape(len(X), 128)
    assert np.allclose(cl.head_logits(cl.head_weights(), feats), _full(cl.SHIPPED, X), atol=1e-4)


def test_write_onnx_replaces_only_the_head(tmp_path):
    X = _windows(4, 1)
    W = cl.head_weights()
    W2 = {k: v.copy() for k, v in W.items()}
    W2["head.6.bias"] = W2["head.6.bias"] + np.arange(len(FAMILIES), dtype=np.float32)
    out = tmp_path / "m.onnx"
    cl.write_onnx(W2, out)
    s = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in s.get_outputs()] == ["logits", "embedding"]
    new = _full(out, X)
    assert np.allclose(new - _full(cl.SHIPPED, X), np.arange(len(FAMILIES)), atol=1e-4)  # the bias moved, nothing else


def test_clip_metrics_vote_per_clip():
    W = cl.head_weights()
    d = {"labels": np.array([0, 1, 1]), "clean_x": np.zeros((6, 128), np.float32), "clean_clip": np.array([0, 0, 1, 1, 2, 2])}
    # a zero trunk output gives the head's constant answer for every clip
    pred = int(np.argmax(cl.head_logits(W, d["clean_x"][:1])))
    m = cl.clip_metrics(W, d)
    assert m["clips"] == 3 and m["accuracy"] == pytest.approx(np.mean(d["labels"] == pred), abs=1e-4)


def test_train_head_learns_separable_sources():
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)

    def src(shift):
        y = np.arange(40) % 2  # drums, bass
        x = np.abs(rng.standard_normal((40, 128))).astype(np.float32) * 0.1  # trunk features are >= 0 (ReLU + mean)
        x[:, 0] += np.where(y == 0, 3.0, 0.0) + shift
        return {"labels": y, "clean_x": x, "clean_clip": np.arange(40)}

    data = {"a": src(0.0), "b": src(0.2)}
    W = cl.train_head(data, ["a"], [], steps=150)
    assert cl.clip_metrics(W, data["b"])["accuracy"] >= 0.9


def test_reserved_layout_labels_from_the_package_names():
    assert cr._sonic_family("bd_haus") == "drums" and cr._sonic_family("loop_amen_full") == "drums"
    assert cr._sonic_family("bass_voxy_c") == "bass" and cr._sonic_family("guit_em9") == "guitar"
    assert cr._sonic_family("ambi_piano") == "piano" and cr._sonic_family("elec_blip") is None
    assert cr._sonic_family("perc_bell") is None and cr._sonic_family("loop_3d_printer") is None
    assert cr._lmms_family("drums", "kick01") == "drums" and cr._lmms_family("bassloops", "x") == "bass"
    assert cr._lmms_family("instruments", "bassslap01") == "bass" and cr._lmms_family("instruments", "e_piano_accord01") == "piano"
    assert cr._lmms_family("instruments", "violin_pizzicato01") == "strings" and cr._lmms_family("stringsnpads", "x") is None

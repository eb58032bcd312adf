"""Backends: equivalence of ONNX Runtime and OpenVINO on real models, state, and every failure case."""

from __future__ import annotations

import numpy as np
import pytest

from nomad_muse.backends import Candidate, get_backend, load_first, runtimes
from nomad_muse.backends.base import file_is_quantized
from nomad_muse.errors import BackendError

RUNTIMES = ["onnxruntime", "openvino"]
RTOL, ATOL = 1e-5, 1e-5


def _rand(spec, rng, n=None):
    shape = tuple(n if d is None else d for d in spec.shape)
    if spec.dtype.kind == "i":
        return rng.integers(0, 12, size=shape).astype(spec.dtype)
    return rng.standard_normal(shape).astype(spec.dtype)


def test_registry_lists_both_runtimes_with_cpu():
    rows = {r.name: r for r in runtimes()}
    assert rows["onnxruntime"].available and "CPU" in rows["onnxruntime"].devices
    assert rows["openvino"].available and "CPU" in rows["openvino"].devices
    assert rows["openvino"].version and rows["onnxruntime"].version


def test_mlp_matches_numpy_reference(onnx_models):
    import onnx
    from onnx import numpy_helper

    w = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_models["mlp"])).graph.initializer}
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    expected = np.maximum(x @ w["W1"].T + w["b1"], 0) @ w["W2"].T + w["b2"]
    for rt in RUNTIMES:
        y = get_backend(rt).load(onnx_models["mlp"]).run({"x": x})["y"]
        np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL, err_msg=rt)


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_parity_static_models(onnx_models, name):
    rng = np.random.default_rng(1)
    a = get_backend("onnxruntime").load(onnx_models[name])
    b = get_backend("openvino").load(onnx_models[name])
    assert a.inputs == b.inputs and a.outputs == b.outputs
    for _ in range(5):
        feed = {s.name: _rand(s, rng) for s in a.inputs}
        ya, yb = a.run(feed), b.run(feed)
        assert ya.keys() == yb.keys() == {s.name for s in a.outputs}
        for k in ya:
            np.testing.assert_allclose(ya[k], yb[k], rtol=RTOL, atol=ATOL)


def test_parity_dynamic_batch_and_rebinding(onnx_models):
    rng = np.random.default_rng(2)
    a = get_backend("onnxruntime").load(onnx_models["dyn"])
    b = get_backend("openvino").load(onnx_models["dyn"])
    assert a.inputs[0].shape == (None, 16)
    for n in (1, 4, 4, 2):
        x = rng.standard_normal((n, 16)).astype(np.float32)
        ya, yb = a.run({"x": x})["y"], b.run({"x": x})["y"]
        assert ya.shape == yb.shape == (n, 8)
        np.testing.assert_allclose(ya, yb, rtol=RTOL, atol=ATOL)


def test_outputs_are_not_overwritten_by_next_call(onnx_models):
    for rt in RUNTIMES:
        m = get_backend(rt).load(onnx_models["mlp"])
        y1 = m.run({"x": np.ones((1, 16), np.float32)})["y"]
        keep = y1.copy()
        m.run({"x": np.zeros((1, 16), np.float32)})
        np.testing.assert_array_equal(y1, keep)


def _reference_chain(onnx_models, tokens):
    """Run the GRU step statelessly (h passed in and out) as the reference."""
    m = get_backend("onnxruntime").load(onnx_models["gru"])
    h = np.zeros((1, 1, 16), np.float32)
    out = []
    for t in tokens:
        r = m.run({"token": np.array([[t]], np.int64), "h": h})
        h = r["h_out"]
        out.append((r["logits"], h))
    return out


@pytest.mark.parametrize("rt", RUNTIMES)
def test_stateful_gru_keeps_state_inside_backend(onnx_models, rt):
    tokens = [3, 1, 4, 1, 5, 9, 2, 6]
    ref = _reference_chain(onnx_models, tokens)
    m = get_backend(rt).load(onnx_models["gru"], state={"h": "h_out"})
    assert [s.name for s in m.inputs] == ["token"]
    assert [s.name for s in m.outputs] == ["logits"]
    assert [s.name for s in m.state] == ["h"]
    assert m.describe().stateful
    for t, (logits, h) in zip(tokens, ref):
        y = m.run({"token": np.array([[t]], np.int64)})
        np.testing.assert_allclose(y["logits"], logits, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(m.get_state()["h"], h, rtol=RTOL, atol=ATOL)
    # branching: save, advance, restore, advance again -> identical
    saved = m.get_state()
    a = m.run({"token": np.array([[7]], np.int64)})["logits"]
    m.set_state(saved)
    b = m.run({"token": np.array([[7]], np.int64)})["logits"]
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    m.reset_state()
    assert not m.get_state()["h"].any()
    first = m.run({"token": np.array([[tokens[0]]], np.int64)})["logits"]
    np.testing.assert_allclose(first, ref[0][0], rtol=RTOL, atol=ATOL)


def test_describe_reports_runtime_device_precision_threads(onnx_models):
    for rt in RUNTIMES:
        info = get_backend(rt).load(onnx_models["mlp"], threads=1).describe()
        assert info.runtime == rt and info.device == "CPU" and info.precision == "fp32" and info.threads == 1
        assert info.runtime_version == get_backend(rt).version()
        assert info.model_path.endswith("mlp.onnx")
        assert "prebound" in info.call_path
    ov = get_backend("openvino").load(onnx_models["mlp"], precision="fp32")
    # OpenVINO must really compile in f32 (its CPU default is bf16 where available)
    assert str(ov._compiled.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'float32'>", "f32")


def test_openvino_ir_and_cache_dir(onnx_models, tmp_path):
    import openvino as ov

    ir = tmp_path / "mlp.xml"
    ov.save_model(ov.convert_model(str(onnx_models["mlp"])), str(ir), compress_to_fp16=False)
    cache = tmp_path / "ovcache"
    m = get_backend("openvino").load(ir, cache_dir=cache)
    x = np.random.default_rng(3).standard_normal((1, 16)).astype(np.float32)
    ref = get_backend("onnxruntime").load(onnx_models["mlp"]).run({"x": x})["y"]
    np.testing.assert_allclose(m.run({"x": x})["y"], ref, rtol=RTOL, atol=ATOL)
    assert any(cache.iterdir()), "CACHE_DIR got no compiled blob"


@pytest.fixture(scope="module")
def int8_mlp(tmp_path_factory, onnx_models):
    """A real static-QDQ INT8 variant of the MLP, made with ORT's quantizer."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(5)
            self._it = iter([{"x": rng.standard_normal((1, 16)).astype(np.float32)} for _ in range(64)])

        def get_next(self):
            return next(self._it, None)

    out = tmp_path_factory.mktemp("q") / "mlp_int8.onnx"
    quantize_static(str(onnx_models["mlp"]), str(out), Reader(), quant_format=QuantFormat.QDQ)
    return out


def test_int8_variant_runs_on_both_and_stays_close(onnx_models, int8_mlp):
    assert file_is_quantized(int8_mlp) and not file_is_quantized(onnx_models["mlp"])
    x = np.random.default_rng(6).standard_normal((1, 16)).astype(np.float32)
    ref = get_backend("onnxruntime").load(onnx_models["mlp"]).run({"x": x})["y"]
    scale = np.abs(ref).max()
    for rt in RUNTIMES:
        m = get_backend(rt).load(int8_mlp, precision="int8")
        assert m.describe().precision == "int8"
        np.testing.assert_allclose(m.run({"x": x})["y"], ref, atol=0.05 * scale)


# ------------------------------------------------------------ failures
@pytest.mark.parametrize("rt", RUNTIMES)
def test_missing_model_file(tmp_path, rt):
    with pytest.raises(BackendError, match=r"model file not found: .*nope\.onnx"):
        get_backend(rt).load(tmp_path / "nope.onnx")


@pytest.mark.parametrize("rt", RUNTIMES)
def test_empty_model_file(tmp_path, rt):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    with pytest.raises(BackendError, match=r"model file is empty: .*empty\.onnx"):
        get_backend(rt).load(p)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_corrupt_model_file(tmp_path, rt):
    p = tmp_path / "corrupt.onnx"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BackendError, match=rf"{rt} cannot load .*corrupt\.onnx: .*valid"):
        get_backend(rt).load(p)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_wrong_suffix(tmp_path, rt):
    p = tmp_path / "model.txt"
    p.write_text("hello")
    with pytest.raises(BackendError, match=r"cannot load model\.txt: expected a \.onnx"):
        get_backend(rt).load(p)


def test_onnxruntime_refuses_ir(tmp_path):
    p = tmp_path / "m.xml"
    p.write_text("<net/>")
    with pytest.raises(BackendError, match=r"onnxruntime cannot load OpenVINO IR m\.xml"):
        get_backend("onnxruntime").load(p)


def test_openvino_ir_without_bin(tmp_path):
    p = tmp_path / "m.xml"
    p.write_text("<net/>")
    with pytest.raises(BackendError, match=r"IR weights .*m\.bin missing"):
        get_backend("openvino").load(p)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_wrong_input_name(onnx_models, rt):
    m = get_backend(rt).load(onnx_models["mlp"])
    with pytest.raises(BackendError, match=r"mlp\.onnx: inputs missing \['x'\] and unexpected \['input'\]; the model expects x: float32\[1,16\]"):
        m.run({"input": np.zeros((1, 16), np.float32)})


@pytest.mark.parametrize("rt", RUNTIMES)
def test_wrong_dtype(onnx_models, rt):
    m = get_backend(rt).load(onnx_models["mlp"])
    with pytest.raises(BackendError, match=r"input x: float32\[1,16\] expected, found float64\[1, 16\]"):
        m.run({"x": np.zeros((1, 16), np.float64)})


@pytest.mark.parametrize("rt", RUNTIMES)
def test_wrong_shape(onnx_models, rt):
    m = get_backend(rt).load(onnx_models["conv"])
    with pytest.raises(BackendError, match=r"input mel: float32\[1,1,16,8\] expected, found float32\[1, 16, 8\]"):
        m.run({"mel": np.zeros((1, 16, 8), np.float32)})


def test_not_an_array(onnx_models):
    m = get_backend("onnxruntime").load(onnx_models["mlp"])
    with pytest.raises(BackendError, match=r"expected, found list"):
        m.run({"x": [[0.0] * 16]})


@pytest.mark.parametrize("rt,device", [("openvino", "GPU"), ("onnxruntime", "GPU")])
def test_unavailable_device(onnx_models, rt, device):
    if rt == "openvino" and any(d.startswith("GPU") for d in get_backend("openvino").devices()):
        pytest.skip("this machine has an OpenVINO GPU")
    with pytest.raises(BackendError, match=r"device 'GPU' not available"):
        get_backend(rt).load(onnx_models["mlp"], device=device)


def test_precision_not_supported_by_onnxruntime(onnx_models):
    with pytest.raises(BackendError, match=r"onnxruntime: precision bf16 not available on CPU"):
        get_backend("onnxruntime").load(onnx_models["mlp"], precision="bf16")


@pytest.mark.parametrize("rt", RUNTIMES)
def test_int8_label_must_match_file(onnx_models, int8_mlp, rt):
    with pytest.raises(BackendError, match=r"precision int8 requested but mlp\.onnx has no quantized ops"):
        get_backend(rt).load(onnx_models["mlp"], precision="int8")
    with pytest.raises(BackendError, match=r"mlp_int8\.onnx is an INT8 \(quantized\) model but precision fp32"):
        get_backend(rt).load(int8_mlp, precision="fp32")


@pytest.mark.parametrize("rt", RUNTIMES)
def test_bad_state_pairs(onnx_models, rt):
    with pytest.raises(BackendError, match=r"state input 'hidden' not found; inputs are \['h', 'token'\]"):
        get_backend(rt).load(onnx_models["gru"], state={"hidden": "h_out"})
    with pytest.raises(BackendError, match=r"state h->logits needs equal static shapes"):
        get_backend(rt).load(onnx_models["gru"], state={"h": "logits"})


def test_bad_threads(onnx_models):
    for rt in RUNTIMES:
        with pytest.raises(BackendError, match=r"threads=0 must be >= 1"):
            get_backend(rt).load(onnx_models["mlp"], threads=0)


def test_unknown_runtime():
    with pytest.raises(BackendError, match=r"unknown runtime 'tensorrt'; known: onnxruntime, openvino"):
        get_backend("tensorrt")


# ------------------------------------------------------------ fallback
def test_fallback_to_next_candidate_and_say_so(onnx_models, caplog):
    if any(d.startswith("GPU") for d in get_backend("openvino").devices()):
        pytest.skip("this machine has an OpenVINO GPU")
    res = load_first([Candidate("openvino", "GPU", "fp16"), Candidate("onnxruntime")], onnx_models["mlp"])
    assert res.candidate == Candidate("onnxruntime")
    assert len(res.fallbacks) == 1 and "openvino/GPU/fp16: openvino: device 'GPU' not available" in res.fallbacks[0]
    assert "trying the next candidate" in caplog.text


def test_runtime_that_fails_to_import_falls_back(onnx_models, monkeypatch):
    from nomad_muse.backends import registry

    monkeypatch.setitem(registry.RUNTIMES, "brokenrt", "nomad_muse.backends._does_not_exist")
    monkeypatch.setitem(registry._PIP_NAMES, "brokenrt", "brokenrt")
    res = load_first([Candidate("brokenrt"), Candidate("openvino")], onnx_models["mlp"])
    assert res.candidate.runtime == "openvino"
    assert "runtime brokenrt is not importable here" in res.fallbacks[0] and "pip install brokenrt" in res.fallbacks[0]
    status = {r.name: r for r in runtimes()}["brokenrt"]
    assert not status.available and "not importable" in status.error


def test_per_candidate_paths(onnx_models, int8_mlp):
    paths = {Candidate("onnxruntime", "CPU", "int8"): int8_mlp, Candidate("onnxruntime"): onnx_models["mlp"]}
    res = load_first([Candidate("openvino", "CPU", "int8"), Candidate("onnxruntime", "CPU", "int8")], paths)
    assert res.candidate == Candidate("onnxruntime", "CPU", "int8")
    assert res.fallbacks == ("openvino/CPU/int8: no model file for this candidate",)


def test_all_candidates_fail_lists_every_attempt(tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(BackendError) as e:
        load_first([Candidate("onnxruntime"), Candidate("openvino")], bad)
    msg = str(e.value)
    assert msg.startswith("no backend could load the model")
    assert "onnxruntime/CPU/fp32: onnxruntime cannot load" in msg and "openvino/CPU/fp32: openvino cannot load" in msg
    assert "runtimes installed: onnxruntime" in msg


def test_missing_model_is_said_once(tmp_path, caplog):
    with pytest.raises(BackendError, match=r"^model file not found: .*missing\.onnx"):
        load_first([Candidate("onnxruntime"), Candidate("openvino")], tmp_path / "missing.onnx")
    assert "trying the next candidate" not in caplog.text


def test_no_candidates():
    with pytest.raises(BackendError, match="no backend candidates"):
        load_first([], "x.onnx")


def test_candidate_parse():
    assert Candidate.parse("openvino/gpu/fp16") == Candidate("openvino", "GPU", "fp16")
    assert Candidate.parse("onnxruntime") == Candidate("onnxruntime", "CPU", "fp32")
    assert Candidate.parse("openvino:CPU:bf16") == Candidate("openvino", "CPU", "bf16")
    with pytest.raises(ValueError, match=r"precision='fp64' must be one of"):
        Candidate.parse("openvino/CPU/fp64")
    with pytest.raises(ValueError, match=r"must look like runtime\[/device\[/precision\]\]"):
        Candidate.parse("a/b/c/d")


def test_openvino_compile_config_cpu_and_gpu(tmp_path):
    from nomad_muse.backends.openvino_backend import compile_config

    cfg, notes = compile_config("CPU", "fp32", 2, tmp_path / "c")
    assert cfg == {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": 2,
        "SNIPPETS_MODE": "DISABLE",
        "CACHE_DIR": str(tmp_path / "c"),
    }
    assert notes and (tmp_path / "c").is_dir()
    cfg, notes = compile_config("CPU", "bf16", 1, None)
    assert cfg["INFERENCE_PRECISION_HINT"] == "bf16" and "SNIPPETS_MODE" not in cfg and not notes
    # an Intel iGPU: fp16, no CPU-only thread property
    cfg, _ = compile_config("GPU.0", "fp16", 1, None)
    assert cfg == {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f16"}

"""The classifier's INT8 routes keep the first convolution in FP32 (docs/calibration.md)."""

from __future__ import annotations

import pytest

pytest.importorskip("nncf")


def _conv_inputs_quantized(model) -> list[bool]:
    """Per Convolution (graph order): are its weights INT8 (a decompression chain, not an FP32 Constant)?"""
    return [op.input_value(1).get_node().get_type_name() != "Constant"
            for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]


def _onnx_conv_inputs_quantized(model) -> list[bool]:
    producers = {o: n for n in model.graph.node for o in n.output}
    # weights through DequantizeLinear = INT8 (the activations sit behind MaxPool, so test the weights)
    return [producers.get(n.input[1]) is not None and producers[n.input[1]].op_type == "DequantizeLinear"
            for n in model.graph.node if n.op_type == "Conv"]


@pytest.fixture(scope="module")
def feeds():
    from nomad_muse.calibration import data

    return data.classifier_sets().calib_feeds(40)


def test_ir_route_keeps_only_the_first_conv_in_fp32(tmp_path, feeds):
    from nomad_muse.backends.openvino_backend import _core
    from nomad_muse.calibration.quantize import ptq_ir
    from nomad_muse.paths import models_dir

    src = models_dir() / "classifier.onnx"
    kept = _conv_inputs_quantized(_core().read_model(str(ptq_ir(src, feeds, tmp_path / "k.xml"))))
    assert kept[0] is False and all(kept[1:]) and len(kept) == 3
    full = _conv_inputs_quantized(_core().read_model(str(ptq_ir(src, feeds, tmp_path / "f.xml", keep_first_conv=False))))
    assert all(full)


def test_onnx_route_keeps_only_the_first_conv_in_fp32(tmp_path, feeds):
    onnx = pytest.importorskip("onnx")
    from nomad_muse.calibration.quantize import ptq_onnx
    from nomad_muse.paths import models_dir

    src = models_dir() / "classifier.onnx"
    kept = _onnx_conv_inputs_quantized(onnx.load(str(ptq_onnx(src, feeds, tmp_path / "k.onnx"))))
    assert kept[0] is False and all(kept[1:]) and len(kept) == 3
    full = _onnx_conv_inputs_quantized(onnx.load(str(ptq_onnx(src, feeds, tmp_path / "f.onnx", keep_first_conv=False))))
    assert all(full)

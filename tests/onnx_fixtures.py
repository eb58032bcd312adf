"""Small, real ONNX models built with ``onnx.helper`` for backend tests.

Each builder writes a valid ONNX file with deterministic weights (seeded
RNG) and returns its path.  They exercise what the backends must handle: a
plain MLP, a stateful GRU step with an int64 token input, a dynamic batch
dimension and a convolutional net shaped like the classifier's input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _w(rng: np.random.Generator, name: str, *shape: int, scale: float = 0.5) -> onnx.TensorProto:
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def build_mlp(path: Path) -> Path:
    """x float32 [1,16] -> Gemm -> Relu -> Gemm -> y float32 [1,8]."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [_w(rng, "W1", 32, 16), _w(rng, "b1", 32), _w(rng, "W2", 8, 32), _w(rng, "b2", 8)],
    )
    return _save(graph, path)


def build_dynamic_mlp(path: Path) -> Path:
    """x float32 [batch,16] -> MatMul -> Tanh -> y float32 [batch,8] (dynamic batch)."""
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Tanh", ["m"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "dyn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [_w(rng, "W", 16, 8)],
    )
    return _save(graph, path)


GRU_VOCAB, GRU_EMB, GRU_HIDDEN = 12, 8, 16


def build_gru_step(path: Path) -> Path:
    """One decoding step of a token GRU, the generator's shape in miniature.

    Inputs: ``token`` int64 [1,1], ``h`` float32 [1,1,16].
    Outputs: ``logits`` float32 [1,12], ``h_out`` float32 [1,1,16].
    """
    rng = np.random.default_rng(3)
    H = GRU_HIDDEN
    nodes = [
        helper.make_node("Gather", ["emb", "token"], ["e"]),  # [1,1,8] = [seq,batch,in]
        helper.make_node("GRU", ["e", "W", "R", "B", "", "h"], ["Y", "h_out"], hidden_size=H),
        helper.make_node("Reshape", ["h_out", "flat_shape"], ["hf"]),
        helper.make_node("Gemm", ["hf", "Wo", "bo"], ["logits"], transB=1),
    ]
    inits = [
        _w(rng, "emb", GRU_VOCAB, GRU_EMB, scale=1.0),
        _w(rng, "W", 1, 3 * H, GRU_EMB),
        _w(rng, "R", 1, 3 * H, H),
        _w(rng, "B", 1, 6 * H, scale=0.1),
        numpy_helper.from_array(np.array([1, H], dtype=np.int64), "flat_shape"),
        _w(rng, "Wo", GRU_VOCAB, H),
        _w(rng, "bo", GRU_VOCAB, scale=0.1),
    ]
    graph = helper.make_graph(
        nodes,
        "gru_step",
        [
            helper.make_tensor_value_info("token", TensorProto.INT64, [1, 1]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 1, H]),
        ],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, GRU_VOCAB]),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 1, H]),
        ],
        inits,
    )
    return _save(graph, path)


def build_conv(path: Path) -> Path:
    """A log-mel-shaped CNN: mel float32 [1,1,16,8] -> Conv/Relu/GAP/Gemm -> logits [1,5]."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Conv", ["mel", "Wc", "bc"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "Wf", "bf"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, [1, 1, 16, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5])],
        [_w(rng, "Wc", 6, 1, 3, 3), _w(rng, "bc", 6, scale=0.1), _w(rng, "Wf", 5, 6), _w(rng, "bf", 5)],
    )
    return _save(graph, path)


BUILDERS = {
    "mlp": build_mlp,
    "dyn": build_dynamic_mlp,
    "gru": build_gru_step,
    "conv": build_conv,
}

"""Regenerate ``hwbench/floor_relu_128.onnx``: x float32 [1,128] -> Relu -> y.

The smallest useful model, so that a call's time is the runtime's per-call
overhead (its floor).  Needs ``onnx`` (test/training extras):
``python -m nomad_muse.hwbench.make_floor_model``.
"""

from pathlib import Path

import onnx
from onnx import TensorProto, helper

OUT = Path(__file__).with_name("floor_relu_128.onnx")


def main() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "floor_relu_128",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(OUT))
    print(OUT)


if __name__ == "__main__":
    main()

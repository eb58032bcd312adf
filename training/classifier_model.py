"""The instrument classifier CNN, as the seed sketches it (~143k parameters).

Input ``mel`` [B, 1, 128, 8] (standardised log-mel, 8 frames of 20 ms hop).
3 × (conv 3×3 + batch norm + ReLU) with 32 → 64 → 128 channels, 2×2 max-pool
after the first two, global average pooling, then FC 128 → 256 → 64 → 11.
"""

from __future__ import annotations

import torch
from torch import nn

from nomad_muse.classifier.features import CONTEXT, N_MELS
from nomad_muse.gm import FAMILIES


def _block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class FamilyCNN(nn.Module):
    def __init__(self, n_classes: int = len(FAMILIES), dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(*_block(1, 32, True), *_block(32, 64, True), *_block(64, 128, False))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, n_classes),
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.features(mel)
        return self.head(x.mean(dim=(2, 3), keepdim=True))


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def export_onnx(model: FamilyCNN, path) -> None:
    model.eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, N_MELS, CONTEXT),),
        str(path),
        input_names=["mel"],
        output_names=["logits"],
        dynamo=True,
        external_data=False,
        optimize=True,
    )
    add_embedding_output(path)


def add_embedding_output(path) -> None:
    """Expose the final FC's input (64-d) as the graph output ``embedding`` (an Identity node; ``logits`` unchanged).

    ``muse adapt classifier`` fits its head on it (nomad_muse.classifier.adapter).
    """
    import onnx

    m = onnx.load(str(path))
    if any(o.name == "embedding" for o in m.graph.output):
        return
    last = [n for n in m.graph.node if n.output[0] == "logits"][0]
    m.graph.node.append(onnx.helper.make_node("Identity", [last.input[0]], ["embedding"], name="embedding_out"))
    m.graph.output.append(onnx.helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, [1, 64]))
    onnx.checker.check_model(m)
    onnx.save(m, str(path))

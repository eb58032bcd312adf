"""The generator network: token embedding → 2-layer GRU → vocabulary logits.

One model serves both modes, conditioned on the TRACK context token at the
head of every sequence (the drum corpus here is ten songs: a separate drum
model would see too little data; sharing lets it learn the grid, velocities
and bar structure from both).  Sizes give ~290k parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from nomad_muse.generator.vocab import VOCAB_SIZE

EMB, HIDDEN, LAYERS = 96, 144, 2


class GeneratorGRU(nn.Module):
    def __init__(self, vocab: int = VOCAB_SIZE, emb: int = EMB, hidden: int = HIDDEN, layers: int = LAYERS, dropout: float = 0.1):
        super().__init__()
        self.vocab, self.hidden, self.layers = vocab, hidden, layers
        self.embed = nn.Embedding(vocab, emb)
        self.gru = nn.GRU(emb, hidden, num_layers=layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.gru(self.embed(tokens), h)
        return self.head(self.drop(y)), h


class StepModule(nn.Module):
    """One decoding step with the state explicit, for ONNX export.

    Inputs ``token`` int64 [1,1], ``h`` float32 [layers,1,hidden];
    outputs ``logits`` float32 [1,vocab], ``h_out`` float32 [layers,1,hidden].
    """

    def __init__(self, model: GeneratorGRU):
        super().__init__()
        self.model = model

    def forward(self, token: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, h_out = self.model.gru(self.model.embed(token), h)
        return self.model.head(y[:, -1, :]), h_out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def export_step_onnx(model: GeneratorGRU, path) -> None:
    model.eval()
    step = StepModule(model)
    token = torch.zeros((1, 1), dtype=torch.long)
    h = torch.zeros((model.layers, 1, model.hidden))
    torch.onnx.export(
        step,
        (token, h),
        str(path),
        input_names=["token", "h"],
        output_names=["logits", "h_out"],
        dynamo=True,
        external_data=False,
        optimize=True,
    )

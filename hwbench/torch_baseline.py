"""PyTorch eager baseline for ``muse bench``: the one runtime module allowed to reach ``training``.

The runtime never imports torch or the training code; this seam does, lazily,
only when ``muse bench`` runs and only when the ``training`` extra is
installed (otherwise the baseline is reported as skipped).  The import-linter
contract "runtime never imports training" names this module as its single
exception.
"""

from __future__ import annotations

import numpy as np


def bench_torch(calls: int, warmup: int, time_calls) -> list[dict] | dict:
    """PyTorch eager on the same architectures (weights not loaded: speed does not depend on their values)."""
    try:
        import torch

        from nomad_muse.training.classifier_model import FamilyCNN
        from nomad_muse.training.generator_model import GeneratorGRU
    except ImportError as e:
        return {"skipped": f"PyTorch not installed ({e.name}); pip install '.[training]' to measure the eager baseline"}
    torch.set_num_threads(1)
    rows = []
    with torch.inference_mode():
        cnn = FamilyCNN().eval()
        x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 1, 128, 8)).astype(np.float32))
        rows.append({"module": "classifier", "backend": "torch-eager", "device": "CPU", "precision": "fp32", "size": "[1,1,128,8]",
                     "unit": "model call", **time_calls(lambda: cnn(x), calls, warmup)})
        gru = GeneratorGRU().eval()
        tok = torch.zeros((1, 1), dtype=torch.long)
        h = [torch.zeros((gru.layers, 1, gru.hidden))]

        def step():
            y, h[0] = gru.gru(gru.embed(tok), h[0])
            gru.head(y[:, -1, :])

        rows.append({"module": "generator", "backend": "torch-eager", "device": "CPU", "precision": "fp32", "size": "1 step",
                     "unit": "decoding step (state carried)", **time_calls(step, calls, warmup)})
    return rows

"""Per-step cost of the generator adapter (muse adapt generator): the model call raw vs through AdaptedStepModel.

    python scripts/bench_generator_adapter.py [--calls 4000]

Interleaves blocks of 200 calls on the shipped ONNX model (the shipped head vs a 252x144 adapter head) and
prints p50/p99 of each and the p50 ratio, measured in the same run."""

from __future__ import annotations

import argparse
import time

import numpy as np

from nomad_muse.generator import adapter as A
from nomad_muse.generator.engine import Generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=4000)
    args = ap.parse_args()
    g = Generator(use_adapter=False)
    k = g.n_logits if hasattr(g, "n_logits") else 252
    ad = A.AdaptedStepModel(g.model, A.Adapter(np.random.default_rng(0).standard_normal((k, 144)) * 0.01, np.zeros(k), {}))
    tok = np.full((1, 1), 5, np.int64)
    raw, adp = [], []
    for _ in range(max(1, args.calls // 200)):
        for m, acc in ((g.model, raw), (ad, adp)):
            for _ in range(200):
                t = time.perf_counter()
                m.run({"token": tok})
                acc.append(time.perf_counter() - t)
    raw, adp = np.array(raw) * 1e6, np.array(adp) * 1e6
    print(f"model call raw p50 {np.median(raw):.1f} us p99 {np.percentile(raw, 99):.1f} us; adapted p50 {np.median(adp):.1f} us "
          f"p99 {np.percentile(adp, 99):.1f} us; p50 ratio {np.median(adp) / np.median(raw):.3f}")


if __name__ == "__main__":
    main()

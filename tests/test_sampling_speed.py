"""The fast nucleus sampler draws exactly what numpy's Generator.choice draws (same seeds, same tokens)."""

import numpy as np

from nomad_muse.generator.sampling import masked_probs, sample


def _reference(probs, top_p, rng):  # the sampler as it was, through rng.choice
    order = np.argsort(probs)[::-1]
    cum = np.cumsum(probs[order])
    k = min(int(np.searchsorted(cum, top_p)) + 1, int(np.count_nonzero(probs)))
    keep = order[:k]
    p = probs[keep] / probs[keep].sum()
    return int(keep[rng.choice(k, p=p)])


def test_sample_equals_choice_draw_for_draw():
    for seed in range(300):
        g = np.random.default_rng(seed)
        logits = g.standard_normal(252).astype(np.float32) * 3
        mask = g.random(252) < (0.02 if seed % 5 == 0 else 0.4)
        mask[int(g.integers(252))] = True
        probs = masked_probs(logits, mask, float(g.uniform(0.5, 1.5)))
        top_p = [1.0, 0.95, 0.5, 0.0][seed % 4]
        a, b = np.random.default_rng(seed + 7), np.random.default_rng(seed + 7)
        for _ in range(4):
            assert sample(probs, top_p, a) == _reference(probs, top_p, b)
        assert a.random() == b.random()  # the same randomness consumed


def test_masked_probs_zero_outside_mask_and_sums_to_one():
    logits = np.arange(10, dtype=np.float32)
    mask = np.zeros(10, bool)
    mask[[2, 5]] = True
    p = masked_probs(logits, mask, 1.0)
    assert p[~mask].sum() == 0 and abs(p.sum() - 1) < 1e-12 and p[5] > p[2]


def test_cached_grammar_masks_equal_fresh_ones():
    from nomad_muse.generator.engine import Generator, SamplingConfig, header_tokens
    from nomad_muse.generator.grammar import Grammar

    g = Generator()
    g.prime(header_tokens("tonal", "piano", (0, "major"), 120), mode="tonal", key=(0, "major"))
    g.generate(4, SamplingConfig(seed=3, confidence_threshold=0.0))
    toks = list(g.tokens)
    assert len(toks) > 40
    gram = Grammar("tonal", (0, "major"))
    for t in toks:
        for eos in (False, True):
            cached = gram.mask(allow_eos=eos)
            assert not cached.flags.writeable
            assert np.array_equal(cached, gram._build_mask(allow_eos=eos))
        gram.feed(t)

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


def test_sorted_head_draw_equals_reference_draw():
    """sample_sorted over the sorted head (what the in-graph sampler returns) picks what sample_u picks."""
    from itertools import accumulate

    from nomad_muse.generator.sampling import sample_sorted, sample_u

    agree = none = 0
    for seed in range(400):
        g = np.random.default_rng(seed)
        logits = g.standard_normal(252).astype(np.float32) * float(g.uniform(1, 6))
        mask = g.random(252) < [0.02, 0.1, 0.4, 1.0][seed % 4]
        mask[int(g.integers(252))] = True
        probs = masked_probs(logits, mask, float(g.uniform(0.5, 1.5)))
        top_p = [0.95, 0.9, 0.5, 1.0, 0.99][seed % 5]
        order = np.argsort(probs)[::-1][:16]
        cum = list(accumulate(probs[order].astype(np.float32).tolist()))  # float32 head, as the graph gives it
        for u in g.random(8):
            got = sample_sorted(cum, order, top_p, float(u))
            if got is None:
                none += 1
                continue
            assert got[0] == sample_u(probs, top_p, float(u))
            assert abs(got[1] - probs.max()) < 1e-6
            agree += 1
    assert agree > 1500 and none > 0  # both branches exercised


def test_grammar_kind_table_and_bias_match_reference():
    from nomad_muse.generator.engine import Generator, SamplingConfig, header_tokens
    from nomad_muse.generator import vocab as V
    from nomad_muse.generator.grammar import Grammar

    g = Generator(fast_sampling=False)
    g.prime(header_tokens("drums", "drums", None, 120), mode="drums", key=None)
    g.generate(3, SamplingConfig(seed=1, confidence_threshold=0.0))
    a, b = Grammar("drums"), Grammar("drums")
    for t in list(g.tokens) + list(range(len(V.TOKENS))):  # a real stream, then every token once (STYLE too)
        a.feed(t)
        b.feed_reference(t)
        assert (a.state, a.pos, a.meter, a.bars, a.last_note, a.header_left) == (b.state, b.pos, b.meter, b.bars, b.last_note, b.header_left)
        assert a.bias(252).shape == (1, 252) and np.array_equal(a.bias(252)[0], a.bias()[0, :252])
        bias = a.bias()
        assert bias.shape == (1, len(V.TOKENS)) and bias.dtype == np.float32 and not bias.flags.writeable
        assert np.array_equal(bias[0] == 0, a.mask()) and np.all(np.isneginf(bias[0][~a.mask()]))


def test_in_graph_sampler_gives_the_reference_tokens(tmp_path, monkeypatch):
    """Same seed, same tokens: the sampled graph (ORT and OpenVINO) and the numpy reference path,
    tonal with a key and drums, three temperatures, bar and beat chunks with the confidence fallback on."""
    from nomad_muse.backends.base import Candidate
    from nomad_muse.generator.engine import Generator, SamplingConfig, header_tokens

    monkeypatch.setenv("MUSE_HOME", str(tmp_path))
    fast_total = 0
    for cand in (Candidate("onnxruntime"), Candidate("openvino")):
        for mode, key, temp, unit, conf in (("tonal", (2, "minor"), 1.0, "bar", 0.6), ("drums", None, 0.8, "beat", 0.6),
                                            ("tonal", (0, "major"), 1.2, "beat", 0.0)):
            runs = []
            for fast in (True, False):
                gen = Generator(candidates=[cand], fast_sampling=fast)
                assert gen._fast is fast, gen.sampler_note
                gen.prime(header_tokens(mode, "piano", key, 120), mode=mode, key=key)
                runs.append((gen.generate(4, SamplingConfig(seed=11, temperature=temp, confidence_threshold=conf), unit=unit), gen.stats))
            (a, sa), (b, sb) = runs
            assert a == b and len(a) > 30
            assert sa.fast_draws + sa.reference_draws == sb.reference_draws and sb.fast_draws == 0
            fast_total += sa.fast_draws
    assert fast_total > 0.95 * 6 * 30
    assert list((tmp_path / "cache" / "generator").glob("*-sampled-*.onnx"))  # built once, in the cache dir


def test_sampled_graph_refuses_an_ir_model(tmp_path):
    import pytest

    from nomad_muse.errors import BackendError
    from nomad_muse.generator.sampler_graph import sampled_path

    with pytest.raises(BackendError, match="needs an ONNX generator"):
        sampled_path(tmp_path / "generator.int8.xml", vocab=252)


def test_hand_written_protobuf_is_the_graph_onnx_would_build(tmp_path):
    """The appended bytes parse (onnx) as one graph: the shipped nodes + Mul, Add, Softmax, TopK(16),
    the checker accepts it, and ONNX Runtime's head equals numpy's sorted masked softmax."""
    import onnx
    import onnxruntime as ort

    from nomad_muse.generator.engine import default_model_path
    from nomad_muse.generator.sampler_graph import EXTRA_OUTPUTS, K_CANDIDATES, build

    src = default_model_path()
    dst = tmp_path / "g.onnx"
    build(src, dst, vocab=252)
    m, base = onnx.load(str(dst)), onnx.load(str(src))
    onnx.checker.check_model(m)
    assert [n.op_type for n in m.graph.node] == [n.op_type for n in base.graph.node] + ["Mul", "Add", "Softmax", "TopK"]
    assert [i.name for i in m.graph.input] == [i.name for i in base.graph.input] + ["bias", "inv_t"]
    assert [o.name for o in m.graph.output] == [o.name for o in base.graph.output] + list(EXTRA_OUTPUTS)
    topk = m.graph.node[-1]
    assert {a.name: a.i for a in topk.attribute} == {"axis": -1, "largest": 1, "sorted": 1}
    assert onnx.numpy_helper.to_array(m.graph.initializer[-1]).tolist() == [K_CANDIDATES]
    s = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    g = np.random.default_rng(3)
    bias = np.where(g.random((1, 252)) < 0.3, 0.0, -np.inf).astype(np.float32)
    feed = {"token": np.array([[7]], np.int64), "h": g.standard_normal((2, 1, 144)).astype(np.float32), "bias": bias,
            "inv_t": np.array([1 / 0.8], np.float32)}
    logits, _, probs, ids = s.run(None, feed)
    z = np.where(bias[0] == 0, logits[0].astype(np.float64) / 0.8, -np.inf)
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")[:K_CANDIDATES]
    assert ids[0].tolist() == order.tolist() and np.allclose(probs[0], p[order], atol=1e-6)


def test_a_user_adapter_keeps_the_reference_sampler():
    """An adapter computes the logits in Python after the call: the sampled graph would bypass it, so the
    generator keeps the numpy sampler on the adapted logits."""
    from nomad_muse.backends.base import Candidate
    from nomad_muse.backends.registry import load_first
    from nomad_muse.generator.adapter import AdaptedStepModel, Adapter
    from nomad_muse.generator.engine import STATE, Generator, SamplingConfig, default_model_path, header_tokens

    res = load_first([Candidate("onnxruntime")], default_model_path(), state=STATE)
    g = np.random.default_rng(0)
    ad = Adapter(g.standard_normal((252, 144)).astype(np.float32) * 0.1, np.zeros(252, np.float32), {})
    from dataclasses import replace

    gen = Generator(loaded=replace(res, model=AdaptedStepModel(res.model, ad)))
    assert not gen._fast and "AdaptedStepModel" in gen.sampler_note
    gen.prime(header_tokens("tonal", "piano", (0, "major"), 120), mode="tonal", key=(0, "major"))
    new = gen.generate(1, SamplingConfig(seed=2, confidence_threshold=0.0))
    assert new and gen.stats.fast_draws == 0 and gen.stats.reference_draws >= len(new)


def test_the_sampled_model_keeps_the_plain_generator_contract():
    """Generator.model on the sampled graph still takes a token and returns the same logits as the plain model."""
    from nomad_muse.backends.base import Candidate
    from nomad_muse.generator.engine import Generator

    fast, plain = Generator(candidates=[Candidate("onnxruntime")]), Generator(candidates=[Candidate("onnxruntime")], fast_sampling=False)
    assert fast._fast and [s.name for s in fast.model.inputs] == [s.name for s in plain.model.inputs] == ["token"]
    assert [s.name for s in fast.model.outputs] == ["logits"]
    x = np.zeros((1, 1), np.int64)
    for t in (1, 9, 40, 3):
        x[0, 0] = t
        a, b = fast.model.run({"token": x}), plain.model.run({"token": x})
        assert set(a) == {"logits"} and np.allclose(a["logits"], b["logits"], atol=1e-5)

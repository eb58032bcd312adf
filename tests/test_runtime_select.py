"""nomad_muse.runtime: the one place that chooses (precedence, specs, loading with the spec's state)."""

from __future__ import annotations

import pytest

from nomad_muse.backends.spec import ModelSpec
from nomad_muse.errors import ParameterError
from nomad_muse.machine_profile import ActiveConfig, TunedConfig
from nomad_muse.runtime import choose, select

DEFAULTS = ActiveConfig(TunedConfig(), "defaults", None, ("no machine profile yet",))


def test_defaults_run_the_shipped_model_on_the_policy_order_without_int8():
    c = choose("generator", active=DEFAULTS, environ={})
    assert c.source == "defaults" and c.path.name == "generator.onnx"
    assert c.candidates and all(x.precision != "int8" for x in c.candidates)
    assert c.spec.state_map == {"h": "h_out"}


def test_env_beats_profile_and_backend_beats_env():
    env = {"MUSE_CLASSIFIER_BACKEND": "openvino"}
    c = choose("classifier", active=DEFAULTS, environ=env)
    assert c.source == "env MUSE_CLASSIFIER_BACKEND" and str(c.candidates[0]) == "openvino/CPU/fp32"
    c = choose("classifier", active=DEFAULTS, backend="onnxruntime", environ=env)
    assert c.source == "--backend" and str(c.candidates[0]) == "onnxruntime/CPU/fp32"


def test_impossible_backend_is_refused_naming_the_flag():
    with pytest.raises(ParameterError, match="--backend=onnxruntime/CPU/bf16.*supported here"):
        choose("generator", active=DEFAULTS, backend="onnxruntime/CPU/bf16")


def test_select_loads_with_the_spec_state_and_the_generator_takes_it():
    from nomad_muse.generator.engine import Generator

    res = select("generator", active=DEFAULTS, environ={})
    assert res.model.describe().stateful
    assert Generator(loaded=res, fast_sampling=False).loaded is res
    gen = Generator(loaded=res)  # the in-graph sampler: the same selection, its model on the sampled graph
    assert (gen.loaded.candidate, gen.loaded.fallbacks) == (res.candidate, res.fallbacks) and gen._fast
    assert gen.model.describe().stateful and gen.model.describe().runtime == res.model.describe().runtime


def test_spec_state_pairs_must_name_its_tensors():
    with pytest.raises(ParameterError, match="state pair"):
        ModelSpec("x", "x.onnx", inputs=("a",), outputs=("b",), state=(("h", "b"),))

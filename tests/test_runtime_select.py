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


def _profile_with_variant(path, candidate="openvino/CPU/int8", passed=True):
    from nomad_muse.machine_profile.profile import MachineProfile

    rows = [{"candidate": candidate, "path": str(path), "gate": {"passed": passed}}]
    prof = MachineProfile(fingerprint="x", created="now", budget_ms=20.0, software={}, modules={},
                          tuned=TunedConfig(), measurements={"modules": {"classifier": {"rows": rows}}})
    return ActiveConfig(TunedConfig(), "test profile", prof)


def test_a_forced_int8_backend_runs_the_variant_calibration_measured_here(tmp_path, monkeypatch):
    """Without VNNI the default policy never tries INT8, yet calibration may measure an INT8 variant as fastest:
    `--backend openvino/CPU/int8` (or MUSE_BACKEND) then runs that file, not a refusal or the FP32 file."""
    from nomad_muse.paths import data_dir, models_dir

    variant = data_dir() / "models" / "classifier" / "classifier.int8.xml"
    variant.parent.mkdir(parents=True, exist_ok=True)
    variant.write_text("<net/>")
    active = _profile_with_variant(variant)
    c = choose("classifier", active=active, backend="openvino/CPU/int8", environ={})
    assert (c.path, [str(x) for x in c.candidates], c.source) == (variant.resolve(), ["openvino/CPU/int8"], "--backend")
    assert c.source_path == models_dir() / "classifier.onnx"  # the user's adapter is the shipped file's
    c = choose("classifier", active=active, environ={"MUSE_BACKEND": "openvino/CPU/int8"})
    assert c.path == variant.resolve() and c.source_path == models_dir() / "classifier.onnx"
    # a variant that failed its gate, or a file outside the data directory, is never run this way
    outside = tmp_path / "classifier.int8.xml"
    outside.write_text("<net/>")
    for other in (_profile_with_variant(variant, passed=False), _profile_with_variant(outside)):
        try:
            c = choose("classifier", active=other, backend="openvino/CPU/int8", environ={})
        except ParameterError as e:  # a machine without native INT8: refused, naming the flag
            assert "--backend=openvino/CPU/int8" in str(e)
        else:  # a machine with VNNI/AMX: the policy's INT8 candidate on the shipped file
            assert c.path == models_dir() / "classifier.onnx"

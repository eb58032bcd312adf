"""Backend policy as a pure function, on recorded probes of machines we don't have."""

from __future__ import annotations

import pytest
from conftest import load_probe

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import ParameterError
from nomad_muse.policy import env_override, plan_backends

C = Candidate


def test_intel_laptop_with_iris_xe():
    p = load_probe("intel_irisxe_laptop")
    cls = plan_backends("classifier", p)
    assert cls.choice == C("openvino", "GPU", "fp16")
    assert "Intel GPU GPU (Intel(R) Iris(R) Xe Graphics (iGPU)) first" in cls.reasons[0]
    gen = plan_backends("generator", p)
    assert gen.choice == C("onnxruntime", "CPU", "fp32")
    assert gen.candidates[-1] == C("openvino", "GPU", "fp16")
    # VNNI but no BF16 on Tiger Lake: int8 yes, bf16 no
    assert C("openvino", "CPU", "int8") in gen.candidates
    assert all(c.precision != "bf16" for c in gen.candidates)


def test_avx2_minipc_without_vnni():
    p = load_probe("avx2_minipc")
    for module in ("generator", "classifier"):
        plan = plan_backends(module, p)
        assert plan.candidates == (C("onnxruntime"), C("openvino")), module
        assert not any(c.device.startswith("GPU") for c in plan.candidates)


def test_arm_box():
    p = load_probe("arm_box")
    plan = plan_backends("classifier", p)
    assert plan.choice == C("onnxruntime")
    assert C("openvino") in plan.candidates
    assert C("onnxruntime", "CPU", "int8") in plan.candidates  # NEON dot product
    assert all(c.precision != "bf16" for c in plan.candidates)


def test_this_machine_recorded():
    p = load_probe("xeon_amx_2core")
    gen = plan_backends("generator", p)
    cls = plan_backends("classifier", p)
    assert gen.choice == C("onnxruntime")
    assert cls.choice == C("openvino")
    assert C("openvino", "CPU", "bf16") in cls.candidates


def test_old_x86_without_sse42_skips_openvino():
    plan = plan_backends("generator", load_probe("old_x86_no_sse42"))
    assert plan.candidates == (C("onnxruntime"),)
    assert any("lacks SSE4.2" in r for r in plan.reasons)


def test_only_installed_runtimes_are_candidates():
    plan = plan_backends("classifier", load_probe("avx2_minipc_ort_only"))
    assert plan.candidates == (C("onnxruntime"),)


def test_measurements_reorder():
    p = load_probe("intel_irisxe_laptop")
    meas = {"openvino/CPU/int8": 0.18, "onnxruntime/CPU/fp32": 0.44, "openvino/GPU/fp16": 0.9}
    plan = plan_backends("classifier", p, measurements=meas)
    assert plan.candidates[:3] == (C("openvino", "CPU", "int8"), C("onnxruntime"), C("openvino", "GPU", "fp16"))
    assert plan.reasons[0].startswith("measured order: openvino/CPU/int8 p99 0.180 ms")
    assert set(plan.candidates) == set(plan_backends("classifier", p).candidates)


def test_override_goes_first_and_keeps_fallbacks():
    p = load_probe("avx2_minipc")
    plan = plan_backends("generator", p, override="openvino")
    assert plan.candidates == (C("openvino"), C("onnxruntime"))
    assert plan.reasons[0] == "override: openvino/CPU/fp32 forced first"


def test_env_override():
    assert env_override("generator", {"MUSE_BACKEND": "openvino"}) == "openvino"
    assert env_override("generator", {"MUSE_BACKEND": "openvino", "MUSE_GENERATOR_BACKEND": "onnxruntime"}) == "onnxruntime"
    assert env_override("classifier", {"MUSE_GENERATOR_BACKEND": "onnxruntime"}) is None


def test_unknown_module():
    with pytest.raises(ParameterError, match=r"module='mixer' must be one of generator, classifier"):
        plan_backends("mixer", load_probe("arm_box"))

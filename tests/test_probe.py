"""The hardware probe on this machine, and the record's round trip and fingerprint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from nomad_muse.probe import ProbeRecord, probe


def _cpuinfo_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.fixture(scope="module")
def rec() -> ProbeRecord:
    return probe()


def test_probe_reports_both_runtimes_and_cpu_device(rec):
    assert {"onnxruntime", "openvino"} <= set(rec.runtimes)
    assert "CPUExecutionProvider" in rec.ort_providers
    cpu = [d for d in rec.ov_devices if d.name == "CPU"]
    assert cpu and cpu[0].full_name and "FP32" in cpu[0].capabilities


@pytest.mark.skipif("avx512f" not in _cpuinfo_flags(), reason="this CPU has no AVX-512")
def test_probe_reports_avx512_on_this_machine(rec):
    flags = _cpuinfo_flags()
    assert rec.has("avx512f") and rec.has("avx2") and rec.has("sse4_2")
    for raw, ours in (("avx512_vnni", "avx512_vnni"), ("avx512_bf16", "avx512_bf16"), ("amx_int8", "amx_int8")):
        assert (raw in flags) == rec.has(ours)


def test_probe_facts_are_sane(rec):
    assert rec.cpu_model and rec.arch
    assert 1 <= rec.physical_cores <= rec.logical_cpus
    assert 1 <= rec.usable_cpus <= rec.logical_cpus
    assert rec.ram_bytes > 2**28
    assert rec.python.count(".") == 2


def test_round_trip_and_fingerprint_stability(rec):
    d = rec.to_dict()
    back = ProbeRecord.from_dict(d)
    assert back == rec and back.fingerprint == rec.fingerprint == d["fingerprint"]
    assert len(rec.fingerprint) == 16 and int(rec.fingerprint, 16) >= 0
    # software changes keep the fingerprint ...
    upgraded = dataclasses.replace(rec, os_release="9.9.9", python="3.13.0", runtime_versions=(("openvino", "2099.1"),))
    assert upgraded.fingerprint == rec.fingerprint
    # ... hardware changes do not
    assert dataclasses.replace(rec, cpu_model="Other CPU").fingerprint != rec.fingerprint
    assert dataclasses.replace(rec, ram_bytes=rec.ram_bytes * 2).fingerprint != rec.fingerprint
    assert dataclasses.replace(rec, isa=rec.isa[:-1]).fingerprint != rec.fingerprint
    assert probe().fingerprint == rec.fingerprint

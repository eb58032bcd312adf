"""Hardware probe: CPU, ISA flags, memory, OS, and what each runtime sees.

The probe is a plain record (:class:`ProbeRecord`) that serialises to JSON,
so backend policy can be tested with records of machines we do not have
(``tests/data/probes/``).  The :attr:`ProbeRecord.fingerprint` identifies the
hardware, not the software: it hashes CPU model, ISA, core counts, RAM
(whole GiB) and accelerator names, so an OS or Python upgrade keeps it while
moving a profile to another machine changes it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nomad_muse.backends.cpuinfo import cpu_model_name, read_cpuinfo, sysctl  # noqa: F401  (cpu_model_name is part of the probe API)

#: ISA features that matter for inference, in the probe's normalised names
ISA_FEATURES = (
    "sse4_2",
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "neon",
    "dotprod",
    "i8mm",
    "sve",
    "arm_bf16",
)

# Linux /proc/cpuinfo flag (x86 "flags", ARM "Features") -> normalised name
_LINUX_FLAGS = {
    "sse4_2": "sse4_2",
    "avx2": "avx2",
    "fma": "fma",
    "avx512f": "avx512f",
    "avx512_vnni": "avx512_vnni",
    "avx512_bf16": "avx512_bf16",
    "avx512_fp16": "avx512_fp16",
    "avx_vnni": "avx_vnni",
    "amx_tile": "amx_tile",
    "amx_bf16": "amx_bf16",
    "amx_int8": "amx_int8",
    "asimd": "neon",
    "asimddp": "dotprod",
    "i8mm": "i8mm",
    "sve": "sve",
    "bf16": "arm_bf16",
}

# macOS sysctl keys -> normalised name
_MAC_SYSCTL = {
    "hw.optional.sse4_2": "sse4_2",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx512vnni": "avx512_vnni",
    "hw.optional.neon": "neon",
    "hw.optional.arm.FEAT_DotProd": "dotprod",
    "hw.optional.arm.FEAT_I8MM": "i8mm",
    "hw.optional.arm.FEAT_BF16": "arm_bf16",
}


@dataclass(frozen=True)
class OvDevice:
    """One OpenVINO device as the runtime reports it."""

    name: str
    full_name: str
    capabilities: tuple[str, ...] = ()
    device_type: str = ""  # "integrated" / "discrete" for GPUs, "" when not reported

    @property
    def is_intel_gpu(self) -> bool:
        return self.name.split(".")[0] == "GPU" and "intel" in self.full_name.lower()


@dataclass(frozen=True)
class ProbeRecord:
    """Everything the runtime needs to know about a machine to pick backends."""

    cpu_model: str
    cpu_vendor: str
    arch: str
    physical_cores: int
    logical_cpus: int
    usable_cpus: int
    isa: tuple[str, ...]
    ram_bytes: int
    os: str
    os_release: str
    python: str
    ov_devices: tuple[OvDevice, ...] = ()
    ort_providers: tuple[str, ...] = ()
    runtime_versions: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def has(self, feature: str) -> bool:
        return feature in self.isa

    @property
    def ram_gib(self) -> float:
        return self.ram_bytes / 2**30

    @property
    def intel_gpus(self) -> tuple[OvDevice, ...]:
        return tuple(d for d in self.ov_devices if d.is_intel_gpu)

    @property
    def runtimes(self) -> dict[str, str]:
        return dict(self.runtime_versions)

    @property
    def fingerprint(self) -> str:
        """16 hex digits identifying the hardware (not the OS or software)."""
        key = {
            "cpu": self.cpu_model,
            "vendor": self.cpu_vendor,
            "arch": self.arch,
            "cores": self.physical_cores,
            "threads": self.logical_cpus,
            "isa": sorted(self.isa),
            "ram_gib": round(self.ram_gib),
            "accelerators": sorted(d.full_name for d in self.ov_devices if not d.name.startswith("CPU")),
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ov_devices"] = [asdict(x) for x in self.ov_devices]
        d["runtime_versions"] = dict(self.runtime_versions)
        d["fingerprint"] = self.fingerprint
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeRecord":
        """Inverse of :meth:`to_dict` (the stored fingerprint is recomputed, not trusted)."""
        return cls(
            cpu_model=d["cpu_model"],
            cpu_vendor=d.get("cpu_vendor", ""),
            arch=d["arch"],
            physical_cores=int(d["physical_cores"]),
            logical_cpus=int(d["logical_cpus"]),
            usable_cpus=int(d.get("usable_cpus", d["logical_cpus"])),
            isa=tuple(d.get("isa", ())),
            ram_bytes=int(d["ram_bytes"]),
            os=d.get("os", ""),
            os_release=d.get("os_release", ""),
            python=d.get("python", ""),
            ov_devices=tuple(
                OvDevice(x["name"], x.get("full_name", x["name"]), tuple(x.get("capabilities", ())), x.get("device_type", ""))
                for x in d.get("ov_devices", ())
            ),
            ort_providers=tuple(d.get("ort_providers", ())),
            runtime_versions=tuple(sorted(d.get("runtime_versions", {}).items())),
            notes=tuple(d.get("notes", ())),
        )


# ---------------------------------------------------------------- CPU facts
# /proc/cpuinfo and sysctl live in the bottom layer (backends.cpuinfo), which
# needs the CPU name for BackendInfo and may not import the probe.
def _cpu_facts() -> tuple[str, int, tuple[str, ...]]:
    """(vendor, physical cores, normalised ISA features)."""
    blocks = read_cpuinfo()
    features: set[str] = set()
    vendor = ""
    cores = set()
    for entry in blocks:
        flags = entry.get("flags") or entry.get("Features") or ""
        for f in flags.split():
            if f in _LINUX_FLAGS:
                features.add(_LINUX_FLAGS[f])
        vendor = vendor or entry.get("vendor_id", "") or entry.get("CPU implementer", "")
        if "core id" in entry:
            cores.add((entry.get("physical id", "0"), entry["core id"]))
    if sys.platform == "darwin":
        for key, name in _MAC_SYSCTL.items():
            if sysctl(key) == "1":
                features.add(name)
        vendor = vendor or sysctl("machdep.cpu.vendor") or "Apple"
        phys = int(sysctl("hw.physicalcpu") or 0)
    else:
        phys = len(cores)
    if platform.machine().lower() in ("arm64", "aarch64"):
        features.add("neon")  # Advanced SIMD is mandatory on AArch64
    physical = phys or os.cpu_count() or 1
    return vendor, physical, tuple(f for f in ISA_FEATURES if f in features)


def _ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        if sys.platform == "darwin":
            return int(sysctl("hw.memsize") or 0)
        return 0


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ------------------------------------------------------------- runtimes
def _runtime_facts() -> tuple[tuple[OvDevice, ...], tuple[str, ...], dict[str, str], list[str]]:
    from nomad_muse.backends.registry import get_backend, runtimes

    versions: dict[str, str] = {}
    notes: list[str] = []
    ov_devices: list[OvDevice] = []
    providers: tuple[str, ...] = ()
    for status in runtimes():
        if not status.available:
            notes.append(status.error)
            continue
        versions[status.name] = status.version
        if status.name == "openvino":
            from nomad_muse.backends.openvino_backend import device_property

            for dev in status.devices:
                ov_devices.append(
                    OvDevice(
                        name=dev,
                        full_name=str(device_property(dev, "FULL_DEVICE_NAME", dev)),
                        capabilities=tuple(device_property(dev, "OPTIMIZATION_CAPABILITIES", []) or []),
                        device_type=str(device_property(dev, "DEVICE_TYPE", "") or "").split(".")[-1].lower(),
                    )
                )
        elif status.name == "onnxruntime":
            providers = tuple(get_backend("onnxruntime").providers())
    return tuple(ov_devices), providers, versions, notes


def probe() -> ProbeRecord:
    """Probe this machine (CPU, memory, OS, runtimes and their devices)."""
    vendor, physical, isa = _cpu_facts()
    ov_devices, providers, versions, notes = _runtime_facts()
    return ProbeRecord(
        cpu_model=cpu_model_name(),
        cpu_vendor=vendor,
        arch=platform.machine(),
        physical_cores=physical,
        logical_cpus=os.cpu_count() or 1,
        usable_cpus=_usable_cpus(),
        isa=isa,
        ram_bytes=_ram_bytes(),
        os=platform.system(),
        os_release=platform.release(),
        python=platform.python_version(),
        ov_devices=ov_devices,
        ort_providers=providers,
        runtime_versions=tuple(sorted(versions.items())),
        notes=tuple(notes),
    )

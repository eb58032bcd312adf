"""The profile file: what ``muse calibrate`` chose for this machine (``profile.json``).

:class:`MachineProfile` (hardware fingerprint, per-module :class:`ModuleChoice`
with model path + SHA-256, the tuned sizes, the FFTW wisdom file, the
measurements behind each choice), how it is read and written (atomically),
and the file hashes it is checked with.  Which profile applies on this
machine is :mod:`nomad_muse.machine_profile.resolve`'s concern; the run
history is :mod:`nomad_muse.machine_profile.history`'s.
"""

from __future__ import annotations

import json
import math
import numbers
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import ParameterError
from nomad_muse.paths import sha256_file  # re-exported: the profile's file hashes
from nomad_muse.settings import default, validate

log = logging.getLogger(__name__)

PROFILE_VERSION = 1
PROFILE_NAME = "profile.json"
MODULES = ("generator", "classifier")


class ProfileError(ParameterError):
    """A profile that cannot be used on this machine (foreign, stale, corrupt, wrong version)."""


@dataclass(frozen=True)
class TunedConfig:
    """Sizes the auto-tuner chooses; the defaults apply before any calibration.

    One field per :data:`nomad_muse.settings.SETTINGS` entry (same names as
    ``profile.json``'s ``tuned`` keys); ranges, legal sets and defaults are
    there, and :func:`nomad_muse.settings.validate` checks them.
    """

    sample_rate: int = default("sample_rate")
    block_size: int = default("block_size")
    classifier_hop_ms: float = default("classifier_hop_ms")
    classifier_vote_ms: float = default("classifier_vote_ms")
    generator_chunk: str = default("generator_chunk")
    generator_lookahead_beats: float = default("generator_lookahead_beats")
    analyzer_fft_size: int = default("analyzer_fft_size")
    analyzer_period_s: float = default("analyzer_period_s")

    def __post_init__(self) -> None:
        for f in fields(self):  # JSON gives any type: 100.5 samples, "256", true or [] are refused by name
            v = getattr(self, f.name)
            want = {"int": numbers.Integral, "float": numbers.Real, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            if isinstance(v, bool) or not isinstance(v, want) or (want is numbers.Real and not math.isfinite(v)):
                kind = {numbers.Integral: "a whole number", str: "a string"}.get(want, "a finite number")
                raise ParameterError(f"{f.name}={v!r} must be {kind}")
        validate(self)

    @property
    def block_ms(self) -> float:
        """Audio period (ms) = block_size / sample_rate."""
        return 1000.0 * self.block_size / self.sample_rate

    def replace(self, **changes: Any) -> "TunedConfig":
        """A copy with ``changes`` (``None`` values ignored, so CLI flags pass straight through)."""
        d = asdict(self)
        d.update({k: v for k, v in changes.items() if v is not None})
        return TunedConfig(**d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TunedConfig":
        if not isinstance(d, Mapping):
            raise ParameterError(f"tuned={d!r:.40} must be an object of tuned sizes")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class ModuleChoice:
    """The calibrated choice for one module.

    ``model`` is a path relative to the shipped ``models/`` directory, or an
    absolute path (INT8 variants written into the data directory).
    ``source_model``/``source_sha256`` name the shipped FP32 file a variant was
    made from, so a variant derived from a model that has since changed is
    refused as stale too.
    """

    module: str
    runtime: str
    device: str
    precision: str
    model: str
    model_sha256: str
    p99_ms: float | None = None
    why: str = ""
    source_model: str = ""
    source_sha256: str = ""

    def __post_init__(self) -> None:
        """Validate every field, so a malformed profile is refused when read (naming the field),
        never later by whichever command first touches it."""
        import re

        from nomad_muse.backends.base import PRECISIONS
        from nomad_muse.backends.registry import RUNTIMES

        f = f"modules.{self.module}"
        if self.module not in MODULES:
            raise ParameterError(f"{f}: module={self.module!r} must be one of {', '.join(MODULES)}")
        if self.runtime not in RUNTIMES:
            raise ParameterError(f"{f}.runtime={self.runtime!r} must be one of {', '.join(RUNTIMES)}")
        if self.precision not in PRECISIONS:
            raise ParameterError(f"{f}.precision={self.precision!r} must be one of {', '.join(PRECISIONS)}")
        if not isinstance(self.device, str) or not re.fullmatch(r"[A-Z]+(\.\d+)?", self.device):
            raise ParameterError(f"{f}.device={self.device!r} must be a device name such as CPU or GPU.0")
        if not isinstance(self.model, str) or not self.model:
            raise ParameterError(f"{f}.model={self.model!r} must be a model file name or path")
        for name in ("model_sha256",) + (("source_sha256",) if self.source_sha256 else ()):
            v = getattr(self, name)
            if not isinstance(v, str) or not re.fullmatch(r"[0-9a-f]{64}", v):
                raise ParameterError(f"{f}.{name}={v!r} must be a SHA-256 hex digest")
        if self.p99_ms is not None and not (isinstance(self.p99_ms, (int, float)) and 0 <= self.p99_ms < 1e6):
            raise ParameterError(f"{f}.p99_ms={self.p99_ms!r} must be a latency in ms")

    @property
    def candidate(self) -> Candidate:
        return Candidate(self.runtime, self.device, self.precision)

    def model_path(self) -> Path:
        from nomad_muse.paths import models_dir

        p = Path(self.model)
        return p if p.is_absolute() else models_dir() / p

    def source_path(self) -> Path | None:
        from nomad_muse.paths import models_dir

        if not self.source_model:
            return None
        p = Path(self.source_model)
        return p if p.is_absolute() else models_dir() / p


@dataclass(frozen=True)
class MachineProfile:
    """One calibration's result, as stored in ``profile.json``."""

    fingerprint: str
    created: str
    modules: Mapping[str, ModuleChoice]
    tuned: TunedConfig = field(default_factory=TunedConfig)
    budget_ms: float = 20.0
    fftw_wisdom: str | None = None
    software: Mapping[str, str] = field(default_factory=dict)
    measurements: Mapping[str, Any] = field(default_factory=dict)
    version: int = PROFILE_VERSION
    #: what calibration could not prove, with why: ``{"tuned": "kept defaults because …"}``
    unproven: Mapping[str, str] = field(default_factory=dict)

    def unproven_notes(self) -> tuple[str, ...]:
        """One line per part of the profile that calibration did not prove ("unproven: tuned sizes: kept defaults because …")."""
        names = {"tuned": "tuned sizes"}
        return tuple(f"unproven: {names.get(k, k)}: {v}" for k, v in self.unproven.items())

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "budget_ms": self.budget_ms,
            "software": dict(self.software),
            "modules": {m: asdict(c) for m, c in self.modules.items()},
            "tuned": asdict(self.tuned),
            "fftw_wisdom": self.fftw_wisdom,
            "measurements": dict(self.measurements),
            "unproven": dict(self.unproven),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "profile") -> "MachineProfile":
        if not isinstance(d, Mapping):
            raise ProfileError(f"{source}: not a JSON object; run `muse calibrate` to write a new profile")
        if d.get("version") != PROFILE_VERSION:
            raise ProfileError(
                f"{source}: profile version {d.get('version')!r} is not {PROFILE_VERSION}; run `muse calibrate` to rewrite it"
            )
        try:
            modules = {m: ModuleChoice(**c) for m, c in dict(d["modules"]).items()}
            return cls(
                fingerprint=str(d["fingerprint"]),
                created=str(d["created"]),
                modules=modules,
                tuned=TunedConfig.from_dict(d.get("tuned", {})),
                budget_ms=float(d.get("budget_ms", 20.0)),
                fftw_wisdom=d.get("fftw_wisdom"),
                software=dict(d.get("software", {})),
                measurements=dict(d.get("measurements", {})),
                unproven={str(k): str(v) for k, v in dict(d.get("unproven", {})).items()},
            )
        except ProfileError:
            raise
        except (KeyError, TypeError, ValueError, ParameterError) as e:
            raise ProfileError(f"{source}: malformed profile ({e}); run `muse calibrate` to write a new one") from None

    def save(self, path: Path) -> Path:
        """Write atomically: a temp file unique to this writer in the same directory, flushed, then
        renamed over ``path`` — a crash never leaves half a profile, and two concurrent writers
        (two ``muse calibrate``) each rename a whole file, so the last one wins intact."""
        import os
        import tempfile

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self.to_dict(), indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def default_profile_path() -> Path:
    from nomad_muse.paths import data_dir

    return data_dir() / PROFILE_NAME


#: Largest profile file read (a real one is a few KiB: modules, tuned sizes, measurements).
MAX_PROFILE_BYTES = 4 << 20


def model_file_sha256(path: Path) -> str:
    """SHA-256 of a model file; for an OpenVINO IR ``.xml`` it covers the ``.bin`` weights too."""
    path = Path(path)
    if path.suffix.lower() != ".xml":
        return sha256_file(path)
    return sha256_file(*(p for p in (path, path.with_suffix(".bin")) if p.is_file()))


def read_profile(path: Path) -> MachineProfile:
    """Parse a profile file; :class:`ProfileError` (one line) if missing, unreadable or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile={str(path)!r}: does not exist; run `muse calibrate` or pass an existing profile file",
                           field="profile")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ProfileError(f"profile {path} cannot be read ({e.strerror or e})") from None
    if size > MAX_PROFILE_BYTES:  # stat first: a huge file is refused before it is read
        raise ProfileError(f"profile {path} is {size} bytes, over the {MAX_PROFILE_BYTES >> 20} MiB a profile can be; "
                           "it is not one `muse calibrate` wrote")
    try:
        d = json.loads(path.read_text())
    except RecursionError:  # nested thousands deep: the JSON parser's recursion limit
        raise ProfileError(f"profile {path} is corrupt (JSON nested too deep); run `muse calibrate` to write a new one") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, and ints over Python's 4300-digit limit
        raise ProfileError(f"profile {path} is corrupt ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
                           "run `muse calibrate` to write a new one") from None
    if not isinstance(d, dict):
        raise ProfileError(f"profile {path} is corrupt (a JSON {type(d).__name__}, not an object); run `muse calibrate` to write a new one")
    return MachineProfile.from_dict(d, source=f"profile {path}")

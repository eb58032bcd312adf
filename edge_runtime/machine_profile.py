"""The machine profile: what ``muse calibrate`` chose for this machine, and the run history.

Two things live in the user's data directory (:func:`nomad_muse.paths.data_dir`):

* ``profile.json`` — the **current profile**, readable: hardware fingerprint,
  the backend/device/precision and model variant (path + SHA-256) per module,
  the tuned sizes, the FFTW wisdom file, and the measurements behind each
  choice.  The runtime loads it automatically (:func:`resolve`).
* ``history.sqlite`` — every calibration and benchmark run ever made here
  (:class:`RunStore`), so ``muse bench history`` can show change over time.

Rules (issue 7):

* No profile → built-in defaults (:class:`TunedConfig`) and the policy's
  backend order; the runtime says "defaults".
* A profile whose fingerprint is another machine's, or whose model files
  changed since calibration, is **refused**: an explicit ``--profile`` raises
  :class:`ProfileError` with a hint to recalibrate; the automatic one is
  skipped with the same message as a note, and defaults apply.
* A corrupt profile file never crashes the runtime: it falls back to the
  defaults and says so.  A corrupt history database is moved aside (kept, not
  deleted) and a fresh one started, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import ParameterError

log = logging.getLogger(__name__)

PROFILE_VERSION = 1
PROFILE_NAME = "profile.json"
HISTORY_NAME = "history.sqlite"
MODULES = ("generator", "classifier")


class ProfileError(ParameterError):
    """A profile that cannot be used on this machine (foreign, stale, corrupt, wrong version)."""


@dataclass(frozen=True)
class TunedConfig:
    """Sizes the auto-tuner chooses; these defaults apply before any calibration.

    Attributes
    ----------
    sample_rate : int
        Audio sample rate (Hz) of the live engine.
    block_size : int
        Audio callback block (samples, 64–1024).
    classifier_hop_ms : float
        Time between classifications (ms, 20–50).
    classifier_vote_ms : float
        Vote window (ms, 100–200).
    generator_chunk : str
        "beat" or "bar": how much the generator writes per request.
    generator_lookahead_beats : float
        How far (beats) the generator runs ahead of the playhead.
    analyzer_fft_size : int
        Analyzer FFT segment (samples, power of two).
    analyzer_period_s : float
        Seconds between analyzer updates (0.5–2).
    """

    sample_rate: int = 48000
    block_size: int = 256
    classifier_hop_ms: float = 20.0
    classifier_vote_ms: float = 160.0
    generator_chunk: str = "beat"
    generator_lookahead_beats: float = 2.0
    analyzer_fft_size: int = 8192
    analyzer_period_s: float = 1.0

    def __post_init__(self) -> None:
        if not 8000 <= self.sample_rate <= 192000:
            raise ParameterError(f"sample_rate={self.sample_rate} must be within 8000–192000 Hz")
        if not 64 <= self.block_size <= 1024:
            raise ParameterError(f"block_size={self.block_size} must be within 64–1024 samples")
        if not 20.0 <= self.classifier_hop_ms <= 50.0:
            raise ParameterError(f"classifier_hop_ms={self.classifier_hop_ms} must be within 20–50 ms")
        if not 100.0 <= self.classifier_vote_ms <= 200.0:
            raise ParameterError(f"classifier_vote_ms={self.classifier_vote_ms} must be within 100–200 ms")
        if self.generator_chunk not in ("beat", "bar"):
            raise ParameterError(f"generator_chunk={self.generator_chunk!r} must be 'beat' or 'bar'")
        if not 0.25 <= self.generator_lookahead_beats <= 16:
            raise ParameterError(f"generator_lookahead_beats={self.generator_lookahead_beats} must be within 0.25–16")
        n = self.analyzer_fft_size
        if n < 256 or n > 65536 or n & (n - 1):
            raise ParameterError(f"analyzer_fft_size={n} must be a power of two within 256–65536")
        if not 0.5 <= self.analyzer_period_s <= 2.0:
            raise ParameterError(f"analyzer_period_s={self.analyzer_period_s} must be within 0.5–2 s")

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
        """Write atomically (temp file + rename) so a crash never leaves half a profile."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)
        return path


def default_profile_path() -> Path:
    from nomad_muse.paths import data_dir

    return data_dir() / PROFILE_NAME


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_file_sha256(path: Path) -> str:
    """SHA-256 of a model file; for an OpenVINO IR ``.xml`` it covers the ``.bin`` weights too."""
    path = Path(path)
    if path.suffix.lower() != ".xml":
        return sha256_file(path)
    h = hashlib.sha256()
    for p in (path, path.with_suffix(".bin")):
        if p.is_file():
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def read_profile(path: Path) -> MachineProfile:
    """Parse a profile file; :class:`ProfileError` (one line) if missing, unreadable or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile {path} does not exist; run `muse calibrate` or pass an existing --profile")
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProfileError(f"profile {path} is corrupt ({type(e).__name__}); run `muse calibrate` to write a new one") from None
    return MachineProfile.from_dict(d, source=f"profile {path}")


def check_profile(profile: MachineProfile, fingerprint: str, source: str = "profile") -> None:
    """Refuse a profile made on another machine or for model files that have changed since."""
    if profile.fingerprint != fingerprint:
        raise ProfileError(
            f"{source} was calibrated on another machine (fingerprint {profile.fingerprint}, this one is {fingerprint}); "
            "run `muse calibrate` here"
        )
    for m, c in profile.modules.items():
        p = c.model_path()
        if not p.is_file():
            raise ProfileError(f"{source}: {m} model {p} is missing; run `muse calibrate` again")
        if model_file_sha256(p) != c.model_sha256:
            raise ProfileError(f"{source}: {m} model {p} changed since calibration; run `muse calibrate` again")
        src = c.source_path()
        if src is not None and c.source_sha256 and src != p:
            if not src.is_file() or sha256_file(src) != c.source_sha256:
                raise ProfileError(
                    f"{source}: {m} variant {p.name} was made from {src.name}, which changed since calibration; run `muse calibrate` again"
                )


@dataclass(frozen=True)
class ActiveConfig:
    """What the runtime uses: the tuned sizes and, per module, candidates with their model files."""

    tuned: TunedConfig
    source: str  # path of the profile in use, or "defaults"
    profile: MachineProfile | None = None
    notes: tuple[str, ...] = ()

    def backend_for(self, module: str, environ=None) -> tuple[list[Candidate] | None, Path | None]:
        """(candidates, model path) the commands use for ``module``; (None, None) means use the defaults.

        Precedence: an environment override (``MUSE_<MODULE>_BACKEND``, then
        ``MUSE_BACKEND``; checked against this machine) beats the profile and
        runs the shipped model; otherwise the profile's calibrated candidate
        comes first; behind it, as fallbacks (the caller passes these to
        ``load_first``), the CPU candidates that can run the *same file*: for
        the shipped FP32 model both runtimes at FP32; for an INT8 QDQ ONNX
        variant OpenVINO's INT8 (it runs QDQ ONNX with its INT8 kernels) or
        ONNX Runtime's; an OpenVINO IR has no other taker.
        """
        return self.explain(module, environ)[:2]

    def explain(self, module: str, environ=None) -> tuple[list[Candidate] | None, Path | None, str, tuple[str, ...]]:
        """(candidates, model path, source, reasons): what the commands will use for ``module`` and why.

        ``source`` is ``"env MUSE_X_BACKEND"``, ``"profile <path>"`` or
        ``"defaults"``; candidates None means the default policy's order.
        """
        from nomad_muse.policy import check_override, env_override_source, plan_backends

        var, value = env_override_source(module, environ)
        if value:
            from nomad_muse.probe import probe

            rec = probe()
            forced = check_override(module, rec, value, field=var)
            plan = plan_backends(module, rec, override=str(forced))
            cands = [c for c in plan.candidates if c.precision != "int8" or c == forced]
            return cands, None, f"env {var}", (f"{var}={value} overrides the machine profile",) + plan.reasons
        if self.profile is None or module not in self.profile.modules:
            return None, None, "defaults", self.notes
        c = self.profile.modules[module]
        path = c.model_path()
        if c.precision == "int8":
            rest = [Candidate(rt, "CPU", "int8") for rt in ("onnxruntime", "openvino")] if path.suffix == ".onnx" else []
        else:
            rest = [Candidate(rt, "CPU", "fp32") for rt in ("onnxruntime", "openvino")]
        why = (f"calibrated on this machine ({self.profile.created}): {c.candidate} measured fastest among gate-passing variants",)
        return [c.candidate] + [x for x in rest if x != c.candidate], path, f"profile {self.source}", why


def module_backend(module: str, *, backend: str | None = None, profile: Path | str | None = None,
                   model: Path | None = None) -> tuple[list[Candidate] | None, Path | None, tuple[str, ...]]:
    """(candidates, model path, notes) for a one-shot command (``muse classify``, ``muse generate``).

    ``--backend`` forces the policy's order with that candidate first (shipped
    model); ``--model`` runs that file on the policy's order; otherwise the
    environment override (``MUSE_<MODULE>_BACKEND``/``MUSE_BACKEND``), then the
    machine profile's calibrated choice (or ``--profile``), else the defaults.
    An override this machine cannot run is refused (``ParameterError``).
    """
    if backend:
        from nomad_muse.policy import check_override, plan_backends
        from nomad_muse.probe import probe

        rec = probe()
        check_override(module, rec, backend, field="--backend")
        plan = plan_backends(module, rec, override=backend)
        forced = plan.candidates[0]
        return [c for c in plan.candidates if c.precision != "int8" or c == forced], model, ()
    if model is not None:
        return None, model, ()
    active = resolve(profile)
    cands, path = active.backend_for(module)
    return cands, path, active.notes


def resolve(profile_path: Path | str | None = None, *, fingerprint: str | None = None) -> ActiveConfig:
    """The configuration the runtime should use on this machine.

    ``profile_path`` given (``--profile FILE``): it must exist, parse, and
    match this machine and its models, else :class:`ProfileError`.  Not given:
    the profile in the data directory if present and valid; otherwise the
    defaults, with a note saying why.
    """
    if fingerprint is None:
        from nomad_muse.probe import probe

        fingerprint = probe().fingerprint
    if profile_path is not None:
        p = Path(profile_path)
        prof = read_profile(p)
        check_profile(prof, fingerprint, source=f"profile {p}")
        return ActiveConfig(prof.tuned, str(p), prof, prof.unproven_notes())
    p = default_profile_path()
    if not p.exists():
        return ActiveConfig(TunedConfig(), "defaults", None, ("no machine profile yet: defaults in use (run `muse calibrate`)",))
    try:
        prof = read_profile(p)
        check_profile(prof, fingerprint, source=f"profile {p}")
    except ProfileError as e:
        log.warning("%s — using defaults", e)
        return ActiveConfig(TunedConfig(), "defaults", None, (f"{e} — using defaults",))
    return ActiveConfig(prof.tuned, str(p), prof, prof.unproven_notes())


# ---------------------------------------------------------------------------
# History: every calibration and benchmark run
# ---------------------------------------------------------------------------


class RunStore:
    """SQLite history of runs: ``kind`` ("calibrate", "bench", "certify", …), time, fingerprint, a
    one-line summary and the full JSON payload.

    A corrupt database file is renamed to ``*.corrupt-<unix time>`` (kept for
    inspection) and a new one is started; :attr:`notes` says so.
    """

    def __init__(self, path: Path | None = None):
        from nomad_muse.paths import data_dir

        self.path = Path(path) if path else data_dir() / HISTORY_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notes: list[str] = []
        try:
            self._con = self._open()
        except sqlite3.DatabaseError as e:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.replace(aside)
            msg = f"history database {self.path} was unreadable ({e}); moved to {aside.name}, starting a new one"
            log.warning(msg)
            self.notes.append(msg)
            self._con = self._open()

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path)
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "created TEXT NOT NULL, fingerprint TEXT, summary TEXT, payload TEXT NOT NULL)"
        )
        con.execute("SELECT count(*) FROM runs").fetchone()  # touches the file: corrupt ones fail here
        con.commit()
        return con

    def add(self, kind: str, payload: Mapping[str, Any], *, summary: str = "", fingerprint: str | None = None) -> int:
        created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        cur = self._con.execute(
            "INSERT INTO runs (kind, created, fingerprint, summary, payload) VALUES (?, ?, ?, ?, ?)",
            (kind, created, fingerprint, summary, json.dumps(payload, default=str)),
        )
        self._con.commit()
        return int(cur.lastrowid)

    def list(self, kind: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first: ``{"id", "kind", "created", "fingerprint", "summary"}``."""
        q = "SELECT id, kind, created, fingerprint, summary FROM runs"
        args: tuple = ()
        if kind:
            q += " WHERE kind = ?"
            args = (kind,)
        q += " ORDER BY id DESC LIMIT ?"
        rows = self._con.execute(q, args + (limit,)).fetchall()
        return [dict(zip(("id", "kind", "created", "fingerprint", "summary"), r)) for r in rows]

    def get(self, run_id: int) -> dict:
        """One run with its payload; :class:`ParameterError` naming the id if there is none."""
        r = self._con.execute(
            "SELECT id, kind, created, fingerprint, summary, payload FROM runs WHERE id = ?", (int(run_id),)
        ).fetchone()
        if r is None:
            raise ParameterError(f"run {run_id} is not in the history {self.path}; `muse bench history` lists the runs")
        d = dict(zip(("id", "kind", "created", "fingerprint", "summary"), r[:5]))
        d["payload"] = json.loads(r[5])
        return d

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

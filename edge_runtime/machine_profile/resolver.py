"""Which configuration the runtime uses here: the data directory's profile, ``--profile``, or defaults.

Rules (issue 7):

* No profile → built-in defaults (:class:`TunedConfig`) and the policy's
  backend order; the runtime says "defaults".
* A profile whose fingerprint is another machine's, or whose model files
  changed since calibration, is **refused**: an explicit ``--profile`` raises
  :class:`ProfileError` with a hint to recalibrate; the automatic one is
  skipped with the same message as a note, and defaults apply.
* A corrupt profile file never crashes the runtime: it falls back to the
  defaults and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nomad_muse.backends.base import Candidate
from nomad_muse.errors import ParameterError
from nomad_muse.machine_profile.profile import MachineProfile, ProfileError, TunedConfig, default_profile_path
from nomad_muse.machine_profile.profile import model_file_sha256, read_profile, sha256_file

log = logging.getLogger(__name__)


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


def check_paths_inside(profile: MachineProfile, source: str = "profile") -> None:
    """Refuse a profile that points outside this product's own files (issue 15): every model
    variant, its source model and the FFTW wisdom must be a shipped model (a name under the
    package's ``models/``) or a file inside the data directory. An imported profile is data from
    elsewhere; it must not make the runtime open ``/etc/…`` or another user's files."""
    from nomad_muse.paths import data_dir, models_dir

    roots = (models_dir().resolve(), data_dir().resolve())

    def inside(p: Path) -> bool:
        rp = p.resolve()
        return any(rp == r or rp.is_relative_to(r) for r in roots)

    checks = []
    for m, c in profile.modules.items():
        checks.append((f"modules.{m}.model", c.model_path()))
        src = c.source_path()
        if src is not None:
            checks.append((f"modules.{m}.source_model", src))
    if profile.fftw_wisdom:
        checks.append(("fftw_wisdom", Path(profile.fftw_wisdom)))
    for fieldname, p in checks:
        if not inside(p):
            raise ProfileError(
                f"{source}: {fieldname}={str(p)!r} is outside the data directory {roots[1]} and the shipped models; refused"
            )


def adopt_files(profile: MachineProfile, source: str = "profile") -> MachineProfile:
    """An imported profile made self-contained (issue 15): every model variant it names outside
    the data directory and the shipped models is hash-checked against the SHA-256 the profile
    recorded and copied into ``data_dir()/models/<module>/``; the copy is what the profile then
    names.  An FFTW wisdom reference other than the data directory is dropped (never read).  Then
    :func:`check_paths_inside` — anything still pointing elsewhere is refused."""
    import shutil
    from dataclasses import replace

    from nomad_muse.paths import data_dir, models_dir

    roots = (models_dir().resolve(), data_dir().resolve())
    modules = dict(profile.modules)
    for m, c in profile.modules.items():
        p = c.model_path()
        if any(p.resolve().is_relative_to(r) for r in roots):
            continue
        if not p.is_file():
            raise ProfileError(f"{source}: modules.{m}.model={str(p)!r} does not exist; nothing to import")
        if model_file_sha256(p) != c.model_sha256:
            raise ProfileError(f"{source}: modules.{m}.model={str(p)!r} does not match its recorded model_sha256; refused")
        dest_dir = data_dir() / "models" / m
        dest_dir.mkdir(parents=True, exist_ok=True)
        for f in (p, p.with_suffix(".bin")) if p.suffix.lower() == ".xml" else (p,):
            if f.is_file():
                tmp = dest_dir / (f.name + ".part")
                shutil.copyfile(f, tmp)
                tmp.replace(dest_dir / f.name)
        dest = dest_dir / p.name
        if model_file_sha256(dest) != c.model_sha256:
            raise ProfileError(f"{source}: modules.{m}.model changed while it was being copied; try again")
        modules[m] = replace(c, model=str(dest))
    wisdom = profile.fftw_wisdom
    if wisdom and Path(wisdom).resolve() != roots[1]:
        # never read from elsewhere: the analyzer plans afresh here (its wisdom lives in the data dir)
        log.warning("%s: fftw_wisdom=%r is not this data directory; not imported", source, wisdom)
        wisdom = None
    out = replace(profile, modules=modules, fftw_wisdom=wisdom)
    check_paths_inside(out, source)
    return out


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

    def measured_variant(self, module: str, candidate: Candidate) -> Path | None:
        """The INT8 variant file this machine's calibration made and gate-passed for ``candidate``
        (``profile.measurements``), if it is still there inside the data directory; else None."""
        from nomad_muse.paths import data_dir

        if self.profile is None or candidate.precision != "int8":
            return None
        rows = ((self.profile.measurements.get("modules") or {}).get(module) or {}).get("rows") or ()
        root = data_dir().resolve()
        for row in rows:
            if not isinstance(row, dict) or row.get("candidate") != str(candidate):
                continue
            if not (row.get("gate") or {}).get("passed") or not isinstance(row.get("path"), str):
                continue
            path = Path(row["path"]).resolve()
            if path.is_relative_to(root) and path.is_file():
                return path
        return None

    def forced(self, module: str, value: str, *, field: str) -> tuple[list[Candidate], Path | None, tuple[str, ...]]:
        """(candidates, model path, reasons) for an override forced by ``field`` (``--backend``,
        ``MUSE_BACKEND`` …): an INT8 candidate runs the variant calibration made and gate-passed here
        (even where the default policy would not try INT8, e.g. without VNNI: the measurement decides);
        anything else is checked against this machine and runs the shipped file (path None)."""
        from nomad_muse.policy import forced_candidates
        from nomad_muse.probe import probe

        try:
            wanted = Candidate.parse(value)
        except ParameterError:
            wanted = None  # forced_candidates names the field and the bad value
        variant = self.measured_variant(module, wanted) if wanted is not None else None
        if variant is not None:
            return [wanted], variant, (f"{field}={value}: the INT8 variant calibration measured here ({variant.name})",)
        cands, reasons = forced_candidates(module, probe(), value, field=field)
        return cands, None, reasons

    def explain(self, module: str, environ=None) -> tuple[list[Candidate] | None, Path | None, str, tuple[str, ...]]:
        """(candidates, model path, source, reasons): what the commands will use for ``module`` and why.

        ``source`` is ``"env MUSE_X_BACKEND"``, ``"profile <path>"`` or
        ``"defaults"``; candidates None means the default policy's order.
        """
        from nomad_muse.policy import env_override_source, forced_candidates

        var, value = env_override_source(module, environ)
        if value:
            cands, path, reasons = self.forced(module, value, field=var)
            return cands, path, f"env {var}", (f"{var}={value} overrides the machine profile",) + reasons
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

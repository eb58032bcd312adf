"""The one place that chooses a model: (probe, profile, overrides) → a loaded model with its fallbacks.

Facades (:class:`nomad_muse.generator.engine.Generator`, the classifier's
``StreamingClassifier``) receive what :func:`select` returns; the commands,
the live engine and the benches call it instead of running the policy
themselves.  :func:`choose` is the same decision without loading, for
``muse info``.

Precedence, strongest first (issue 14):

1. explicit ``candidates`` (a bench measuring one candidate on one file);
2. ``--backend`` (checked against this machine: an impossible one is refused
   in one line naming what is supported here), shipped model or ``--model``;
3. ``--model FILE``: that file on the default policy order (environment
   override first);
4. ``MUSE_<MODULE>_BACKEND`` / ``MUSE_BACKEND`` (checked the same way);
5. the machine profile's calibrated choice (data directory or ``--profile``),
   with the candidates that can run the same file behind it;
6. the default policy (:func:`nomad_muse.policy.default_candidates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nomad_muse.backends.base import Candidate
from nomad_muse.backends.registry import LoadResult, load_first
from nomad_muse.backends.spec import ModelSpec
from nomad_muse.machine_profile import ActiveConfig, resolve


def spec_for(module: str) -> ModelSpec:
    """The model contract a module declares."""
    if module == "generator":
        from nomad_muse.generator.engine import SPEC
    elif module == "classifier":
        from nomad_muse.classifier.stream import SPEC
    else:
        from nomad_muse.errors import ParameterError

        raise ParameterError(f"module={module!r} must be generator or classifier")
    return SPEC


@dataclass(frozen=True)
class Choice:
    """What a module will run and why: the spec, the ordered candidates, the model file and its
    recorded hash (profile variants; None for the shipped model), where the choice came from."""

    spec: ModelSpec
    candidates: tuple[Candidate, ...]
    path: Path
    source: str
    reasons: tuple[str, ...] = ()
    sha256: str | None = None
    #: the shipped file a profile variant was made from (the user's adapters are fitted on it)
    source_path: Path | None = None


def choose(
    module: str,
    *,
    active: ActiveConfig | None = None,
    profile: Path | str | None = None,
    backend: str | None = None,
    model: Path | str | None = None,
    candidates: Sequence[Candidate] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Choice:
    """The decision :func:`select` loads; see the module docstring for the precedence."""
    from nomad_muse.paths import models_dir
    from nomad_muse.policy import default_candidates, forced_candidates
    from nomad_muse.probe import probe

    spec = spec_for(module)
    shipped = spec.default_path(models_dir())
    path = Path(model) if model is not None else shipped
    if candidates is not None:
        return Choice(spec, tuple(candidates), path, "explicit candidates")
    if backend:
        if model is None:  # an INT8 --backend runs the variant calibration made for it, if any
            active = active if active is not None else resolve(profile)
            cands, variant, reasons = active.forced(module, backend, field="--backend")
            if variant is not None:
                return Choice(spec, tuple(cands), variant, "--backend", reasons, source_path=shipped)
        else:
            cands, reasons = forced_candidates(module, probe(), backend, field="--backend")
        return Choice(spec, tuple(cands), path, "--backend", reasons)
    if model is not None:
        return Choice(spec, tuple(default_candidates(module, probe(), environ)), path, "--model")
    active = active if active is not None else resolve(profile)
    cands, ppath, source, reasons = active.explain(module, environ)
    if cands is None:
        from nomad_muse.policy import plan_backends

        rec = probe()
        why = tuple(reasons) + (plan_backends(module, rec).reasons if source == "defaults" else ())
        return Choice(spec, tuple(default_candidates(module, rec, environ)), shipped, source, why)
    sha = src = None
    if active.profile is not None and source.startswith("profile") and module in active.profile.modules:
        sha = active.profile.modules[module].model_sha256
        src = active.profile.modules[module].source_path()
    elif ppath:  # an environment override running a calibrated INT8 variant of the shipped file
        src = shipped
    return Choice(spec, tuple(cands), Path(ppath) if ppath else shipped, source, tuple(reasons), sha, src)


def load(choice: Choice, *, threads: int = 1, use_adapter: bool = True) -> LoadResult:
    """Load ``choice`` on its first candidate that works; later ones are the recorded fallbacks.

    The classifier and the generator get the user's adapter for that exact file
    (``muse adapt classifier`` / ``muse adapt generator``) unless ``use_adapter`` is False."""
    res = load_first(list(choice.candidates), choice.path, threads=threads, state=choice.spec.state_map)
    if use_adapter and choice.spec.module == "classifier":
        from nomad_muse.classifier.stream import with_adapter

        res = with_adapter(res, choice.source_path or choice.path)  # a variant runs its source's adapter
    elif use_adapter and choice.spec.module == "generator":
        from nomad_muse.generator.adapter import with_adapter as with_generator_adapter

        res = with_generator_adapter(res, choice.source_path or choice.path)  # a variant runs its source's adapter
    return res


def select(module: str, *, threads: int = 1, use_adapter: bool = True, **how) -> LoadResult:
    """(probe, profile, overrides) → the loaded model with its fallbacks; ``how`` as for :func:`choose`."""
    return load(choose(module, **how), threads=threads, use_adapter=use_adapter)


def bench_candidates(module: str) -> list[Candidate]:
    """Every FP32/BF16 candidate the policy orders for this machine, once each (no profile, no
    override): what ``muse bench`` measures cell by cell (INT8 variants are files of their own)."""
    from nomad_muse.policy import plan_backends
    from nomad_muse.probe import probe

    seen, out = set(), []
    for c in plan_backends(module, probe()).candidates:
        if c.precision == "int8" or str(c) in seen:
            continue
        seen.add(str(c))
        out.append(c)
    return out


def module_backend(module: str, *, backend: str | None = None, profile: Path | str | None = None,
                   model: Path | None = None) -> tuple[list[Candidate] | None, Path | None, tuple[str, ...]]:
    """(candidates, model path, notes) for a one-shot command, as :func:`choose` decides it.

    ``(None, None)`` when no profile or override chose (the default policy applies)."""
    if backend:
        c = choose(module, backend=backend, model=model)
        return list(c.candidates), model, ()
    if model is not None:
        return None, model, ()
    active = resolve(profile)
    cands, path = active.backend_for(module)
    return cands, path, active.notes

"""Tonal-balance targets: per-band 10th/50th/90th percentile ranges, loaded from TOML or built from tracks.

Format (``format = "muse-target/1"``, described in ``profiles/README.md``)::

    name = "pop"
    description = "..."
    normalised_to_lufs = -14.0
    n_tracks = 24
    [provenance]      # where the numbers come from, in words (required)
    method = "..."
    [bands]           # dB, power in band after loudness normalisation
    sub = [p10, p50, p90]
    ...
    [curve]           # optional 1/6-octave curve, same normalisation
    freqs_hz = [...]
    p10_db = [...]; p50_db = [...]; p90_db = [...]
    [loudness]        # optional, of the source tracks
    integrated_lufs = [p10, p50, p90]

Lookup of a name: an existing path, then the user's ``data_dir()/profiles/NAME.toml``
(made by ``muse profiles build``), then the shipped ``profiles/genres/NAME.toml``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.errors import InputError, ParameterError
from nomad_muse.analyzer.fft import octave_centres
from nomad_muse.analyzer.tonal import BAND_NAMES, CURVE_FRACTION, NORMALISE_TO_LUFS

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)
FORMAT = "muse-target/1"
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".oga", ".mp3", ".w64", ".caf")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Target:
    """A tonal-balance target: band ranges (dB) as (p10, p50, p90), optional curve, provenance."""

    name: str
    description: str
    normalised_to_lufs: float
    n_tracks: int
    provenance: dict = field(hash=False)
    bands: dict = field(hash=False)
    curve_hz: tuple[float, ...] | None = None
    curve_db: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]] | None = None
    loudness: dict = field(default_factory=dict, hash=False)
    path: str | None = None


def user_profiles_dir() -> Path:
    """Where ``muse profiles build`` saves targets (``data_dir()/profiles``)."""
    from nomad_muse.paths import data_dir

    return data_dir() / "profiles"


def shipped_genres_dir() -> Path:
    from nomad_muse.paths import profiles_dir

    return profiles_dir() / "genres"


def _triple(v, *, where: str) -> tuple[float, float, float]:
    if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)):
        raise InputError(f"{where} must be a list of three numbers [p10, p50, p90]")
    a, b, c = (float(x) for x in v)
    if not (a <= b <= c):
        raise InputError(f"{where} = {v}: percentiles must satisfy p10 <= p50 <= p90")
    return a, b, c


def parse_target(doc: dict, *, where: str) -> Target:
    """Validate a parsed TOML document into a :class:`Target` (InputError names the bad key)."""
    if doc.get("format") != FORMAT:
        raise InputError(f"{where}: format = {doc.get('format')!r}; expected {FORMAT!r}")
    for key in ("name", "provenance", "bands"):
        if key not in doc:
            raise InputError(f"{where}: missing required key {key!r}")
    prov = doc["provenance"]
    if not isinstance(prov, dict) or not prov.get("method"):
        raise InputError(f"{where}: [provenance] must say where the numbers come from (key 'method')")
    bands = {}
    for b in BAND_NAMES:
        if b not in doc["bands"]:
            raise InputError(f"{where}: [bands] lacks {b!r} (needs {', '.join(BAND_NAMES)})")
        bands[b] = _triple(doc["bands"][b], where=f"{where}: bands.{b}")
    curve_hz = curve_db = None
    if "curve" in doc:
        c = doc["curve"]
        try:
            curve_hz = tuple(float(x) for x in c["freqs_hz"])
            curve_db = tuple(tuple(float(x) for x in c[k]) for k in ("p10_db", "p50_db", "p90_db"))
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{where}: [curve] needs freqs_hz, p10_db, p50_db, p90_db number lists ({e})") from None
        if any(len(q) != len(curve_hz) for q in curve_db) or len(curve_hz) < 2:
            raise InputError(f"{where}: [curve] lists must have the same length (>= 2)")
    loud = {k: _triple(v, where=f"{where}: loudness.{k}") for k, v in doc.get("loudness", {}).items()}
    return Target(name=str(doc["name"]), description=str(doc.get("description", "")),
                  normalised_to_lufs=float(doc.get("normalised_to_lufs", NORMALISE_TO_LUFS)),
                  n_tracks=int(doc.get("n_tracks", 0)), provenance=dict(prov), bands=bands,
                  curve_hz=curve_hz, curve_db=curve_db, loudness=loud, path=where)


def read_target(path: str | Path) -> Target:
    """Read and validate one target TOML file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such target file")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: not valid TOML ({e}); fix or rebuild it with `muse profiles build`") from None
    return parse_target(doc, where=str(p))


def list_targets() -> list[tuple[str, str, Path]]:
    """(name, origin "user"/"shipped"/"user (shadows shipped)", path) of every available target; user ones
    shadow shipped ones, and say so."""
    seen: dict[str, tuple[str, str, Path]] = {}
    for origin, d in (("shipped", shipped_genres_dir()), ("user", user_profiles_dir())):
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                if origin == "user" and p.stem in seen:
                    origin_here = "user (shadows shipped)"
                else:
                    origin_here = origin
                seen[p.stem] = (p.stem, origin_here, p)
    return sorted(seen.values())


def load_target(name_or_path: str | Path) -> Target:
    """A target by file path or by name (user profiles first, then shipped genres)."""
    s = str(name_or_path)
    p = Path(s)
    if p.suffix == ".toml" or p.exists():
        return read_target(p)
    for d in (user_profiles_dir(), shipped_genres_dir()):
        f = d / f"{s}.toml"
        if f.is_file():
            return read_target(f)
    names = ", ".join(n for n, _, _ in list_targets()) or "none"
    raise InputError(f"no target named {s!r}; available: {names} (or pass a .toml path, or build one "
                     "with `muse profiles build NAME FILES...`)")


def expand_audio_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files given directly, plus audio files (by suffix) found recursively in given folders, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in AUDIO_SUFFIXES))
        elif p.exists():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    if not out:
        raise InputError(f"no audio files found in {', '.join(map(str, paths))} (looked for {' '.join(AUDIO_SUFFIXES)})")
    return out


def check_target_name(name: str) -> str:
    """``name`` if it is a valid target name (1-64 letters, digits, ``_ . -``), else ParameterError."""
    if not _NAME_RE.match(name):
        raise ParameterError(f"name={name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    return name


def build_target(*, name: str, paths: Sequence[str | Path], description: str = "",
                 provenance: dict | None = None,
                 progress: Callable[[Path, int, int], None] | None = None) -> tuple[Target, list[str]]:
    """Measure reference tracks and make a target of per-band 10th/50th/90th percentiles.

    Parameters
    ----------
    name : str
        Target name (letters, digits, ``_ . -``).
    paths : sequence of path
        Audio files and/or folders (searched recursively).
    progress : callable(path, i, n) or None
        Called before each file.

    Returns
    -------
    target : Target
    skipped : list of str
        One line per file that could not be used (and why).
    """
    from nomad_muse.analyzer.engine import analyze_file

    if not _NAME_RE.match(name):
        raise ParameterError(f"name={name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    files = expand_audio_paths(paths)
    grid = octave_centres(fraction=CURVE_FRACTION)
    levels, curves, loud = [], [], {"integrated_lufs": [], "lra_lu": [], "plr_lu": []}
    skipped: list[str] = []
    for i, f in enumerate(files):
        if progress is not None:
            progress(f, i, len(files))
        try:
            rep = analyze_file(f, with_dynamics=False)
        except InputError as e:
            skipped.append(str(e))
            continue
        if rep.tonal is None:
            skipped.append(f"{f}: below the -70 LUFS gate (silent); not used")
            continue
        levels.append([b.level_db for b in rep.tonal.bands])
        curves.append(np.interp(grid, rep.tonal.curve_hz, rep.tonal.curve_db, left=np.nan, right=np.nan))
        loud["integrated_lufs"].append(rep.loudness.integrated_lufs)
        loud["lra_lu"].append(rep.loudness.lra_lu)
        loud["plr_lu"].append(rep.loudness.plr_lu)
    if not levels:
        raise InputError(f"none of the {len(files)} file(s) could be measured: " + "; ".join(skipped[:3]))
    lv = np.asarray(levels)
    q = lambda a: tuple(float(round(v, 2)) for v in np.nanpercentile(a, [10, 50, 90], axis=0))  # noqa: E731
    bands = {}
    for j, b in enumerate(BAND_NAMES):
        col = lv[:, j]
        if not np.any(np.isfinite(col)):
            raise InputError(f"band {b!r} could not be measured in any file (sample rates too low?)")
        bands[b] = q(col[np.isfinite(col)])
    cv = np.asarray(curves)
    ok = np.sum(np.isfinite(cv), axis=0) > 0
    cq = np.nanpercentile(cv[:, ok], [10, 50, 90], axis=0)
    prov = {"method": f"measured with `muse profiles build` from {len(levels)} file(s)",
            "built": _dt.date.today().isoformat(),
            "files": [str(f) for f in files][:200]}
    prov.update(provenance or {})
    t = Target(name=name, description=description, normalised_to_lufs=NORMALISE_TO_LUFS, n_tracks=len(levels),
               provenance=prov, bands=bands, curve_hz=tuple(float(round(f, 2)) for f in grid[ok]),
               curve_db=tuple(tuple(float(round(v, 2)) for v in row) for row in cq),
               loudness={k: q(np.asarray(v)) for k, v in loud.items()})
    return t, skipped


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def target_to_toml(t: Target) -> str:
    """Serialise a target in the ``muse-target/1`` TOML format."""
    lines = [f"format = {_toml_value(FORMAT)}", f"name = {_toml_value(t.name)}",
             f"description = {_toml_value(t.description)}",
             f"normalised_to_lufs = {_toml_value(float(t.normalised_to_lufs))}", f"n_tracks = {t.n_tracks}", "",
             "[provenance]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in t.provenance.items()]
    lines += ["", "# dB: power in each band after normalising the programme to normalised_to_lufs; [p10, p50, p90]",
              "[bands]"]
    lines += [f"{b} = {_toml_value(list(t.bands[b]))}" for b in BAND_NAMES]
    if t.curve_hz is not None:
        lines += ["", "# 1/6-octave band powers (dB), same normalisation", "[curve]",
                  f"freqs_hz = {_toml_value(list(t.curve_hz))}"]
        lines += [f"{k} = {_toml_value(list(q))}" for k, q in zip(("p10_db", "p50_db", "p90_db"), t.curve_db)]
    if t.loudness:
        lines += ["", "# of the source tracks themselves (before normalisation)", "[loudness]"]
        lines += [f"{k} = {_toml_value(list(v))}" for k, v in t.loudness.items()]
    return "\n".join(lines) + "\n"


def save_target(t: Target, path: str | Path | None = None, *, force: bool = False) -> Path:
    """Write a target (default: ``data_dir()/profiles/NAME.toml``) atomically; returns the path.

    An existing file is replaced only with ``force`` (ParameterError otherwise, before anything is written)."""
    from nomad_muse.paths import atomic_output, output_path

    p = output_path(path, f"{t.name}.toml", what="--out") if path is not None else user_profiles_dir() / f"{t.name}.toml"
    if p.is_file() and not force:
        raise ParameterError(f"target file {p} exists; pass --force to replace it (or choose another NAME / --out)")
    with atomic_output(p, what="--out") as tmp:
        tmp.write_text(target_to_toml(t), encoding="utf-8")
    return p


#: ``--target auto`` compares the 1/6-octave curve over this span (Hz): below it the curve is noisy
#: (few FFT bins), above it it depends on the source's sample rate and lossy coding.
AUTO_SPAN_HZ = (40.0, 14000.0)


def curve_distance_db(curve_hz, curve_db, target: Target) -> float:
    """RMS difference (dB) between a measured curve and the target's median curve over :data:`AUTO_SPAN_HZ`.

    Both are loudness-normalised 1/6-octave powers; the mean difference (a
    level offset, ≈ 0 after normalisation) is removed, so the distance is
    about shape. ``inf`` when the target has no curve or no common points.
    """
    if target.curve_hz is None:
        return float("inf")
    f = np.asarray(curve_hz, dtype=float)
    v = np.asarray(curve_db, dtype=float)
    t = np.interp(f, target.curve_hz, target.curve_db[1], left=np.nan, right=np.nan)
    m = np.isfinite(v) & np.isfinite(t) & (f >= AUTO_SPAN_HZ[0]) & (f <= AUTO_SPAN_HZ[1])
    if m.sum() < 6:
        return float("inf")
    d = v[m] - t[m]
    return float(np.sqrt(np.mean((d - d.mean()) ** 2)))


def auto_target(report, *, candidates: Iterable[Target] | None = None) -> tuple[Target, list[tuple[str, float]]]:
    """The shipped target nearest to ``report``'s measured curve (:func:`curve_distance_db`).

    Returns ``(target, ranking)`` with ``ranking`` = ``[(name, distance dB), ...]``
    nearest first (so ``ranking[1]`` is the runner-up). Raises InputError when
    the report has no tonal curve (silence) or no target has a curve.
    """
    if report.tonal is None:
        raise InputError("target='auto' needs a tonal curve, and this programme is silent", field="target")
    if candidates is None:
        candidates = [read_target(p) for _, origin, p in list_targets() if origin == "shipped"]
    scored = sorted(((curve_distance_db(report.tonal.curve_hz, report.tonal.curve_db, t), t) for t in candidates),
                    key=lambda x: x[0])
    scored = [(d, t) for d, t in scored if np.isfinite(d)]
    if not scored:
        raise InputError("target='auto': no shipped target has a curve to compare with", field="target")
    return scored[0][1], [(t.name, round(d, 2)) for d, t in scored]

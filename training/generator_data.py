"""Data for the MIDI generator: the offline corpus, user directories, splits, augmentation.

* :func:`export_music21_corpus` writes music21's bundled corpus as MIDI files
  (tonal material). music21's ``monteverdi`` and ``trecento`` collections are
  **reserved for independent evaluation** and refused here.
* :func:`find_midi_files` / :func:`official_split` read a directory a user
  points at, in the layouts of Lakh MIDI (``lmd_full/<hex>/<md5>.mid``),
  MAESTRO (``<year>/*.midi`` + ``maestro-v*.csv`` with a ``split`` column),
  Groove MIDI (``drummer*/session*/*.mid`` + ``info.csv`` with ``split``),
  GigaMIDI exported as files (any nesting of ``.mid``), or any folder.
* :func:`split_files` splits **by file** (a stable hash of the relative path),
  never by window, so no piece leaks between train and validation.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomad_muse.errors import InputError
from nomad_muse.generator import vocab as V

RESERVED_MUSIC21 = ("monteverdi", "trecento")
DEFAULT_MUSIC21 = ("bach", "palestrina")
#: Debian packages whose MIDI files we train on (GM multitrack, channel-10 drums)
DEBIAN_MIDI_DIRS = (Path("/usr/share/planetblupi/music"),)
#: Debian lmms-common's demo projects: their drum parts are converted to GM MIDI (training.lmms)
LMMS_PROJECT_DIRS = (Path("/usr/share/lmms/projects"),)
MIDI_SUFFIXES = (".mid", ".midi", ".kar")


def _export_one(args: tuple[str, str]) -> str | None:
    src, dst = args
    if Path(dst).exists():
        return dst
    try:
        from music21 import converter

        s = converter.parse(src)
        if hasattr(s, "scores"):  # an Opus (ABC books): write each tune separately
            for i, sc in enumerate(s.scores):
                sc.write("midi", fp=str(Path(dst).with_name(f"{Path(dst).stem}_{i:03d}.mid")))
            Path(dst).write_bytes(b"")  # marker: done (empty files are skipped by loaders)
        else:
            s.write("midi", fp=dst)
        return dst
    except Exception:
        return None


def export_music21_corpus(out_dir: Path, collections: Sequence[str] = DEFAULT_MUSIC21, *, workers: int = 2) -> list[Path]:
    """Write the chosen music21 corpus collections as MIDI under ``out_dir/<collection>/``."""
    bad = [c for c in collections if c in RESERVED_MUSIC21]
    if bad:
        raise InputError(f"music21 collections {bad} are reserved for independent evaluation; never train on them")
    from multiprocessing import Pool

    try:
        from music21 import corpus
    except ImportError as e:
        raise InputError("music21 is not installed: pip install '.[training]'") from e
    jobs = []
    for coll in collections:
        d = out_dir / coll
        d.mkdir(parents=True, exist_ok=True)
        for src in corpus.getComposer(coll):
            src = Path(src)
            if src.suffix.lower() in (".rntxt",):
                continue
            jobs.append((str(src), str(d / (src.stem + ".mid"))))
    with Pool(workers) as pool:
        for _ in pool.imap_unordered(_export_one, jobs, chunksize=4):
            pass
    return sorted(p for p in out_dir.rglob("*.mid") if p.stat().st_size > 0)


def lmms_drum_root(data_dir: Path, project_dirs=LMMS_PROJECT_DIRS) -> Path | None:
    """``data_dir/lmms_drums``: the drum parts of lmms-common's projects as GM drum MIDI, converted
    once and cached (reconverted when missing or made by another converter version); None without
    lmms-common or without drums."""
    from nomad_muse.training.lmms import ensure_converted

    return ensure_converted(Path(data_dir) / "lmms_drums", project_dirs)


def lmms_midi_root(data_dir: Path, project_dirs=LMMS_PROJECT_DIRS) -> Path | None:
    """``data_dir/lmms_midi``: lmms-common's projects as GM multitrack MIDI, drums **and** melodic
    tracks (``training.lmms``, ``parts="all"``), converted once and cached; None without projects."""
    from nomad_muse.training.lmms import ensure_converted

    return ensure_converted(Path(data_dir) / "lmms_midi", project_dirs, parts="all")


#: abc2midi (Debian ``abcmidi``) converts the ABC folk collections; music21's own MIDI writer takes ~100x longer
ABC2MIDI = "abc2midi"
#: music21's ABC collections (folk) and Debian abcmidi's examples, converted by abc2midi into ``data_dir/folk_midi``
MUSIC21_ABC = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
ABCMIDI_EXAMPLES = Path("/usr/share/doc/abcmidi/examples")
#: music21 collections exported with music21 (classical; joplin and leadSheet are popular songs/ragtime)
MUSIC21_SCORES = ("bach", "beethoven", "mozart", "haydn", "joplin", "chopin", "schumann_robert", "schumann_clara", "handel",
                  "corelli", "cpebach", "schubert", "verdi", "weber", "josquin", "leadSheet")
#: style of a music21 collection when it is not classical (from the corpus metadata: composer / collection)
MUSIC21_STYLE = {"joplin": "popular", "leadSheet": "popular"}


def export_abc_folk(out_dir: Path, *, abc2midi: str = ABC2MIDI, examples: Path = ABCMIDI_EXAMPLES) -> list[Path]:
    """music21's ABC folk collections (and abcmidi's examples, when installed) → one MIDI file per tune
    under ``out_dir/<collection>/``, by ``abc2midi`` (every tune of an ABC book, named by its X: number)."""
    import shutil
    import subprocess

    try:
        from music21 import corpus
    except ImportError as e:
        raise InputError("music21 is not installed: pip install '.[training]'") from e
    exe = shutil.which(abc2midi) or (abc2midi if Path(abc2midi).is_file() else None)
    if exe is None:
        raise InputError(f"{abc2midi} not found: apt-get install abcmidi")
    jobs = [(c, Path(f)) for c in MUSIC21_ABC for f in corpus.getComposer(c) if str(f).endswith(".abc")]
    if Path(examples).is_dir():
        jobs += [("abcmidi_examples", f) for f in sorted(Path(examples).glob("*.abc"))]
    for coll, src in jobs:
        d = Path(out_dir) / coll
        d.mkdir(parents=True, exist_ok=True)
        local = d / src.name  # abc2midi writes beside its input: work on a copy in the output folder
        shutil.copyfile(src, local)
        try:
            subprocess.run([exe, local.name, "-silent"], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        finally:
            local.unlink(missing_ok=True)
    return sorted(Path(out_dir).rglob("*.mid"))


@dataclass(frozen=True)
class Source:
    """One training source: its root, how its files are labelled by style, and its held-out fractions."""

    name: str
    root: Path
    style: str  # the style of its files, or "by_folder" (music21: MUSIC21_STYLE, else classical)
    val: float = 0.1
    test: float = 0.1
    licence: str = ""

    def style_of(self, rel: Path | str) -> str:
        if self.style != "by_folder":
            return self.style
        top = Path(rel).parts[0] if len(Path(rel).parts) > 1 else ""
        return MUSIC21_STYLE.get(top, "classical")

    def sub_source(self, rel: Path | str) -> str:
        """``name/first-folder`` (e.g. ``music21/bach``, ``folk/essenFolksong``) for per-source reports."""
        parts = Path(rel).parts
        return f"{self.name}/{parts[0]}" if len(parts) > 1 and self.name in ("music21", "folk") else self.name


#: the multitrack, non-classical sources hold out 20 % (not 10 %) so the card's headline set is not 4 files
MULTITRACK_TEST = 0.2


def sources(data_dir: Path, *, lmms_projects=LMMS_PROJECT_DIRS, music21_dir: Path | None = None) -> list[Source]:
    """The offline corpus (docs/generator.md, Training): music21 scores, folk tunes (ABC), the Debian
    MIDI folders and the LMMS projects, each with its style label; missing ones are left out."""
    data_dir = Path(data_dir)
    out = []
    m21 = Path(music21_dir) if music21_dir else data_dir / "music21_midi"
    if m21.is_dir():
        out.append(Source("music21", m21, "by_folder", licence="music21 corpus, music21/corpus/license.txt"))
    folk = data_dir / "folk_midi"
    if folk.is_dir():
        out.append(Source("folk", folk, "folk", licence="music21 corpus ABC collections (Essen: non-commercial) + abcmidi examples (GPL-2+)"))
    for d in DEBIAN_MIDI_DIRS:
        if d.is_dir():
            out.append(Source("planetblupi", d, "popular", val=0.1, test=MULTITRACK_TEST, licence="GPL-3+ (Debian planetblupi-music-midi)"))
    lm = lmms_midi_root(data_dir, lmms_projects)
    if lm:
        out.append(Source("lmms", lm, "electronic", val=0.1, test=MULTITRACK_TEST,
                          licence="Debian lmms-common projects: GPL-2+, Artistic-2, BSD-2, CC-BY-SA-3/4 per project"))
    return out


def source_splits(src: Source) -> dict[str, list[Path]]:
    """A source's files split by file (stable hash of the relative path) with its own fractions."""
    return split_files(find_midi_files(src.root), root=src.root, val=src.val, test=src.test)


def training_roots(data_dir: Path, music21_dir: Path | None = None) -> list[Path]:
    """The roots of :func:`sources` (training, its calibration data and model comparisons read these)."""
    return [s.root for s in sources(data_dir, music21_dir=music21_dir)]


def find_midi_files(root: Path) -> list[Path]:
    """Every non-empty MIDI file under ``root`` (any nesting), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"not a directory: {root} (point at a folder of .mid/.midi files)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file() and p.stat().st_size > 0)
    if not files:
        raise InputError(f"no .mid/.midi files under {root}")
    return files


def official_split(root: Path) -> dict[Path, str] | None:
    """A dataset's own split (MAESTRO ``maestro-v*.csv``, Groove ``info.csv``), if present.

    Returns ``{file: "train"|"validation"|"test"}`` or None.
    """
    root = Path(root)
    for pattern, col in (("maestro-v*.csv", "midi_filename"), ("info.csv", "midi_filename")):
        for table in sorted(root.glob(pattern)):
            with open(table, newline="") as fh:
                rows = list(csv.DictReader(fh))
            if rows and col in rows[0] and "split" in rows[0]:
                return {root / r[col]: r["split"].strip().lower() for r in rows}
    return None


def split_files(files: Sequence[Path], *, root: Path | None = None, val: float = 0.1, test: float = 0.1) -> dict[str, list[Path]]:
    """Split by file with a stable hash of the path (relative to ``root``): train/validation/test."""
    out: dict[str, list[Path]] = {"train": [], "validation": [], "test": []}
    official = official_split(root) if root else None
    rest = []
    for f in files:
        if official is not None and f in official:
            name = {"valid": "validation"}.get(official[f], official[f])
            out[name if name in out else "train"].append(f)
        else:
            rest.append(f)

    def u(f: Path) -> float:
        rel = str(f.relative_to(root)) if root and f.is_relative_to(root) else f.name
        return int(hashlib.sha256(rel.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    # order by a stable hash of the relative path; small folders still get one
    # file each in test and validation (from 3 files up)
    rest.sort(key=u)
    n = len(rest)
    n_test = max(1, round(n * test)) if n >= 3 else 0
    n_val = max(1, round(n * val)) if n >= 3 else 0
    out["test"] += rest[:n_test]
    out["validation"] += rest[n_test : n_test + n_val]
    out["train"] += rest[n_test + n_val :]
    return out


# ------------------------------------------------------------ augmentation
_KEY_BASE = {t: i for i, t in enumerate(V.TOKENS)}


def transpose_tokens(tokens: Sequence[int], semitones: int) -> list[int] | None:
    """Transpose a tonal stream (pitches and key token); None if a pitch leaves 21–108."""
    if semitones == 0:
        return list(tokens)
    out = []
    for t in tokens:
        name = V.TOKENS[t]
        if name.startswith("PITCH_"):
            p = int(name[6:]) + semitones
            if not V.PITCH_LO <= p <= V.PITCH_HI:
                return None
            out.append(V.INDEX[f"PITCH_{p}"])
        elif name.startswith("KEY:") and name != "KEY:none":
            _, tn, md = name.split(":")
            out.append(V.INDEX[f"KEY:{V.PITCH_NAMES[(V.PITCH_NAMES.index(tn) + semitones) % 12]}:{md}"])
        else:
            out.append(t)
    return out


def scale_tempo(tokens: Sequence[int], factor: float) -> list[int]:
    """±10 % tempo augmentation: the grid is in beats, so only the TEMPO token moves."""
    out = list(tokens)
    for i, t in enumerate(out[: 7]):
        name = V.TOKENS[t]
        if name.startswith("TEMPO_"):
            bpm = V.tempo_of_bin(int(name[6:])) * factor
            out[i] = V.INDEX[f"TEMPO_{V.tempo_bin(bpm)}"]
    return out


def windows(tokens: Sequence[int], length: int, stride: int) -> Iterable[np.ndarray]:
    """Training windows of ``length`` tokens, each starting at a bar line and
    beginning with the stream's header (5 tokens, 6 with STYLE) (so the mode context is always seen)."""
    from nomad_muse.generator.tokenizer import header_len

    n = header_len(tokens)
    header = list(tokens[:n])
    body = list(tokens[n:])
    step = length - len(header)
    bars = [i for i, t in enumerate(body) if t == V.BAR] or [0]
    last = -stride
    for b in bars:
        if b - last < stride and b != bars[0]:
            continue
        chunk = body[b : b + step]
        if len(chunk) < step // 4 and b != bars[0]:
            break
        last = b
        yield np.array(header + chunk + [V.PAD] * (step - len(chunk)), dtype=np.int64)


def load_streams(files, root, *, min_body_tokens: int = 8, style=None) -> list[tuple[str, str, list[int]]]:
    """(file relative to ``root``, mode, tokens) for every stream of every readable file; unreadable files are skipped.

    A stream needs more than ``min_body_tokens`` tokens after its header. ``style``: a function
    relative path → style (the header then ends with that STYLE token), or None.
    """
    from nomad_muse.errors import MuseError
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.tokenizer import HEADER_LEN, score_streams

    out = []
    for f in files:
        try:
            score = read_midi(f)
        except MuseError:
            continue
        rel = f.relative_to(root) if f.is_relative_to(root) else f
        for s in score_streams(score, style=style(rel) if style else None):
            if len(s.tokens) > HEADER_LEN + min_body_tokens:
                out.append((str(rel), s.mode, list(s.tokens)))
    return out

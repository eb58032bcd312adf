"""Tokenize a corpus the size of Lakh or GigaMIDI into shards, in parallel and resumably.

    python -m nomad_muse.training.shards SOURCE [SOURCE ...] --out DIR [--workers N] [--shard-size 512]

A SOURCE is either

* a **folder** of MIDI files in any nesting (the Lakh MIDI layout,
  ``lmd_full/0/0a1b….mid``; any ``.mid``/``.midi``/``.kar``), or
* a **parquet file** (or a folder of them, ``*.parquet``) with the MIDI file's
  bytes in one row each, as GigaMIDI distributes it: the bytes column is
  ``--bytes-column`` (default: ``music`` when present, else the first binary
  column) and the row's name ``--id-column`` (default: ``md5`` when present,
  else ``<file>#<row>``).  Read with pyarrow, one row group at a time, so
  memory stays bounded by a row group, not the file.

Work is planned as **units** of at most ``--shard-size`` items (files, or
rows of one row group), in a stable order; a process pool
(:class:`concurrent.futures.ProcessPoolExecutor`) tokenizes units with the
runtime's own tokenizer (:func:`nomad_muse.generator.tokenizer.score_streams`,
the same streams as ``muse evaluate generator``) and writes one
``shard-NNNNNN.npz`` per unit atomically (temp + rename).  The parent appends
one JSON line per finished shard to ``manifest.jsonl``; a rerun with the same
plan skips every unit whose shard is in the manifest and on disk, so an
interrupted run resumes where it stopped.  ``plan.json`` records the plan; a
rerun with a different plan (other sources or shard size) into the same DIR
is refused in one line.

Each shard holds ``tokens`` (int16, all streams concatenated), ``offsets``
(int64, stream i is ``tokens[offsets[i]:offsets[i+1]]``), ``modes`` (0 tonal,
1 drums), ``split`` (0 train, 1 validation, 2 test: by item, a stable SHA-256
of its name as :func:`training.generator_data.split_files` does, so an item is
never on two sides) and ``items`` (the item name of each stream); unreadable
items are counted per shard and skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomad_muse.errors import InputError, ParameterError

MIDI_SUFFIXES = (".mid", ".midi", ".kar")
SPLITS = ("train", "validation", "test")
MIN_BODY_TOKENS = 8


@dataclass(frozen=True)
class Unit:
    """One shard's worth of work: ``kind`` "files" (``items`` are paths) or "parquet" (a row group of ``path``)."""

    index: int
    kind: str
    path: str  # the folder (files) or the parquet file
    items: tuple[str, ...] = ()  # files: paths relative to ``path``
    row_group: int = -1
    rows: tuple[int, int] = (0, 0)  # parquet: [start, stop) within the row group
    bytes_column: str = ""
    id_column: str = ""

    def key(self) -> str:
        return json.dumps([self.kind, self.path, list(self.items), self.row_group, list(self.rows)])


def split_of(name: str, val: float = 0.1, test: float = 0.1) -> int:
    """0 train, 1 validation, 2 test, from a stable hash of an item's name (relative path or parquet id)."""
    u = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return 2 if u < test else 1 if u < test + val else 0


def _parquet_columns(path: Path, bytes_column: str | None, id_column: str | None) -> tuple[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = schema.names
    if bytes_column is None:
        binary = [f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
        bytes_column = "music" if "music" in names else binary[0] if binary else None
        if bytes_column is None:
            raise InputError(f"{path}: no binary column with MIDI bytes (columns: {', '.join(names)}); name it with --bytes-column")
    elif bytes_column not in names:
        raise InputError(f"{path}: no column {bytes_column!r} (columns: {', '.join(names)})")
    if id_column is None:
        id_column = "md5" if "md5" in names else ""
    elif id_column not in names:
        raise InputError(f"{path}: no column {id_column!r} (columns: {', '.join(names)})")
    return bytes_column, id_column


def plan(sources, shard_size: int = 512, *, bytes_column: str | None = None, id_column: str | None = None) -> list[Unit]:
    """The units of work for ``sources``, in a stable order (see the module docstring)."""
    if shard_size < 1:
        raise ParameterError(f"--shard-size {shard_size} must be >= 1")
    units: list[Unit] = []
    for src in sources:
        src = Path(src)
        if src.is_file() and src.suffix == ".parquet":
            parquets, folder = [src], None
        elif src.is_dir():
            parquets = sorted(src.rglob("*.parquet"))
            folder = None if parquets else src
        else:
            raise InputError(f"{src}: not a folder of MIDI files or a .parquet file")
        if folder is not None:
            files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                           if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
            if not files:
                raise InputError(f"no .mid/.midi files under {folder}")
            for i in range(0, len(files), shard_size):
                units.append(Unit(len(units), "files", str(folder.resolve()), tuple(files[i : i + shard_size])))
        for pf in parquets:
            import pyarrow.parquet as pq

            bc, ic = _parquet_columns(pf, bytes_column, id_column)
            meta = pq.ParquetFile(pf).metadata
            for g in range(meta.num_row_groups):
                n = meta.row_group(g).num_rows
                for a in range(0, n, shard_size):
                    units.append(Unit(len(units), "parquet", str(pf.resolve()), (), g, (a, min(n, a + shard_size)), bc, ic))
    return units


def _items(unit: Unit):
    """(name, MIDI bytes or path) for each item of a unit."""
    if unit.kind == "files":
        root = Path(unit.path)
        for rel in unit.items:
            yield rel, root / rel
        return
    import pyarrow.parquet as pq

    cols = [unit.bytes_column] + ([unit.id_column] if unit.id_column else [])
    table = pq.ParquetFile(unit.path).read_row_group(unit.row_group, columns=cols)
    a, b = unit.rows
    data = table.column(unit.bytes_column).slice(a, b - a).to_pylist()
    ids = table.column(unit.id_column).slice(a, b - a).to_pylist() if unit.id_column else [f"{Path(unit.path).name}#{unit.row_group}:{a + i}" for i in range(b - a)]
    yield from zip((str(i) for i in ids), data)


def _score(name: str, src):
    """The runtime's Score of a path or of MIDI bytes (the same reader and limits as ``muse``)."""
    from nomad_muse.generator.midi_io import read_midi

    if isinstance(src, Path):
        return read_midi(src)
    import tempfile

    if src is None:
        raise InputError(f"{name}: empty row")
    with tempfile.NamedTemporaryFile(suffix=".mid") as fh:  # read_midi's size/type checks apply to bytes too
        fh.write(src)
        fh.flush()
        return read_midi(fh.name)


def tokenize_unit(unit: Unit, out_dir: str) -> dict:
    """Tokenize one unit into ``out_dir/shard-NNNNNN.npz`` (atomic); returns its manifest line."""
    from nomad_muse.errors import MuseError
    from nomad_muse.generator.tokenizer import HEADER_LEN, score_streams

    t0 = time.perf_counter()
    toks, offsets, modes, splits, names = [], [0], [], [], []
    n_items = n_bad = 0
    for name, src in _items(unit):
        n_items += 1
        try:
            streams = score_streams(_score(name, src))
        except MuseError:
            n_bad += 1
            continue
        sp = split_of(name)
        for s in streams:
            if len(s.tokens) <= HEADER_LEN + MIN_BODY_TOKENS:
                continue
            toks.append(np.asarray(s.tokens, np.int16))
            offsets.append(offsets[-1] + len(s.tokens))
            modes.append(1 if s.mode == "drums" else 0)
            splits.append(sp)
            names.append(name)
    out = Path(out_dir) / f"shard-{unit.index:06d}.npz"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, tokens=np.concatenate(toks) if toks else np.zeros(0, np.int16), offsets=np.array(offsets, np.int64),
                 modes=np.array(modes, np.int8), split=np.array(splits, np.int8), items=np.array(names, dtype=str))
    os.replace(tmp, out)
    return {"shard": out.name, "unit": unit.index, "items": n_items, "unreadable": n_bad, "streams": len(modes),
            "tokens": int(offsets[-1]), "seconds": round(time.perf_counter() - t0, 4)}


def _plan_record(units: list[Unit], shard_size: int) -> dict:
    h = hashlib.sha256("\n".join(u.key() for u in units).encode()).hexdigest()
    return {"version": 1, "shard_size": shard_size, "units": len(units), "plan_sha256": h}


def done_shards(out_dir: Path) -> dict[int, dict]:
    """Manifest lines of the finished shards whose file exists, by unit index (a torn last line is ignored)."""
    m = Path(out_dir) / "manifest.jsonl"
    done = {}
    if m.is_file():
        for line in m.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if (Path(out_dir) / rec["shard"]).is_file():
                done[int(rec["unit"])] = rec
    return done


def build(sources, out_dir: Path, *, workers: int | None = None, shard_size: int = 512, bytes_column: str | None = None,
          id_column: str | None = None, limit_units: int | None = None, progress=None) -> dict:
    """Plan, then tokenize every unit not yet in the manifest with a process pool; returns a summary.

    ``limit_units`` stops after that many new shards (what an interrupted run leaves behind)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    units = plan(sources, shard_size, bytes_column=bytes_column, id_column=id_column)
    rec = _plan_record(units, shard_size)
    plan_file = out_dir / "plan.json"
    if plan_file.is_file():
        old = json.loads(plan_file.read_text())
        if old.get("plan_sha256") != rec["plan_sha256"]:
            raise ParameterError(f"{out_dir} holds shards of another plan ({old.get('units')} units of "
                                 f"{old.get('shard_size')}); use a new --out or delete it")
    else:
        plan_file.write_text(json.dumps({**rec, "sources": [str(Path(s).resolve()) for s in sources]}, indent=1))
    done = done_shards(out_dir)
    todo = [u for u in units if u.index not in done]
    if limit_units is not None:
        todo = todo[:limit_units]
    workers = max(1, workers or os.cpu_count() or 1)
    t0 = time.perf_counter()
    new = []
    mpath = out_dir / "manifest.jsonl"
    if mpath.is_file() and mpath.stat().st_size and not mpath.read_bytes().endswith(b"\n"):
        with open(mpath, "a") as fh:  # a line torn by a kill: end it, so the next record starts on its own line
            fh.write("\n")
    with open(mpath, "a") as manifest:
        if workers == 1:
            results = (tokenize_unit(u, str(out_dir)) for u in todo)
            for r in results:
                manifest.write(json.dumps(r) + "\n")
                manifest.flush()
                new.append(r)
                if progress:
                    progress(r)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futs = [pool.submit(tokenize_unit, u, str(out_dir)) for u in todo]
                for f in as_completed(futs):
                    r = f.result()
                    manifest.write(json.dumps(r) + "\n")
                    manifest.flush()
                    new.append(r)
                    if progress:
                        progress(r)
    wall = time.perf_counter() - t0
    items = sum(r["items"] for r in new)
    return {"units": len(units), "resumed_done": len(done), "new_shards": len(new), "items": items,
            "unreadable": sum(r["unreadable"] for r in new), "tokens": sum(r["tokens"] for r in new),
            "workers": workers, "wall_s": wall, "files_per_s": items / wall if wall > 0 else float("nan"),
            "files_per_s_per_worker": items / wall / workers if wall > 0 else float("nan"),
            "complete": len(done) + len(new) == len(units)}


def load_shards(out_dir: Path, split: str | None = None, *, rank: int = 0, world: int = 1) -> list[tuple[str, str, list[int]]]:
    """(item, mode, tokens) of every stream in the finished shards (optionally one split), in unit order —
    the same triples :func:`training.generator_data.load_streams` returns, so training code takes either.

    ``rank``/``world``: only the shards whose unit index mod ``world`` is ``rank`` (a DDP rank's share)."""
    want = None if split is None else SPLITS.index(split)
    out = []
    for idx, rec in sorted(done_shards(out_dir).items()):
        if idx % world != rank:
            continue
        with np.load(Path(out_dir) / rec["shard"], allow_pickle=False) as z:
            tokens, off, modes, sp, items = z["tokens"], z["offsets"], z["modes"], z["split"], z["items"]
        for i in range(len(modes)):
            if want is None or sp[i] == want:
                out.append((str(items[i]), "drums" if modes[i] else "tonal", tokens[off[i] : off[i + 1]].astype(np.int64).tolist()))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=None, help="Processes (default: all cores).")
    ap.add_argument("--shard-size", type=int, default=512, help="Items (files or parquet rows) per shard.")
    ap.add_argument("--bytes-column", default=None)
    ap.add_argument("--id-column", default=None)
    ap.add_argument("--limit-units", type=int, default=None, help="Stop after this many new shards.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from nomad_muse.errors import MuseError

    try:
        res = build(args.sources, args.out, workers=args.workers, shard_size=args.shard_size, bytes_column=args.bytes_column,
                    id_column=args.id_column, limit_units=args.limit_units,
                    progress=None if args.json else lambda r: print(f"{r['shard']}: {r['items']} items, {r['tokens']} tokens", file=sys.stderr))
    except MuseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(res, indent=1) if args.json else
          f"{res['new_shards']} new shards ({res['resumed_done']} already done of {res['units']}), {res['items']} items in "
          f"{res['wall_s']:.1f} s: {res['files_per_s']:.1f} files/s with {res['workers']} workers "
          f"({res['files_per_s_per_worker']:.1f} per worker){'' if res['complete'] else ' — incomplete, rerun to resume'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

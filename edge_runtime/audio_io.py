"""Reading audio files for the analyzer, with one clear error per unusable input.

Every failure raises :class:`~nomad_muse.errors.InputError` whose message
says what was wrong with which file and what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nomad_muse.errors import InputError

log = logging.getLogger(__name__)

#: channel count → the BS.1770-4 layout name the loudness meter weights (Table 3)
LAYOUT_BY_CHANNELS = {1: "mono", 2: "stereo", 5: "5.0", 6: "5.1"}

MIN_SR_HZ = 8000
MAX_SR_HZ = 192000
#: Shorter files cannot hold one 400 ms gating block (BS.1770-4 §2.8).
MIN_DURATION_S = 0.4
#: Read in blocks of this many frames (bounded memory, streaming analyzer path).
READ_BLOCK = 1 << 17
#: File names every command that reads audio accepts (analyze, classify, evaluate, adapt).
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".oga", ".mp3", ".w64", ".caf")


@dataclass(frozen=True)
class AudioInfo:
    """What a file declares: ``sr`` in Hz, ``frames`` per channel, ``layout`` (mono/stereo/5.0/5.1)."""

    path: str
    sr: int
    channels: int
    frames: int
    layout: str
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sr


def probe_audio(path: str | Path, *, min_duration_s: float = MIN_DURATION_S) -> AudioInfo:
    """Validate a file's existence, container, rate, channel layout and length (no samples read).

    ``min_duration_s`` defaults to one loudness gating block; the classifier
    passes 0 (a 50 ms one-shot is real input there)."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an audio file; pass a file (WAV, FLAC, AIFF or OGG)")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty (0 bytes); re-export or re-copy it")
    try:
        info = sf.info(str(p))
    except Exception as e:
        reason = str(e).split("\n")[-1].strip() or type(e).__name__
        raise InputError(f"{p}: not a readable audio file ({reason}); export it as WAV, FLAC, AIFF or OGG") from None
    layout = LAYOUT_BY_CHANNELS.get(info.channels)
    if layout is None:
        raise InputError(
            f"{p}: has {info.channels} channels; supported layouts are mono, stereo, 5.0 and 5.1 "
            "(L R C [LFE] Ls Rs): downmix it first"
        )
    if not (MIN_SR_HZ <= info.samplerate <= MAX_SR_HZ):
        raise InputError(
            f"{p}: sample rate {info.samplerate} Hz is outside {MIN_SR_HZ}-{MAX_SR_HZ} Hz; resample it first"
        )
    if info.frames <= 0:
        raise InputError(f"{p}: contains no audio frames (header only or truncated); re-export it")
    if info.frames < min_duration_s * info.samplerate:
        raise InputError(
            f"{p}: is {info.frames / info.samplerate * 1000:.0f} ms long ({info.frames} samples); "
            f"loudness needs at least {min_duration_s * 1000:.0f} ms (one BS.1770 gating block)"
        )
    return AudioInfo(path=str(p), sr=int(info.samplerate), channels=int(info.channels), frames=int(info.frames),
                     layout=layout, format=info.format, subtype=info.subtype)


def check_block(block: np.ndarray, *, where: str, offset: int) -> None:
    """Raise InputError if a block has NaN or infinite samples (``offset`` = its first frame)."""
    bad = ~np.isfinite(block)
    if bad.any():
        i = int(np.argmax(bad.any(axis=1) if block.ndim == 2 else bad))
        raise InputError(
            f"{where}: contains NaN or infinite samples (first at sample {offset + i}); "
            "re-export it from the DAW (float files can carry these after a bad plug-in)"
        )


def iter_blocks(info: AudioInfo, *, block: int = READ_BLOCK, min_duration_s: float = MIN_DURATION_S,
                dtype: str = "float64"):
    """Yield validated blocks ``(n, channels)`` of a probed file (``dtype`` float64 or float32).

    Memory is one block whatever the file's length: callers that stream
    (analyze, classify, demo, evaluate, adapt) never hold the whole file."""
    import soundfile as sf

    offset = 0
    failed = None
    for size in (block, 4096) if block > 4096 else (block,):
        # a truncated FLAC/OGG fails on the read that crosses the cut: retry from there in small blocks
        failed = None
        try:
            with sf.SoundFile(info.path) as f:
                if offset:
                    f.seek(offset)
                while True:
                    data = f.read(size, dtype=dtype, always_2d=True)
                    if data.shape[0] == 0:
                        break
                    check_block(data, where=info.path, offset=offset)
                    offset += data.shape[0]
                    yield data
        except InputError:
            raise
        except Exception as e:
            failed = str(e).split("\n")[-1].strip() or type(e).__name__
        if failed is None:
            break
    need = min(min_duration_s * info.sr, info.frames)
    if failed is not None and (offset == 0 or offset < need):
        raise InputError(f"{info.path}: reading failed after {offset} samples ({failed}); the file looks corrupt or truncated")
    if offset < need or offset == 0:
        raise InputError(f"{info.path}: only {offset} samples could be read; the file looks truncated")
    declared = max(info.frames, declared_wav_frames(info.path) or 0)
    if failed is not None or offset < declared:
        log.warning("%s: truncated: the header declares %.2f s, only %.2f s could be read; using what is there",
                    info.path, declared / info.sr, offset / info.sr)


def declared_wav_frames(path: str | Path) -> int | None:
    """Frames a RIFF/WAVE header's ``data`` chunk declares (``None``: not a WAV, or a streaming size).

    libsndfile clamps a truncated WAV's length to what is on disk, so the
    promise in the header is read here (RIFF chunk walk, at most 64 chunks
    of the first 1 MiB: bounded on hostile files)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return None
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    end = "<" if head[:4] == b"RIFF" else ">"
    pos, align = 12, None
    for _ in range(64):
        if pos + 8 > len(head):
            return None
        cid, size = head[pos:pos + 4], struct.unpack(end + "I", head[pos + 4:pos + 8])[0]
        if cid == b"fmt " and pos + 22 <= len(head):
            align = struct.unpack(end + "H", head[pos + 20:pos + 22])[0]
        elif cid == b"data":
            if not align or size in (0, 0xFFFFFFFF):
                return None
            return size // align
        pos += 8 + size + (size & 1)
    return None


def iter_mono(info: AudioInfo, *, block: int = READ_BLOCK):
    """Yield float32 mono blocks (the channel mean) of a probed file, one block in memory at a time."""
    for b in iter_blocks(info, block=block, min_duration_s=0.0, dtype="float32"):
        yield b.mean(axis=1, dtype=np.float32) if b.shape[1] > 1 else b[:, 0]



def read_audio(path: str | Path, *, min_duration_s: float = MIN_DURATION_S) -> tuple[np.ndarray, AudioInfo]:
    """Read a whole file as float64 ``(n, channels)`` after :func:`probe_audio` validation."""
    info = probe_audio(path, min_duration_s=min_duration_s)
    y = np.concatenate(list(iter_blocks(info, min_duration_s=min_duration_s)), axis=0)
    return y, info

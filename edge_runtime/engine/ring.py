"""Pre-allocated single-producer / single-consumer ring buffers.

The audio callback and the workers exchange data only through these.  All
memory is allocated in ``__init__``; ``write``/``read`` copy into or out of
pre-made block views with :func:`numpy.copyto`, take no lock and create no
array.  Correctness relies on one producer and one consumer per ring, and on
CPython updating an attribute atomically: the producer publishes a block by
advancing ``w`` *after* the copy, the consumer frees it by advancing ``r``
after its copy.
"""

from __future__ import annotations

import numpy as np

from nomad_muse.errors import ParameterError


class BlockRing:
    """A ring of fixed-size audio blocks ``(block, channels)`` float32.

    Parameters
    ----------
    n_blocks : int
        Capacity in blocks (>= 2).
    block : int
        Samples per block.
    channels : int
        Channels per sample.
    """

    def __init__(self, n_blocks: int, block: int, channels: int) -> None:
        if n_blocks < 2 or block < 1 or channels < 1:
            raise ParameterError(f"ring of {n_blocks} blocks × {block} samples × {channels} channels is not valid")
        self.n_blocks, self.block, self.channels = int(n_blocks), int(block), int(channels)
        self.buf = np.zeros((self.n_blocks * self.block, self.channels), np.float32)
        self._slots = [self.buf[i * self.block:(i + 1) * self.block] for i in range(self.n_blocks)]
        self.w = 0  # blocks written (absolute)
        self.r = 0  # blocks read (absolute)

    # -- producer --------------------------------------------------------------------------
    def space(self) -> int:
        """Free blocks."""
        return self.n_blocks - (self.w - self.r)

    def write(self, x: np.ndarray) -> bool:
        """Copy one block in; False (nothing written) when the ring is full.  Real-time safe."""
        if self.w - self.r >= self.n_blocks:
            return False
        np.copyto(self._slots[self.w % self.n_blocks], x, casting="unsafe")
        self.w += 1
        return True

    def write_slot(self) -> np.ndarray | None:
        """The next free block to fill in place (then call :meth:`commit`), or None when full."""
        if self.w - self.r >= self.n_blocks:
            return None
        return self._slots[self.w % self.n_blocks]

    def commit(self) -> None:
        self.w += 1

    # -- consumer --------------------------------------------------------------------------
    def available(self) -> int:
        """Blocks ready to read."""
        return self.w - self.r

    def peek(self) -> np.ndarray | None:
        """The oldest unread block (a view; valid until :meth:`release`), or None when empty."""
        if self.w == self.r:
            return None
        return self._slots[self.r % self.n_blocks]

    def release(self) -> None:
        self.r += 1

    def read(self, out: np.ndarray) -> bool:
        """Copy the oldest block into ``out``; False when empty.  Real-time safe."""
        if self.w == self.r:
            return False
        np.copyto(out, self._slots[self.r % self.n_blocks])
        self.r += 1
        return True

    def drop(self, n: int) -> int:
        """Discard up to ``n`` oldest blocks (consumer side); returns how many."""
        k = min(n, self.w - self.r)
        self.r += k
        return k


def recent_max(ring: np.ndarray, *, written: int, n: int) -> float:
    """Largest of the newest ``min(n, written, ring.size)`` values of a circular record.

    ``ring`` holds value ``k`` at index ``k % ring.size`` and ``written`` values
    have been stored so far, so the newest are ``written - 1``, ``written - 2``, …
    — across the wrap when ``written % ring.size < n``.  0.0 when nothing is
    written.  Not for the audio callback (it may read two slices); workers call it.
    """
    size = ring.size
    n = min(n, written, size)
    if n <= 0:
        return 0.0
    end = written % size
    if end >= n:
        return float(ring[end - n:end].max())
    tail = ring[size - (n - end):]
    return float(max(tail.max(), ring[:end].max())) if end else float(tail.max())

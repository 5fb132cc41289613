"""Out-of-core writing: a file's tensors generated and written in bounded blocks.

:func:`contiguous_blocks` cuts an array into slabs in file order and
:class:`ChunkWriter` writes them from reusable buffers of at most
:data:`CHUNK_BYTES` (two with background writes), so memory stays bounded
whatever the file size.  :func:`write_file` puts it together: a header, then
every job's C-ordered data in the order given, through an
:class:`~fastinit.cli.atomic.AtomicFile`.  It serves every format whose data
is the raw tensors one after another (see :mod:`fastinit.cli.formats`),
whatever the number of tensors in the file.
"""

from __future__ import annotations

import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from fastinit.cli.atomic import AtomicFile, SignalsToExceptions, check_free_space, report_removed_parts
from fastinit.cli.errors import RuntimeFailure, os_error_text
from fastinit.cli.jobs import TensorJob
from fastinit.cli.progress import MIB, Progress

# Out-of-core writing: blocks of at most this size (one buffer; two with background writes).
CHUNK_BYTES = 64 * MIB


# ---------------------------------------------------------------------------
# Cutting an array into blocks in file order
# ---------------------------------------------------------------------------

def contiguous_blocks(shape: tuple, max_elements: int) -> Iterator[tuple]:
    """Regions that cut ``shape`` into C-order-contiguous slabs of at most ``max_elements``.

    Usually slabs of whole rows (slices of axis 0).  When one row is larger
    than ``max_elements``, the leading axes are taken one index at a time and
    the first axis whose trailing block fits is sliced.  The slabs come in
    file order and cover the array exactly once.
    """
    ndim = len(shape)
    if ndim == 0:                            # a scalar: one block of one element
        yield ()
        return
    trailing = [1] * (ndim + 1)              # trailing[k] = prod(shape[k:])
    for axis in reversed(range(ndim)):
        trailing[axis] = trailing[axis + 1] * shape[axis]
    split = next(axis for axis in range(ndim) if trailing[axis + 1] <= max_elements)
    step = max(1, max_elements // trailing[split + 1])
    for outer in np.ndindex(*shape[:split]):
        lead = tuple(slice(i, i + 1) for i in outer)
        for start in range(0, shape[split], step):
            yield lead + (slice(start, min(start + step, shape[split])),)


def region_extents(shape: tuple, region: tuple) -> tuple:
    return tuple(s.stop - s.start for s in region) + tuple(shape[len(region):])


# ---------------------------------------------------------------------------
# Filling and writing in bounded chunks
# ---------------------------------------------------------------------------

def background_writes_pay_off() -> bool:
    """Whether to write one block while filling the next.

    The writer thread takes a core from the fill's threads; with fewer than
    four cores that costs more than the overlap gains (measured on 2 cores).
    """
    return (os.cpu_count() or 1) >= 4


class ChunkWriter:
    """Reusable buffers for the blocks of a file, written in order.

    With ``background=True`` there are two buffers and a writer thread:
    block ``i`` is written while block ``i + 1`` is filled.  Otherwise one
    buffer, written synchronously.
    """

    def __init__(self, output: AtomicFile, progress: Progress, chunk_bytes: Optional[int] = None,
                 background: Optional[bool] = None):
        self.output = output
        self.progress = progress
        self.chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        self.background = background_writes_pay_off() if background is None else background
        self.buffers: list = []
        self.turn = 0
        self.pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastinit-writer")
                     if self.background else None)
        self.pending = None
        self.pending_bytes = 0

    def next_buffer(self) -> np.ndarray:
        """A uint8 buffer of ``chunk_bytes`` that no pending write is using."""
        if len(self.buffers) < (2 if self.background else 1):
            self.buffers.append(np.empty(self.chunk_bytes, dtype=np.uint8))
        buffer = self.buffers[self.turn % len(self.buffers)]
        self.turn += 1
        return buffer

    def submit(self, data) -> None:
        """Write ``data``: in the background (after the previous write is done) or now."""
        if not self.background:
            self.output.write(data)
            self.progress.advance(memoryview(data).nbytes)
            return
        self.wait()
        self.pending_bytes = memoryview(data).nbytes
        self.pending = self.pool.submit(self.output.write, data)

    def wait(self) -> None:
        """Wait for the write in flight, if any (re-raising its error)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()
            self.progress.advance(self.pending_bytes)

    def close(self) -> None:
        """Let a write in flight finish (so the file can be closed) and stop the thread."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.buffers.clear()


def write_tensor(job: TensorJob, writer: ChunkWriter) -> float:
    """Generate ``job`` block by block into ``writer``'s buffers, in file order.

    Returns the seconds spent generating (not writing).
    """
    if job.size == 0:                       # an empty array: the header says it all
        return 0.0
    if job.whole_matrix:
        start = time.perf_counter()
        data = job.compute_whole().reshape(-1).view(np.uint8)
        generating = time.perf_counter() - start
        for offset in range(0, data.size, writer.chunk_bytes):
            writer.submit(data[offset:offset + writer.chunk_bytes])
        writer.wait()
        return generating
    generating = 0.0
    itemsize = job.dtype.itemsize
    for region in contiguous_blocks(job.shape, writer.chunk_bytes // itemsize):
        extents = region_extents(job.shape, region)
        nbytes = math.prod(extents) * itemsize
        raw = writer.next_buffer()[:nbytes]
        start = time.perf_counter()
        job.fill_region(raw.view(job.dtype).reshape(extents), region)
        generating += time.perf_counter() - start
        writer.submit(raw)
    writer.wait()
    return generating


def write_file(path: Path, header: bytes, jobs: list, force: bool, quiet: bool) -> tuple:
    """Write ``header`` and then every job's data to ``path`` safely.

    Returns
    -------
    seconds, generating_seconds : float
        The whole write (fsync and rename included), and the part of it
        spent generating values.
    """
    total = len(header) + sum(job.nbytes for job in jobs)
    check_free_space(path, total)
    progress = Progress(total, enabled=not quiet and sys.stderr.isatty())
    output = AtomicFile(path, force)
    start = time.perf_counter()
    generating = 0.0
    with SignalsToExceptions() as signals:
        writer = None
        try:
            output.open()
            if output.removed_stale and not quiet:
                report_removed_parts(path.parent, output.removed_stale)
            output.write(header)
            progress.advance(len(header))
            writer = ChunkWriter(output, progress)
            for job in jobs:
                generating += write_tensor(job, writer)
            writer.close()
            writer = None
            output.sync()
            signals.ignore()                   # the data is on disk: only the rename is left
            output.publish()
        except BaseException as exc:
            signals.ignore()
            if writer is not None:
                writer.close()
            output.discard()
            progress.close()
            if isinstance(exc, OSError):
                raise RuntimeFailure(f"writing {str(path)!r} failed: {os_error_text(exc)}; "
                                     "nothing was written") from None
            raise
        progress.close()
    return time.perf_counter() - start, generating

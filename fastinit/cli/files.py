"""Weight files on disk: their formats, safe writing, and reading them back.

* Formats: the ``.npy`` header ``np.save`` writes and the ``.safetensors``
  header (stored largest item size first, so every tensor is aligned).
* Safe writing: :func:`check_target` and :func:`check_free_space` refuse
  early; :class:`AtomicFile` writes a hidden temporary file next to the target
  and renames it into place once it is synced; :class:`SignalsToExceptions`
  turns Ctrl-C/SIGTERM/SIGHUP into an exception so it is cleaned up.
* Out-of-core writing: :func:`contiguous_blocks` cuts an array into slabs in
  file order and :class:`ChunkWriter` writes them from reusable buffers of
  at most :data:`CHUNK_BYTES` (:func:`write_file` puts it all together).
* Reading: :func:`read_tensors` finds the tensors of a ``.npy`` or
  ``.safetensors`` file and :func:`tensor_chunks` reads one in bounded chunks.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import struct
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np

from fastinit._validate import as_dtype
from fastinit.cli.errors import Interrupted, RuntimeFailure, UsageError, os_error_text
from fastinit.cli.progress import Progress, format_bytes
from fastinit.cli.schemes import dtype_name

if TYPE_CHECKING:
    from fastinit.cli.init_command import TensorJob

MIB = 1 << 20

# Out-of-core writing: blocks of at most this size (one buffer; two with background writes).
CHUNK_BYTES = 64 * MIB

SAFETENSORS_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64"}
SAFETENSORS_READ_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bfloat16",
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
}
OUTPUT_SUFFIXES = (".npy", ".safetensors")
TEMP_SUFFIX = ".fastinit-part"
INSPECT_CHUNK_ELEMENTS = 1 << 22       # reading: values per chunk


# ---------------------------------------------------------------------------
# File formats
# ---------------------------------------------------------------------------

def npy_header(shape: tuple, dtype: np.dtype) -> bytes:
    """The header ``np.save`` writes for a C-ordered array (bfloat16 is stored as ``<V2``)."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": tuple(shape)}
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buffer, header)
    except ValueError:                      # header over 64 KiB: format 2.0
        buffer = io.BytesIO()
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def safetensors_layout(jobs: list) -> list:
    """The order tensors are stored in: by item size, largest first (so every
    tensor starts aligned to its item size), then in the order given."""
    return sorted(jobs, key=lambda job: -job.dtype.itemsize)


def safetensors_header(jobs: list, metadata: dict) -> bytes:
    """8-byte little-endian length, then the JSON header padded with spaces to 8 bytes."""
    header = {"__metadata__": metadata}
    offset = 0
    for job in jobs:
        header[job.name] = {"dtype": SAFETENSORS_DTYPES[dtype_name(job.dtype)],
                            "shape": list(job.shape), "data_offsets": [offset, offset + job.nbytes]}
        offset += job.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise UsageError(f"unsupported output format {path.suffix or '(no suffix)'!r} for {str(path)!r}; "
                         f"the file name must end in {' or '.join(OUTPUT_SUFFIXES)}")
    return suffix[1:]


# ---------------------------------------------------------------------------
# Safe writing
# ---------------------------------------------------------------------------

def check_target(path: Path, force: bool) -> None:
    """Refuse early what would fail later: missing directory, a directory as target, no --force."""
    parent = path.parent
    if not parent.exists():
        raise RuntimeFailure(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise RuntimeFailure(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if path.is_dir():
        raise RuntimeFailure(f"cannot write {str(path)!r}: it is a directory")
    if path.exists() and not force:
        raise RuntimeFailure(f"{str(path)!r} already exists; pass --force to overwrite it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RuntimeFailure(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")


def check_free_space(path: Path, nbytes: int) -> None:
    try:
        stat = os.statvfs(path.parent)
    except (OSError, AttributeError):
        return
    if stat.f_blocks == 0:                 # a pseudo file system (/proc): let the write fail
        return
    available = stat.f_bavail * stat.f_frsize
    if nbytes > available:
        raise RuntimeFailure(
            f"not enough free space for {str(path)!r}: it needs {format_bytes(nbytes)} "
            f"({nbytes:,} bytes) and {str(path.parent)!r} has {format_bytes(available)} available"
        )


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A hidden temporary file next to ``target`` that becomes ``target`` once complete.

    Until then the target is untouched; :meth:`discard` (called for any
    exception, including Ctrl-C) removes the temporary file.  Committing is
    :meth:`sync` (fsync, the slow part) and then :meth:`publish` (rename).
    """

    def __init__(self, target: Path, force: bool):
        self.target = target
        self.force = force
        self.fd: Optional[int] = None
        self.temp_path: Optional[str] = None

    def open(self) -> int:
        try:
            self.fd, self.temp_path = tempfile.mkstemp(
                prefix=f".{self.target.name}.", suffix=TEMP_SUFFIX, dir=self.target.parent)
            os.fchmod(self.fd, 0o666 & ~_current_umask())
        except OSError as exc:
            raise RuntimeFailure(f"cannot create a file in {str(self.target.parent)!r}: "
                                 f"{os_error_text(exc)}") from None
        return self.fd

    def write(self, data) -> None:
        """Write all of ``data`` (a bytes-like object)."""
        view = memoryview(data).cast("B")
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def sync(self) -> None:
        """Flush the data to the disk and close the file."""
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None

    def publish(self) -> None:
        """Move the synced file into place (refusing to replace a target that appeared meanwhile)."""
        if self.force:
            os.replace(self.temp_path, self.target)
        else:
            try:
                os.link(self.temp_path, self.target)     # fails if the target exists: no clobbering
            except FileExistsError:
                raise RuntimeFailure(f"{str(self.target)!r} already exists; pass --force to "
                                     "overwrite it") from None
            except OSError:                              # no hard links here (FAT, some FUSE)
                if self.target.exists():
                    raise RuntimeFailure(f"{str(self.target)!r} already exists; pass --force to "
                                         "overwrite it") from None
                os.replace(self.temp_path, self.target)
            else:
                os.unlink(self.temp_path)
        self.temp_path = None
        try:
            directory = os.open(self.target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(directory)
        except OSError:
            pass
        finally:
            os.close(directory)

    def discard(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None
        if self.temp_path is not None:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass
            self.temp_path = None


class SignalsToExceptions:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` while writing."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted(signum)

    def ignore(self) -> None:
        """Ignore further signals (while cleaning up)."""
        for signum in self.previous:
            signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False


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
    if job.scheme.whole_matrix:
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


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

@dataclass
class StoredTensor:
    """Where a tensor's bytes are in a file."""

    path: Path
    name: str
    dtype: np.dtype
    shape: tuple
    offset: int
    note: str = ""

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def read_npy_tensor(path: Path, handle) -> StoredTensor:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
    note = ""
    if dtype.kind == "V" and dtype.itemsize == 2 and not dtype.fields:
        dtype, note = as_dtype("bfloat16"), " (stored as |V2 in .npy; read as bfloat16)"
    if dtype.kind not in "fiub" and dtype != as_dtype("bfloat16"):
        raise RuntimeFailure(f"{str(path)!r} holds dtype {dtype}, which inspect does not read")
    if fortran_order:
        note += " (Fortran order)"
    return StoredTensor(path, "", dtype, tuple(shape), handle.tell(), note)


def read_safetensors_tensors(path: Path, handle) -> list:
    length = struct.unpack("<Q", handle.read(8))[0]
    if length > 100 * MIB:
        raise ValueError("header too large")
    header = json.loads(handle.read(length).decode("utf-8"))
    base = 8 + length
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        code = entry["dtype"]
        if code not in SAFETENSORS_READ_DTYPES:
            raise RuntimeFailure(f"tensor {name!r} of {str(path)!r} has dtype {code}, which inspect "
                                 "does not read")
        dtype = as_dtype("bfloat16") if code == "BF16" else np.dtype(SAFETENSORS_READ_DTYPES[code])
        begin, end = entry["data_offsets"]
        shape = tuple(int(d) for d in entry["shape"])
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise ValueError(f"tensor {name!r}: data_offsets do not match shape and dtype")
        tensors.append(StoredTensor(path, name, dtype, shape, base + begin))
    return sorted(tensors, key=lambda t: t.offset)


def read_tensors(path: Path) -> list:
    """The tensors of a ``.npy`` or ``.safetensors`` file (recognized by content)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
            handle.seek(0)
            if magic == b"\x93NUMPY":
                return [read_npy_tensor(path, handle)]
            try:
                return read_safetensors_tensors(path, handle)
            except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
                raise RuntimeFailure(f"{str(path)!r} is neither a .npy nor a .safetensors file") from None
    except OSError as exc:
        raise RuntimeFailure(f"cannot read {str(path)!r}: {os_error_text(exc)}") from None


def tensor_chunks(tensor: StoredTensor, chunk_elements: int = INSPECT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
    """The tensor's values as float64 chunks, read into one reusable buffer (bounded memory)."""
    itemsize = tensor.dtype.itemsize
    buffer = np.empty(min(chunk_elements, max(tensor.size, 1)) * itemsize, dtype=np.uint8)
    with open(tensor.path, "rb", buffering=0) as handle:
        handle.seek(tensor.offset)
        remaining = tensor.size
        while remaining:
            count = min(remaining, chunk_elements)
            view = memoryview(buffer)[:count * itemsize]
            got = 0
            while got < len(view):
                n = handle.readinto(view[got:])
                if not n:
                    raise RuntimeFailure(f"{str(tensor.path)!r} is truncated")
                got += n
            yield buffer[:count * itemsize].view(tensor.dtype).astype(np.float64)
            remaining -= count


def write_text(path: Path, text: str) -> None:
    """Write a small text file (``--json``); an OSError becomes a one-line error."""
    try:
        path.write_text(text)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {str(path)!r}: {os_error_text(exc)}") from None


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

import errno
import hashlib
import io
import json
import math
import os
import re
import signal
import stat
import struct
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

try:
    import fcntl
except ImportError:                            # not POSIX: no locks, so no stale-file cleanup
    fcntl = None

import numpy as np

from fastinit._validate import as_dtype
from fastinit.cli.errors import Interrupted, RuntimeFailure, UsageError, os_error_text
from fastinit.cli.progress import Progress, format_bytes
from fastinit.cli.schemes import abbreviate as abbreviate_text
from fastinit.cli.schemes import dtype_name, format_shape

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
SAFETENSORS_MAX_HEADER = 100 * MIB     # as the safetensors library: a longer header is refused


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


def host_tag() -> str:
    """8 hex digits naming this machine (a hash of its host name) in temporary file names.

    Only files tagged with our own host are ever removed as stale: on a file
    system shared between machines, locks may be local to each machine (NFS
    ``nolock``, Lustre ``localflock``), so another machine's live write could
    look unlocked from here.
    """
    try:
        node = os.uname().nodename
    except AttributeError:
        node = ""
    return hashlib.blake2b(node.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()


def temp_name_pattern(tag: str) -> re.Pattern:
    """Our temporary files: ``.NAME.TAG.XXXXXXXX.fastinit-part`` (mkstemp's 8 random characters)."""
    return re.compile(r"\..+\." + re.escape(tag) + r"\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def _lock(fd: int) -> bool:
    """Take an exclusive flock on ``fd`` without waiting; False if another process holds one.

    Raises OSError when the file system has no locks (then nothing is ever
    treated as stale there).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def remove_stale_parts(directory: Path, keep: str = "") -> list:
    """Remove the temporary files of writes that died (``kill -9``, a crash, a power cut).

    A writer holds an exclusive ``flock`` on its temporary file from just after
    creating it until it is renamed into place or removed; the kernel drops the
    lock when the process dies, however it dies.  So a file named like ours
    that can be locked has no live writer, and is removed while we hold its
    lock.  A file we cannot open or lock (another user's, a live writer's, a
    file system without locks), another machine's (see :func:`host_tag`) or
    one of an older fastinit (no tag: it did not lock) is left alone.
    ``keep`` is our own file's name.

    Returns
    -------
    list of (str, int)
        The names removed and their sizes in bytes.
    """
    if fcntl is None:
        return []
    removed = []
    ours = temp_name_pattern(host_tag())
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if entry.name == keep or not ours.fullmatch(entry.name):
            continue
        path = os.path.join(directory, entry.name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and _lock(fd) and _same_file(fd, path):
                os.unlink(path)
                removed.append((entry.name, info.st_size))
        except OSError:
            pass
        finally:
            os.close(fd)                       # releases the lock
    return removed


class AtomicFile:
    """A hidden temporary file next to ``target`` that becomes ``target`` once complete.

    Until then the target is untouched; :meth:`discard` (called for any
    exception, including Ctrl-C) removes the temporary file.  Committing is
    :meth:`sync` (fsync, the slow part) and then :meth:`publish` (rename).
    The file stays open, under an exclusive ``flock``, until it is published
    or discarded: that lock is how :func:`remove_stale_parts` (run by
    :meth:`open`) tells a live write from the leftovers of a killed one.
    """

    def __init__(self, target: Path, force: bool):
        self.target = target
        self.force = force
        self.fd: Optional[int] = None
        self.temp_path: Optional[str] = None
        self.removed_stale: list = []

    def open(self) -> int:
        locks = fcntl is not None
        try:
            for _ in range(100):
                fd, temp_path = tempfile.mkstemp(
                    prefix=f".{self.target.name}.{host_tag()}.", suffix=TEMP_SUFFIX,
                    dir=self.target.parent)
                if not locks:
                    break
                try:
                    locked = _lock(fd)
                except OSError:                  # no locks on this file system: no cleanup either
                    locks = False
                    break
                # Another fastinit may have found the new file unlocked and removed it (or hold
                # it to do so) in the moment before the lock: then take another name.
                if locked and _same_file(fd, temp_path):
                    break
                os.close(fd)
            else:
                raise OSError(errno.EEXIST, "no temporary file could be created and locked")
            self.fd, self.temp_path = fd, temp_path
            os.fchmod(self.fd, 0o666 & ~_current_umask())
        except OSError as exc:
            raise RuntimeFailure(f"cannot create a file in {str(self.target.parent)!r}: "
                                 f"{os_error_text(exc)}") from None
        if locks:
            self.removed_stale = remove_stale_parts(self.target.parent, os.path.basename(self.temp_path))
        return self.fd

    def write(self, data) -> None:
        """Write all of ``data`` (a bytes-like object)."""
        view = memoryview(data).cast("B")
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def sync(self) -> None:
        """Flush the data to the disk (the file stays open, and locked, until published)."""
        os.fsync(self.fd)

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
        os.close(self.fd)
        self.fd = None
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
        """Remove the temporary file (while still holding its lock), then close it."""
        if self.temp_path is not None:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass
            self.temp_path = None
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


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
    if job.size == 0:                       # an empty array: the header says it all
        return 0.0
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


def report_removed_parts(directory: Path, removed: list) -> None:
    """One stderr line naming the leftovers of killed writes that were just removed."""
    names = ", ".join(f"{name!r} ({format_bytes(size)})" for name, size in removed[:3])
    more = f" and {len(removed) - 3} more" if len(removed) > 3 else ""
    what = "file of a killed write" if len(removed) == 1 else "files of killed writes"
    sys.stderr.write(f"fastinit: removed {len(removed)} stale temporary {what} from "
                     f"{str(directory)!r}: {names}{more}\n")
    sys.stderr.flush()


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


class BadFile(ValueError):
    """A weight file whose header is malformed (raised by the readers below)."""


def _check_extent(path: Path, tensor: StoredTensor, file_size: int, what: str) -> None:
    end = tensor.offset + tensor.size * tensor.dtype.itemsize
    if end > file_size:
        raise BadFile(f"{what} needs bytes {tensor.offset:,} to {end:,} but the file has "
                      f"{file_size:,} (truncated?)")


def read_npy_tensor(path: Path, handle, file_size: int) -> StoredTensor:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise BadFile(f"unknown .npy format version {version[0]}.{version[1]}")
    except BadFile:
        raise
    except (ValueError, SyntaxError, TypeError, KeyError, EOFError, OverflowError, MemoryError,
            RecursionError, UnicodeDecodeError, struct.error) as exc:
        raise BadFile(f"its .npy header cannot be read ({type(exc).__name__}: {exc})") from None
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise BadFile(f"its .npy header gives the shape {abbreviate_text(shape)}; dimensions "
                      "must be non-negative integers")
    note = ""
    if dtype.kind == "V" and dtype.itemsize == 2 and not dtype.fields:
        dtype, note = as_dtype("bfloat16"), " (stored as |V2 in .npy; read as bfloat16)"
    if dtype.kind not in "fiub" and dtype != as_dtype("bfloat16"):
        raise RuntimeFailure(f"{str(path)!r} holds dtype {dtype}, which inspect does not read")
    if fortran_order:
        note += " (Fortran order)"
    tensor = StoredTensor(path, "", dtype, tuple(shape), handle.tell(), note)
    _check_extent(path, tensor, file_size, f"its {format_shape(tensor.shape)} {dtype} array")
    return tensor


def _safetensors_entry(path: Path, name: str, entry, base: int, file_size: int) -> StoredTensor:
    """One tensor of a safetensors header, every field checked."""
    label = f"tensor {abbreviate_text(name)}"
    if not isinstance(entry, dict):
        raise BadFile(f"{label} is not an object with dtype, shape and data_offsets")
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in entry]
    if missing:
        raise BadFile(f"{label} has no {missing[0]!r}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str):
        raise BadFile(f"{label} has dtype {abbreviate_text(code)}, not a dtype code")
    if code not in SAFETENSORS_READ_DTYPES:
        raise RuntimeFailure(f"tensor {name!r} of {str(path)!r} has dtype {abbreviate_text(code)}, "
                             "which inspect does not read")
    if (not isinstance(shape, list)
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape)):
        raise BadFile(f"{label} has shape {abbreviate_text(shape)}; dimensions must be "
                      "non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or any(isinstance(o, bool) or not isinstance(o, int) or o < 0 for o in offsets)):
        raise BadFile(f"{label} has data_offsets {abbreviate_text(offsets)}; they must be two "
                      "non-negative integers [begin, end]")
    dtype = as_dtype("bfloat16") if code == "BF16" else np.dtype(SAFETENSORS_READ_DTYPES[code])
    begin, end = offsets
    nbytes = math.prod(shape) * dtype.itemsize
    if end < begin or end - begin != nbytes:
        raise BadFile(f"{label} has data_offsets [{begin:,}, {end:,}], which do not hold its "
                      f"shape {abbreviate_text(shape)} of {code} ({nbytes:,} bytes)")
    tensor = StoredTensor(path, name, dtype, tuple(shape), base + begin)
    _check_extent(path, tensor, file_size, label)
    return tensor


def read_safetensors_tensors(path: Path, handle, file_size: int) -> list:
    """The tensors of a safetensors file, the header checked as the format requires.

    Raises NotSafetensors when the file does not even look like one, BadFile
    when it does but its header is wrong.
    """
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise NotSafetensors("it is shorter than 8 bytes")
    length = struct.unpack("<Q", prefix)[0]
    if length > min(SAFETENSORS_MAX_HEADER, file_size - 8):
        raise NotSafetensors(f"its first 8 bytes give a safetensors header of {length:,} bytes, "
                             f"and the file has {file_size:,}")
    text = handle.read(length)
    try:
        header = json.loads(text.decode("utf-8"))
    except RecursionError:
        raise BadFile("its safetensors header is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise NotSafetensors("its header is not JSON") from None
    if not isinstance(header, dict):
        raise BadFile("its safetensors header is not a JSON object")
    base = 8 + length
    tensors = [_safetensors_entry(path, name, entry, base, file_size)
               for name, entry in header.items() if name != "__metadata__"]
    tensors.sort(key=lambda t: (t.offset, t.size * t.dtype.itemsize))
    for before, after in zip(tensors, tensors[1:]):
        if before.offset + before.size * before.dtype.itemsize > after.offset:
            raise BadFile(f"the data of tensors {abbreviate_text(before.name)} and "
                          f"{abbreviate_text(after.name)} overlap")
    return tensors


class NotSafetensors(ValueError):
    """The file is not laid out as a safetensors file at all."""


def read_tensors(path: Path) -> list:
    """The tensors of a ``.npy`` or ``.safetensors`` file (recognized by content).

    A malformed header is a :class:`RuntimeFailure` naming the file and what is wrong.
    """
    try:
        with open(path, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            magic = handle.read(6)
            handle.seek(0)
            try:
                if magic == b"\x93NUMPY":
                    return [read_npy_tensor(path, handle, file_size)]
                return read_safetensors_tensors(path, handle, file_size)
            except NotSafetensors as exc:
                raise RuntimeFailure(f"{str(path)!r} is neither a .npy nor a .safetensors file "
                                     f"({exc})") from None
            except BadFile as exc:
                kind = ".npy" if magic == b"\x93NUMPY" else ".safetensors"
                raise RuntimeFailure(f"{str(path)!r} is not a valid {kind} file: {exc}") from None
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


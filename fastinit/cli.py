"""The ``fastinit`` command line: write initialized weight files, benchmark, inspect.

Usage
-----
::

    fastinit init he_normal 100000x1024 -o embedding.npy
    fastinit init normal 50000,4096 --param std=0.02 --dtype bfloat16 \\
        -o embed.safetensors --name embed.weight
    fastinit init --spec model.toml -o model.safetensors
    fastinit bench --size-mib 256 --json bench.json --plot bench.png
    fastinit inspect embedding.npy --plot histogram.png
    fastinit info

``python -m fastinit ...`` runs the same command line (``main`` below).

``init``
    Writes ``SCHEME(SHAPE, **params, dtype=..., seed=..., stream=...)`` to a
    ``.npy`` or ``.safetensors`` file, bit-identical to the Python call with
    the same arguments.  Every scheme of the Python API that takes ``shape``,
    ``out``, ``dtype`` and ``region`` is a SCHEME; the table is read from the
    functions' signatures, as are the ``--param NAME=VALUE`` names and the
    type a value is parsed as.  ``--seed`` defaults to 0, so the same command
    always writes the same file.

    The file is written out of core: rows are generated with ``region=`` into
    a reusable 64 MiB buffer and written block by block (with four or more
    cores, two buffers: one is filled while the other is written), so the
    process stays under about 250 MiB of anonymous memory whatever the file
    size.  ``orthogonal`` and ``sparse`` need the whole matrix: they are
    computed in memory and refused above ``WHOLE_MATRIX_MAX_ELEMENTS``
    (2**24 elements, e.g. 4096x4096, which takes about 0.7 GiB of memory).

    ``.npy`` files carry the header ``np.save`` writes, so the file is byte
    for byte ``np.save(FILE, fastinit.SCHEME(...))``.  NumPy has no bfloat16:
    like ``np.save``, the header then says ``<V2`` and ``np.load(FILE)
    .view(ml_dtypes.bfloat16)`` gives the values back (``.safetensors`` stores
    ``BF16``).  Unless ``--quiet``, a progress bar is drawn on stderr when it
    is a terminal, and one summary line says where the file went, its shape,
    dtype and size, the seconds taken and the rate (end to end, and for
    generating the values alone).

    Writes are safe: the data goes to a hidden temporary file in the target's
    directory (``.NAME.XXXXXXXX.fastinit-part``), which is fsync'ed and renamed
    over the target at the end.  On Ctrl-C, SIGTERM, SIGHUP or any error the
    temporary file is removed and the target is left as it was.  An existing
    target is only replaced with ``--force``.

    A spec file (``--spec``, JSON or TOML) lists several tensors for one
    ``.safetensors`` file::

        seed = 0                        # optional; --seed overrides it
        dtype = "bfloat16"              # optional default for the tensors

        [tensors."embed.weight"]
        scheme = "normal"
        shape = [50000, 1024]           # or "50000x1024"
        params = { std = 0.02 }

        [tensors."layers.0.mlp.weight"]
        scheme = "he_uniform"
        shape = "4096x1024"
        dtype = "float32"               # overrides the default
        stream = "mlp-0"                # default: the tensor's name

    (JSON: the same keys, ``{"seed": 0, "tensors": {"embed.weight": {...}}}``;
    a top level without ``"tensors"`` is read as the mapping of tensors
    itself.)  Each tensor is drawn on its own named stream: its name unless
    the spec gives ``stream``, i.e. ``fastinit.SCHEME(shape, **params,
    seed=seed, stream=name)``.

``bench``
    fastinit fills against NumPy (``Generator(PCG64).random`` /
    ``standard_normal`` with ``out=``) and, when importable, torch
    (``kaiming_uniform_``, ``kaiming_normal_``, ``trunc_normal_``), with a
    2-thread memset (``ndarray.fill(0)`` on two halves) as the bandwidth
    ceiling, all in one run: buffers pre-allocated and pre-faulted,
    contenders interleaved within each repetition, the median reported.

``inspect``
    Shape, dtype, mean, std, min, max and a histogram of a tensor in a
    ``.npy`` or ``.safetensors`` file (read in bounded chunks), and the
    standard deviation the common schemes give for its shape.

``info``
    Version, stream version, SIMD path, OpenMP and threads.

Errors are one line on stderr, ``fastinit: error: ...``, and never a
traceback.  Exit status: 0 success; 2 usage errors (the command line or
spec is invalid whatever the state of the system: unknown scheme, bad shape,
dtype or parameter); 1 runtime errors (missing or unwritable directory,
existing target without ``--force``, missing input file, disk full, any
other OSError); 130 interrupted by SIGINT (143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import errno
import functools
import inspect
import io
import json
import math
import os
import re
import signal
import statistics
import struct
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

import fastinit as fi
from fastinit._validate import as_dtype

PROG = "fastinit"
MIB = 1 << 20

# Out-of-core writing: blocks of at most this size (one buffer; two with background writes).
CHUNK_BYTES = 64 * MIB
# orthogonal and sparse are computed whole, in memory, up to this many elements.
WHOLE_MATRIX_MAX_ELEMENTS = 1 << 24
WHOLE_MATRIX_SCHEMES = ("orthogonal", "sparse")

DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64")
SAFETENSORS_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64"}
OUTPUT_SUFFIXES = (".npy", ".safetensors")
TEMP_SUFFIX = ".fastinit-part"

# Arguments the CLI sets itself; never taken from --param.
_RESERVED_PARAMETERS = ("shape", "out", "dtype", "seed", "stream", "region")
_TRUE_WORDS = ("true", "yes", "on")
_FALSE_WORDS = ("false", "no", "off")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class CLIError(Exception):
    """An error reported as one line, ``fastinit: error: <message>``."""

    exit_status = 1


class UsageError(CLIError):
    """The command line (or spec) is invalid: exit status 2."""

    exit_status = 2


class RuntimeFailure(CLIError):
    """The command could not be carried out (files, disk, ...): exit status 1."""

    exit_status = 1


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived; carries the conventional exit status."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _os_error_text(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        text += " (the disk is full)"
    return text


# ---------------------------------------------------------------------------
# The scheme table, read from the Python API
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemeSpec:
    """One SCHEME of ``fastinit init``: a public fill function and its parameters.

    Attributes
    ----------
    name : str
        The name it is exported under (``he_normal``).
    function : callable
        The function (``fastinit.he_normal``, which is ``kaiming_normal``).
    parameters : tuple of inspect.Parameter
        The parameters ``--param`` may set (all but shape/out/dtype/seed/stream/region).
    random : bool
        Whether it takes ``seed`` and ``stream``.
    """

    name: str
    function: Callable
    parameters: tuple
    random: bool

    @property
    def canonical_name(self) -> str:
        return self.function.__name__

    @property
    def whole_matrix(self) -> bool:
        """True for the schemes that cannot be generated block by block cheaply."""
        return self.canonical_name in WHOLE_MATRIX_SCHEMES

    def parameter(self, name: str) -> Optional[inspect.Parameter]:
        return next((p for p in self.parameters if p.name == name), None)

    def parameter_names(self) -> str:
        return ", ".join(p.name for p in self.parameters) or "(none)"

    def usage(self) -> str:
        """``he_normal(a=0, mode='fan_in', ...)`` for the help text."""
        parts = []
        for p in self.parameters:
            parts.append(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}")
        alias = f"  [= {self.canonical_name}]" if self.canonical_name != self.name else ""
        return f"{self.name}({', '.join(parts)}){alias}"


@functools.lru_cache(maxsize=None)
def scheme_table() -> dict:
    """Every function in ``fastinit.__all__`` that fills a ``shape`` with ``out``/``dtype``/``region``.

    Returns
    -------
    dict of str to SchemeSpec
        Sorted by name.
    """
    table = {}
    for name in sorted(fi.__all__):
        function = getattr(fi, name, None)
        if not inspect.isfunction(function):
            continue
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        parameters = list(signature.parameters.values())
        if (not parameters or parameters[0].name != "shape"
                or not {"out", "dtype", "region"} <= signature.parameters.keys()):
            continue
        settable = tuple(
            p for p in parameters[1:]
            if p.name not in _RESERVED_PARAMETERS
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        )
        table[name] = SchemeSpec(name, function, settable, "seed" in signature.parameters)
    return table


def lookup_scheme(name: str) -> SchemeSpec:
    table = scheme_table()
    if name not in table:
        raise UsageError(f"unknown scheme {name!r}; choose from: {', '.join(table)}")
    return table[name]


def _parse_number(text: str):
    try:
        return int(text, 10)
    except ValueError:
        return float(text)


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE_WORDS + ("1",):
        return True
    if word in _FALSE_WORDS + ("0",):
        return False
    raise ValueError(text)


def parse_parameter_value(scheme: SchemeSpec, parameter: inspect.Parameter, text: str):
    """Convert ``text`` to the type the parameter's default has.

    bool defaults take true/false/yes/no/on/off/1/0; int and float defaults
    take a number (``0`` stays an int, ``0.1`` a float: ``kaiming_normal``'s
    ``a`` defaults to 0 but accepts 0.2); str defaults keep the text; a
    parameter without a usable default (``sparse``'s ``sparsity=None``)
    takes an int, a float, a bool word or else the text.
    """
    default = parameter.default
    where = f"parameter {parameter.name} of {scheme.name}"
    if isinstance(default, bool):
        try:
            return _parse_bool(text)
        except ValueError:
            raise UsageError(f"{where} expects true or false; got {text!r}") from None
    if isinstance(default, (int, float)):
        try:
            return _parse_number(text)
        except ValueError:
            raise UsageError(f"{where} expects a number (default {default!r}); got {text!r}") from None
    if isinstance(default, str):
        return text
    for convert in (_parse_number, _parse_bool):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def check_parameter_name(scheme: SchemeSpec, name: str) -> inspect.Parameter:
    if name in _RESERVED_PARAMETERS:
        option = {"dtype": "--dtype", "seed": "--seed", "stream": "--stream"}.get(name)
        hint = f"; use {option}" if option else "; the command line sets it"
        raise UsageError(f"{name} is not a parameter of {scheme.name}{hint}")
    parameter = scheme.parameter(name)
    if parameter is None:
        raise UsageError(f"unknown parameter {name!r} for scheme {scheme.name}; "
                         f"its parameters are: {scheme.parameter_names()}")
    return parameter


def parse_parameters(scheme: SchemeSpec, items) -> dict:
    """``["std=0.02", "mean=0"]`` -> ``{"std": 0.02, "mean": 0}`` for ``scheme``."""
    params = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param expects NAME=VALUE (e.g. --param std=0.02); got {item!r}")
        parameter = check_parameter_name(scheme, name)
        if name in params:
            raise UsageError(f"parameter {name!r} is given twice")
        params[name] = parse_parameter_value(scheme, parameter, text.strip())
    return params


def check_required_parameters(scheme: SchemeSpec, params: dict) -> None:
    missing = [p.name for p in scheme.parameters
               if p.default is inspect.Parameter.empty and p.name not in params]
    if missing:
        raise UsageError(f"scheme {scheme.name} needs " +
                         ", ".join(f"--param {name}=..." for name in missing))


# ---------------------------------------------------------------------------
# Shapes, dtypes, seeds and streams
# ---------------------------------------------------------------------------

_SHAPE_SEPARATORS = re.compile(r"\s*[xX,]\s*")


def parse_shape(text) -> tuple:
    """``"100000x1024"``, ``"100000,1024"``, ``"(100000, 1024)"``, ``[100000, 1024]`` -> a tuple.

    Dimensions must be positive integers.
    """
    example = "give positive integer dimensions separated by 'x' or ',', e.g. 100000x1024"
    if isinstance(text, (list, tuple)):
        dims = []
        for d in text:
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise UsageError(f"malformed shape {list(text)!r}: {example}")
            dims.append(d)
        if not dims:
            raise UsageError(f"malformed shape {list(text)!r}: {example}")
        return tuple(dims)
    if not isinstance(text, str):
        raise UsageError(f"malformed shape {text!r}: {example}")
    body = text.strip()
    if body[:1] + body[-1:] in ("()", "[]"):
        body = body[1:-1].strip()
    parts = _SHAPE_SEPARATORS.split(body)
    if len(parts) > 1 and parts[-1] == "" and "," in body:   # "1024," as in Python
        parts = parts[:-1]
    if not parts or not all(part.isascii() and part.isdigit() for part in parts):
        raise UsageError(f"malformed shape {text!r}: {example}")
    dims = tuple(int(part) for part in parts)
    if 0 in dims:
        raise UsageError(f"shape {text!r} has a zero dimension: {example}")
    return dims


def format_shape(shape) -> str:
    return "x".join(map(str, shape))


def parse_dtype(name) -> np.dtype:
    if not isinstance(name, str) or name not in DTYPE_NAMES:
        raise UsageError(f"unsupported dtype {name!r}; choose from: {', '.join(DTYPE_NAMES)}")
    return as_dtype(name)


def dtype_name(dtype: np.dtype) -> str:
    return "bfloat16" if dtype == as_dtype("bfloat16") else np.dtype(dtype).name


def parse_integer(text: str, what: str) -> int:
    """A decimal or 0x-hexadecimal integer."""
    body = text.strip().replace("_", "")
    try:
        return int(body, 16) if body.lower().startswith("0x") else int(body, 10)
    except ValueError:
        raise UsageError(f"{what} must be an integer; got {text!r}") from None


def parse_stream(text: str):
    """An int (decimal or 0x...) or, for any other text, a stream name."""
    body = text.strip()
    if re.fullmatch(r"[+-]?\d[\d_]*|0[xX][0-9a-fA-F_]+", body):
        return parse_integer(body, "--stream")
    if not body:
        raise UsageError("--stream must be an integer or a non-empty name")
    return text


# ---------------------------------------------------------------------------
# Tensors to write
# ---------------------------------------------------------------------------

@dataclass
class TensorJob:
    """One array to generate: ``scheme.function(shape, **params, dtype, seed, stream)``."""

    name: str
    scheme: SchemeSpec
    shape: tuple
    dtype: np.dtype
    params: dict
    seed: int
    stream: Any = 0

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def keywords(self) -> dict:
        keywords = dict(self.params)
        if self.scheme.random:
            keywords.update(seed=self.seed, stream=self.stream)
        return keywords

    def fill_region(self, out: np.ndarray, region: tuple) -> None:
        self.scheme.function(self.shape, out=out, region=region, **self.keywords())

    def compute_whole(self) -> np.ndarray:
        return np.ascontiguousarray(self.scheme.function(self.shape, dtype=self.dtype, **self.keywords()))

    def validate(self, context: str = "") -> None:
        """Call the library on a one-element block so its own checks run before any file exists.

        orthogonal and sparse compute the whole matrix even for a block, so
        they are size-checked here and tried on a shape of the same rank with
        every dimension cut to at most 2.  ``context`` prefixes error messages.
        """
        check_required_parameters(self.scheme, self.params)
        if self.scheme.whole_matrix and self.size > WHOLE_MATRIX_MAX_ELEMENTS:
            raise UsageError(
                f"{context}{self.scheme.name} needs the whole matrix in memory; the command line computes it "
                f"only up to {WHOLE_MATRIX_MAX_ELEMENTS:,} elements (e.g. 4096x4096), and "
                f"{format_shape(self.shape)} has {self.size:,}; use a scheme that streams "
                f"(e.g. normal, he_normal) or the Python API"
            )
        try:
            if self.scheme.whole_matrix:
                small = tuple(min(d, 2) for d in self.shape)
                self.scheme.function(small, dtype=self.dtype, **self.keywords())
            else:
                one = np.empty((1,) * len(self.shape), dtype=self.dtype)
                self.fill_region(one, tuple(slice(0, 1) for _ in self.shape))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{context}{self.scheme.name}: {exc}") from None

    def provenance(self) -> dict:
        entry = {"scheme": self.scheme.name, "params": self.params}
        if self.scheme.random:
            entry.update(seed=self.seed, stream=self.stream)
        return entry


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
                                 f"{_os_error_text(exc)}") from None
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
# Progress
# ---------------------------------------------------------------------------

def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """A one-line progress bar on stderr: bytes done/total, rate and ETA.

    Drawn only when ``enabled`` (stderr is a TTY and not ``--quiet``), at
    most ten times a second.
    """

    WIDTH = 28

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total = max(total, 1)
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.drawn = False

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last_draw >= 0.1 or self.done >= self.total:
            self.last_draw = now
            self.draw(now)

    def draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        fraction = min(self.done / self.total, 1.0)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = (f"\r[{bar}] {fraction * 100:5.1f}%  {format_bytes(self.done)} / "
                f"{format_bytes(self.total)}  {format_bytes(rate)}/s  ETA {format_duration(eta)} ")
        self.stream.write(line)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False


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
                raise RuntimeFailure(f"writing {str(path)!r} failed: {_os_error_text(exc)}; "
                                     "nothing was written") from None
            raise
        progress.close()
    return time.perf_counter() - start, generating


# ---------------------------------------------------------------------------
# fastinit init
# ---------------------------------------------------------------------------

def load_spec(path: Path) -> dict:
    """Read a JSON or TOML spec (chosen by the suffix; .toml is TOML, anything else JSON)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuntimeFailure(f"cannot read spec {str(path)!r}: {_os_error_text(exc)}") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:                                  # Python < 3.11
            try:
                import tomli as tomllib
            except ImportError:
                raise RuntimeFailure("TOML specs need Python 3.11+ or the 'tomli' package; "
                                     "or write the spec as JSON") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"spec {str(path)!r} is not valid TOML: {exc}") from None
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"spec {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"spec {str(path)!r} must be a table/object of tensors")
    return data


SPEC_TOP_KEYS = ("tensors", "seed", "dtype")
SPEC_TENSOR_KEYS = ("scheme", "shape", "dtype", "stream", "params")


def jobs_from_spec(data: dict, where: str, seed_option: Optional[int], dtype_option: Optional[str]) -> list:
    """TensorJobs for a spec; the command line's --seed/--dtype override the spec's own."""
    if "tensors" in data:
        unknown = [key for key in data if key not in SPEC_TOP_KEYS]
        if unknown:
            raise UsageError(f"{where}: unknown top-level key {unknown[0]!r}; "
                             f"allowed: {', '.join(SPEC_TOP_KEYS)}")
        tensors = data["tensors"]
        seed = data.get("seed", 0)
        default_dtype = data.get("dtype", "float32")
    else:
        tensors, seed, default_dtype = data, 0, "float32"
    if seed_option is not None:
        seed = seed_option
    if dtype_option is not None:
        default_dtype = dtype_option
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"{where}: seed must be an integer; got {seed!r}")
    if not isinstance(tensors, dict) or not tensors:
        raise UsageError(f"{where}: 'tensors' must map tensor names to tables with "
                         f"{', '.join(SPEC_TENSOR_KEYS)}")
    jobs = []
    for name, entry in tensors.items():
        label = f"{where}: tensor {name!r}"
        if name == "__metadata__" or not name:
            raise UsageError(f"{label}: this name is reserved in safetensors")
        if not isinstance(entry, dict):
            raise UsageError(f"{label} must be a table with keys {', '.join(SPEC_TENSOR_KEYS)}")
        unknown = [key for key in entry if key not in SPEC_TENSOR_KEYS]
        if unknown:
            raise UsageError(f"{label}: unknown key {unknown[0]!r}; allowed: {', '.join(SPEC_TENSOR_KEYS)}")
        for key in ("scheme", "shape"):
            if key not in entry:
                raise UsageError(f"{label}: missing {key!r}")
        try:
            if not isinstance(entry["scheme"], str):
                raise UsageError(f"scheme must be a name; got {entry['scheme']!r}")
            scheme = lookup_scheme(entry["scheme"])
            shape = parse_shape(entry["shape"])
            dtype = parse_dtype(entry.get("dtype", default_dtype))
            stream = entry.get("stream", name)
            if isinstance(stream, bool) or not isinstance(stream, (int, str)):
                raise UsageError(f"stream must be an integer or a name; got {stream!r}")
            params = spec_parameters(scheme, entry.get("params", {}))
        except UsageError as exc:
            raise UsageError(f"{label}: {exc}") from None
        jobs.append(TensorJob(name, scheme, shape, dtype, params, seed, stream))
    return jobs


def spec_parameters(scheme: SchemeSpec, params) -> dict:
    """Spec parameters keep their JSON/TOML types; strings are parsed for number/bool parameters."""
    if not isinstance(params, dict):
        raise UsageError(f"params must be a table of NAME = VALUE; got {params!r}")
    result = {}
    for name, value in params.items():
        parameter = check_parameter_name(scheme, name)
        if isinstance(value, str) and not isinstance(parameter.default, str):
            value = parse_parameter_value(scheme, parameter, value)
        result[name] = value
    return result


def command_init(args) -> int:
    output_path = Path(args.output)
    kind = output_format(output_path)
    if args.threads is not None:
        set_threads(args.threads)
    if args.spec is not None:
        for value, option in ((args.scheme, "SCHEME"), (args.shape, "SHAPE"), (args.stream, "--stream"),
                              (args.param, "--param"), (args.name, "--name")):
            if value:
                raise UsageError(f"{option} cannot be combined with --spec (the spec gives each tensor's)")
        if kind != "safetensors":
            raise UsageError("--spec writes several tensors and needs a .safetensors output; "
                             f"got {str(output_path)!r}")
        seed = parse_integer(args.seed, "--seed") if args.seed is not None else None
        spec_path = Path(args.spec)
        jobs = jobs_from_spec(load_spec(spec_path), str(spec_path), seed, args.dtype)
    else:
        if not args.scheme or not args.shape:
            raise UsageError("init needs SCHEME and SHAPE (e.g. fastinit init he_normal 100000x1024 "
                             "-o embedding.npy), or --spec FILE")
        scheme = lookup_scheme(args.scheme)
        shape = parse_shape(args.shape)
        dtype = parse_dtype(args.dtype or "float32")
        seed = parse_integer(args.seed, "--seed") if args.seed is not None else 0
        stream = parse_stream(args.stream) if args.stream is not None else 0
        params = parse_parameters(scheme, args.param)
        if kind == "npy" and args.name is not None:
            raise UsageError("--name names the tensor in a .safetensors file; a .npy file holds one "
                             "unnamed array")
        name = args.name if args.name is not None else "weight"
        if kind == "safetensors" and (not name or name == "__metadata__"):
            raise UsageError(f"--name {name!r} is not a usable safetensors tensor name")
        jobs = [TensorJob(name, scheme, shape, dtype, params, seed, stream)]

    for job in jobs:
        job.validate(f"{args.spec}: tensor {job.name!r}: " if args.spec is not None else "")
    check_target(output_path, args.force)

    if kind == "npy":
        header = npy_header(jobs[0].shape, jobs[0].dtype)
    else:
        jobs = safetensors_layout(jobs)
        provenance = {"version": fi.__version__, "stream_version": fi.STREAM_VERSION,
                      "tensors": {job.name: job.provenance() for job in jobs}}
        header = safetensors_header(jobs, {"format": "pt",
                                           "fastinit": json.dumps(provenance, separators=(",", ":"))})
    seconds, generating = write_file(output_path, header, jobs, args.force, args.quiet)

    if not args.quiet:
        elements = sum(job.size for job in jobs)
        file_bytes = len(header) + sum(job.nbytes for job in jobs)
        if len(jobs) == 1:
            job = jobs[0]
            what = (f"{format_shape(job.shape)} {dtype_name(job.dtype)} {job.scheme.name}"
                    + (f" (seed {job.seed})" if job.scheme.random else ""))
        else:
            dtypes = sorted({dtype_name(job.dtype) for job in jobs})
            what = f"{len(jobs)} tensors, {elements:,} elements ({', '.join(dtypes)})"
        print(f"wrote {output_path.resolve()}: {what}, {file_bytes:,} bytes "
              f"({format_bytes(file_bytes)}) in {seconds:.3g} s: "
              f"{elements / max(seconds, 1e-9) / 1e9:.3g} G samples/s end to end, "
              f"{elements / max(generating, 1e-9) / 1e9:.3g} G samples/s generating "
              f"({generating:.3g} s; the rest is writing and fsync)")
    return 0


def set_threads(threads: int) -> None:
    try:
        fi.set_num_threads(threads)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--threads: {exc}") from None


# ---------------------------------------------------------------------------
# fastinit info
# ---------------------------------------------------------------------------

def command_info(args) -> int:
    info = fi.build_info()
    info["numpy"] = np.__version__
    info["python"] = sys.version.split()[0]
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}} : {value}")
    return 0


# ---------------------------------------------------------------------------
# fastinit bench
# ---------------------------------------------------------------------------

BENCH_SCHEMES = ("uniform", "normal", "trunc_normal")
BENCH_TRUNC = dict(mean=0.0, std=0.02, a=-0.04, b=0.04)
BENCH_ROW_WIDTH = 1024                 # buffers are (n / 1024, 1024): kaiming needs 2-D
TORCH_TRUNC_FRACTION = 16              # torch trunc_normal_ is timed on 1/16 of the rows


@dataclass
class Contender:
    """One timed fill: ``run()`` fills ``elements / fraction`` elements; times are scaled by ``fraction``."""

    label: str
    library: str            # "fastinit", "numpy", "torch" or "memset"
    scheme: str             # "uniform", "normal", "trunc_normal" or "memset"
    dtype: str
    elements: int
    itemsize: int
    run: Callable[[], Any]
    fraction: int = 1
    times: list = field(default_factory=list)

    def time_once(self) -> None:
        start = time.perf_counter()
        self.run()
        self.times.append((time.perf_counter() - start) * self.fraction)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def prefaulted(n: int, dtype) -> np.ndarray:
    """``n`` elements, every page written once so no page fault is timed."""
    buffer = np.empty(n, dtype=dtype)
    buffer.view(np.uint8).fill(0)
    return buffer


def memset_two_threads(buffer: np.ndarray) -> Callable[[], None]:
    """Two Python threads each ``fill(0)`` one half (``ndarray.fill`` releases the GIL)."""
    halves = np.array_split(buffer, 2)

    def run():
        workers = [threading.Thread(target=half.fill, args=(0,)) for half in halves]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return run


def bench_contenders(dtype: str, n: int, schemes, torch) -> list:
    """Every contender for one dtype, sharing pre-faulted buffers of ``n`` elements."""
    np_dtype = as_dtype(dtype)
    itemsize = np_dtype.itemsize
    buffer = prefaulted(n, np_dtype)
    matrix = buffer.reshape(-1, BENCH_ROW_WIDTH)
    rows = [Contender("memset, 2 threads (ceiling)", "memset", "memset", dtype, n, itemsize,
                      memset_two_threads(buffer))]
    fastinit_calls = {
        "uniform": ("fastinit.kaiming_uniform", lambda: fi.kaiming_uniform(out=matrix, seed=0)),
        "normal": ("fastinit.kaiming_normal", lambda: fi.kaiming_normal(out=matrix, seed=0)),
        "trunc_normal": ("fastinit.trunc_normal", lambda: fi.trunc_normal(out=matrix, seed=0, **BENCH_TRUNC)),
    }
    for scheme in schemes:
        label, run = fastinit_calls[scheme]
        rows.append(Contender(label, "fastinit", scheme, dtype, n, itemsize, run))
    if dtype in ("float32", "float64"):
        generator = np.random.Generator(np.random.PCG64(0))
        numpy_calls = {
            "uniform": ("numpy PCG64 random", lambda: generator.random(dtype=np_dtype, out=buffer)),
            "normal": ("numpy PCG64 standard_normal",
                       lambda: generator.standard_normal(dtype=np_dtype, out=buffer)),
        }
        for scheme in schemes:
            if scheme in numpy_calls:
                label, run = numpy_calls[scheme]
                rows.append(Contender(label, "numpy", scheme, dtype, n, itemsize, run))
    if torch is not None:
        tensor = torch.zeros((n // BENCH_ROW_WIDTH, BENCH_ROW_WIDTH), dtype=getattr(torch, dtype))
        part = tensor[: max(1, tensor.shape[0] // TORCH_TRUNC_FRACTION)]
        fraction = tensor.shape[0] / part.shape[0]
        init = torch.nn.init
        torch_calls = {
            "uniform": ("torch kaiming_uniform_", lambda: init.kaiming_uniform_(tensor), 1),
            "normal": ("torch kaiming_normal_", lambda: init.kaiming_normal_(tensor), 1),
            "trunc_normal": (f"torch trunc_normal_ (1/{fraction:g} of it, x{fraction:g})",
                             lambda: init.trunc_normal_(part, **BENCH_TRUNC), fraction),
        }
        for scheme in schemes:
            label, run, scale = torch_calls[scheme]
            rows.append(Contender(label, "torch", scheme, dtype, n, itemsize, run, scale))
    return rows


def bench_rows(contenders: list, threads: int) -> list:
    """One dict per contender; ``speedup`` is how many times faster fastinit's fill of the
    same scheme and dtype is than this row."""
    fastinit_median = {(c.scheme, c.dtype): c.median for c in contenders if c.library == "fastinit"}
    memset_median = {c.dtype: c.median for c in contenders if c.library == "memset"}
    rows = []
    for c in contenders:
        reference = fastinit_median.get((c.scheme, c.dtype))
        rows.append({
            "contender": c.label, "library": c.library, "scheme": c.scheme, "dtype": c.dtype,
            "elements": c.elements, "bytes": c.elements * c.itemsize,
            "threads": 2 if c.library == "memset" else (1 if c.library == "numpy" else threads),
            "timed_fraction": 1.0 / c.fraction, "times_s": c.times, "median_s": c.median,
            "gsamples_per_s": c.elements / c.median / 1e9,
            "gb_per_s": c.elements * c.itemsize / c.median / 1e9,
            "speedup": (c.median / reference) if reference else None,
            "fraction_of_memset": memset_median[c.dtype] / c.median,
        })
    return rows


def bench_table(rows: list) -> str:
    header = ("contender", "scheme", "dtype", "median ms", "G samples/s", "GB/s", "speed-up")
    body = []
    for r in rows:
        speedup = "ceiling" if r["library"] == "memset" else (
            "" if r["speedup"] is None else f"{r['speedup']:.1f}x")
        body.append((r["contender"], r["scheme"], r["dtype"], f"{r['median_s'] * 1e3:.2f}",
                     f"{r['gsamples_per_s']:.3f}", f"{r['gb_per_s']:.2f}", speedup))
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    left = (0, 1, 2)

    def render(line):
        return "  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
    return "\n".join([render(header), render(tuple("-" * w for w in widths))] + [render(b) for b in body])


def import_matplotlib(option: str):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeFailure(f"{option} needs matplotlib, which is not installed "
                             "(pip install matplotlib)") from None
    return plt


def bench_plot(rows: list, path: Path, title: str) -> None:
    plt = import_matplotlib("--plot")
    groups = []
    for r in rows:
        key = (r["scheme"], r["dtype"])
        if key not in groups:
            groups.append(key)
    libraries = [lib for lib in ("memset", "fastinit", "numpy", "torch") if any(r["library"] == lib for r in rows)]
    colors = {lib: f"C{i}" for i, lib in enumerate(libraries)}
    width = 0.8 / max(len(libraries), 1)
    figure, axes = plt.subplots(figsize=(max(6, 1.4 * len(groups)), 4.5))
    labelled = set()
    for g, key in enumerate(groups):
        present = [r for r in rows if (r["scheme"], r["dtype"]) == key]
        for i, r in enumerate(present):           # the bars of a group side by side, centred
            x = g + (i - (len(present) - 1) / 2) * width
            library = r["library"]
            axes.bar(x, r["gsamples_per_s"], width, color=colors[library],
                     label=None if library in labelled else library)
            labelled.add(library)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([f"{scheme}\n{dtype}" for scheme, dtype in groups])
    axes.set_ylabel("G samples/s (median)")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {str(path)!r}: {_os_error_text(exc)}") from None
    finally:
        plt.close(figure)


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {str(path)!r}: {_os_error_text(exc)}") from None


def command_bench(args) -> int:
    if args.size_mib <= 0:
        raise UsageError(f"--size-mib must be > 0; got {args.size_mib:g}")
    if args.repeat < 1:
        raise UsageError(f"--repeat must be >= 1; got {args.repeat}")
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    set_threads(threads)
    if args.plot:
        import_matplotlib("--plot")            # fail before the measurements, not after
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(threads)
    dtypes = list(dict.fromkeys(args.dtype or ["float32"]))
    schemes = list(dict.fromkeys(args.schemes or BENCH_SCHEMES))

    print(f"fastinit {fi.__version__} (stream v{fi.STREAM_VERSION}, {fi.build_info()['simd']}), "
          f"numpy {np.__version__} (1 thread)"
          + (f", torch {torch.__version__}" if torch is not None else ", torch not installed")
          + f"; {threads} thread(s); {args.size_mib:g} MiB per buffer; median of {args.repeat}")
    rows = []
    for dtype in dtypes:
        itemsize = as_dtype(dtype).itemsize
        n = int(args.size_mib * MIB) // itemsize
        n = max(BENCH_ROW_WIDTH * TORCH_TRUNC_FRACTION, n - n % BENCH_ROW_WIDTH)
        contenders = bench_contenders(dtype, n, schemes, torch)
        no_grad = torch.no_grad() if torch is not None else _null_context()
        with no_grad:
            for contender in contenders:       # warm up: thread pools, lazy initialization
                contender.run()
            for _ in range(args.repeat):       # interleaved: drift hits every contender alike
                for contender in contenders:
                    contender.time_once()
        rows += bench_rows(contenders, threads)
        del contenders
    print(bench_table(rows))
    print("speed-up: how many times faster the fastinit fill of the same scheme and dtype is; "
          "the memset row is the write-bandwidth ceiling")
    if args.json:
        write_text(Path(args.json), json.dumps(rows, indent=2) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")
    if args.plot:
        bench_plot(rows, Path(args.plot), f"fill throughput, {args.size_mib:g} MiB buffers, "
                                          f"{threads} thread(s)")
        print(f"wrote {args.plot}")
    return 0


class _null_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


# ---------------------------------------------------------------------------
# fastinit inspect
# ---------------------------------------------------------------------------

SAFETENSORS_READ_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bfloat16",
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
}
INSPECT_CHUNK_ELEMENTS = 1 << 22
HISTOGRAM_BINS = 96
TEXT_HISTOGRAM_BINS = 24


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
        raise RuntimeFailure(f"cannot read {str(path)!r}: {_os_error_text(exc)}") from None


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


@dataclass
class TensorStats:
    count: int = 0
    finite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    zeros: int = 0

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.finite) if self.finite else math.nan

    def add(self, values: np.ndarray) -> None:
        """Merge a chunk (Chan et al.'s parallel mean/variance update)."""
        self.count += values.size
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        self.zeros += int(np.count_nonzero(finite == 0))
        if not finite.size:
            return
        n_b = finite.size
        mean_b = float(finite.mean())
        m2_b = float(np.square(finite - mean_b).sum())
        n_a = self.finite
        total = n_a + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / total
        self.m2 += m2_b + delta * delta * n_a * n_b / total
        self.finite = total
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))


def tensor_statistics(tensor: StoredTensor):
    """Two chunked passes: the moments and extremes, then a histogram over [min, max]."""
    stats = TensorStats()
    for chunk in tensor_chunks(tensor):
        stats.add(chunk)
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    low, high = stats.minimum, stats.maximum
    if stats.finite and high == low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1) if stats.finite else None
    if stats.finite:
        for chunk in tensor_chunks(tensor):
            counts += np.histogram(chunk[np.isfinite(chunk)], bins=edges)[0]
    return stats, counts, edges


def truncated_normal_std(mean: float, std: float, a: float, b: float) -> float:
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)   # noqa: E731
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))                # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    if mass <= 0:
        return math.nan
    term = (alpha * pdf(alpha) - beta * pdf(beta)) / mass
    shift = (pdf(alpha) - pdf(beta)) / mass
    return std * math.sqrt(max(0.0, 1 + term - shift * shift))


def analytic_scheme_std(scheme: SchemeSpec, shape: tuple, params: dict) -> Optional[float]:
    """The standard deviation ``scheme`` gives for ``shape``, from its formula, or None if unknown."""
    kw = {p.name: p.default for p in scheme.parameters}
    kw.update(params)
    name = scheme.canonical_name

    def fans():
        return fi.compute_fans(shape, in_axis=kw.get("in_axis", 1), out_axis=kw.get("out_axis", 0))

    if name in ("kaiming_normal", "kaiming_uniform"):
        fan_in, fan_out = fans()
        gain = fi.calculate_gain(kw["nonlinearity"], kw["a"])
        return gain / math.sqrt(fan_in if kw["mode"] == "fan_in" else fan_out)
    if name in ("xavier_normal", "xavier_uniform"):
        fan_in, fan_out = fans()
        return kw["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
    if name in ("lecun_normal", "lecun_uniform"):
        return 1.0 / math.sqrt(fans()[0])
    if name == "variance_scaling":
        fan_in, fan_out = fans()
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
               "fan_geo_avg": math.sqrt(fan_in * fan_out)}[kw["mode"]]
        return math.sqrt(kw["scale"] / fan)
    if name == "normal":
        return abs(kw["std"])
    if name == "uniform":
        return (kw["high"] - kw["low"]) / math.sqrt(12)
    if name == "trunc_normal":
        return truncated_normal_std(kw["mean"], kw["std"], kw["a"], kw["b"])
    if name in ("constant", "zeros", "ones"):
        return 0.0
    if name == "orthogonal":
        return abs(kw["gain"]) / math.sqrt(max(shape[0], math.prod(shape[1:])))
    if name == "sparse" and kw.get("sparsity") is not None:
        rows = shape[0]
        return kw["std"] * math.sqrt(1 - math.ceil(kw["sparsity"] * rows) / rows)
    return None


def sampled_scheme_std(scheme: SchemeSpec, shape: tuple, params: dict) -> Optional[float]:
    """The std of the first (up to 2**20) elements ``scheme`` gives for ``shape`` (seed 0)."""
    if scheme.whole_matrix and math.prod(shape) > WHOLE_MATRIX_MAX_ELEMENTS:
        return None
    region = next(contiguous_blocks(shape, 1 << 20))
    out = np.empty(region_extents(shape, region), dtype=np.float64)
    keywords = dict(params, seed=0) if scheme.random else dict(params)
    scheme.function(shape, out=out, region=region, **keywords)
    return float(out.std())


def scheme_std_for(scheme: SchemeSpec, shape: tuple, params: dict):
    """(std, how it was obtained) for ``--scheme``."""
    try:
        std = analytic_scheme_std(scheme, shape, params)
        if std is not None:
            return std, "formula"
        std = sampled_scheme_std(scheme, shape, params)
        return std, "sampled"
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(f"--scheme {scheme.name}: {exc}") from None


COMMON_SCHEMES = (
    ("kaiming_normal / he_normal", "sqrt(2 / fan_in)",
     lambda fan_in, fan_out: fi.calculate_gain("leaky_relu", 0) / math.sqrt(fan_in)),
    ("xavier_normal / glorot_normal", "sqrt(2 / (fan_in + fan_out))",
     lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    ("lecun_normal", "sqrt(1 / fan_in)",
     lambda fan_in, fan_out: 1.0 / math.sqrt(fan_in)),
)


def describe_tensor(tensor: StoredTensor, scheme: Optional[SchemeSpec], params: dict, plot: Optional[Path]) -> None:
    stats, counts, edges = tensor_statistics(tensor)
    title = f"{tensor.path}" + (f" [{tensor.name}]" if tensor.name else "")
    print(title)
    print(f"  shape    {format_shape(tensor.shape) or '()'}  ({tensor.size:,} elements)")
    print(f"  dtype    {dtype_name(tensor.dtype)}{tensor.note}")
    print(f"  mean     {stats.mean:.6g}")
    print(f"  std      {stats.std:.6g}")
    print(f"  min      {stats.minimum:.6g}")
    print(f"  max      {stats.maximum:.6g}")
    print(f"  zeros    {stats.zeros:,} ({stats.zeros / max(stats.count, 1):.2%})")
    if stats.finite != stats.count:
        print(f"  non-finite {stats.count - stats.finite:,} (left out of the statistics above)")

    if len(tensor.shape) >= 2:
        fan_in, fan_out = fi.compute_fans(tensor.shape)
        print(f"  fans     fan_in {fan_in:,}, fan_out {fan_out:,} (PyTorch layout (out, in, *kernel))")
        print("  std the common schemes give for this shape (their *_uniform twins have the same std):")
        candidates = [(label, formula, rule(fan_in, fan_out)) for label, formula, rule in COMMON_SCHEMES]
        def distance(candidate):
            std = candidate[2]
            return abs(math.log(stats.std / std)) if stats.std > 0 and std > 0 else math.inf
        closest = min(candidates, key=distance)
        width = max(len(c[0]) for c in candidates)
        for candidate in candidates:
            label, formula, std = candidate
            mark = (f"  <- closest (measured / expected = {stats.std / std:.4f})"
                    if candidate is closest and distance(candidate) < math.log(1.5) else "")
            print(f"    {label:<{width}}  {std:<10.6g}  {formula}{mark}")
    else:
        print("  (fan-based schemes need at least 2 dimensions)")
    if scheme is not None:
        std, how = scheme_std_for(scheme, tensor.shape, params)
        if std is None:
            print(f"  {scheme.name}: std unknown for this shape (the matrix is too large to sample)")
        else:
            ratio = f" (measured / expected = {stats.std / std:.4f})" if std > 0 else ""
            arguments = ", ".join(f"{key}={value!r}" for key, value in params.items())
            call = f"{scheme.name}({arguments})" if params else scheme.name
            print(f"  {call} gives std {std:.6g} for this shape ({how}){ratio}")

    if edges is not None:
        print(f"  histogram ({TEXT_HISTOGRAM_BINS} bins):")
        merged = counts.reshape(TEXT_HISTOGRAM_BINS, -1).sum(axis=1)
        merged_edges = edges[:: HISTOGRAM_BINS // TEXT_HISTOGRAM_BINS]
        peak = max(int(merged.max()), 1)
        for i, count in enumerate(merged):
            bar = "#" * int(round(40 * count / peak))
            print(f"    {merged_edges[i]:>+11.4g} .. {merged_edges[i + 1]:>+11.4g} | {bar:<40} {count:,}")
    if plot is not None:
        inspect_plot(tensor, stats, counts, edges, plot, title)
        print(f"wrote {plot}")


def inspect_plot(tensor, stats, counts, edges, path: Path, title: str) -> None:
    plt = import_matplotlib("--plot")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    if edges is not None:
        axes.stairs(counts, edges, fill=True, alpha=0.6, label="values")
        if stats.std > 0:
            centers = (edges[:-1] + edges[1:]) / 2
            width = edges[1] - edges[0]
            density = np.exp(-0.5 * ((centers - stats.mean) / stats.std) ** 2) / (stats.std * math.sqrt(2 * math.pi))
            axes.plot(centers, density * stats.finite * width, label="normal, same mean and std")
        axes.legend()
    axes.set_xlabel("value")
    axes.set_ylabel("count")
    axes.set_title(f"{title}\n{format_shape(tensor.shape)} {dtype_name(tensor.dtype)}, "
                   f"mean {stats.mean:.4g}, std {stats.std:.4g}", fontsize=9)
    figure.tight_layout()
    try:
        figure.savefig(path)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {str(path)!r}: {_os_error_text(exc)}") from None
    finally:
        plt.close(figure)


def command_inspect(args) -> int:
    scheme = lookup_scheme(args.scheme) if args.scheme else None
    if args.param and scheme is None:
        raise UsageError("--param needs --scheme")
    params = parse_parameters(scheme, args.param) if scheme is not None else {}
    if args.plot:
        import_matplotlib("--plot")
    tensors = read_tensors(Path(args.file))
    if args.name is not None:
        chosen = [t for t in tensors if t.name == args.name]
        if not chosen:
            names = ", ".join(sorted(t.name for t in tensors if t.name)) or "(none: a .npy file holds one unnamed array)"
            raise RuntimeFailure(f"no tensor {args.name!r} in {args.file!r}; its tensors: {names}")
        tensors = chosen
    if args.plot and len(tensors) > 1:
        raise UsageError(f"--plot draws one tensor; choose it with --name (tensors: "
                         f"{', '.join(t.name for t in tensors)})")
    for i, tensor in enumerate(tensors):
        if i:
            print()
        describe_tensor(tensor, scheme, params, Path(args.plot) if args.plot else None)
    return 0


# ---------------------------------------------------------------------------
# Argument parsing and main
# ---------------------------------------------------------------------------

class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors as one line (raised as UsageError) instead of usage + exit."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def scheme_epilog() -> str:
    lines = ["schemes (parameters with their defaults; set them with --param NAME=VALUE):"]
    for spec in scheme_table().values():
        lines.append(f"  {spec.usage()}")
    lines += ["", *_wrap(
        f"orthogonal and sparse need the whole matrix: they are computed in memory and refused "
        f"above {WHOLE_MATRIX_MAX_ELEMENTS:,} elements.  Every other scheme is written in "
        f"{CHUNK_BYTES // MIB} MiB blocks with bounded memory, whatever the size.")]
    lines += ["", "spec file (JSON or TOML):",
              '  {"seed": 0, "dtype": "float32",',
              '   "tensors": {"embed.weight": {"scheme": "normal", "shape": [50000, 1024],',
              '                                "dtype": "bfloat16", "params": {"std": 0.02}},',
              '               "fc.weight": {"scheme": "he_uniform", "shape": "4096x1024",',
              '                             "stream": "fc"}}}',
              *_wrap("Each tensor is drawn on its own stream: its name unless it gives 'stream'.")]
    lines += ["", "examples:",
              "  fastinit init he_normal 100000x1024 -o embedding.npy",
              "  fastinit init normal 50000,4096 --param std=0.02 --dtype bfloat16 \\",
              "      -o embed.safetensors --name embed.weight",
              "  fastinit init --spec model.toml -o model.safetensors"]
    return "\n".join(lines)


def _wrap(text: str) -> list:
    return textwrap.wrap(text, width=79)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description="Write initialized weight arrays to .npy/.safetensors files, benchmark the "
                    "fills and inspect weight files.  Every value is a pure function of (seed, stream, "
                    "index, scheme, dtype): the files are bit-identical to the Python API.",
        epilog="Run 'fastinit COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version",
                        version=f"fastinit {fi.__version__} (stream v{fi.STREAM_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    init = commands.add_parser(
        "init", help="write an initialized array (or a spec's tensors) to a file",
        description="\n".join(_wrap(
            "Write SCHEME(SHAPE, **params, dtype=DTYPE, seed=SEED, stream=STREAM) to FILE (.npy or "
            ".safetensors), bit-identical to the Python call, in bounded memory, through a "
            "temporary file renamed into place at the end.")),
        epilog=scheme_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("scheme", nargs="?", metavar="SCHEME", help="e.g. he_normal, normal, xavier_uniform "
                      "(the list is below)")
    init.add_argument("shape", nargs="?", metavar="SHAPE", help="e.g. 100000x1024 or 100000,1024")
    init.add_argument("-o", "--output", required=True, metavar="FILE",
                      help="output file, .npy or .safetensors")
    init.add_argument("--spec", metavar="SPEC", help="JSON or TOML file listing named tensors, "
                      "written to one .safetensors file (instead of SCHEME SHAPE)")
    init.add_argument("--dtype", choices=DTYPE_NAMES, default=None,
                      help="float32 (default), float16, bfloat16 or float64; with --spec, the "
                           "default for tensors that do not give one")
    init.add_argument("--seed", metavar="N", default=None,
                      help="seed in [0, 2**64) (default 0: the same command always writes the same "
                           "file; with --spec it overrides the spec's seed)")
    init.add_argument("--stream", metavar="S", default=None,
                      help="stream: an integer or a name (hashed by fastinit.stream_id); default 0")
    init.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                      help="a scheme parameter, e.g. --param std=0.02 (repeatable)")
    init.add_argument("--name", metavar="T", default=None,
                      help="tensor name in a .safetensors file (default 'weight')")
    init.add_argument("--threads", type=int, metavar="N", default=None,
                      help="threads for the fill (default: all, as OpenMP decides)")
    init.add_argument("-f", "--force", action="store_true", help="overwrite an existing FILE")
    init.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bar and no summary line")
    init.set_defaults(handler=command_init)

    bench = commands.add_parser(
        "bench", help="fill throughput: fastinit vs NumPy, torch and memset, in one run",
        description="Time fastinit fills against NumPy (PCG64 random/standard_normal with out=) "
                    "and, when importable, torch.nn.init (kaiming_uniform_, kaiming_normal_, "
                    "trunc_normal_ timed on 1/16 of the tensor and scaled), with a 2-thread memset "
                    "as the bandwidth ceiling.  Buffers are pre-allocated and pre-faulted, contenders "
                    "interleaved within each repetition; the median time is reported.")
    bench.add_argument("--size-mib", type=float, default=256, metavar="N",
                       help="buffer size in MiB per dtype (default 256)")
    bench.add_argument("--dtype", nargs="+", choices=DTYPE_NAMES, metavar="DTYPE",
                       help=f"one or more of {', '.join(DTYPE_NAMES)} (default float32)")
    bench.add_argument("--schemes", nargs="+", choices=BENCH_SCHEMES, metavar="SCHEME",
                       help=f"one or more of {', '.join(BENCH_SCHEMES)} (default all)")
    bench.add_argument("--threads", type=int, default=None, metavar="N",
                       help="threads for fastinit and torch (default: all cores)")
    bench.add_argument("--repeat", type=int, default=5, metavar="N",
                       help="timed repetitions per contender (default 5)")
    bench.add_argument("--json", metavar="FILE", help="write the rows as a JSON list")
    bench.add_argument("--plot", metavar="FILE.png", help="draw a bar chart (needs matplotlib)")
    bench.set_defaults(handler=command_bench)

    info = commands.add_parser("info", help="version, stream version, SIMD path, OpenMP, threads",
                               description="Print fastinit's build information.")
    info.set_defaults(handler=command_info)

    insp = commands.add_parser(
        "inspect", help="statistics and a histogram of a tensor in a .npy/.safetensors file",
        description="Shape, dtype, mean, std, min, max (read in bounded chunks), the std the common "
                    "fan-based schemes give for that shape, and a text histogram.  --scheme adds the "
                    "std of that scheme (from its formula; sampled from its first 2**20 elements "
                    "when it has none).")
    insp.add_argument("file", metavar="FILE")
    insp.add_argument("--name", metavar="T", help="tensor of a .safetensors file (default: all)")
    insp.add_argument("--scheme", metavar="S", help="also show the std scheme S gives for the shape")
    insp.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                      help="a parameter of --scheme (repeatable)")
    insp.add_argument("--plot", metavar="FILE.png", help="write a histogram PNG (needs matplotlib)")
    insp.set_defaults(handler=command_inspect)
    return parser


def report_error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {' '.join(str(message).split())}\n")
    sys.stderr.flush()


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return args.handler(args)
    except CLIError as exc:
        report_error(str(exc))
        return exc.exit_status
    except Interrupted as exc:
        report_error(f"interrupted by {signal.Signals(exc.signum).name}; nothing was written")
        return exc.exit_status
    except KeyboardInterrupt:
        report_error("interrupted; nothing was written")
        return 130
    except BrokenPipeError:                    # stdout closed early (e.g. piped into head)
        try:                                   # keep the interpreter's final flush quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except MemoryError:
        report_error("out of memory")
        return 1
    except OSError as exc:
        report_error(f"{_os_error_text(exc)}" + (f": {exc.filename!r}" if exc.filename else ""))
        return 1
    except Exception as exc:                   # a bug: still one line, no traceback
        if os.environ.get("FASTINIT_DEBUG"):
            raise
        report_error(f"internal error: {type(exc).__name__}: {exc} "
                     "(set FASTINIT_DEBUG=1 for a traceback)")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``.npy`` format: one unnamed array, byte for byte what ``np.save`` writes.

NumPy has no bfloat16: like ``np.save``, the header then says ``<V2``, and
reading it back takes a 2-byte void dtype as bfloat16.  A header over 64 KiB
is written as format 2.0, as NumPy does.  There is no room for metadata, so
the provenance is not stored.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from fastinit._validate import as_dtype
from fastinit.cli.errors import RuntimeFailure
from fastinit.cli.formats.base import BadFile, Format, StoredTensor, check_extent
from fastinit.cli.schemes import abbreviate as abbreviate_text
from fastinit.cli.schemes import format_shape

MAGIC = b"\x93NUMPY"


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


def encode_header(jobs: list, provenance: dict) -> bytes:
    """The header of the one job's array (a .npy file has no room for ``provenance``)."""
    return npy_header(jobs[0].shape, jobs[0].dtype)


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
    check_extent(path, tensor, file_size, f"its {format_shape(tensor.shape)} {dtype} array")
    return tensor


def read_tensors(path: Path, handle, file_size: int) -> list:
    """The one tensor of a .npy file."""
    return [read_npy_tensor(path, handle, file_size)]


NPY = Format(name="npy", suffixes=(".npy",), multi_tensor=False, named=False, magic=MAGIC,
             layout=list, encode_header=encode_header, read=read_tensors)

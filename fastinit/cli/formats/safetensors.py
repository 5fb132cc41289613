"""The ``.safetensors`` format: named tensors after a JSON header, several per file.

The file is an 8-byte little-endian header length, the JSON header (padded
with spaces to a multiple of 8 bytes), then the tensors' data.  Tensors are
stored largest item size first (:func:`safetensors_layout`), so every tensor
starts aligned to its item size; the provenance goes into ``__metadata__``
(with ``"format": "pt"``, which loaders of PyTorch weights expect).  The
format has no magic: a file is recognized by its header reading as one.

Several tensors in one file are written out of core like one: lay the jobs
out, encode the header, hand both to the format's ``write``
(:func:`fastinit.cli.chunked.write_file`), which fills each tensor block by
block in bounded memory.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from fastinit._validate import as_dtype
from fastinit.cli.errors import RuntimeFailure
from fastinit.cli.formats.base import BadFile, Format, NotThisFormat, StoredTensor, check_extent
from fastinit.cli.progress import MIB
from fastinit.cli.schemes import abbreviate as abbreviate_text
from fastinit.cli.schemes import dtype_name

SAFETENSORS_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64"}
SAFETENSORS_READ_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bfloat16",
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
}
SAFETENSORS_MAX_HEADER = 100 * MIB     # as the safetensors library: a longer header is refused
RESERVED_NAMES = ("", "__metadata__")   # the header's own key, and no name at all


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


def encode_header(jobs: list, provenance: dict) -> bytes:
    """The header of ``jobs`` (in layout order), ``provenance`` stored as JSON in ``__metadata__``."""
    return safetensors_header(jobs, {"format": "pt",
                                     "fastinit": json.dumps(provenance, separators=(",", ":"))})


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
    check_extent(path, tensor, file_size, label)
    return tensor


def read_safetensors_tensors(path: Path, handle, file_size: int) -> list:
    """The tensors of a safetensors file, the header checked as the format requires.

    Raises NotThisFormat when the file does not even look like one, BadFile
    when it does but its header is wrong.
    """
    prefix = handle.read(8)
    if len(prefix) < 8:
        raise NotThisFormat("it is shorter than 8 bytes")
    length = struct.unpack("<Q", prefix)[0]
    if length > min(SAFETENSORS_MAX_HEADER, file_size - 8):
        raise NotThisFormat(f"its first 8 bytes give a safetensors header of {length:,} bytes, "
                             f"and the file has {file_size:,}")
    text = handle.read(length)
    try:
        header = json.loads(text.decode("utf-8"))
    except RecursionError:
        raise BadFile("its safetensors header is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise NotThisFormat("its header is not JSON") from None
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


SAFETENSORS = Format(name="safetensors", suffixes=(".safetensors",), multi_tensor=True, named=True,
                     magic=None, layout=safetensors_layout, encode_header=encode_header,
                     read=read_safetensors_tensors, reserved_names=RESERVED_NAMES)

"""The format table: every file format the command line writes and reads, in one place.

:data:`FORMATS` lists one :class:`~fastinit.cli.formats.base.Format` per
format, each defined in a module of its own (``npy``, ``safetensors``).
Everything that depends on the format asks the table: ``init`` picks the
format of its output by suffix (:func:`output_format`) and asks it whether it
holds several tensors and names them, how to lay them out and encode the
header, and how to write; ``inspect`` recognizes a file by its first bytes
(:func:`read_tensors`) and asks its format to decode the header.  Adding a
format is a module defining a ``Format`` and one entry in :data:`FORMATS`
(docs/extending.md, "Adding a file format").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from fastinit.cli.errors import RuntimeFailure, UsageError, os_error_text
from fastinit.cli.formats.base import BadFile, Format, NotThisFormat, StoredTensor
from fastinit.cli.formats.npy import NPY
from fastinit.cli.formats.safetensors import SAFETENSORS

# The order in which messages list the formats.
FORMATS = (NPY, SAFETENSORS)

OUTPUT_SUFFIXES = tuple(suffix for form in FORMATS for suffix in form.suffixes)
INSPECT_CHUNK_ELEMENTS = 1 << 22       # reading: values per chunk


def _check_table(formats: tuple) -> None:
    """The table's own invariants: each suffix once, at most one format without magic."""
    suffixes = [suffix for form in formats for suffix in form.suffixes]
    if len(set(suffixes)) != len(suffixes):
        raise AssertionError(f"a suffix is claimed by two formats: {suffixes}")
    if sum(form.magic is None for form in formats) > 1:
        raise AssertionError("at most one format may be recognized without magic bytes")


_check_table(FORMATS)


def suffix_list(formats=FORMATS, joiner: str = " or ") -> str:
    """``.npy or .safetensors``: the suffixes of ``formats``, for messages."""
    return joiner.join(suffix for form in formats for suffix in form.suffixes)


def output_format(path: Path) -> Format:
    """The format a file named ``path`` is written in, chosen by its suffix (any case)."""
    suffix = path.suffix.lower()
    for form in FORMATS:
        if suffix in form.suffixes:
            return form
    raise UsageError(f"unsupported output format {path.suffix or '(no suffix)'!r} for {str(path)!r}; "
                     f"the file name must end in {suffix_list()}")


def recognize(start: bytes) -> Format:
    """The format of a file that starts with ``start``: the one whose magic it begins with,
    else the format without magic (to be confirmed by its reader)."""
    for form in FORMATS:
        if form.magic is not None and start.startswith(form.magic):
            return form
    return next(form for form in FORMATS if form.magic is None)


def read_tensors(path: Path) -> list:
    """The tensors of a file of any format of the table (recognized by content, not name).

    A malformed header is a :class:`RuntimeFailure` naming the file and what is wrong.
    """
    longest_magic = max(len(form.magic) for form in FORMATS if form.magic is not None)
    try:
        with open(path, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            form = recognize(handle.read(longest_magic))
            handle.seek(0)
            try:
                return form.read(path, handle, file_size)
            except NotThisFormat as exc:
                kinds = " nor ".join(f"a {other.label}" for other in FORMATS)
                raise RuntimeFailure(f"{str(path)!r} is neither {kinds} file ({exc})") from None
            except BadFile as exc:
                raise RuntimeFailure(f"{str(path)!r} is not a valid {form.label} file: {exc}") from None
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

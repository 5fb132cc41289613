"""What every file format shares: the :class:`Format` record, and the tensors read back.

A :class:`Format` is one row of the format table (:data:`fastinit.cli.formats.FORMATS`):
how output names end, whether the file holds one tensor or several and
whether they are named, how a file is recognized, how tensors are laid out and
their header encoded (writing), and how a header is decoded into
:class:`StoredTensor` records (reading).  The data itself is written by
``write``, by default :func:`fastinit.cli.chunked.write_file`: the header,
then each tensor's C-ordered bytes in layout order, out of core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Optional

import numpy as np

from fastinit.cli.chunked import write_file


@dataclass(frozen=True)
class Format:
    """One file format of the command line.

    Attributes
    ----------
    name : str
        Its name in messages (``"safetensors"``).
    suffixes : tuple of str
        Lower-case endings of the file names written in it (``(".npy",)``);
        the first names it in messages.
    multi_tensor : bool
        Whether a file holds several tensors (``init --spec`` needs one that does).
    named : bool
        Whether its tensors have names (``init --name``, ``inspect --name``).
    magic : bytes or None
        The bytes every file of it starts with.  None: it has no magic and is
        recognized by its layout; it is tried when no magic matches (at most
        one format of the table may have none).
    layout : callable
        ``layout(jobs) -> jobs``: the order the tensors' data is stored in.
    encode_header : callable
        ``encode_header(jobs, provenance) -> bytes``: everything before the
        data, for jobs already in layout order.  ``provenance`` (a JSON-able
        dict: the fastinit version and each tensor's scheme, seed and stream)
        is stored where the format has room for it, else dropped.
    read : callable
        ``read(path, handle, file_size) -> list of StoredTensor``: decode the
        header of an open file (``handle`` at offset 0).  Raises
        :class:`BadFile` when the header is malformed, and
        :class:`NotThisFormat` (only a format without ``magic``) when the file
        is not laid out as this format at all.
    write : callable
        ``write(path, header, jobs, force, quiet) -> (seconds, generating_seconds)``:
        write the header and then the jobs' data safely.
    reserved_names : tuple of str
        Tensor names the format cannot store.
    """

    name: str
    suffixes: tuple
    multi_tensor: bool
    named: bool
    magic: Optional[bytes]
    layout: Callable[[list], list]
    encode_header: Callable[[list, dict], bytes]
    read: Callable[[Path, BinaryIO, int], list]
    write: Callable = write_file
    reserved_names: tuple = ()

    @property
    def label(self) -> str:
        """How messages name a file of this format (``.npy``)."""
        return self.suffixes[0]

    def usable_name(self, name: str) -> bool:
        """Whether a tensor may be stored under ``name``."""
        return name not in self.reserved_names


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
    """A weight file whose header is malformed (raised by the formats' readers)."""


def check_extent(path: Path, tensor: StoredTensor, file_size: int, what: str) -> None:
    """Refuse a tensor whose bytes run past the end of the file."""
    end = tensor.offset + tensor.size * tensor.dtype.itemsize
    if end > file_size:
        raise BadFile(f"{what} needs bytes {tensor.offset:,} to {end:,} but the file has "
                      f"{file_size:,} (truncated?)")


class NotThisFormat(ValueError):
    """The file is not laid out as the format at all (raised by a reader of a format without magic)."""

"""The format table of the command line (fastinit.cli.formats).

Every format-dependent decision asks the table, so a format added to it is
written by ``init`` and read by ``inspect`` with no other edit: proved here
with a toy format (the one docs/extending.md sketches) patched into the table.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli
from fastinit._validate import as_dtype
from fastinit.cli import formats
from fastinit.cli.errors import RuntimeFailure, UsageError
from fastinit.cli.formats.base import Format, StoredTensor, check_extent
from fastinit.cli.formats.npy import NPY
from fastinit.cli.formats.safetensors import SAFETENSORS
from fastinit.cli.jobs import TensorJob
from fastinit.cli.schemes import dtype_name, lookup_scheme

TOY_MAGIC = b"TOYW"


def toy_encode_header(jobs: list, provenance: dict) -> bytes:
    """Magic, a 4-byte length, then JSON with the one array's dtype and shape."""
    job = jobs[0]
    text = json.dumps({"dtype": dtype_name(job.dtype), "shape": list(job.shape)}).encode()
    return TOY_MAGIC + struct.pack("<I", len(text)) + text


def toy_read(path: Path, handle, file_size: int) -> list:
    handle.read(len(TOY_MAGIC))
    length = struct.unpack("<I", handle.read(4))[0]
    header = json.loads(handle.read(length))
    tensor = StoredTensor(path, "", as_dtype(header["dtype"]), tuple(header["shape"]), 8 + length)
    check_extent(path, tensor, file_size, "its array")
    return [tensor]


TOY = Format(name="toy", suffixes=(".toy",), multi_tensor=False, named=False, magic=TOY_MAGIC,
             layout=list, encode_header=toy_encode_header, read=toy_read)


def test_the_table_lists_npy_then_safetensors():
    assert formats.FORMATS == (NPY, SAFETENSORS)
    assert formats.OUTPUT_SUFFIXES == (".npy", ".safetensors")
    assert formats.suffix_list() == ".npy or .safetensors"
    assert (NPY.multi_tensor, NPY.named, SAFETENSORS.multi_tensor, SAFETENSORS.named) == (False, False,
                                                                                        True, True)
    assert not SAFETENSORS.usable_name("__metadata__") and not SAFETENSORS.usable_name("")
    assert NPY.usable_name("")


@pytest.mark.parametrize("name, expected", [("w.npy", NPY), ("W.NPY", NPY), ("a.b.safetensors", SAFETENSORS),
                                            ("m.SafeTensors", SAFETENSORS)])
def test_output_format_goes_by_suffix_in_any_case(name, expected):
    assert formats.output_format(Path(name)) is expected


@pytest.mark.parametrize("name, shown", [("w.txt", "'.txt'"), ("weights", "'(no suffix)'")])
def test_output_format_refuses_other_suffixes(name, shown):
    with pytest.raises(UsageError) as error:
        formats.output_format(Path(name))
    assert str(error.value) == (f"unsupported output format {shown} for '{name}'; the file name must "
                                "end in .npy or .safetensors")


def test_recognize_goes_by_magic_else_the_format_without_one():
    assert formats.recognize(b"\x93NUMPY") is NPY
    assert formats.recognize(b"\x10\x00\x00\x00\x00\x00") is SAFETENSORS
    assert formats.recognize(b"") is SAFETENSORS


def test_the_table_refuses_a_suffix_twice_and_two_formats_without_magic():
    twin = Format(name="npy2", suffixes=(".npy",), multi_tensor=False, named=False, magic=b"X",
                  layout=list, encode_header=toy_encode_header, read=toy_read)
    with pytest.raises(AssertionError, match="claimed by two formats"):
        formats._check_table((NPY, twin))
    blind = Format(name="blind", suffixes=(".blind",), multi_tensor=False, named=False, magic=None,
                   layout=list, encode_header=toy_encode_header, read=toy_read)
    with pytest.raises(AssertionError, match="at most one format"):
        formats._check_table((SAFETENSORS, blind))
    formats._check_table((NPY, SAFETENSORS, TOY))


def test_safetensors_lays_out_several_tensors_largest_item_first():
    scheme = lookup_scheme("normal")
    jobs = [TensorJob(name, scheme, (3, 2), np.dtype(dtype), {}, 0)
            for name, dtype in (("a", "float16"), ("b", "float64"), ("c", "float32"), ("d", "float16"))]
    assert [job.name for job in SAFETENSORS.layout(jobs)] == ["b", "c", "a", "d"]
    assert [job.name for job in NPY.layout(jobs[:1])] == ["a"]


def test_a_format_added_to_the_table_is_written_and_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(formats, "FORMATS", formats.FORMATS + (TOY,))
    target = tmp_path / "w.toy"
    assert cli.main(["init", "normal", "30x20", "--seed", "5", "-o", str(target), "-q"]) == 0
    expected = fi.normal((30, 20), seed=5)
    assert target.read_bytes() == toy_encode_header(
        [TensorJob("weight", lookup_scheme("normal"), (30, 20), expected.dtype, {}, 5)], {}) + expected.tobytes()
    assert cli.main(["inspect", str(target)]) == 0
    out = capsys.readouterr().out
    assert "shape    30x20  (600 elements)" in out and "dtype    float32" in out
    assert f"min      {float(expected.min()):.6g}" in out and f"max      {float(expected.max()):.6g}" in out

    assert cli.main(["init", "normal", "3x2", "-o", str(tmp_path / "n.toy"), "--name", "x"]) == 2
    assert ("--name names the tensor in a .safetensors file; a .toy file holds one unnamed array"
            in capsys.readouterr().err)

    target.write_bytes(target.read_bytes()[:-4])                      # truncated
    with pytest.raises(RuntimeFailure, match=r"is not a valid \.toy file: its array needs bytes"):
        formats.read_tensors(target)


def test_an_unrecognized_file_names_every_format(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    with pytest.raises(RuntimeFailure, match=r"is neither a \.npy nor a \.safetensors file "
                                             r"\(it is shorter than 8 bytes\)"):
        formats.read_tensors(path)

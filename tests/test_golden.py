"""Frozen stream: the kernels and the reference must reproduce tests/golden_v1.json.

Any change to the stream's bits fails here.  A new stream is a deliberate
release: bump STREAM_VERSION, regenerate with tools/make_golden.py into a new
golden_vN.json, and document it in the README.
"""

import json
import pathlib

import numpy as np

import fastinit as fi
from fastinit import reference

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden_v1.json").read_text())
WIDTH = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits(values):
    values = np.asarray(values)
    return [int(v) for v in values.view(WIDTH[values.dtype.itemsize])]


def test_stream_version_is_frozen():
    assert fi.STREAM_VERSION == GOLDEN["stream_version"] == reference.STREAM_VERSION == 1


def _kernel_values(case):
    n, start = GOLDEN["count"], case["start"]
    if case["dist"] == "raw":
        return fi.random_raw(n, seed=case["seed"], stream=case["stream"], start=start)
    fill = {"uniform": fi.uniform, "normal": fi.normal}[case["dist"]]
    return fill((start + n,), *case["params"], dtype=case["dtype"], seed=case["seed"],
                stream=case["stream"], region=(slice(start, None),))


def test_kernels_match_golden(simd):
    mismatched = [c for c in GOLDEN["cases"] if _bits(_kernel_values(c)) != c["bits"]]
    assert not mismatched, f"{len(mismatched)} golden cases differ, first: {mismatched[0]}"


def test_reference_matches_golden():
    fns = {"uniform": reference.uniform_flat, "normal": reference.normal_flat}
    for case in GOLDEN["cases"]:
        n, start = GOLDEN["count"], case["start"]
        if case["dist"] == "raw":
            got = reference.raw_words(case["seed"], case["stream"], start, n)
        else:
            got = fns[case["dist"]](case["seed"], case["stream"], start, n, *case["params"], case["dtype"])
        assert _bits(got) == case["bits"], case


def test_golden_covers_every_distribution_and_dtype():
    combos = {(c["dist"], c.get("dtype")) for c in GOLDEN["cases"]}
    expected = {("raw", None)} | {(d, k) for d in ("uniform", "normal")
                                  for k in ("float32", "float64", "float16", "bfloat16")}
    assert combos == expected

"""Pinned trunc_normal values: tests/golden_v1_trunc_normal.json.

The "ordinary" entries were generated (tools/make_golden_trunc_normal.py,
from fastinit.reference) before the narrow-interval correction of
docs/stream.md and must never change; the "narrow" entries pin the
corrected regime.  Kernels (every SIMD table) and the reference must match
every entry, and each entry's regime label must be the regime its
parameters select.
"""

import json
import pathlib

import numpy as np

import fastinit as fi
from fastinit import reference

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden_v1_trunc_normal.json").read_text())
WIDTH = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits(values):
    values = np.asarray(values)
    return [int(v) for v in values.view(WIDTH[values.dtype.itemsize])]


def _kernel_values(case):
    n, start = GOLDEN["count"], case["start"]
    return fi.trunc_normal((start + n,), *case["params"], dtype=case["dtype"], seed=case["seed"],
                           stream=case["stream"], region=(slice(start, None),))


def test_kernels_match_golden(simd):
    mismatched = [c for c in GOLDEN["cases"] if _bits(_kernel_values(c)) != c["bits"]]
    assert not mismatched, f"{len(mismatched)} golden cases differ, first: {mismatched[0]}"


def test_reference_matches_golden():
    for case in GOLDEN["cases"]:
        got = reference.trunc_normal_flat(case["seed"], case["stream"], case["start"], GOLDEN["count"],
                                          *case["params"], case["dtype"])
        assert _bits(got) == case["bits"], case


def test_golden_covers_every_dtype():
    assert GOLDEN["stream_version"] == fi.STREAM_VERSION == 1
    combos = {(c["regime"], c["dtype"]) for c in GOLDEN["cases"]}
    kinds = ("float32", "float64", "float16", "bfloat16")
    assert {("ordinary", k) for k in kinds} <= combos

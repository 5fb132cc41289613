"""Pinned trunc_normal values: tests/golden_v1_trunc_normal.json.

The "ordinary" entries were generated (tools/make_golden_trunc_normal.py,
from fastinit.reference) before the narrow-interval correction of
docs/stream.md and must never change; the "narrow" entries pin the
corrected regime.  Kernels (every SIMD table) and the reference must match
every entry, and each entry's regime label must be the regime its
parameters select.
"""

import hashlib
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


def test_golden_covers_every_regime_and_dtype():
    assert GOLDEN["stream_version"] == fi.STREAM_VERSION == 1
    combos = {(c["regime"], c["dtype"]) for c in GOLDEN["cases"]}
    kinds = ("float32", "float64", "float16", "bfloat16")
    assert combos == {(r, k) for r in ("ordinary", "narrow") for k in kinds}


def test_each_entry_is_in_the_regime_it_is_labelled():
    for case in GOLDEN["cases"]:
        assert reference.trunc_normal_kernel(*case["params"])[0] == case["regime"], case


# SHA-256 of the "ordinary" entries as first recorded (before the narrow-interval
# correction): regenerating the file must never change them.
ORDINARY_SHA256 = "329208c0b93adf289249cd2261d99e81f4b1d43523eb6b5cb690adb1b58fa890"


def test_ordinary_entries_are_the_ones_recorded_before_the_correction():
    ordinary = [c for c in GOLDEN["cases"] if c["regime"] == "ordinary"]
    assert len(ordinary) == 960
    digest = hashlib.sha256(json.dumps(ordinary, sort_keys=True).encode()).hexdigest()
    assert digest == ORDINARY_SHA256

"""Write tests/golden_v1.json: the first values of every distribution x dtype.

The values come from fastinit.reference (the executable specification), not
from the kernels.  Run this ONLY when deliberately releasing a new stream
version (and bump STREAM_VERSION with it); tests/test_golden.py fails on any
change to the stream, which is the point.
"""

import json
import pathlib

import numpy as np

from fastinit import reference as R

SEEDS = [0, 1, 0xDEADBEEF, 2**64 - 1]
STREAMS = [0, 7, 2**63 + 5]
STARTS = [0, 3, 4 * 2**32 - 5]          # the last one crosses the 2**32-block carry
COUNT = 8
PARAMS = {"uniform": (-0.5, 2.0), "normal": (0.25, 1.5)}
KINDS = ["float32", "float64", "float16", "bfloat16"]


def bits(values):
    values = np.asarray(values)
    width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[values.dtype.itemsize]
    return [int(v) for v in values.view(width)]


def main():
    cases = []
    for seed in SEEDS:
        for stream in STREAMS:
            for start in STARTS:
                cases.append({"dist": "raw", "seed": seed, "stream": stream, "start": start,
                              "bits": bits(R.raw_words(seed, stream, start, COUNT))})
                for dist, fn in (("uniform", R.uniform_flat), ("normal", R.normal_flat)):
                    for kind in KINDS:
                        p0, p1 = PARAMS[dist]
                        cases.append({"dist": dist, "dtype": kind, "seed": seed, "stream": stream,
                                      "start": start, "params": [p0, p1],
                                      "bits": bits(fn(seed, stream, start, COUNT, p0, p1, kind))})
    doc = {"stream_version": R.STREAM_VERSION, "count": COUNT, "cases": cases}
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / f"golden_v{R.STREAM_VERSION}.json"
    path.write_text(json.dumps(doc, indent=0) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()

"""Write tests/golden_v1_trunc_normal.json: pinned values of trunc_normal.

Like tools/make_golden.py, the values come from fastinit.reference (the
executable specification), never from the kernels.  ORDINARY holds
parameters whose values were right before the narrow-interval correction
(docs/stream.md, "Corrections"); their entries were generated before that
correction and must never change.  NARROW holds parameters of the narrow
regime, pinned after it.  Regenerating must leave every ORDINARY entry
byte-identical (tests/test_golden_trunc_normal.py checks the values, and a
diff of this file shows it).
"""

import json
import pathlib

import numpy as np

from fastinit import reference as R

SEEDS = [0, 0xDEADBEEF, 2**64 - 1]
STREAMS = [0, 2**63 + 5]
# 4 * 2**32 - 5 crosses the 2**32-block carry for the float32 family, 2 * 2**32 - 3 for float64.
STARTS = [0, 3, 4 * 2**32 - 5, 2 * 2**32 - 3]
COUNT = 8
KINDS = ["float32", "float64", "float16", "bfloat16"]

# (mean, std, a, b)
ORDINARY = [
    (0.0, 1.0, -2.0, 2.0),          # torch's default
    (0.0, 0.02, -0.04, 0.04),       # timm's ViT init
    (0.0, 1.0, -1.0, 1.0),
    (0.0, 1.0, 1.0, 3.0),           # upper one-sided interval (mirrored to the lower tail)
    (0.0, 1.0, -3.0, -1.0),         # its mirror image
    (0.0, 1.0, 3.0, 6.0),           # far upper tail
    (0.25, 1.5, -8.0, -6.0),        # far lower tail, off zero
    (1.0, 0.5, 1.0, 1000.0),        # from the mean up
    (-3.0, 0.1, -3.05, -2.9),
    (0.0, 1.0, -11.0, -10.0),       # deep tail
]
NARROW = [
    (0.0, 1e6, -1.0, 1.0),          # the reproducer: std far above the interval
    (0.0, 1.0, -1e-4, 1e-4),
    (0.0, 1.0, 0.5, 1.0),           # upper, mirrored
    (0.0, 1.0, -3.0, -2.8),         # lower tail
    (5.0, 2.0, 7.0, 7.001),         # off zero, mirrored
    (0.0, 1.0, -10.05, -10.0),      # deep tail
    (0.0, 1.0, 0.25, 0.25),         # a == b
]


def bits(values):
    values = np.asarray(values)
    width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[values.dtype.itemsize]
    return [int(v) for v in values.view(width)]


def cases(params, regime):
    out = []
    for mean, std, a, b in params:
        for kind in KINDS:
            if kind == "float16" and max(abs(mean), std, abs(a), abs(b)) > 65504:
                continue                    # fastinit.trunc_normal refuses them for float16
            for seed in SEEDS:
                for stream in STREAMS:
                    for start in STARTS:
                        values = R.trunc_normal_flat(seed, stream, start, COUNT, mean, std, a, b, kind)
                        out.append({"regime": regime, "dtype": kind, "seed": seed, "stream": stream,
                                    "start": start, "params": [mean, std, a, b], "bits": bits(values)})
    return out


def main():
    doc = {"stream_version": R.STREAM_VERSION, "count": COUNT,
           "cases": cases(ORDINARY, "ordinary") + cases(NARROW, "narrow")}
    path = (pathlib.Path(__file__).resolve().parent.parent / "tests"
            / f"golden_v{R.STREAM_VERSION}_trunc_normal.json")
    # One case per line: a diff shows exactly which entries changed.
    lines = ",\n".join(json.dumps(c) for c in doc["cases"])
    path.write_text(f'{{"stream_version": {doc["stream_version"]}, "count": {COUNT}, "cases": [\n'
                    f"{lines}\n]}}\n")
    print(f"wrote {len(doc['cases'])} cases to {path}")


if __name__ == "__main__":
    main()

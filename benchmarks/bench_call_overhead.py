"""Per-call overhead of a scheme on a small tensor: median of many calls, one thread.

The fill itself of a (64, 64) float32 array takes a few microseconds; the rest
is argument checking and dispatch, which schemes do once (fastinit._registry,
fastinit._draw).  ``normal`` is the floor a scheme built on it can reach.

    python benchmarks/bench_call_overhead.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastinit as fi


def median_us(call, calls):
    for _ in range(min(calls, 500)):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    fi.set_num_threads(1)
    out = np.empty((64, 64), np.float32)
    rows = [
        ("normal((64, 64), std=0.02)", lambda: fi.normal((64, 64), std=0.02, seed=0)),
        ("kaiming_normal((64, 64))", lambda: fi.kaiming_normal((64, 64), seed=0)),
        ("kaiming_normal(out=64x64)", lambda: fi.kaiming_normal(out=out, seed=0)),
        ("xavier_uniform((64, 64))", lambda: fi.xavier_uniform((64, 64), seed=0)),
        ("small_init((64, 64))", lambda: fi.small_init((64, 64), seed=0)),
    ]
    try:
        import torch
        import fastinit.torch as fit
        tensor = torch.empty(64, 64)
        rows.append(("fastinit.torch.kaiming_normal_(64x64)",
                     lambda: fit.kaiming_normal_(tensor, seed=0)))
    except ImportError:
        pass
    print("| call | median per call (us) |\n|---|---|")
    for label, call in rows:
        print(f"| `{label}` | {median_us(call, args.calls):.1f} |")


if __name__ == "__main__":
    main()

"""``python -m fastinit``: initialize a large embedding table for real and report the speed."""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import fastinit as fi


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fastinit",
        description="Fill a rows x dim float32 embedding with He-normal values "
        "(std = sqrt(2 / dim)), print where the time went, and show the build.",
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args(argv)

    fi.show_config()
    std = math.sqrt(2.0 / args.dim)
    out = np.empty((args.rows, args.dim), dtype=fi._validate.as_dtype(args.dtype))
    fi.normal(out=out, std=std, seed=args.seed)          # first touch of the pages
    start = time.perf_counter()
    fi.normal(out=out, std=std, seed=args.seed)
    seconds = time.perf_counter() - start
    sample = out[:2, :4].astype(np.float32)
    print(f"\nfilled {args.rows}x{args.dim} {out.dtype.name} He-normal (std={std:.5f}, seed={args.seed}) "
          f"in {seconds * 1e3:.1f} ms: {out.size / seconds / 1e9:.2f} G samples/s, "
          f"{out.nbytes / seconds / 1e9:.2f} GB/s")
    print(f"empirical std {float(out.std(dtype=np.float64)):.5f}; first values:\n{sample}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

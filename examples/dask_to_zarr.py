#!/usr/bin/env python
"""Write a larger-than-memory weight matrix to Zarr, generated block by block with Dask.

``fastinit.dask.kaiming_normal(shape, chunks=...)`` is a lazy dask array:
nothing is generated until ``to_zarr`` asks for a block, and each block is
produced by fastinit's region API straight from its position in the full
matrix.  The workers therefore never hold more than a few blocks, whatever
the matrix size, and the file holds exactly the numbers
``fastinit.kaiming_normal(shape, seed=..., stream=...)`` would give in
memory, whatever the chunking or the number of workers.

The default matrix is 16384 x 8192 float32 (512 MiB), written by two worker
processes limited to 2 GiB each: it finishes in well under a minute on two
cores.  The point of the design shows at sizes beyond memory; this writes
32 GiB (needs as much free disk and takes a while):

    python examples/dask_to_zarr.py --rows 131072 --cols 65536 --path /tmp/w.zarr

At the end a few blocks are read back and compared, bit for bit, with the
same blocks generated directly by ``fastinit.kaiming_normal(..., region=...)``.
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--cols", type=int, default=8192)
    parser.add_argument("--chunk", type=int, default=4096, help="square block size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GiB", help="per worker")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path", default="weights.zarr")
    parser.add_argument("--check-blocks", type=int, default=4, help="blocks to verify at the end")
    args = parser.parse_args(argv)

    import zarr
    from distributed import Client, LocalCluster

    import fastinit as fi
    import fastinit.dask as fid

    shape = (args.rows, args.cols)
    weights = fid.kaiming_normal(shape, nonlinearity="relu", chunks=args.chunk, seed=args.seed,
                                 stream="decoder.lm_head.weight")
    size_gib = weights.nbytes / 2**30
    print(f"matrix {shape} float32 = {size_gib:.2f} GiB in {weights.npartitions} blocks "
          f"of {args.chunk} x {args.chunk}")

    shutil.rmtree(args.path, ignore_errors=True)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=args.memory_limit, dashboard_address=None) as cluster, \
            Client(cluster):
        start = time.perf_counter()
        # Random floats do not compress: store them raw.
        weights.to_zarr(args.path, compressors=None)
        elapsed = time.perf_counter() - start
    print(f"wrote {args.path} in {elapsed:.1f} s ({size_gib / elapsed:.2f} GiB/s)")

    stored = zarr.open_array(args.path, mode="r")
    rng = np.random.default_rng(0)
    all_equal = True
    for _ in range(args.check_blocks):
        r0 = int(rng.integers(0, max(1, args.rows - args.chunk + 1)))
        c0 = int(rng.integers(0, max(1, args.cols - args.chunk + 1)))
        region = (slice(r0, min(r0 + args.chunk, args.rows)), slice(c0, min(c0 + args.chunk, args.cols)))
        direct = fi.kaiming_normal(shape, nonlinearity="relu", seed=args.seed,
                                   stream="decoder.lm_head.weight", region=region)
        all_equal &= np.array_equal(stored[region].view(np.uint32), direct.view(np.uint32))
    print("blocks checked: " + ("all equal" if all_equal else "MISMATCH"))
    return 0 if all_equal else 1


if __name__ == "__main__":
    raise SystemExit(main())

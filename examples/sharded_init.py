#!/usr/bin/env python
"""Sharded initialization with torch.distributed: every rank fills only its own shard.

A tensor-parallel layer splits its weight across ranks: a column-parallel
Linear keeps a block of rows of the ``(out, in)`` weight on each rank, a
row-parallel one a block of columns.  With fastinit each rank generates just
its block with ``region=``, and fans come from the *global* shape, so the
shards put together are bit-identical to initializing the whole matrix in one
process; no rank ever allocates or draws the full matrix, and no values are
communicated at initialization time.

This script starts ``--world-size`` processes (gloo backend, CPU, 127.0.0.1),
initializes a ``--rows`` x ``--cols`` matrix twice (row shards with
kaiming_normal, column shards with xavier_uniform), all-gathers the shards
and checks, on every rank, that they equal the single-process result.

    python examples/sharded_init.py                      # 2 ranks, 4096 x 1024
    python examples/sharded_init.py --world-size 4 --rows 8192 --cols 2048
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.distributed as dist

import fastinit as fi
from fastinit.torch import numpy_view
from _spawn import spawn  # examples/_spawn.py, beside this script

SEED = 2024


def shard_bounds(size, rank, world_size):
    """[start, stop) of this rank's share of ``size`` (the first ranks get one more if uneven)."""
    base, extra = divmod(size, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def init_row_shard(shape, rank, world_size):
    """Rows [r0, r1) of a kaiming_normal (fan_in, relu) matrix of the global ``shape``."""
    r0, r1 = shard_bounds(shape[0], rank, world_size)
    shard = torch.empty(r1 - r0, shape[1])
    fi.kaiming_normal(shape, nonlinearity="relu", out=numpy_view(shard), region=(slice(r0, r1),),
                      seed=SEED, stream="mlp.up.weight")
    return shard


def init_column_shard(shape, rank, world_size):
    """Columns [c0, c1) of an xavier_uniform matrix of the global ``shape`` (contiguous shard)."""
    c0, c1 = shard_bounds(shape[1], rank, world_size)
    shard = torch.empty(shape[0], c1 - c0)
    fi.xavier_uniform(shape, out=numpy_view(shard), region=(slice(None), slice(c0, c1)),
                      seed=SEED, stream="mlp.down.weight")
    return shard


def gather(shard, dim, shape, world_size):
    """all_gather shards of possibly different sizes along ``dim``."""
    sizes = [shard_bounds(shape[dim], r, world_size) for r in range(world_size)]
    pieces = []
    for start, stop in sizes:
        piece_shape = list(shard.shape)
        piece_shape[dim] = stop - start
        pieces.append(torch.empty(piece_shape))
    if len({stop - start for start, stop in sizes}) == 1:
        dist.all_gather(pieces, shard)
    else:                       # gloo's all_gather wants equal sizes: pad to the largest
        largest = max(stop - start for start, stop in sizes)
        padded_shape = list(shard.shape)
        padded_shape[dim] = largest
        padded = torch.zeros(padded_shape)
        padded.narrow(dim, 0, shard.shape[dim]).copy_(shard)
        buffers = [torch.empty(padded_shape) for _ in range(world_size)]
        dist.all_gather(buffers, padded)
        pieces = [b.narrow(dim, 0, p.shape[dim]) for b, p in zip(buffers, pieces)]
    return torch.cat(pieces, dim)


def run(rank, world_size, shape, threads):
    fi.set_num_threads(threads)
    rows = gather(init_row_shard(shape, rank, world_size), 0, shape, world_size)
    columns = gather(init_column_shard(shape, rank, world_size), 1, shape, world_size)
    whole_rows = fi.kaiming_normal(shape, nonlinearity="relu", seed=SEED, stream="mlp.up.weight")
    whole_columns = fi.xavier_uniform(shape, seed=SEED, stream="mlp.down.weight")
    same_rows = np.array_equal(rows.numpy().view(np.uint32), whole_rows.view(np.uint32))
    same_columns = np.array_equal(columns.numpy().view(np.uint32), whole_columns.view(np.uint32))
    if rank == 0:
        print(f"{world_size} ranks, global shape {shape}")
        print(f"  row shards (kaiming_normal)    gathered == single process: {same_rows}")
        print(f"  column shards (xavier_uniform) gathered == single process: {same_columns}")
    if not (same_rows and same_columns):
        raise SystemExit(f"rank {rank}: gathered shards differ from the single-process result")
    dist.barrier()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--cols", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1, help="fastinit threads per rank")
    args = parser.parse_args(argv)
    spawn(run, args.world_size, (args.rows, args.cols), args.threads)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Per-rank time of ``init_module`` on a ~1B-parameter FSDP2 model: 1 rank against N ranks.

The model is ``bench_init_module.DecoderSkeleton`` (1.04B parameters by
default), built on the meta device and sharded with FSDP2's ``fully_shard``
(each block, the embedding, the output layer, then the root) over a 1-D
mesh of each world size (gloo, CPU, 127.0.0.1).  Each rank times
``fastinit.torch.init_module(model, seed=0)``: allocating its local shards
and filling them, each as the region of the global tensor it holds.  Each
rank does its own shard's work only, so the time per rank should fall as
1/N while the gathered model stays bit-identical to one process's (that
is what tests/test_sharded.py checks; this script only times).

Ranks start together (a barrier) and each repeat builds a fresh model; the
table shows, per world size, the median over repeats of the slowest rank,
with fastinit's thread count per rank fixed by ``--threads``, and the median
CPU time of the busiest rank (``time.process_time``: the work a rank does,
whatever else shares the machine).  Ranks on one machine share its memory
bandwidth (filling fresh memory is bandwidth- and page-fault-bound), so the
wall time per rank falls as 1/N only where each rank has its own memory
system (separate hosts or GPUs).  On a machine shared with other work the
numbers are noisy: compare medians from one run.

    python benchmarks/bench_sharded_init.py                      # world sizes 1 and 2, 3 repeats
    python benchmarks/bench_sharded_init.py --layers 2 --repeat 1   # quick smoke run
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from _spawn import spawn  # noqa: E402  (examples/_spawn.py)
from bench_init_module import DecoderSkeleton  # noqa: E402

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402


def sharded_model(config, mesh):
    with torch.device("meta"):
        model = DecoderSkeleton(**config)
    for block in model.layers:
        fully_shard(block, mesh=mesh)
    fully_shard(model.embed_tokens, mesh=mesh)
    fully_shard(model.lm_head, mesh=mesh)
    return fully_shard(model, mesh=mesh)


def run(rank, world_size, config, threads, repeat, out):
    torch.set_num_threads(threads)
    fi.set_num_threads(threads)
    mesh = init_device_mesh("cpu", (world_size,))
    fit.init_module(sharded_model(dict(config, layers=1, vocab=1024), mesh), seed=0)  # warm-up
    times, cpu = [], []
    for _ in range(repeat):
        model = sharded_model(config, mesh)
        local = sum(p.to_local().numel() for p in model.parameters())
        gc.collect()
        dist.barrier()
        start, start_cpu = time.perf_counter(), time.process_time()
        fit.init_module(model, seed=0)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        dist.barrier()
        del model
        gc.collect()
    everyone = [None] * world_size
    dist.all_gather_object(everyone, {"rank": rank, "times": times, "cpu": cpu,
                                     "local_parameters": local})
    if rank == 0:
        Path(out).write_text(json.dumps(everyone))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-sizes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--hidden", type=int, default=5504)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--threads", type=int, default=1, help="fastinit/torch threads per rank")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the raw timings here")
    args = parser.parse_args(argv)
    config = dict(vocab=args.vocab, width=args.width, hidden=args.hidden, layers=args.layers)
    with torch.device("meta"):
        parameters = sum(p.numel() for p in DecoderSkeleton(**config).parameters())
    print(f"model: {parameters / 1e9:.3f}B parameters ({parameters * 4 / 2**30:.2f} GiB float32), "
          f"FSDP2, {args.threads} thread(s) per rank, {args.repeat} repeats, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for world_size in args.world_sizes:
            out = Path(scratch, f"{world_size}.json")
            spawn(run, world_size, config, args.threads, args.repeat, str(out), timeout_s=600)
            results[world_size] = json.loads(out.read_text())
            slowest = [max(rank["times"][k] for rank in results[world_size]) for k in range(args.repeat)]
            print(f"  {world_size} rank(s): slowest rank per repeat " + ", ".join(f"{t:.2f} s" for t in slowest))
    print()
    print("| ranks | parameters per rank | median s per rank (slowest rank) | vs 1 rank "
          "| median CPU s per rank (largest) |")
    print("|---:|---:|---:|---:|---:|")
    base = None
    for world_size, ranks in results.items():
        slowest = statistics.median(max(rank["times"][k] for rank in ranks) for k in range(args.repeat))
        base = slowest if base is None else base
        local = max(rank["local_parameters"] for rank in ranks)
        cpu = statistics.median(max(rank["cpu"][k] for rank in ranks) for k in range(args.repeat))
        print(f"| {world_size} | {local / 1e6:.0f}M | {slowest:.2f} | {base / slowest:.2f}x | {cpu:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"parameters": parameters, "threads": args.threads,
                                               "results": results}, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""FSDP2 on a meta-device model: torch's init changes with the world size, fastinit's does not.

For each world size this starts that many processes (gloo, CPU, 127.0.0.1),
builds a small MLP on the meta device, shards it with FSDP2's
``fully_shard`` (every parameter becomes a DTensor; 1000 rows do not split
evenly over 3 ranks) and initializes it twice:

* torch: ``model.to_empty(device="cpu")``, ``torch.manual_seed(0)``, then
  every layer's ``reset_parameters()``.  Each rank draws its own shard from its
  own generator, so the gathered weights depend on the world size;
* fastinit: ``fastinit.torch.init_module(model, seed=0)``.  Each rank
  allocates and fills only its own shard, as the region of the global tensor
  it holds, so the gathered weights are bit-identical to a single process.

Rank 0 prints the sum (in float64) of the gathered first-layer weight for both, and
whether fastinit's gathered model equals single-process ``init_module``::

    python examples/fsdp2_init.py                 # world sizes 1, 2, 3
    python examples/fsdp2_init.py --world-sizes 2 4
"""

from __future__ import annotations

import argparse
import warnings

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

import fastinit.torch as fit
from _spawn import spawn  # examples/_spawn.py, beside this script

SEED = 0


def meta_mlp():
    with torch.device("meta"):
        return nn.Sequential(nn.Linear(512, 1000), nn.ReLU(), nn.Linear(1000, 512))


def sharded_mlp(world_size):
    model = meta_mlp()
    mesh = init_device_mesh("cpu", (world_size,))
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    return fully_shard(model, mesh=mesh)


def torch_init(world_size):
    model = sharded_mlp(world_size)
    model.to_empty(device="cpu")
    torch.manual_seed(SEED)
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()
    return model


def run(rank, world_size):
    # torch warns that its DTensor random ops are incomplete on CPU meshes: the point shown here.
    warnings.filterwarnings("ignore", message="DTensor random operators")
    with torch.no_grad():
        by_torch = torch_init(world_size)[0].weight.full_tensor()
        model = fit.init_module(sharded_mlp(world_size), seed=SEED)
        gathered = {name: tensor.full_tensor() for name, tensor in model.state_dict().items()}
    if rank == 0:
        single = fit.init_module(meta_mlp(), seed=SEED).state_dict()
        same = all(torch.equal(gathered[name].view(torch.int32), single[name].view(torch.int32))
                   for name in single)
        shard_rows = model[0].weight.to_local().shape[0]
        print(f"world size {world_size}: torch sum {float(by_torch.double().sum()):+.6f}   "
              f"fastinit sum {float(gathered['0.weight'].double().sum()):+.6f}   "
              f"(rank 0 holds {shard_rows} of 1000 rows; gathered == single process: {same})",
              flush=True)
        if not same:
            raise SystemExit("fastinit's gathered model differs from the single-process one")
    dist.barrier()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-sizes", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    print("sum (float64) of the gathered first-layer weight (512 -> 1000), seed 0")
    for world_size in args.world_sizes:
        spawn(run, world_size)


if __name__ == "__main__":
    main()

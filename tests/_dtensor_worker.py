"""One rank of tests/test_sharded.py: DTensor models (FSDP2, tensor parallel, 2-D) on gloo/CPU.

Run as ``python _dtensor_worker.py RANK WORLD_SIZE PORT OUT_DIR`` by the test,
WORLD_SIZE = 4.  Importing torch.distributed costs several seconds per
process, so one group of four processes runs every scenario: FSDP2 on
1-, 2- and 3-rank meshes (ranks 0..n-1 of the group), tensor parallelism on
2 and 3, and a 2 x 2 (dp, tp) mesh.  Each rank compares every gathered
``full_tensor()`` with single-process ``init_module`` bit for bit and writes
``OUT_DIR/rank<R>.json``: the scenarios it ran and every mismatch it saw.
"""

from __future__ import annotations

import json
import sys
import traceback
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor, Partial
from torch.distributed.tensor.placement_types import _StridedShard
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

import fastinit.torch as fit

SEED = 1234
# Odd sizes: 7 rows over 2 or 3 ranks, 2 over 3 ranks (one empty shard), 11 over 3.
RULES = {"up.weight": ("trunc_normal", {"std": 0.02}), "head.weight": ("orthogonal", {"gain": 0.5})}


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6, padding_idx=3)
        self.up = nn.Linear(6, 7)
        self.down = nn.Linear(7, 2)
        self.norm = nn.LayerNorm(2)
        self.head = nn.Linear(2, 9, bias=False)

    def forward(self, tokens):
        return self.head(self.norm(self.down(torch.relu(self.up(self.emb(tokens))))))


def meta_model():
    with torch.device("meta"):
        return Tiny()


def reference_state():
    """Single-process init_module of the unsharded model: the values every mesh must give."""
    return {name: tensor.detach().clone() for name, tensor in
            fit.init_module(meta_model(), SEED, RULES).state_dict().items()}


def full(tensor):
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def same_bits(a, b):
    a, b = a.detach(), b.detach()
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.view(torch.int32), b.view(torch.int32))


class Checks:
    def __init__(self, rank):
        self.rank, self.ran, self.failures, self.facts = rank, [], [], {}

    def compare(self, scenario, model, expected):
        # Every rank of the mesh calls full_tensor() in the same order (a collective).
        for name, tensor in model.state_dict().items():
            if not same_bits(full(tensor), expected[name]):
                self.failures.append(f"{scenario}: {name} differs from single-process init_module")
        self.ran.append(scenario)


def fsdp(mesh):
    model = meta_model()
    for layer in (model.emb, model.up, model.down, model.head):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def tensor_parallel(mesh):
    model = meta_model()
    return parallelize_module(model, mesh, {"emb": RowwiseParallel(), "up": ColwiseParallel(),
                                            "down": RowwiseParallel()})


def placements_of(model):
    return {name: str(p.placements) for name, p in model.named_parameters() if isinstance(p, DTensor)}


def run_fsdp(checks, rank, expected):
    for size in (1, 2, 3):
        mesh = DeviceMesh("cpu", list(range(size)))      # every rank takes part in creating it
        if rank >= size:
            continue
        scenario = f"fsdp{size}"
        model = fit.init_module(fsdp(mesh), SEED, RULES)
        if not all(isinstance(p, DTensor) and not p.to_local().is_meta for p in model.parameters()):
            checks.failures.append(f"{scenario}: parameters are not materialized DTensors")
        checks.compare(scenario, model, expected)
        # FSDP computes with the filled shards (its padded storage holds our values).
        tokens = torch.tensor([[1, 3, 10, 4]])
        reference = fit.init_module(meta_model(), SEED, RULES)
        if not torch.allclose(model(tokens), reference(tokens), rtol=0, atol=1e-6):
            checks.failures.append(f"{scenario}: forward differs from the unsharded model")
        # Drop-ins given a DTensor fill its shard by region, also for seed=None.
        fit.kaiming_normal_(model.up.weight, nonlinearity="relu", seed=9, stream="dropin")
        plain = fit.kaiming_normal_(torch.empty(7, 6), nonlinearity="relu", seed=9, stream="dropin")
        if not same_bits(model.up.weight.full_tensor(), plain):
            checks.failures.append(f"{scenario}: kaiming_normal_ on the DTensor differs")
        fit.orthogonal_(model.emb.weight, seed=4)
        if not same_bits(model.emb.weight.full_tensor(), fit.orthogonal_(torch.empty(11, 6), seed=4)):
            checks.failures.append(f"{scenario}: orthogonal_ on the DTensor differs")
        torch.manual_seed(5)
        fit.xavier_uniform_(model.head.weight)
        torch.manual_seed(5)
        if not same_bits(model.head.weight.full_tensor(), fit.xavier_uniform_(torch.empty(9, 2))):
            checks.failures.append(f"{scenario}: xavier_uniform_ (seed from torch) differs")
        if size > 1:
            torch.manual_seed(rank)          # ranks disagree: refused, on every rank alike
            try:
                fit.normal_(model.up.weight)
                checks.failures.append(f"{scenario}: a seed differing between ranks was accepted")
            except ValueError as error:
                checks.facts[f"{scenario} differing seeds"] = str(error)
            torch.manual_seed(rank)          # patch_init's drawn seed is checked the same way
            try:
                with fit.patch_init(model=model):
                    model.up.reset_parameters()
                checks.failures.append(f"{scenario}: patch_init with seeds differing between ranks ran")
            except ValueError as error:
                checks.facts[f"{scenario} patch_init differing seeds"] = str(error)
        # patch_init given DTensors: torch's own reset_parameters, served by region on the
        # model's named streams, equals the same call on the unsharded model.
        unsharded = fit.init_module(meta_model(), SEED, RULES)
        for target in (model, unsharded):
            with fit.patch_init(7, model=target):
                target.up.reset_parameters()
                target.emb.reset_parameters()
        for name in ("up.weight", "up.bias", "emb.weight"):
            got, want = full(model.get_parameter(name)), unsharded.get_parameter(name)
            if name == "emb.weight":
                # The padding row is zeroed by torch itself (weight[padding_idx].fill_(0)),
                # which on a row-sharded DTensor does not write through to the shard
                # (torch's behaviour, with or without patch_init): compare the other rows.
                checks.facts[f"{scenario} torch zeroed the padding row"] = bool((got[3] == 0).all())
                keep = [row for row in range(got.shape[0]) if row != 3]
                got, want = got[keep], want[keep]
            if not same_bits(got, want):
                checks.failures.append(f"{scenario}: patch_init reset_parameters of {name} differs")
        checks.ran.append(scenario + " drop-ins")
        if size > 1:
            run_strided_and_refusals(checks, mesh, scenario)
        # torch's own init under one manual_seed: the motivating fact (per mesh size).
        model = fsdp(mesh)
        model.to_empty(device="cpu")
        torch.manual_seed(0)
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        checks.facts[f"torch {scenario} up.weight sum"] = float(model.up.weight.full_tensor().sum())


def run_strided_and_refusals(checks, mesh, scenario):
    """A _StridedShard alone holds several boxes per rank; Partial and a wrong device are refused."""
    from fastinit.torch._sharded import local_indices
    global_shape = (11, 3)
    placements = [_StridedShard(0, split_factor=2)]
    indices = local_indices(global_shape, tuple(mesh.shape), mesh.get_coordinate(), placements)
    local = torch.empty(len(indices[0]), 3)
    strided = DTensor.from_local(local, mesh, placements, run_check=False,
                                 shape=torch.Size(global_shape), stride=(3, 1))
    fit.normal_(strided, 0.5, 2.0, seed=8, stream="s")
    if not same_bits(strided.full_tensor(), fit.normal_(torch.empty(global_shape), 0.5, 2.0, seed=8, stream="s")):
        checks.failures.append(f"{scenario}: normal_ on a _StridedShard DTensor differs")
    fit.orthogonal_(strided, seed=8)
    if not same_bits(strided.full_tensor(), fit.orthogonal_(torch.empty(global_shape), seed=8)):
        checks.failures.append(f"{scenario}: orthogonal_ on a _StridedShard DTensor differs")
    partial = DTensor.from_local(torch.zeros(4), mesh, [Partial()], run_check=False)
    try:
        fit.uniform_(partial, seed=1)
        checks.failures.append(f"{scenario}: a Partial DTensor was filled")
    except ValueError as error:
        checks.facts[f"{scenario} partial"] = str(error)
    if not torch.equal(partial.to_local(), torch.zeros(4)):
        checks.failures.append(f"{scenario}: the refused Partial DTensor was written")
    model = fsdp(mesh)
    try:
        fit.init_module(model, SEED, RULES, device="cuda")
        checks.failures.append(f"{scenario}: device='cuda' was accepted for a cpu mesh")
    except ValueError as error:
        checks.facts[f"{scenario} device"] = str(error)
    if not all(p.is_meta for p in model.parameters()):
        checks.failures.append(f"{scenario}: a refused init_module materialized the model")
    checks.ran.append(scenario + " strided and refusals")


def run_tensor_parallel(checks, rank, expected):
    for size in (2, 3):
        mesh = DeviceMesh("cpu", list(range(size)))
        if rank >= size:
            continue
        scenario = f"tp{size}"
        model = fit.init_module(tensor_parallel(mesh), SEED, RULES)
        checks.facts[f"{scenario} placements"] = placements_of(model)
        checks.compare(scenario, model, expected)


def run_2d(checks, rank, expected):
    mesh = DeviceMesh("cpu", [[0, 1], [2, 3]], mesh_dim_names=("dp", "tp"))
    model = tensor_parallel(mesh["tp"])
    for layer in (model.emb, model.up, model.down, model.head):
        fully_shard(layer, mesh=mesh["dp"])
    fully_shard(model, mesh=mesh["dp"])
    model = fit.init_module(model, SEED, RULES)
    checks.facts["2d placements"] = placements_of(model)
    checks.compare("2d", model, expected)
    fit.orthogonal_(model.up.weight, seed=3)          # _StridedShard over dp, Shard over tp
    if not same_bits(model.up.weight.full_tensor(), fit.orthogonal_(torch.empty(7, 6), seed=3)):
        checks.failures.append("2d: orthogonal_ on the (_StridedShard, Shard) DTensor differs")
    checks.ran.append("2d drop-ins")


def main(rank, world_size, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size, timeout=timedelta(seconds=120))
    checks = Checks(rank)
    try:
        expected = reference_state()
        run_fsdp(checks, rank, expected)
        run_tensor_parallel(checks, rank, expected)
        run_2d(checks, rank, expected)
    except Exception:                    # reported, not hidden: the test prints it
        checks.failures.append(traceback.format_exc())
        raise
    finally:
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(
            {"ran": checks.ran, "failures": checks.failures, "facts": checks.facts}, indent=1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])

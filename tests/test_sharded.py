"""DTensor models (FSDP2, tensor parallelism, 2-D meshes): the same bits for every world size.

Two halves:

* the placement arithmetic of ``fastinit.torch._sharded`` (which global
  indices a mesh coordinate holds) against torch's own splitting
  (``Placement._split_tensor`` applied in mesh order to a tensor of global
  indices, as ``distribute_tensor`` does) and against
  ``compute_local_shape_and_global_offset``, in one process;
* real ``torch.distributed`` (gloo, CPU): one group of four processes
  (tests/_dtensor_worker.py) runs FSDP2 on 1-, 2- and 3-rank meshes, tensor
  parallelism on 2 and 3, and a 2 x 2 (dp, tp) mesh, and compares every
  gathered ``full_tensor()`` with single-process ``init_module`` bit for bit.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _util import communicate_all, require_module

torch = require_module("torch")
if not torch.distributed.is_available():                      # pragma: no cover
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)

from torch.distributed.tensor import Partial, Replicate, Shard  # noqa: E402
from torch.distributed.tensor._utils import _compute_local_shape_and_global_offset  # noqa: E402
from torch.distributed.tensor.placement_types import _StridedShard  # noqa: E402

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402
from fastinit.torch import _sharded  # noqa: E402

HERE = Path(__file__).resolve().parent
WORLD_SIZE = 4
TIMEOUT_S = 300


# ------------------------------------------------------------------ placement arithmetic


def torch_local_indices(global_shape, mesh_shape, coordinate, placements):
    """Global indices per dim by torch's own splitting, in mesh order (distribute_tensor's way)."""
    held = []
    for dim, n in enumerate(global_shape):
        index = torch.arange(n).view([1] * dim + [n] + [1] * (len(global_shape) - dim - 1))
        for mesh_dim, placement in enumerate(placements):
            if isinstance(placement, (Shard, _StridedShard)) and placement.dim == dim:
                pieces, _ = placement._split_tensor(index, mesh_shape[mesh_dim],
                                                    with_padding=False, contiguous=True)
                index = pieces[coordinate[mesh_dim]]
        held.append(index.reshape(-1).numpy())
    return held


def placement_cases():
    """Every mesh of up to 2 dims x sizes 1-3 with Shard / _StridedShard / Replicate on 2-D tensors."""
    kinds = [Replicate(), Shard(0), Shard(1), _StridedShard(0, split_factor=2),
             _StridedShard(1, split_factor=3)]
    for mesh_shape in [(1,), (2,), (3,), (2, 2), (2, 3), (3, 2)]:
        for placements in itertools.product(kinds, repeat=len(mesh_shape)):
            yield mesh_shape, list(placements)


@pytest.mark.parametrize("global_shape", [(7, 5), (2, 11), (12, 6), (1, 1), (0, 4)])
def test_local_indices_match_torch_splitting(global_shape):
    checked = 0
    for mesh_shape, placements in placement_cases():
        for coordinate in itertools.product(*(range(n) for n in mesh_shape)):
            mine = _sharded.local_indices(global_shape, mesh_shape, coordinate, placements)
            theirs = torch_local_indices(global_shape, mesh_shape, coordinate, placements)
            assert [list(a) for a in mine] == [list(b) for b in theirs], (mesh_shape, placements, coordinate)
            shape, offset = _compute_local_shape_and_global_offset(
                global_shape, mesh_shape, list(coordinate), placements)
            assert tuple(shape) == tuple(len(a) for a in mine)
            for index, first in zip(mine, offset):
                if len(index):
                    assert index[0] == first
            checked += 1
    assert checked == 5 * (1 + 2 + 3) + 25 * (4 + 6 + 6)


def test_uneven_shards_follow_torch_chunk():
    # 7 rows over 3 ranks: torch.chunk sizes 3, 3, 1; 2 rows over 3: 1, 1, 0 (an empty shard).
    assert [list(_sharded.local_indices((7,), (3,), (r,), [Shard(0)])[0]) for r in range(3)] == [
        [0, 1, 2], [3, 4, 5], [6]]
    assert [len(_sharded.local_indices((2,), (3,), (r,), [Shard(0)])[0]) for r in range(3)] == [1, 1, 0]
    # FSDP2 over TP, (dp, tp) = (2, 2): dp shards each tp shard, so (dp, tp) = (1, 0) holds rows 2-3.
    placements = [_StridedShard(0, split_factor=2), Shard(0)]
    held = {c: list(_sharded.local_indices((8, 3), (2, 2), c, placements)[0])
            for c in itertools.product(range(2), range(2))}
    assert held == {(0, 0): [0, 1], (0, 1): [4, 5], (1, 0): [2, 3], (1, 1): [6, 7]}
    # A _StridedShard alone: two boxes per rank.
    assert list(_sharded.local_indices((11,), (2,), (0,), [_StridedShard(0, split_factor=2)])[0]) == [
        0, 1, 2, 6, 7, 8]


def test_runs_are_maximal_boxes():
    assert _sharded.runs(np.array([0, 1, 2, 6, 7, 8])) == [(0, 0, 3), (3, 6, 3)]
    assert _sharded.runs(np.array([4])) == [(0, 4, 1)]
    assert _sharded.runs(np.array([], dtype=np.int64)) == []
    assert _sharded.runs(np.array([5, 6, 2, 3])) == [(0, 5, 2), (2, 2, 2)]


def test_plain_tensors_are_not_dtensors():
    assert not _sharded.is_dtensor(torch.empty(3))
    assert not _sharded.is_dtensor(torch.nn.Parameter(torch.empty(3)))
    assert not _sharded.is_dtensor(np.empty(3))


def test_partial_placement_is_refused_by_name():
    class Fake:                      # only what check_placements reads
        placements = (Shard(0), Partial())
    with pytest.raises(ValueError, match=r"where: placement P\(sum\) on mesh dimension 1 holds partial sums"):
        _sharded.check_placements(Fake(), "where")


# ------------------------------------------------------------------ one rank, in this process


@pytest.fixture
def one_rank_mesh():
    """A gloo group of one process (this one) and its 1-D mesh; torn down afterwards."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    if dist.is_initialized():                                   # pragma: no cover
        pytest.skip("a process group is already initialized in this process")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def _fsdp_linear(mesh):
    from torch.distributed.fsdp import fully_shard
    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Embedding(4, 2, padding_idx=1))
    return fully_shard(model, mesh=mesh)


def test_one_rank_fsdp_equals_plain_init_module(one_rank_mesh):
    model = fit.init_module(_fsdp_linear(one_rank_mesh), 3)
    with torch.device("meta"):
        plain = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Embedding(4, 2, padding_idx=1))
    plain = fit.init_module(plain, 3)
    for (name, tensor), (_, expected) in zip(model.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(tensor.full_tensor().view(torch.int32), expected.view(torch.int32)), name
    assert float(model[1].weight.full_tensor()[1].detach().abs().sum()) == 0.0      # padding row
    with pytest.raises(TypeError, match=r"numpy_view: a DTensor's elements are spread over ranks"):
        fit.numpy_view(model[0].weight)


def test_arithmetic_disagreeing_with_torch_stops_before_anything_is_allocated(one_rank_mesh, monkeypatch):
    model = _fsdp_linear(one_rank_mesh)
    wrong = _sharded.local_indices
    monkeypatch.setattr(_sharded, "local_indices", lambda *a: [i[:-1] for i in wrong(*a)])
    with pytest.raises(RuntimeError, match=r"fastinit's placement arithmetic for \(Shard\(dim=0\),\) on mesh "
                                           r"\(1,\) at coordinate \(0,\) gives local shape \(2, 4\) but the local "
                                           r"tensor has shape \(3, 5\)"):
        fit.init_module(model, 0)
    assert all(p.is_meta for p in model.parameters())


def test_a_seed_drawn_on_one_rank_is_accepted(one_rank_mesh):
    model = fit.init_module(_fsdp_linear(one_rank_mesh), 0)
    torch.manual_seed(11)
    fit.normal_(model[0].weight)
    torch.manual_seed(11)
    assert torch.equal(model[0].weight.full_tensor(), fit.normal_(torch.empty(3, 5)))


# ------------------------------------------------------------------ real torch.distributed


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run the four ranks once; every test below reads their reports."""
    out = tmp_path_factory.mktemp("dtensor")
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    root = str(Path(fi.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    port = _free_port()
    processes = [subprocess.Popen([sys.executable, str(HERE / "_dtensor_worker.py"), str(rank),
                                   str(WORLD_SIZE), str(port), str(out)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for rank in range(WORLD_SIZE)]
    outputs = communicate_all(processes, TIMEOUT_S)
    reports = []
    for rank, (process, output) in enumerate(zip(processes, outputs)):
        path = out / f"rank{rank}.json"
        assert path.exists(), f"rank {rank} wrote no report:\n{output}"
        report = json.loads(path.read_text())
        assert not report["failures"], f"rank {rank}:\n" + "\n".join(report["failures"])
        assert process.returncode == 0, f"rank {rank}:\n{output}"
        reports.append(report)
    return reports




@pytest.mark.slow
def test_every_scenario_ran_on_every_rank_of_its_mesh(ranks):
    # Rank r takes part in the n-rank meshes with n > r and in the 2 x 2 mesh.
    for rank, report in enumerate(ranks):
        expected = []
        for size in (1, 2, 3):
            if rank < size:
                expected += [f"fsdp{size}", f"fsdp{size} drop-ins"]
                if size > 1:
                    expected.append(f"fsdp{size} strided and refusals")
        expected += [f"tp{size}" for size in (2, 3) if rank < size]
        expected += ["2d", "2d drop-ins"]
        assert report["ran"] == expected


@pytest.mark.slow
def test_placements_cover_uneven_strided_and_replicated(ranks):
    facts = ranks[0]["facts"]
    assert facts["tp3 placements"]["up.weight"] == "(Shard(dim=0),)"          # column-wise
    assert facts["tp3 placements"]["down.weight"] == "(Shard(dim=1),)"        # row-wise
    assert facts["tp3 placements"]["down.bias"] == "(Replicate(),)"
    assert facts["2d placements"]["up.weight"] == "(_StridedShard(dim=0, sf=2), Shard(dim=0))"
    assert facts["2d placements"]["down.weight"] == "(Shard(dim=0), Shard(dim=1))"


@pytest.mark.slow
def test_refusals_name_the_problem(ranks):
    facts = ranks[1]["facts"]
    for size in (2, 3):
        assert facts[f"fsdp{size} differing seeds"].startswith(
            f"normal_: the seed drawn from torch's generator differs between the ranks of device mesh ({size},)")
        assert facts[f"fsdp{size} patch_init differing seeds"].startswith(
            "patch_init (kaiming_uniform_): the seed drawn from torch's generator differs between the "
            f"ranks of device mesh ({size},)")
        assert facts[f"fsdp{size} partial"].startswith("uniform_: placement P(sum) on mesh dimension 0")
        assert facts[f"fsdp{size} device"].startswith(
            "init_module: emb.weight is a DTensor on a 'cpu' device mesh; its shard cannot be "
            "materialized on device='cuda'")


@pytest.mark.slow
def test_patch_init_serves_dtensors_by_region(ranks):
    # The run checks the values (a failure is reported by the worker); here: what torch's
    # own padding-row zeroing did on the sharded weight, which explains the row excluded.
    facts = ranks[0]["facts"]
    assert facts["fsdp1 torch zeroed the padding row"] is True
    # torch 2.13: weight[padding_idx].fill_(0) on a row-sharded DTensor leaves the shard as it
    # was (init_module zeroes that row itself, by global index: see _sharded.zero_global_index).
    assert [facts[f"fsdp{size} torch zeroed the padding row"] for size in (2, 3)] == [False, False]


@pytest.mark.slow
def test_torch_reset_parameters_depends_on_the_world_size(ranks):
    """The problem this solves: torch.manual_seed(0) + reset_parameters() on FSDP2 shards
    gives another weight for every mesh size (each rank draws its shard from its own
    generator), while fastinit's gathered weights equal the single-process ones for all."""
    sums = [ranks[0]["facts"][f"torch fsdp{size} up.weight sum"] for size in (1, 2, 3)]
    assert len(set(sums)) == 3, sums


@pytest.mark.slow
def test_fsdp2_example_prints_the_single_process_sum():
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    root = str(Path(fi.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    result = subprocess.run([sys.executable, str(HERE.parent / "examples" / "fsdp2_init.py"),
                             "--world-sizes", "2"], env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    with torch.device("meta"):
        mlp = torch.nn.Sequential(torch.nn.Linear(512, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 512))
    single = float(fit.init_module(mlp, seed=0)[0].weight.detach().double().sum())
    line = next(line for line in result.stdout.splitlines() if line.startswith("world size 2:"))
    assert f"fastinit sum {single:+.6f}" in line
    assert line.endswith("(rank 0 holds 500 of 1000 rows; gathered == single process: True)")

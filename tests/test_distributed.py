"""Sharded initialization across processes with torch.distributed (gloo, CPU).

The test starts two worker processes (this file run as a script) on
127.0.0.1.  Each initializes its row shard of a kaiming_normal matrix and its
column shard of an xavier_uniform matrix through ``region=``, the shards are
all-gathered, and rank 0 saves the gathered matrices; they must equal the
single-process result of this (third) process bit for bit.  It also runs
``examples/sharded_init.py``.  Marked slow: each process imports torch.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from _util import communicate_all, require_module

# Every test here needs the extra: without it the module skips (see _util).
torch = require_module("torch")

import fastinit as fi  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (4096, 1024)
SEED = 77
WORLD_SIZE = 2
TIMEOUT_S = 240


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment():
    env = dict(os.environ)
    fastinit_root = str(Path(fi.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (fastinit_root, env.get("PYTHONPATH")) if p)
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run_ranks(commands, timeout=TIMEOUT_S):
    processes = [subprocess.Popen(c, env=_environment(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for c in commands]
    outputs = communicate_all(processes, timeout, what="ranks")
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output
    return outputs


def test_gathered_shards_equal_the_single_process_matrix(tmp_path):
    port = _free_port()
    _run_ranks([[sys.executable, __file__, str(rank), str(port), str(tmp_path)]
                for rank in range(WORLD_SIZE)])
    rows = np.load(tmp_path / "rows.npy")
    columns = np.load(tmp_path / "columns.npy")
    expected_rows = fi.kaiming_normal(SHAPE, nonlinearity="relu", seed=SEED, stream="up.weight")
    expected_columns = fi.xavier_uniform(SHAPE, seed=SEED, stream="down.weight")
    assert rows.dtype == np.float32 and rows.shape == SHAPE
    assert np.array_equal(rows.view(np.uint32), expected_rows.view(np.uint32))
    assert np.array_equal(columns.view(np.uint32), expected_columns.view(np.uint32))
    # sanity: the shards are not trivially equal to each other
    assert not np.array_equal(rows[: SHAPE[0] // 2], rows[SHAPE[0] // 2:])


def test_sharded_init_example():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "sharded_init.py"),
                             "--world-size", "2", "--rows", "1001", "--cols", "333"],
                            env=_environment(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("single process: True") == 2


# ----------------------------------------------------------------------------- worker


def _worker(rank, port, out_dir):
    import torch.distributed as dist

    from fastinit.torch import numpy_view

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD_SIZE, timeout=timedelta(seconds=120))
    try:
        rows_per_rank = SHAPE[0] // WORLD_SIZE
        cols_per_rank = SHAPE[1] // WORLD_SIZE
        row_shard = torch.empty(rows_per_rank, SHAPE[1])
        fi.kaiming_normal(SHAPE, nonlinearity="relu", out=numpy_view(row_shard),
                          region=(slice(rank * rows_per_rank, (rank + 1) * rows_per_rank),),
                          seed=SEED, stream="up.weight")
        column_shard = torch.empty(SHAPE[0], cols_per_rank)
        fi.xavier_uniform(SHAPE, out=numpy_view(column_shard),
                          region=(slice(None), slice(rank * cols_per_rank, (rank + 1) * cols_per_rank)),
                          seed=SEED, stream="down.weight")
        row_pieces = [torch.empty_like(row_shard) for _ in range(WORLD_SIZE)]
        column_pieces = [torch.empty_like(column_shard) for _ in range(WORLD_SIZE)]
        dist.all_gather(row_pieces, row_shard)
        dist.all_gather(column_pieces, column_shard)
        if rank == 0:
            np.save(Path(out_dir) / "rows.npy", torch.cat(row_pieces, 0).numpy())
            np.save(Path(out_dir) / "columns.npy", torch.cat(column_pieces, 1).numpy())
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])

"""Run a function on ``world_size`` local CPU processes joined by a gloo process group.

Shared by ``examples/sharded_init.py``, ``examples/fsdp2_init.py`` and
``benchmarks/bench_sharded_init.py`` (which puts this folder on ``sys.path``).
Each process calls ``function(rank, world_size, *args)`` inside an initialized
group; the ranks meet at a barrier when it returns, and the group is destroyed
afterwards even when the function raises.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import torch.distributed as dist
import torch.multiprocessing as mp


def free_port():
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _in_group(rank, function, world_size, port, timeout_s, args):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size, timeout=timedelta(seconds=timeout_s))
    try:
        function(rank, world_size, *args)
        # Every rank finishes before any tears the group down: a rank still printing or
        # computing while another destroys the group can abort in gloo's teardown.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn(function, world_size, *args, timeout_s=120):
    """``function(rank, world_size, *args)`` on ``world_size`` processes, joined.

    ``function`` must be importable by the child processes (a module-level
    function).  Collectives time out after ``timeout_s`` seconds.
    """
    # gloo picks an interface by host name, which may not route in containers.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    mp.spawn(_in_group, args=(function, world_size, free_port(), timeout_s, args),
             nprocs=world_size, join=True)

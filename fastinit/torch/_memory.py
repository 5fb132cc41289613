"""Where ``init_module`` puts the tensors of a model it materializes from the meta device.

The default is torch's own CPU allocator (4 KiB pages): the tensors are
ordinary torch storage (resizable, freed by torch, nothing else keeps them
alive).  Asking for transparent huge pages, as fastinit did through NumPy
before, made materializing slower and erratic on the development VMs, so it
is now only an opt-in for measurements (``benchmarks/bench_init_module.py
--huge-pages``).

Why (measured on the 2-core AMD EPYC development VM, kernel 6.18, THP
``madvise``, free page reporting at order 9, 2026-11-30): the first write to
a page the host has discarded costs a host fault per 4 KiB, about 2.5 s of
CPU per GiB; a page the host still backs costs about 0.7 s per GiB in
4 KiB faults and 0.15 s per GiB in 2 MiB faults.  The guest reports free
2 MiB blocks to the host, which discards them, so a huge-page request
mostly draws discarded blocks, while 4 KiB requests are served first from
fragmented free memory, which is never reported and stays backed.
``meta + init_module`` of a 1.04B-parameter model (3.9 GiB), CPU seconds of
the process: median 9.2 s with huge pages (NumPy's, or an own 2 MiB-aligned
mapping) against 3.9 s with 4 KiB pages (6 builds each, interleaved).
"""

from __future__ import annotations

import mmap

import numpy as np
import torch

#: Opt-in for measurements: materialize large float tensors on private
#: mappings advised for transparent huge pages.  Such storage is not
#: resizable (``torch.from_numpy``), so it is not the default.
huge_pages = False

_HUGE_PAGE = 2 << 20
_HUGE_STORAGE = {torch.float32: np.float32, torch.float64: np.float64,
                 torch.float16: np.float16, torch.bfloat16: np.uint16}


def fresh_cpu_tensor(tensor):
    """An uninitialized CPU tensor with ``tensor``'s shape, dtype and strides.

    Parameters
    ----------
    tensor : torch.Tensor
        Usually a meta tensor being materialized.

    Returns
    -------
    torch.Tensor
        ``torch.empty_like(tensor, device="cpu")``; with :data:`huge_pages`
        set, contiguous float tensors of at least 2 MiB live on their own
        ``mmap`` advised ``MADV_HUGEPAGE`` (unmapped when the tensor dies).
    """
    storage = _HUGE_STORAGE.get(tensor.dtype)
    nbytes = tensor.numel() * tensor.element_size()
    if (not huge_pages or storage is None or not tensor.is_contiguous() or nbytes < _HUGE_PAGE
            or not hasattr(mmap, "MADV_HUGEPAGE")):          # Linux only
        return torch.empty_like(tensor, device="cpu")
    # A length that is a multiple of 2 MiB gets a 2 MiB-aligned address from
    # the kernel, so every page of the mapping can be a huge page.
    mapping = mmap.mmap(-1, -(-nbytes // _HUGE_PAGE) * _HUGE_PAGE,
                        flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    mapping.madvise(mmap.MADV_HUGEPAGE)
    array = np.frombuffer(mapping, dtype=storage, count=tensor.numel())
    fresh = torch.from_numpy(array.reshape(tuple(tensor.shape)))   # keeps the mapping alive
    return fresh.view(torch.bfloat16) if tensor.dtype == torch.bfloat16 else fresh

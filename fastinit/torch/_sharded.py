"""DTensor parameters (FSDP2, tensor parallelism): each rank fills its local shard by region.

A ``DTensor`` of global shape ``S`` on a device mesh holds, on each rank, a
local tensor that is a *selection* of the global tensor: along every tensor
dimension ``d`` the rank keeps an ordered list of global indices, and its
local tensor is the Cartesian product of those lists.  fastinit's
``region=`` fills a box of a logical array with exactly the values the whole
array would have there, so a rank fills its local tensor as one or more
boxes of the global tensor (fans from ``S``), and the gathered tensor is
bit-identical to the single-process fill for every mesh and world size.

The index lists, per placement, in mesh-dimension order (torch's
left-to-right convention; see ``docs/integration.md``):

``Replicate()``
    Keeps the list as it is.
``Shard(d)``
    ``torch.chunk`` of the current list along ``d`` into ``n`` (the mesh
    dimension's size) pieces of ``ceil(len / n)``; the last pieces may be
    shorter or empty (uneven shards); coordinate ``r`` keeps piece ``r``.
``_StridedShard(d, split_factor=f)``
    (FSDP2 on top of tensor parallelism.)  The current list is chunked into
    ``f`` pieces, each of those into ``n`` pieces, and coordinate ``r`` keeps
    the concatenation of the ``r``-th piece of each.
``Partial()``
    Holds summands, not values: refused.

The lists are then cut into maximal runs of consecutive indices; each
combination of runs (one per dimension) is one box, filled with one
``region=`` call.  The placements FSDP2 and tensor parallelism produce give
one box per rank.  On every call the arithmetic is checked against the local
tensor's shape and the first global offset that torch's
``compute_local_shape_and_global_offset`` gives (not the whole index list:
the tests compare that with torch's own splitting for every placement).

Whole-matrix schemes (``orthogonal``) are computed on every rank and sliced
(``fastinit.orthogonal(region=...)`` computes the whole QR and cuts out the
box): no communication and no source rank to agree on, at the price of every
rank doing the single-process QR.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import torch

from fastinit._registry import BY_NAME

# Schemes whose every value depends on the whole tensor: a rank holding several boxes
# computes the bounding box once instead of once per box.
WHOLE_TENSOR_SCHEMES = frozenset(name for name, info in BY_NAME.items() if info.whole_matrix)


def is_dtensor(tensor):
    """Whether ``tensor`` is a ``torch.distributed.tensor.DTensor``.

    Only looks if torch.distributed.tensor has been imported (a DTensor cannot
    exist otherwise), so plain models never pay for importing it.
    """
    module = sys.modules.get("torch.distributed.tensor")
    dtensor = getattr(module, "DTensor", None)
    return dtensor is not None and isinstance(tensor, dtensor)


def _placement_kinds():
    from torch.distributed.tensor import Partial, Replicate, Shard
    from torch.distributed.tensor.placement_types import _StridedShard
    return Shard, _StridedShard, Replicate, Partial


def _chunk(indices, pieces):
    """``torch.chunk`` of a 1-D index array into exactly ``pieces`` pieces (trailing ones may be empty)."""
    size = -(-len(indices) // pieces) if len(indices) else 0
    return [indices[min(k * size, len(indices)):min((k + 1) * size, len(indices))]
            for k in range(pieces)]


def check_placements(tensor, where):
    """Raise if ``tensor`` (a DTensor) has a placement whose local values are not global values."""
    Shard, StridedShard, Replicate, Partial = _placement_kinds()
    for mesh_dim, placement in enumerate(tensor.placements):
        if isinstance(placement, (Shard, StridedShard, Replicate)):
            continue
        if isinstance(placement, Partial):
            raise ValueError(f"{where}: placement {placement} on mesh dimension {mesh_dim} holds "
                             "partial sums, not values; fastinit fills Shard, _StridedShard and "
                             "Replicate placements (redistribute to one of them first)")
        raise ValueError(f"{where}: unsupported placement {placement!r} on mesh dimension "
                         f"{mesh_dim}; fastinit fills Shard, _StridedShard and Replicate placements")


def check_dtensor(tensor, where):
    """Every check :func:`fill_dtensor` makes, without writing: placements and the arithmetic."""
    check_placements(tensor, where)
    _checked_indices(tensor, tensor.to_local())


def local_indices(global_shape, mesh_shape, coordinate, placements):
    """The global indices a mesh coordinate holds, per tensor dimension, in local order.

    Parameters
    ----------
    global_shape : tuple of int
    mesh_shape : tuple of int
    coordinate : sequence of int
        This rank's coordinate in the mesh.
    placements : sequence of Placement
        One per mesh dimension (``Shard``, ``_StridedShard``, ``Replicate``).

    Returns
    -------
    list of numpy.ndarray
        ``indices[d][i]`` is the global index along dimension ``d`` of local
        index ``i``.
    """
    Shard, StridedShard, Replicate, Partial = _placement_kinds()
    indices = [np.arange(n, dtype=np.int64) for n in global_shape]
    for mesh_dim, placement in enumerate(placements):
        pieces, rank = mesh_shape[mesh_dim], coordinate[mesh_dim]
        if isinstance(placement, StridedShard):   # before Shard: torch may make it a subclass
            dim = placement.dim
            kept = [_chunk(part, pieces)[rank] for part in _chunk(indices[dim], int(placement.split_factor))]
            indices[dim] = np.concatenate(kept) if kept else indices[dim][:0]
        elif isinstance(placement, Shard):
            indices[placement.dim] = _chunk(indices[placement.dim], pieces)[rank]
        elif not isinstance(placement, Replicate):
            raise ValueError(f"unsupported placement {placement!r}")
    return indices


def runs(index):
    """``[(local_start, global_start, length)]``: maximal runs of consecutive global indices."""
    if len(index) == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    starts = np.concatenate(([0], breaks))
    stops = np.concatenate((breaks, [len(index)]))
    return [(int(a), int(index[a]), int(b - a)) for a, b in zip(starts, stops)]


def _checked_indices(tensor, local):
    """This rank's index lists for ``tensor``, cross-checked with torch; None if it holds nothing."""
    mesh = tensor.device_mesh
    coordinate = mesh.get_coordinate()
    if coordinate is None:            # this rank is not part of the mesh
        return None
    global_shape = tuple(tensor.shape)
    indices = local_indices(global_shape, tuple(mesh.shape), coordinate, tensor.placements)
    shape = tuple(len(index) for index in indices)
    # A placement rule that torch changed would give another local shape or first offset:
    # stop rather than fill a shard with another shard's values.
    problem = None
    if shape != tuple(local.shape):
        problem = f"the local tensor has shape {tuple(local.shape)}"
    else:
        from torch.distributed.tensor._utils import _compute_local_shape_and_global_offset
        torch_shape, torch_offset = _compute_local_shape_and_global_offset(
            global_shape, tuple(mesh.shape), list(coordinate), tensor.placements)
        offset = tuple(int(index[0]) if len(index) else None for index in indices)
        if tuple(torch_shape) != shape or any(
                mine is not None and mine != theirs for mine, theirs in zip(offset, torch_offset)):
            problem = (f"torch computes local shape {tuple(torch_shape)} at offset "
                       f"{tuple(torch_offset)}")
    if problem is not None:
        raise RuntimeError(
            f"fastinit's placement arithmetic for {tensor.placements} on mesh {tuple(mesh.shape)} "
            f"at coordinate {tuple(coordinate)} gives local shape {shape} but {problem}; "
            "this torch version shards differently, nothing was written")
    return indices


def fill_dtensor(tensor, fill_region, *, whole=False):
    """Fill a DTensor's local shard with its region of the global tensor.

    Parameters
    ----------
    tensor : DTensor
        Of a floating dtype, local tensor on the CPU or another device.
    fill_region : callable
        ``fill_region(out, shape=global_shape, region=region)`` fills the NumPy
        array ``out`` with block ``region`` (a tuple of step-1 slices) of the
        global tensor of shape ``global_shape``, e.g.
        ``lambda out, shape, region: fastinit.normal(shape, out=out, region=region, ...)``.
        It is called once per box the rank holds (once with the placements
        FSDP2 and tensor parallelism produce).
    whole : bool, optional
        The values come from a whole-tensor computation (orthogonal): a rank
        holding several boxes fills their bounding box once and copies its
        elements out, instead of recomputing per box.

    Returns
    -------
    DTensor
        ``tensor``, filled in place (a rank outside its mesh, or holding an
        empty shard, writes nothing).  A local tensor on another device is
        filled on the CPU and copied over.

    Raises
    ------
    ValueError
        A ``Partial`` (or unknown) placement.
    RuntimeError
        The placement arithmetic disagrees with torch's (nothing written).
    """
    from fastinit.torch._bridge import _numpy_view_unchecked

    check_placements(tensor, "fill_dtensor")
    with torch.no_grad():
        local = tensor.to_local()
        indices = _checked_indices(tensor, local)
        if indices is None or local.numel() == 0:
            return tensor
        global_shape = tuple(tensor.shape)
        staging = local if local.device.type == "cpu" else torch.empty(
            tuple(local.shape), dtype=local.dtype, device="cpu")
        view = _numpy_view_unchecked(staging)
        if not global_shape:
            fill_region(view, shape=global_shape, region=None)
        else:
            boxes = list(itertools.product(*(runs(index) for index in indices)))
            if whole and len(boxes) > 1:
                low = [int(index.min()) for index in indices]
                high = [int(index.max()) + 1 for index in indices]
                block = np.empty([b - a for a, b in zip(low, high)], dtype=view.dtype)
                fill_region(block, shape=global_shape,
                            region=tuple(slice(a, b) for a, b in zip(low, high)))
                view[...] = block[np.ix_(*(index - a for index, a in zip(indices, low)))]
            else:
                for box in boxes:
                    fill_region(view[tuple(slice(lo, lo + n) for lo, _, n in box)],
                                shape=global_shape,
                                region=tuple(slice(go, go + n) for _, go, n in box))
        if staging is not local:
            local.copy_(staging)
        else:
            torch.autograd.graph.increment_version(local)
    return tensor


def zero_global_index(tensor, dim, index):
    """Zero global slice ``index`` along ``dim`` of a DTensor in its local shard, if held here."""
    with torch.no_grad():
        local = tensor.to_local()
        indices = _checked_indices(tensor, local)
        if indices is None:
            return
        where = np.flatnonzero(indices[dim] == index)
        if len(where):
            local.select(dim, int(where[0])).zero_()


def check_device(tensor, device, where):
    """A DTensor's local tensor must live on its mesh's device type."""
    mesh_type = tensor.device_mesh.device_type
    if torch.device(device).type != mesh_type:
        raise ValueError(f"{where} is a DTensor on a {mesh_type!r} device mesh; its shard cannot be "
                         f"materialized on device={str(device)!r}: pass device={mesh_type!r} "
                         f"(or a {mesh_type} device with an index)")


def fresh_like(make_local):
    """A ``Module._apply`` function: DTensors get a fresh local tensor ``make_local(meta_local)``.

    Other tensors are passed to ``make_local`` as they are; the DTensor keeps
    its mesh, placements, global shape and stride.  Only the local shard is
    allocated.
    """
    def fresh(tensor):
        if not is_dtensor(tensor):
            return make_local(tensor)
        from torch.distributed.tensor import DTensor
        with torch.no_grad():
            local = make_local(tensor.to_local())
            return DTensor.from_local(local, tensor.device_mesh, tensor.placements,
                                      run_check=False, shape=tensor.shape, stride=tensor.stride())
    return fresh


def check_same_seed(seed, tensors, where):
    """Refuse a seed drawn differently on the ranks of a DTensor's mesh.

    A seed drawn from each rank's own generator (``seed=None``) must be the
    same everywhere, or the shards would be pieces of different tensors.
    One all-reduce of (seed, -seed) per mesh dimension of each distinct mesh.
    """
    import torch.distributed as dist

    seen = []
    for tensor in tensors:
        mesh = tensor.device_mesh
        if any(mesh is other for other in seen) or mesh.get_coordinate() is None:
            continue
        seen.append(mesh)
        # Two int64 lanes holding seed's halves keep the 63 bits exact in any backend.
        value = torch.tensor([seed >> 32, seed & 0xFFFFFFFF], dtype=torch.int64)
        value = value.to(mesh.device_type)
        low, high = value.clone(), value.clone()
        for mesh_dim in range(mesh.ndim):
            group = mesh.get_group(mesh_dim)
            dist.all_reduce(low, op=dist.ReduceOp.MIN, group=group)
            dist.all_reduce(high, op=dist.ReduceOp.MAX, group=group)
        if not torch.equal(low, high):
            raise ValueError(f"{where}: the seed drawn from torch's generator differs between the "
                             f"ranks of device mesh {tuple(mesh.shape)}, so the shards would not "
                             "be one tensor: call torch.manual_seed with the same value on every "
                             "rank, or pass seed= explicitly")

"""Whole-module initialization for PyTorch: plan, check, materialize from meta, fill.

The torch-specific half of :mod:`fastinit._modelplan`: listing a module's
parameters and buffers, checking drop-in rules, materializing a meta-device
module and filling each tensor through its NumPy view.
"""

from __future__ import annotations

import functools
import warnings

import torch
from torch import nn

from fastinit._modelplan import (
    CALLABLE, KEEP, SCHEMES, ZERO_INTEGER, InitStep, Target, check_scheme_spec, fill_with_spec,
    match_rules, parse_rules, tensor_stream,
)
from fastinit._validate import as_seed
from fastinit.torch._bridge import (
    _FILLABLE_DTYPES, _NUMPY_DTYPES, _check_writable, _draw_seed, _fill_in_place, _is_wrapper_subclass,
)
from fastinit.torch._defaults import _default_spec
from fastinit.torch._dropin_core import _CHECKING_AHEAD
from fastinit.torch._dropins import _DROP_INS
from fastinit.torch import _memory, _sharded


def _collect_targets(module, prefix):
    """Every parameter and buffer once, in named_parameters() then named_buffers() order."""
    targets = {"parameter": {}, "buffer": {}}

    def visit(mod, path, ancestors, on_stack):
        for kind, table in (("parameter", mod._parameters), ("buffer", mod._buffers)):
            for local, tensor in table.items():
                if tensor is None:
                    continue
                name = prefix + path + local
                seen = targets[kind].get(id(tensor))
                if seen is None:
                    targets[kind][id(tensor)] = Target(name, [name], kind, [(mod, local)],
                                                        list(ancestors), tensor)
                else:
                    seen.names.append(name)
                    seen.owners.append((mod, local))
        for child_name, child in mod._modules.items():
            if child is None or id(child) in on_stack:
                continue
            visit(child, f"{path}{child_name}.", ancestors + [mod], on_stack | {id(child)})

    visit(module, "", [], frozenset({id(module)}))
    return list(targets["parameter"].values()) + list(targets["buffer"].values())


def _check_spec(spec, target):
    """Every check of ``spec`` on ``target`` that can be made without writing: the full plan.

    Scheme rules are checked with the tensor's real shape and dtype, including
    the values they derive (a bound, a std) against the dtype's range; a rule
    that is a drop-in (or a ``functools.partial`` of one) is checked as the
    drop-in itself checks its call.  Other callables cannot be checked ahead.
    """
    tensor = target.tensor
    shape = tuple(tensor.shape)
    where = f"init_module: {target.name} ({str(tensor.dtype).removeprefix('torch.')}, shape {shape})"
    if spec.scheme in SCHEMES:
        check_scheme_spec(spec, target.name, shape, _NUMPY_DTYPES[tensor.dtype], where)
    elif spec.scheme == CALLABLE:
        function, args, kwargs = spec.function, (), {}
        while isinstance(function, functools.partial):
            args, kwargs = function.args + args, {**function.keywords, **kwargs}
            function = function.func
        if function not in _DROP_INS:
            return                      # an arbitrary callable can only be run, not checked
        shown = ", ".join([*map(repr, args), *(f"{key}={value!r}" for key, value in kwargs.items())])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                token = _CHECKING_AHEAD.set(True)
                try:
                    function._prepare(tensor, *args, **{**kwargs, "seed": 0,
                                                        "stream": tensor_stream(target.name)})
                finally:
                    _CHECKING_AHEAD.reset(token)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{where}: {spec.origin} -> {function.__name__}(tensor"
                              f"{', ' if shown else ''}{shown}): {error}") from None


def _plan(module, rules, strict, prefix):
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str; got {type(prefix).__name__}")
    parsed = parse_rules(rules, nn.Module, "nn.Module")
    targets = _collect_targets(module, prefix)
    lazy = [target.name for target in targets
            if isinstance(target.tensor, nn.parameter.UninitializedTensorMixin)]
    if lazy:
        raise ValueError("init_module: lazy modules have uninitialized parameters "
                         f"({', '.join(lazy)}); run a forward pass first so their shapes are known")
    plan = match_rules(targets, parsed, _default_spec, strict, defaults="PyTorch default")

    # The whole plan is checked before init_module allocates or writes anything.
    for target, spec in plan:
        dtype = target.tensor.dtype
        if spec.scheme != KEEP and not target.tensor.is_meta:
            _check_writable(target.tensor, f"init_module: {target.name}")
        if spec.scheme == ZERO_INTEGER:
            continue
        if spec.scheme in SCHEMES:
            if dtype not in _FILLABLE_DTYPES:
                raise TypeError(f"init_module: {target.name} has dtype {dtype}; fastinit fills "
                                f"float16, bfloat16, float32 and float64 tensors ({spec.origin})")
            tensor = target.tensor
            if _sharded.is_dtensor(tensor):     # filled shard by shard (see _sharded)
                _sharded.check_dtensor(tensor, f"init_module: {target.name}")
            elif tensor.layout != torch.strided or _is_wrapper_subclass(tensor):
                raise TypeError(f"init_module: {target.name} is a {type(tensor).__name__} with "
                                f"layout {tensor.layout}; only dense tensors without "
                                "__torch_function__ can be filled")
        _check_spec(spec, target)
    return plan


def init_plan(module, rules=None, *, strict=True, prefix=""):
    """What :func:`init_module` would do to each tensor, without touching any.

    Parameters
    ----------
    module, rules, strict, prefix
        As in :func:`init_module`.

    Returns
    -------
    list of InitStep
        One per parameter and buffer, parameters first, in
        ``named_parameters()`` / ``named_buffers()`` order.

    Raises
    ------
    TypeError, ValueError
        As :func:`init_module`.

    Examples
    --------
    >>> import torch.nn as nn, fastinit.torch as fit
    >>> [(s.name, s.scheme) for s in fit.init_plan(nn.Linear(4, 2))]
    [('weight', 'kaiming_uniform'), ('bias', 'uniform')]
    """
    return [
        InitStep(target.name, target.kind, tuple(target.tensor.shape), target.tensor.dtype,
                 spec.scheme, dict(spec.kwargs), spec.origin, tuple(target.names[1:]))
        for target, spec in _plan(module, rules, strict, prefix)
    ]


def _materialize(module, plan, device):
    """``to_empty`` a module with meta tensors, keeping tied tensors tied.

    On the CPU the storage comes from :func:`fastinit.torch._memory.fresh_cpu_tensor`
    (torch's own allocator unless huge pages are opted into for a measurement).
    """
    if any(_sharded.is_dtensor(target.tensor) for target, _ in plan):
        # DTensors (FSDP2, tensor parallel) get only their local shard; see _sharded.
        fresh = _memory.fresh_cpu_tensor if torch.device(device).type == "cpu" else (
            lambda tensor: torch.empty_like(tensor, device=device))
        module._apply(_sharded.fresh_like(fresh))
    elif torch.device(device).type == "cpu":
        module._apply(_memory.fresh_cpu_tensor)
    else:
        module.to_empty(device=device)
    # to_empty gives every module its own new tensor, which unties shared
    # parameters (e.g. an embedding tied to the output layer); tie them again.
    for target, _ in plan:
        first_owner, first_local = target.owners[0]
        table = first_owner._parameters if target.kind == "parameter" else first_owner._buffers
        tensor = table[first_local]
        for owner, local in target.owners[1:]:
            setattr(owner, local, tensor)


def _current_tensor(target):
    owner, local = target.owners[0]
    return (owner._parameters if target.kind == "parameter" else owner._buffers)[local]


def _fill_target(target, spec, seed):
    tensor = _current_tensor(target)
    if spec.scheme == KEEP:
        return
    if spec.scheme == ZERO_INTEGER:
        with torch.no_grad():
            tensor.zero_()
        return
    if spec.scheme == CALLABLE:
        with torch.no_grad():
            spec.function(tensor, seed=seed, stream=tensor_stream(target.name))
    else:
        def fill(out, shape=None, region=None):    # a DTensor's shard: a region (see _sharded)
            sharded = {} if region is None else {"shape": shape, "region": region}
            fill_with_spec(spec, out, seed, target.name, **sharded)
        _fill_in_place(tensor, fill, whole=spec.scheme in _sharded.WHOLE_TENSOR_SCHEMES)
    # torch keeps an Embedding's padding row at zero whatever fills the rest.
    owner, local = target.owners[0]
    if local == "weight" and isinstance(owner, (nn.Embedding, nn.EmbeddingBag)):
        if owner.padding_idx is not None and _sharded.is_dtensor(tensor):
            _sharded.zero_global_index(tensor, 0, owner.padding_idx)
        elif owner.padding_idx is not None:
            with torch.no_grad():
                tensor[owner.padding_idx].fill_(0)


def init_module(module, seed, rules=None, *, device="cpu", strict=True, prefix=""):
    r"""Initialize every parameter and buffer of a module, each from its own named stream.

    Tensor ``name`` (its qualified name, as ``module.named_parameters()`` or
    ``named_buffers()`` gives it) is drawn with key ``seed`` from stream
    ``stream_id(prefix + name)``.  Its values therefore depend only on
    ``(seed, name, shape, dtype, scheme)``: adding, removing or reordering
    other layers never changes them, and a model built on the meta device gets
    exactly the values of the same model built eagerly.

    A module with tensors on the meta device (``with torch.device("meta"):
    model = ...``) is first materialized with ``module.to_empty(device=device)``,
    which allocates without initializing, then filled once; tied parameters
    (the same Parameter under several names) stay tied and are filled once,
    under their first name.

    **Sharded models.**  Parameters and buffers that are ``DTensor``\ s (FSDP2's
    ``fully_shard``, tensor parallelism's ``parallelize_module``, 1-D or 2-D
    meshes; ``Shard`` including uneven shards, ``_StridedShard``,
    ``Replicate``) are filled shard by shard: each rank allocates only its
    local shards (on ``device``, of the mesh's device type) and fills each
    with the region of the global tensor it holds, fans from the global
    shape.  Gathered, every tensor is bit-identical to this function on the
    unsharded model in one process, for every world size and mesh;
    ``orthogonal`` is computed on every rank and sliced (no communication).
    With ``seed=None`` the seed drawn on each rank must agree across the mesh
    (checked with one all-reduce per mesh dimension).  See
    ``docs/integration.md``, "DTensor models".

    **Default rules** reproduce PyTorch's default initialization
    *distributions* (the values differ; each framework has its own generator):

    =======================================  ==================================================================
    module                                   tensors
    =======================================  ==================================================================
    Linear, Conv{1,2,3}d,                    ``weight``: ``kaiming_uniform_(a=sqrt(5))``, i.e.
    ConvTranspose{1,2,3}d                    :math:`\mathcal{U}(\pm 1/\sqrt{\text{fan\_in}})` with torch's fans of the
                                             weight's own layout; ``bias``: :math:`\mathcal{U}(\pm 1/\sqrt{\text{fan\_in}})`
    Bilinear                                 ``weight``, ``bias``: :math:`\mathcal{U}(\pm 1/\sqrt{\text{in1\_features}})`
    Embedding, EmbeddingBag                  ``weight``: :math:`\mathcal{N}(0, 1)`, row ``padding_idx`` zero
    LayerNorm, GroupNorm, RMSNorm,           ``weight`` 1, ``bias`` 0; ``running_mean`` 0, ``running_var`` 1,
    BatchNorm*, InstanceNorm*                ``num_batches_tracked`` 0
    MultiheadAttention                       ``in_proj_weight`` (or ``q/k/v_proj_weight``): ``xavier_uniform_``;
                                             ``in_proj_bias``, ``out_proj.bias``: 0; ``out_proj.weight`` as
                                             Linear; ``bias_k``, ``bias_v``: ``xavier_normal_``
    RNN, LSTM, GRU, RNNCell, LSTMCell,       every parameter: :math:`\mathcal{U}(\pm 1/\sqrt{\text{hidden\_size}})`
    GRUCell
    PReLU                                    ``weight``: ``init`` (0.25 by default)
    Transformer                              every parameter with more than one dimension ``xavier_uniform_``,
                                             the others through their submodules
    TransformerEncoder(Decoder)Layer, ...    through their submodules (MultiheadAttention, Linear, LayerNorm)
    =======================================  ==================================================================

    A subclass keeps its base's default only if it does not override the
    base's ``reset_parameters`` (``_reset_parameters`` for attention).

    Parameters
    ----------
    module : torch.nn.Module
        The model, built eagerly or on the meta device.
    seed : int or None
        Key in ``[0, 2**64)``; None draws one from torch's default generator.
    rules : dict, optional
        ``{key: value}``, tried in order before the defaults (the first
        matching rule wins).  A key is an ``fnmatch`` pattern matched against
        the qualified names (``"*.weight"``, ``"layers.*.mlp.*"``), or an
        ``nn.Module`` subclass matching the tensors its instances own
        directly.  A value is

        * a fastinit scheme name: ``"xavier_uniform"``, ``"zeros"``, ...
          (torch spellings such as ``"xavier_uniform_"`` too);
        * ``(name, kwargs)``: ``("trunc_normal", {"std": 0.02})``;
        * a callable ``fn(tensor, *, seed, stream)`` that fills the tensor in
          place, e.g. ``functools.partial(fastinit.torch.normal_, std=0.02)``
          (all the drop-ins accept ``seed`` and ``stream``);
        * None: leave the tensor as it is (after materialization from the
          meta device, which reallocates every tensor, that is
          uninitialized memory: use a callable for computed buffers);
        * for a module-type key only, a dict from local names to any of the
          above: ``{nn.Linear: {"weight": "xavier_uniform", "bias": "zeros"}}``
          (the other tensors of those modules fall through to later rules and
          the defaults).

        An Embedding's ``padding_idx`` row is zeroed after any rule or
        callable fills the weight, as torch keeps it.
    device : str or torch.device, optional
        Where a module with meta tensors is materialized (``"cpu"`` by
        default).  Tensors that already have storage are filled where they
        are.  Non-CPU tensors are generated on the CPU and copied over.
    strict : bool, optional
        With True (default), a parameter or buffer with no rule and no
        default (a custom module's ``nn.Parameter``, a ``ParameterList``, a
        buffer such as rotary frequencies) is an error listing all of them:
        give them rules (None keeps one as it is).  With False they are left
        as they are: after materialization from the meta device that is
        uninitialized memory, to be filled by the caller.
    prefix : str, optional
        Prepended to every name (for streams and patterns): a pipeline stage
        holding ``layers.12`` as its root can be initialized with
        ``prefix="layers.12."`` and gets the whole model's values.

    Returns
    -------
    torch.nn.Module
        ``module``, initialized in place.

    Raises
    ------
    TypeError
        ``module`` is not a Module, malformed rules, bad scheme arguments, a
        scheme rule for a tensor of unsupported dtype (int, complex).
    ValueError
        Unknown scheme names, rules that match no tensor, tensors with no
        rule and no default (with ``strict``), a scheme that does not fit a
        tensor (e.g. xavier for a 1-D bias) or gives values beyond its dtype
        (a bound, a std), a drop-in rule whose call the drop-in refuses, lazy
        (uninitialized) modules; a DTensor with a ``Partial`` placement or
        whose mesh is not of ``device``'s type, a ``seed=None`` drawn
        differently on the ranks of a mesh.  The error names the tensor and
        the rule.
    RuntimeError
        Inference tensors outside ``torch.inference_mode()``, as torch; a
        DTensor whose local shape disagrees with fastinit's placement
        arithmetic (a torch version that shards differently).

    Every tensor's whole plan is checked (with its real shape and dtype)
    before anything is allocated, drawn or written: after an error the
    module is exactly as it was, a meta model still on the meta device, and
    with ``seed=None`` no seed has been drawn.  Callables other than the
    drop-ins (and ``functools.partial`` of them) cannot be checked ahead;
    they run in plan order after all the checks.

    Notes
    -----
    Streams are named by the qualified names relative to ``module`` (plus
    ``prefix``): initializing a submodule alone gives it other values than
    initializing the whole model, unless ``prefix`` restores its full names.
    num_batches_tracked and other integer buffers are zeroed with torch.

    Examples
    --------
    >>> import torch, torch.nn as nn, fastinit.torch as fit
    >>> with torch.device("meta"):
    ...     model = nn.Sequential(nn.Embedding(100, 16), nn.Linear(16, 16))
    >>> model = fit.init_module(model, seed=0)
    >>> model[1].weight.device.type
    'cpu'
    >>> fit.init_module(model, 0, rules={"*.weight": ("trunc_normal", {"std": 0.02})}) is model
    True
    """
    seed = None if seed is None else as_seed(seed)
    device = torch.device(device)
    plan = _plan(module, rules, strict, prefix)
    sharded = [target for target, _ in plan if _sharded.is_dtensor(target.tensor)]
    for target in sharded:
        if target.tensor.is_meta:
            _sharded.check_device(target.tensor, device, f"init_module: {target.name}")
    if seed is None:
        seed = _draw_seed(None)   # only now: a call that raises leaves torch's generator alone
        if sharded:
            _sharded.check_same_seed(seed, [target.tensor for target in sharded], "init_module")
    if any(target.tensor.is_meta for target, _ in plan):
        _materialize(module, plan, device)
    for target, spec in plan:
        _fill_target(target, spec, seed)
    return module
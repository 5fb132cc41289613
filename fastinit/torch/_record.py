"""Record the init calls a model's own code makes on meta tensors, as fastinit fills.

A model built on the meta device has no values, but its init code still runs
(or can be run) on it: ``torch.nn.init.normal_(w, std=0.02)``,
``w[padding_idx].zero_()``, ``w.data.fill_(1.0)``.  :class:`InitRecorder`
watches those calls with a :class:`torch.overrides.TorchFunctionMode` and
keeps, for every meta storage written, what was written where, in call
order; :meth:`InitRecorder.ops_for` then gives each named tensor (a state
dict's, usually) its list of :class:`fastinit._initops.InitOp`, boxes in the
tensor's own coordinates.  Each call is mapped to a fastinit scheme by the
``fastinit.torch`` drop-in's own *prepare* function, so a recorded
``normal_`` is checked exactly as ``fastinit.torch.normal_`` checks it.

What is seen
    ``torch.nn.init.*`` whole (the functions without torch's own
    ``__torch_function__`` hook are given one while recording: the module's
    attributes, the modules of ``torch.nn.modules`` that import them by name,
    and ``transformers.initialization``'s captured table); the ``Tensor``
    methods ``normal_``, ``uniform_``, ``zero_``, ``fill_``, ``copy_`` and
    ``__setitem__``; ``torch.zeros``/``ones``/``full`` (and ``*_like``)
    creating meta tensors; views (indexing, slicing, ``.data``, ``.view``)
    through their storage offset and strides.

What is refused
    Any other in-place op on a meta tensor (``mul_``, ``clamp_``,
    ``exponential_``, a strided or transposed view, a ``copy_`` from another
    meta tensor, ...) is recorded as unmappable, and :meth:`ops_for` raises
    for it, naming the tensor and the call, if it reaches a named tensor.
    Never a silent wrong value: a named tensor that no recorded call covers
    entirely is an error as well.

The recorder patches module attributes while active: use it from one thread.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from fastinit._initops import (DATA, DATA_MAX_BYTES, FILL, SCHEME, InitOp, check_op, drop_overwritten,
                               part_op, uncovered_element)
from fastinit._modelplan import RANDOM_SCHEMES, show_call
from fastinit.torch import _dropins
from fastinit.torch._bridge import _FILLABLE_DTYPES, _NUMPY_DTYPES, _numpy_view_unchecked

__all__ = ["InitRecorder", "record_init", "RecordError"]

INIT_NAMES = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
              "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
              "sparse_")
# torch's own init functions (captured at import, before anyone patches them).
_TORCH_INIT = {name: getattr(torch.nn.init, name) for name in INIT_NAMES}
_SIGNATURES = {function: inspect.signature(function) for function in _TORCH_INIT.values()}
_DROP_IN_OF = {function: getattr(_dropins, name) for name, function in _TORCH_INIT.items()}
# Modules that bind the init functions by name (``from torch.nn.init import xavier_uniform_``).
_MODULES_BINDING_INIT = ("torch.nn.init", "torch.nn.modules.activation", "torch.nn.modules.transformer",
                         "torch.nn.modules.linear", "torch.nn.modules.conv", "torch.nn.modules.sparse",
                         "torch.nn.modules.normalization", "torch.nn.modules.batchnorm",
                         "torch.nn.modules.rnn")
# In-place by name but harmless to values.
_HARMLESS_IN_PLACE = frozenset(("requires_grad_", "retain_grad", "share_memory_", "detach_",
                                "_set_grad_enabled"))
_IN_PLACE_DUNDERS = frozenset(f"__i{op}__" for op in ("add", "sub", "mul", "truediv", "floordiv", "mod",
                                                      "pow", "and", "or", "xor", "lshift", "rshift",
                                                      "matmul"))
_FACTORIES = {torch.zeros: 0, torch.ones: 1, torch.zeros_like: 0, torch.ones_like: 1}
_FULL_FACTORIES = (torch.full, torch.full_like)


COPY = "copy"           # a new tensor holding another's values (clone, to, a zero pad)
# Functions whose result holds its input's values (same shape), by name.
_VALUE_COPIES = frozenset(("clone", "contiguous", "to", "float", "half", "double", "bfloat16", "type",
                           "type_as", "pad"))


class RecordError(ValueError):
    """A recorded init call that fastinit cannot reproduce, or a tensor no call covers."""


@dataclass
class _Raw:
    """One write to a meta storage, as recorded (mapped to a named tensor's box later)."""

    view: Any                  # the meta tensor written (kept alive: its storage must not be reused)
    call: str
    kind: str                  # SCHEME, FILL, DATA, or "unmapped"
    scheme: str | None = None
    kwargs: dict | None = None
    value: Any = None          # FILL: the value; DATA: the source tensor
    reason: str = ""           # "unmapped": why
    count: int | None = None   # COPY: how many writes to the source came before the copy


def _storage_key(tensor):
    return tensor.untyped_storage()._cdata


def _show_args(args, kwargs):
    shown = [type(a).__name__ if isinstance(a, torch.Tensor) else repr(a) for a in args]
    shown += [f"{k}={type(v).__name__ if isinstance(v, torch.Tensor) else repr(v)}" for k, v in kwargs.items()]
    return ", ".join(shown)


def _plain_value(value):
    """A fill value as a Python number; a meta 0-d tensor has none."""
    if isinstance(value, torch.Tensor):
        if value.is_meta or value.dim() != 0:
            raise RecordError("the value is a tensor whose value is unknown on the meta device")
        return value.item()
    return value


class InitRecorder(TorchFunctionMode):
    """Record what init code writes into meta tensors (a context manager).

    Enter it *inside* ``with torch.device("meta")``: a device context entered
    inside it hides the calls made under it from every outer mode.

    Examples
    --------
    >>> import torch
    >>> from fastinit.torch._record import InitRecorder
    >>> with torch.device("meta"):
    ...     with InitRecorder() as recorder:
    ...         layer = torch.nn.Linear(4, 3)                  # kaiming_uniform_, uniform_
    ...         _ = torch.nn.init.normal_(layer.weight, std=0.02)  # overrides kaiming_uniform_
    >>> ops = recorder.ops_for(dict(layer.named_parameters()))
    >>> [(op.scheme, dict(op.kwargs)) for op in ops["weight"]]
    [('normal', {'mean': 0.0, 'std': 0.02})]
    >>> [op.scheme for op in ops["bias"]]
    ['uniform']
    """

    def __init__(self):
        super().__init__()
        self.raw: dict = {}              # storage key -> [_Raw] in call order
        self._patches: list = []
        self._named_keys: set = set()    # storages of the tensors ops_for is resolving

    # -- entering and leaving: the hooks for init functions torch does not dispatch --------
    def __enter__(self):
        self._install_hooks()
        try:
            return super().__enter__()
        except BaseException:
            self._remove_hooks()
            raise

    def __exit__(self, *exc_info):
        try:
            return super().__exit__(*exc_info)
        finally:
            self._remove_hooks()

    def _install_hooks(self):
        def hooked(original):
            def init_function(tensor, *args, **kwargs):
                if torch.overrides.has_torch_function_unary(tensor):
                    return torch.overrides.handle_torch_function(original, (tensor,), tensor, *args, **kwargs)
                return original(tensor, *args, **kwargs)
            init_function.__name__ = original.__name__
            init_function.__wrapped__ = original
            return init_function

        hooks = {function: hooked(function) for function in _TORCH_INIT.values()}
        for module_name in _MODULES_BINDING_INIT:
            module = sys.modules.get(module_name)
            for name, function in _TORCH_INIT.items():
                if module is not None and getattr(module, name, None) is function:
                    self._patch(module, name, hooks[function])
        table = getattr(sys.modules.get("transformers.initialization"), "TORCH_INIT_FUNCTIONS", None)
        if isinstance(table, dict):
            for name, function in list(table.items()):
                if function in hooks:
                    self._patch_item(table, name, hooks[function])

    def _patch(self, owner, name, value):
        self._patches.append((setattr, owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def _patch_item(self, table, key, value):
        self._patches.append((dict.__setitem__, table, key, table[key]))
        table[key] = value

    def _remove_hooks(self):
        while self._patches:
            restore, owner, name, value = self._patches.pop()
            restore(owner, name, value)

    # -- recording -------------------------------------------------------------------------
    def _record(self, view, call, kind, **fields):
        self.raw.setdefault(_storage_key(view), []).append(_Raw(view, call, kind, **fields))

    def _unmapped(self, view, call, reason):
        self._record(view, call, "unmapped", reason=reason)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _SIGNATURES:
            bound = _SIGNATURES[func].bind(*args, **kwargs)
            tensor = bound.arguments.pop("tensor")
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                self._init_call(func, tensor, bound.arguments)
                return tensor
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        target = args[0] if args else None
        if not (isinstance(target, torch.Tensor) and target.is_meta):
            result = func(*args, **kwargs)
            self._factory(func, args, kwargs, result)
            return result
        if name in _VALUE_COPIES:
            result = func(*args, **kwargs)
            self._value_copy(name, target, args, kwargs, result)
            return result
        call = f"Tensor.{name}({_show_args(args[1:], kwargs)})"
        try:
            if name == "normal_":
                self._method_fill(target, call, _dropins.normal_, func, args, kwargs, ("mean", "std"))
                return target
            if name == "uniform_":
                self._method_fill(target, call, _dropins.uniform_, func, args, kwargs, ("from", "to"))
                return target
            if name == "zero_":
                self._constant(target, call, 0)
                return target
            if name == "fill_":
                self._constant(target, call, _plain_value(args[1] if len(args) > 1 else kwargs["value"]))
                return target
            if name == "copy_":
                self._copy(target, call, args[1] if len(args) > 1 else kwargs["src"])
                return target
            if name == "__setitem__":
                view = target[args[1]]          # this mode is off inside its own handler
                if _storage_key(view) != _storage_key(target):
                    # A list, tensor or mask index gives a copy, not a view: where the
                    # assignment writes is not a box of the tensor.
                    raise RecordError("an assignment through an advanced index (a list, tensor or "
                                      "mask) cannot be reproduced; only integer and slice indices")
                value = args[2]
                if isinstance(value, torch.Tensor) and value.dim() > 0:
                    self._copy(view, call, value)
                else:
                    self._constant(view, call, _plain_value(value))
                return None
        except RecordError as error:
            self._unmapped(target, call, str(error))
            return target if name != "__setitem__" else None
        in_place = (name.endswith("_") and not name.startswith("__") and name not in _HARMLESS_IN_PLACE
                    ) or name in _IN_PLACE_DUNDERS
        out = kwargs.get("out")
        for written in ((target,) if in_place else ()) + (tuple(out) if isinstance(out, (tuple, list))
                                                          else (out,)):
            if isinstance(written, torch.Tensor) and written.is_meta:
                self._unmapped(written, call, "fastinit has no equivalent of this in-place operation")
        return func(*args, **kwargs)

    def _factory(self, func, args, kwargs, result):
        """torch.zeros/ones/full creating a meta tensor: its values are known."""
        if not (isinstance(result, torch.Tensor) and result.is_meta):
            return
        if func in _FACTORIES:
            self._constant(result, f"torch.{func.__name__}", _FACTORIES[func])
        elif func in _FULL_FACTORIES:
            value = args[1] if len(args) > 1 else kwargs.get("fill_value")
            try:
                self._constant(result, f"torch.{func.__name__}(fill_value={value!r})", _plain_value(value))
            except RecordError as error:
                self._unmapped(result, f"torch.{func.__name__}", str(error))

    def _value_copy(self, name, source, args, kwargs, result):
        """A new meta tensor with ``source``'s values (transformers re-pads a tied bias this way):
        it takes the ops of ``source`` when the values are known to be the same."""
        if (not isinstance(result, torch.Tensor) or not result.is_meta
                or _storage_key(result) == _storage_key(source)):
            return
        call = f"{name}({_show_args(args[1:], kwargs)})"
        padding = args[1] if len(args) > 1 else kwargs.get("pad", ())
        if result.shape != source.shape or (name == "pad" and any(padding)):
            self._unmapped(result, call, "the result holds other values than its input")
        else:
            # The copy holds the values ``source`` has now: the calls recorded on it so far.
            self._record(result, call, COPY, value=source,
                         count=len(self.raw.get(_storage_key(source), [])))

    def _init_call(self, func, tensor, arguments):
        name = func.__name__
        call = f"torch.nn.init.{show_call(name, arguments)}"
        if tensor.dtype not in _FILLABLE_DTYPES and name in ("zeros_", "ones_", "constant_"):
            value = {"zeros_": 0, "ones_": 1}.get(name, arguments.get("val"))
            self._record(tensor, call, FILL, value=value)
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fill = _DROP_IN_OF[func]._prepare(tensor, **arguments)
        except (TypeError, ValueError) as error:
            self._unmapped(tensor, call, f"{type(error).__name__}: {error}")
            return
        self._from_fill(tensor, call, fill)

    def _from_fill(self, tensor, call, fill):
        if fill is None or (fill.scheme is None and fill.torch_value is None):
            return                                    # a no-op (zero elements)
        if fill.torch_value is not None:
            self._record(tensor, call, FILL, value=fill.torch_value)
        else:
            self._record(tensor, call, SCHEME, scheme=fill.scheme, kwargs=dict(fill.kwargs))

    def _method_fill(self, target, call, drop_in, func, args, kwargs, names):
        """``Tensor.normal_(mean, std)`` / ``uniform_(from, to)`` as the drop-in's call
        (``names``: the method's argument names, in the drop-in's order)."""
        given = dict(zip(names, args[1:]))
        given.update((key, kwargs[key]) for key in names if key in kwargs)
        parameters = list(inspect.signature(drop_in._prepare).parameters)[1:1 + len(names)]
        arguments = {parameter: _plain_value(given[key]) for key, parameter in zip(names, parameters)
                     if key in given}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fill = drop_in._prepare(target, **arguments)
        except (TypeError, ValueError) as error:
            raise RecordError(f"{type(error).__name__}: {error}") from None
        self._from_fill(target, call, fill)

    def _constant(self, view, call, value):
        if view.dtype in _FILLABLE_DTYPES and isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fill = _dropins.constant_._prepare(view, value)
            except (TypeError, ValueError) as error:
                raise RecordError(f"{type(error).__name__}: {error}") from None
            self._from_fill(view, call, fill)
        else:
            self._record(view, call, FILL, value=value)

    def _copy(self, view, call, source):
        if not isinstance(source, torch.Tensor):
            raise RecordError("copy_ from something that is not a tensor")
        if source.is_meta:
            raise RecordError("the source is a meta tensor, whose values are unknown")
        nbytes = view.numel() * view.element_size()
        if nbytes > DATA_MAX_BYTES:
            raise RecordError(f"copying {nbytes:,} bytes of given data is beyond the {DATA_MAX_BYTES:,} "
                              "kept in memory")
        self._record(view, call, DATA, value=source.detach().clone())

    # -- resolving ---------------------------------------------------------------------------
    def ops_for(self, tensors) -> dict:
        """Each named tensor's recorded ops, in its own coordinates.

        Parameters
        ----------
        tensors : Mapping of str to torch.Tensor
            Meta tensors by name (a ``state_dict(keep_vars=True)``, say).

        Returns
        -------
        dict of str to list of InitOp
            In call order, the ops that a later one overwrites entirely left out.

        Raises
        ------
        RecordError
            A call reaching a named tensor that fastinit cannot reproduce, or
            a named tensor that the recorded calls do not cover entirely
            (both naming the tensor and the call or the element).
        """
        result = {}
        # A copy of random values is reproducible only when its source is not written too.
        self._named_keys = {_storage_key(tensor) for tensor in tensors.values()
                            if isinstance(tensor, torch.Tensor) and tensor.is_meta}
        for name, tensor in tensors.items():
            if not isinstance(tensor, torch.Tensor) or not tensor.is_meta:
                raise RecordError(f"{name}: not a meta tensor; the recorder sees only meta tensors")
            where = f"{name} ({str(tensor.dtype).removeprefix('torch.')}, shape {tuple(tensor.shape)})"
            ops = self._tensor_ops(tensor, where)
            numpy_dtype = _NUMPY_DTYPES.get(tensor.dtype) or np.dtype(str(tensor.dtype).removeprefix("torch."))
            for op in ops:
                check_op(op, tuple(tensor.shape), numpy_dtype, where)
            result[name] = ops
        return result

    def _tensor_ops(self, tensor, where, count=None):
        """The ops that give ``tensor`` its values (its first ``count`` recorded writes, all by
        default), checked to cover it."""
        shape = tuple(tensor.shape)
        ops = []
        for raw in self.raw.get(_storage_key(tensor), [])[:count]:
            ops.extend(self._resolve(raw, tensor, where))
        ops = drop_overwritten(ops)
        missing = uncovered_element(shape, ops)
        if missing is not None:
            calls = "; ".join(op.call for op in ops) or "none"
            raise RecordError(f"{where}: the model's init code leaves element {missing} (at least) "
                              f"unset, so its value is not known (calls recorded on it: {calls})")
        return ops

    def _resolve(self, raw, tensor, where):
        """The ops of one recorded write into ``tensor``, in its coordinates (a list)."""
        if raw.kind == "unmapped":
            raise RecordError(f"{where}: the init call {raw.call} cannot be reproduced by fastinit: "
                              f"{raw.reason}")
        located = _box(raw.view, tensor)
        if isinstance(located, str):
            raise RecordError(f"{where}: the init call {raw.call} writes {located}")
        if located is None:
            return []
        box, whole = located
        if raw.kind == COPY:
            source = raw.value
            source_ops = self._tensor_ops(source, f"{where}, copied by {raw.call} from a tensor of "
                                                  f"shape {tuple(source.shape)}", raw.count)
            if (_storage_key(source) in self._named_keys and
                    any(op.kind == SCHEME and op.scheme in RANDOM_SCHEMES for op in source_ops)):
                # Each tensor is drawn from its own named stream: a copy of another written
                # tensor's random values would get other values than it (constants copy exactly).
                raise RecordError(f"{where}: {raw.call} copies the random values of another tensor "
                                  "that is written too, which fastinit cannot reproduce (each tensor "
                                  "has its own stream)")
            if whole:
                return source_ops
            if raw.view.dim() != tensor.dim():
                raise RecordError(f"{where}: {raw.call} copies into a part of the tensor of another rank")
            try:
                return [shifted(op, box, tuple(source.shape)) for op in source_ops]
            except ValueError as error:
                raise RecordError(f"{where}: {error}") from None
        if raw.kind == SCHEME:
            if whole or raw.scheme not in RANDOM_SCHEMES:
                if not whole and raw.scheme in ("eye", "dirac"):
                    raise RecordError(f"{where}: the init call {raw.call} on a part of the tensor "
                                      "cannot be reproduced (only on the whole tensor)")
                return [InitOp(raw.call, SCHEME, box, raw.scheme, raw.kwargs, whole=whole)]
            try:
                return [part_op(raw.call, raw.scheme, raw.kwargs, box, tuple(raw.view.shape))]
            except ValueError as error:
                raise RecordError(f"{where}: {error}") from None
        if raw.kind == FILL:
            return [InitOp(raw.call, FILL, box, value=raw.value)]
        try:
            source = raw.value.to(dtype=tensor.dtype).expand(tuple(raw.view.shape)).contiguous()
        except RuntimeError as error:
            raise RecordError(f"{where}: the init call {raw.call} copies a tensor of shape "
                              f"{tuple(raw.value.shape)} into a part of shape {tuple(raw.view.shape)}: "
                              f"{error}") from None
        data = (_numpy_view_unchecked(source) if source.dtype in _NUMPY_DTYPES else source.numpy())
        return [InitOp(raw.call, DATA, box, data=data.reshape([b - a for a, b in box]).copy())]


def shifted(op, box, part_shape):
    """``op`` of a tensor of ``part_shape`` moved to ``box`` of a larger tensor of the same rank."""
    moved = tuple((start + a, start + b) for (a, b), (start, _) in zip(op.box, box))
    if op.kind == SCHEME and op.whole:
        if op.random:
            return part_op(op.call, op.scheme, op.kwargs, moved, part_shape)
        if op.scheme in ("eye", "dirac"):
            raise ValueError(f"{op.call} of a tensor copied into a part of another cannot be reproduced")
    return dataclasses.replace(op, box=moved, whole=False)


def _box(view, tensor):
    """Where ``view`` lies in ``tensor`` (same storage): ``(box, whole)``, None when empty, or a
    str saying why it is not a box of the tensor."""
    if view.numel() == 0:
        return None
    if view.dtype != tensor.dtype:
        return f"a {view.dtype} view of the tensor"
    if not tensor.is_contiguous():
        return "a tensor that is not contiguous"
    shape, strides = tuple(tensor.shape), tensor.stride()
    size = tensor.numel()
    offset = view.storage_offset() - tensor.storage_offset()
    full = tuple((0, n) for n in shape)
    if offset == 0 and view.numel() == size and view.is_contiguous():
        return full, tuple(view.shape) == shape
    if not 0 <= offset < size:
        return "memory outside the tensor"
    coords = [int(c) for c in np.unravel_index(offset, shape)] if shape else []
    box = [[c, c + 1] for c in coords]
    previous = -1
    for extent, stride in zip(view.shape, view.stride()):
        if extent == 1:
            continue
        axis = next((k for k in range(len(shape)) if shape[k] > 1 and strides[k] == stride), None)
        if axis is None or axis <= previous or coords[axis] + extent > shape[axis]:
            return (f"a strided, transposed or overlapping view of the tensor (shape {tuple(view.shape)}, "
                    f"strides {view.stride()})")
        box[axis][1] = coords[axis] + extent
        previous = axis
    box = tuple(tuple(pair) for pair in box)
    return box, box == full and tuple(view.shape) == shape


def record_init(model, init=None) -> dict:
    """Run ``init(model)`` on a meta-device model and return what it writes, per state-dict name.

    Parameters
    ----------
    model : torch.nn.Module
        Built on the meta device.
    init : callable, optional
        ``init(model)``; default: ``model.initialize_weights()`` when the
        model has it (transformers), else ``reset_parameters()`` on every
        submodule that has one.

    Returns
    -------
    dict of str to list of InitOp
        For every entry of ``model.state_dict()``.

    Notes
    -----
    Only calls made inside ``init`` are seen.  To also see the init that runs
    while the model is built (``nn.Linear``'s default), build it inside an
    :class:`InitRecorder`.
    """
    if init is None:
        def init(module):
            if hasattr(module, "initialize_weights"):
                module.initialize_weights()
            else:
                for sub in module.modules():
                    if hasattr(sub, "reset_parameters"):
                        sub.reset_parameters()
    with InitRecorder() as recorder:
        init(model)
    return recorder.ops_for(model.state_dict(keep_vars=True))

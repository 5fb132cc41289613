r"""``patch_init``: run any library's own torch init code on fastinit.

Inside ``with fastinit.torch.patch_init(seed):`` the random initializers that
model code calls are served by fastinit's parallel kernels:

* ``torch.nn.init``'s ``uniform_``, ``normal_``, ``trunc_normal_``,
  ``xavier_uniform_``, ``xavier_normal_``, ``kaiming_uniform_``,
  ``kaiming_normal_``, ``orthogonal_`` and ``sparse_`` -- also where a module
  bound them by name (``from torch.nn.init import xavier_uniform_``) and in
  transformers' ``transformers.initialization.TORCH_INIT_FUNCTIONS``, which
  captures torch's functions at import time;
* the in-place ``Tensor.normal_`` and ``Tensor.uniform_`` methods;
* timm's ``timm.layers.weight_init.trunc_normal_`` and ``trunc_normal_tf_``
  (its own inverse-CDF implementations, wherever they are bound), when timm
  is imported before the context is entered.

The deterministic fills (``zeros_``, ``ones_``, ``constant_``, ``eye_``,
``dirac_``, ``Tensor.zero_``, ``Tensor.fill_``) give the same bits whatever
serves them and torch already runs them in parallel: they are left to torch.

This is the implementation module; use it as ``fastinit.torch.patch_init``.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import threading

import torch
from torch import nn
from torch.overrides import _get_current_function_mode_stack
from torch.utils._device import DeviceContext

import fastinit
from fastinit._modelplan import tensor_stream
from fastinit._validate import as_seed, stream_id
from fastinit.torch._bridge import _FILLABLE_DTYPES, _draw_seed, _is_wrapper_subclass, _scalar
from fastinit.torch import _dropins
from fastinit.torch._module import _collect_targets
from fastinit.torch._sharded import check_same_seed, is_dtensor

__all__ = ["patch_init"]

# --------------------------------------------------------------------------------------
# What is patched, and with what
# --------------------------------------------------------------------------------------

# torch.nn.init's random initializers -> the fastinit drop-in with the same signature.
_RANDOM_INIT_NAMES = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                      "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")
# Captured once, at import: the functions every patch restores.
_TORCH_INIT = {name: getattr(torch.nn.init, name) for name in _RANDOM_INIT_NAMES}
_TENSOR_METHODS = ("normal_", "uniform_")
_TENSOR_ORIGINAL = {name: getattr(torch.Tensor, name) for name in _TENSOR_METHODS}
_ABSENT = object()

_LOCK = threading.RLock()     # guards the session stack and the installed patches
_SESSIONS = []                # active sessions, innermost last (process-global)
_INSTALLED = None             # an _Installation while any session is active


def _current():
    return _SESSIONS[-1] if _SESSIONS else None


def _function_mode_active():
    """A ``TorchFunctionMode`` other than ``with torch.device(...)`` is active (a tracer, a
    recorder, a user's mode): it must see the call, which a fill through NumPy would hide."""
    if not torch._C._is_torch_function_mode_enabled():
        return False
    return any(not isinstance(mode, DeviceContext) for mode in _get_current_function_mode_stack())


def _servable(tensor):
    """Whether fastinit can fill ``tensor`` in place exactly as torch's in-place op would.

    Everything else (GPU, meta, integer, sparse, subclasses, overlapping
    memory, a tensor autograd must see, a call that an active
    ``TorchFunctionMode`` must see) goes to torch unchanged.  A DTensor
    is served when its local shard is: the drop-in fills the shard as its
    region of the global tensor (fastinit/torch/_sharded.py).
    """
    if _function_mode_active():
        return False
    if is_dtensor(tensor):
        # Decided from what every rank sees alike (global shape, dtype, mesh device), never
        # from the local shard, so that all ranks serve the same calls in the same order.
        return (tensor.dtype in _FILLABLE_DTYPES and tensor.numel() > 0
                and tensor.device_mesh.device_type == "cpu"
                and not (tensor.is_inference() and not torch.is_inference_mode_enabled()))
    return (isinstance(tensor, torch.Tensor)
            and tensor.layout == torch.strided
            and tensor.dtype in _FILLABLE_DTYPES
            and tensor.device.type == "cpu"
            and tensor.numel() > 0
            and not _is_wrapper_subclass(tensor)
            and not (tensor.is_neg() or tensor.is_conj())
            and not (tensor.is_inference() and not torch.is_inference_mode_enabled())
            and _no_overlap(tensor))


def _no_overlap(tensor):
    """Whether no two elements share memory (sufficient test: each dimension, by increasing
    stride, steps past everything the smaller ones span), as torch's in-place random ops need."""
    if tensor.is_contiguous():
        return True
    span = 0
    dims = sorted(((st, s) for s, st in zip(tensor.shape, tensor.stride()) if s > 1))
    for stride, size in dims:
        if stride <= span:
            return False
        span += (size - 1) * stride
    return True


# --------------------------------------------------------------------------------------
# Sessions: where the values come from
# --------------------------------------------------------------------------------------


def _extent(tensor):
    """Bytes from the first element to one past the last (numel > 0)."""
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    return (last + 1) * tensor.element_size()


class _Session:
    """One entry of ``patch_init``: a seed, a call counter and the model's tensors."""

    def __init__(self, seed, model, drawn=False):
        self.seed = seed
        # A seed drawn from torch's generator may differ between ranks: checked once per
        # device mesh before a DTensor's shard is filled with it (every rank fills alike).
        self.drawn, self.checked_meshes = drawn, set()
        # Unowned tensors: the k-th fill takes this generator's k-th stream.
        self.generator = fastinit.default_rng(seed).child("patch_init")
        self.exact = {}         # (data_ptr, shape, strides, dtype) -> qualified name
        self.ranges = {}        # storage data_ptr -> [(start, end, name, tensor)]
        self.dtensors = {}      # id(DTensor) -> qualified name (a shard has no global data_ptr)
        if model is not None:
            for target in _collect_targets(model, ""):
                tensor = target.tensor
                if is_dtensor(tensor):
                    self.dtensors[id(tensor)] = (target.name, tensor)
                    continue
                if tensor.is_meta or tensor.layout != torch.strided or tensor.numel() == 0:
                    continue
                start = tensor.data_ptr()
                self.exact[(start, tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)] = target.name
                base = tensor.untyped_storage().data_ptr()
                self.ranges.setdefault(base, []).append(
                    (start, start + _extent(tensor), target.name, tensor))

    def stream_of(self, tensor):
        """The named stream of a tensor of the model (or a view into one); None otherwise."""
        if is_dtensor(tensor):
            name, known = self.dtensors.get(id(tensor), (None, None))
            return tensor_stream(name) if known is tensor else None
        if not self.exact:
            return None
        start = tensor.data_ptr()
        name = self.exact.get((start, tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype))
        if name is not None:
            return tensor_stream(name)
        end = start + _extent(tensor)
        for first, last, owner_name, owner in self.ranges.get(tensor.untyped_storage().data_ptr(), ()):
            if first <= start and end <= last and owner.dtype == tensor.dtype:
                # Part of a model tensor: a stream of its own, named by the view's place.
                offset = (start - first) // tensor.element_size()
                return stream_id(owner_name, f"view:{offset}:{tuple(tensor.shape)}:{tuple(tensor.stride())}")
        return None

    def fill(self, drop_in, tensor, args, kwargs):
        """``drop_in(tensor, *args, **kwargs)`` with this session's seed and stream."""
        if kwargs.get("generator") is not None or _explicit_generator(drop_in, args):
            # The caller's own torch.Generator: the drop-in draws its seed from it.
            return drop_in(tensor, *args, **kwargs)
        kwargs = {key: value for key, value in kwargs.items() if key != "generator"}
        args = _without_generator(drop_in, args)
        if self.drawn and is_dtensor(tensor) and id(tensor.device_mesh) not in self.checked_meshes:
            check_same_seed(self.seed, [tensor], f"patch_init ({drop_in.__name__})")
            self.checked_meshes.add(id(tensor.device_mesh))
        stream = self.stream_of(tensor)
        if stream is not None:
            return drop_in(tensor, *args, **kwargs, seed=self.seed, stream=stream)
        return drop_in(tensor, *args, **kwargs, generator=self.generator)


# Position of ``generator`` among each drop-in's positional arguments after ``tensor``.
_GENERATOR_POSITION = {}
for _name in _RANDOM_INIT_NAMES:
    _parameters = list(inspect.signature(getattr(_dropins, _name)).parameters)
    _GENERATOR_POSITION[getattr(_dropins, _name)] = _parameters.index("generator") - 1
del _name, _parameters


def _explicit_generator(drop_in, args):
    position = _GENERATOR_POSITION[drop_in]
    return len(args) > position and args[position] is not None


def _without_generator(drop_in, args):
    return args[:_GENERATOR_POSITION[drop_in]]


# --------------------------------------------------------------------------------------
# The replacements
# --------------------------------------------------------------------------------------


def _init_replacement(name):
    """A stand-in for ``torch.nn.init.<name>``: fastinit inside a session, torch otherwise."""
    original = _TORCH_INIT[name]
    drop_in = getattr(_dropins, name)
    signature = inspect.signature(original)

    def replacement(tensor, *args, **kwargs):
        session = _current()
        if session is None or not _servable(tensor):
            return original(tensor, *args, **kwargs)
        try:
            signature.bind(tensor, *args, **kwargs)
        except TypeError:
            return original(tensor, *args, **kwargs)     # torch's own error for a bad call
        return session.fill(drop_in, tensor, args, kwargs)

    replacement.__name__ = replacement.__qualname__ = name
    replacement.__doc__ = original.__doc__
    replacement.__signature__ = signature
    replacement.__module__ = original.__module__
    replacement._fastinit_original = original
    return replacement


def _tensor_normal_(self, mean=0.0, std=1.0, *, generator=None):
    session = _current()
    if session is None or not _servable(self) or (torch.is_grad_enabled() and self.requires_grad):
        return _TENSOR_ORIGINAL["normal_"](self, mean, std, generator=generator)
    return session.fill(_dropins.normal_, self, (mean, std, generator), {})


def _tensor_uniform_(self, *args, **kwargs):
    # Tensor.uniform_(from=0, to=1, *, generator=None); "from" is a keyword in Python.
    session = _current()
    names = ("from", "to")
    if (session is None or not _servable(self) or (torch.is_grad_enabled() and self.requires_grad)
            or len(args) > 2 or set(kwargs) - {"from", "to", "generator"}
            or any(key in kwargs for key in names[:len(args)])):
        return _TENSOR_ORIGINAL["uniform_"](self, *args, **kwargs)
    bound = dict(zip(names, args), **kwargs)
    return session.fill(_dropins.uniform_, self,
                        (bound.get("from", 0.0), bound.get("to", 1.0), bound.get("generator")), {})


_REPLACEMENTS = {name: _init_replacement(name) for name in _RANDOM_INIT_NAMES}
_TENSOR_REPLACEMENT = {"normal_": _tensor_normal_, "uniform_": _tensor_uniform_}
for _name, _method in _TENSOR_REPLACEMENT.items():
    _method.__name__ = _method.__qualname__ = _name
    _method.__doc__ = _TENSOR_ORIGINAL[_name].__doc__
del _name, _method


def _timm_replacements():
    """Stand-ins for timm's own trunc_normal_ / trunc_normal_tf_, if timm is imported."""
    weight_init = sys.modules.get("timm.layers.weight_init")
    if weight_init is None:
        return {}
    originals = {name: getattr(weight_init, name, None) for name in ("trunc_normal_", "trunc_normal_tf_")}
    if any(original is None or hasattr(original, "_fastinit_original") for original in originals.values()):
        return {}
    timm_trunc, timm_tf = originals["trunc_normal_"], originals["trunc_normal_tf_"]

    def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
        # timm's: N(mean, std^2) truncated to the absolute bounds [a, b], as torch's.
        session = _current()
        if session is None or not _servable(tensor):
            return timm_trunc(tensor, mean, std, a, b)
        return session.fill(_dropins.trunc_normal_, tensor, (mean, std, a, b), {})

    def trunc_normal_tf_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
        # timm's "tf" variant truncates the standard normal to [a, b], then scales and
        # shifts: the same law as N(mean, std^2) truncated to [mean + a std, mean + b std].
        session = _current()
        mean, std, a, b = (_scalar(value) for value in (mean, std, a, b))
        if (session is None or not _servable(tensor)
                or not all(isinstance(value, (int, float)) for value in (mean, std, a, b)) or std <= 0):
            return timm_tf(tensor, mean, std, a, b)
        return session.fill(_dropins.trunc_normal_, tensor, (mean, std, mean + a * std, mean + b * std), {})

    for replacement, original in ((trunc_normal_, timm_trunc), (trunc_normal_tf_, timm_tf)):
        replacement.__doc__ = original.__doc__
        replacement.__module__ = original.__module__
        replacement._fastinit_original = original
    return {id(timm_trunc): (timm_trunc, trunc_normal_), id(timm_tf): (timm_tf, trunc_normal_tf_)}


class _Installation:
    """The patches in place while any session is active, and how to undo them."""

    def __init__(self):
        self.undo = []           # (namespace dict, key, original)
        self.tensor_methods = []
        self.modules_at_entry = set(sys.modules)
        self.table = {id(original): (original, _REPLACEMENTS[name]) for name, original in _TORCH_INIT.items()}
        self.table.update(_timm_replacements())

    def _patch_namespace(self, namespace):
        for key, value in list(namespace.items()):
            entry = self.table.get(id(value))
            if entry is not None and entry[0] is value:
                namespace[key] = entry[1]
                self.undo.append((namespace, key, value))

    def install(self):
        try:
            for name in _TENSOR_METHODS:
                # What torch.Tensor itself holds now (normally nothing: the C method is
                # inherited), so that exit puts back exactly that.
                self.tensor_methods.append((name, torch.Tensor.__dict__.get(name, _ABSENT)))
                setattr(torch.Tensor, name, _TENSOR_REPLACEMENT[name])
            # Every module-level binding of a patched function: torch.nn.init itself, torch's
            # modules that imported them by name, timm's and user code's `from ... import`.
            for module in list(sys.modules.values()):
                namespace = getattr(module, "__dict__", None)
                if isinstance(namespace, dict):
                    self._patch_namespace(namespace)
            # transformers 5 captures torch's functions in a dict at import time.
            initialization = sys.modules.get("transformers.initialization")
            captured = getattr(initialization, "TORCH_INIT_FUNCTIONS", None)
            if isinstance(captured, dict):
                self._patch_namespace(captured)
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self):
        for name, before in reversed(self.tensor_methods):
            if before is _ABSENT:
                delattr(torch.Tensor, name)
            else:
                setattr(torch.Tensor, name, before)
        self.tensor_methods = []
        for namespace, key, original in reversed(self.undo):
            if namespace.get(key) is not None and hasattr(namespace[key], "_fastinit_original"):
                namespace[key] = original
        self.undo = []
        # Modules imported inside the context may have bound a replacement by name (or, as
        # transformers.initialization, captured it): give them torch's function back.  (A
        # replacement left anywhere else still calls the original outside a session.)
        for name in set(sys.modules) - self.modules_at_entry:
            namespace = getattr(sys.modules.get(name), "__dict__", None)
            candidates = [namespace] if isinstance(namespace, dict) else []
            captured = isinstance(namespace, dict) and namespace.get("TORCH_INIT_FUNCTIONS")
            if isinstance(captured, dict):
                candidates.append(captured)
            for space in candidates:
                for key, value in list(space.items()):
                    original = getattr(value, "_fastinit_original", None) if callable(value) else None
                    if original is not None:
                        space[key] = original


# --------------------------------------------------------------------------------------
# patch_init
# --------------------------------------------------------------------------------------


class patch_init(contextlib.ContextDecorator):
    r"""Serve torch's init functions with fastinit, so that library model code initializes fast.

    A context manager (or a decorator): inside it, the random initializers
    of ``torch.nn.init``, the in-place ``Tensor.normal_`` and
    ``Tensor.uniform_``, transformers' captured copies of torch's functions
    (``transformers.initialization``) and timm's ``trunc_normal_`` and
    ``trunc_normal_tf_`` (and so timm's ``lecun_normal_`` and
    ``variance_scaling_``, which call ``trunc_normal_tf_``) fill CPU floating
    tensors with fastinit, through the same code as the
    :mod:`fastinit.torch` drop-ins.  While a ``TorchFunctionMode`` other
    than ``with torch.device(...)`` is active (a tracer, a recorder), calls
    go to torch, so that the mode sees them.
    Every distribution is the one the call asks for; the values are
    fastinit's, not torch's::

        with fastinit.torch.patch_init(seed=0):
            model = AutoModelForCausalLM.from_config(config)    # transformers
            vit = timm.create_model("vit_base_patch16_224")       # timm

    Parameters
    ----------
    seed : int or None, optional
        Key in ``[0, 2**64)``.  None draws one when the context is entered,
        from torch's default generator (63 bits, one draw; read it back as
        ``.seed``), so ``torch.manual_seed`` makes the values reproducible.
        Torch's generator is left in another state than torch's own init
        code would leave it (which draws once per element).
    model : torch.nn.Module, optional
        Its parameters and buffers (as they are on entry; found by identity
        of storage, so ``p.data`` and ``p.detach()`` count) are filled from
        their own named streams, ``stream_id(qualified_name)`` with key
        ``seed`` -- the streams :func:`init_module` uses: the values of one
        tensor never depend on other layers or on the order of calls.  A
        fill of a part of one of them (a view) uses
        ``stream_id(name, f"view:{offset}:{shape}:{strides}")``.

    Notes
    -----
    **Values.**  A tensor of ``model`` gets its named stream.  Any other
    tensor gets the next stream of a counter: the ``k``-th such fill
    (``k = 0, 1, ...``, counting fills that succeed) is drawn with key
    ``seed`` from ``fastinit.default_rng(seed).child("patch_init").stream_at(k)``,
    so the values are deterministic in the order of the calls, as with
    torch's generator.  A call given its own ``torch.Generator`` draws its
    seed from that generator instead (stream 0), as the drop-ins do.  A
    model built inside the context (``from_config``, ``create_model``)
    does not exist yet when its constructors initialize it: pass ``model=``
    to re-run a model's init on named streams, e.g. ``with patch_init(seed,
    model=m): m.init_weights()`` (timm) or ``m.apply(m._init_weights)``
    (transformers), where adding a layer changes no other tensor.

    **What goes to torch unchanged**: tensors that are not on the CPU, meta
    tensors, integer/complex/sparse tensors, tensor subclasses that
    redefine ``__torch_function__``/``__torch_dispatch__``, tensors with
    overlapping memory, inference tensors outside inference mode, zero-element
    tensors, and a ``Tensor.normal_``/``uniform_`` call that autograd must
    record (grad mode on and the tensor requires grad: torch then raises for
    a leaf, as without the patch).  Calls torch would refuse for their
    arguments go to torch, which raises its own error.  Bad values raise
    before anything is written, as the drop-ins do (e.g. a bound beyond the
    dtype is a ValueError where torch fills inf).  The deterministic fills
    (``zeros_``, ``ones_``, ``constant_``, ``eye_``, ``dirac_``, ``zero_``,
    ``fill_``) are left to torch: they give the same bits either way.

    **Scope.**  Patching is process-global, like ``torch.manual_seed``:
    init calls from other threads during the context are served too, and
    then the order of calls (and so the values of tensors outside ``model``)
    depends on scheduling.  Module-level bindings are found in every module
    imported when the outermost context is entered (``from torch.nn.init
    import normal_`` in any module); timm's functions are patched only if
    timm is imported before that.  On exit (also on an exception) everything
    is restored, including names bound inside the context by modules imported
    there; a patched function kept somewhere else calls torch's again
    outside the context.

    **Nesting.**  Contexts nest; the innermost active one decides seed,
    counter and model (it does not see an outer one's ``model``).  Leaving
    it resumes the outer one where it was.  A decorated function enters a
    fresh context (counter at 0, a newly drawn seed if None) on every call.

    Raises
    ------
    TypeError
        ``seed`` is not an int or None, ``model`` is not a Module or None.
    ValueError
        ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> from fastinit.torch import patch_init
    >>> with patch_init(seed=0):
    ...     layer = torch.nn.Linear(256, 128)
    >>> bound = 1 / 256 ** 0.5
    >>> bool(layer.weight.abs().max() <= bound)
    True
    >>> with patch_init(seed=0, model=layer):
    ...     layer.reset_parameters()                # named streams: init_module's values
    >>> bool((layer.weight == fit.init_module(torch.nn.Linear(256, 128), 0).weight).all())
    True
    """

    def __init__(self, seed=None, *, model=None):
        self._seed = None if seed is None else as_seed(seed)
        if model is not None and not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module or None; got {type(model).__name__}")
        self._model = model
        self._entered = []        # this object's active sessions (a decorator may recurse)
        self._last_seed = None

    @property
    def seed(self):
        """int or None: The seed of this object's innermost active entry, else of its last one.

        Before the first entry, the seed given (None if it is to be drawn).
        """
        if self._entered:
            return self._entered[-1].seed
        return self._last_seed if self._last_seed is not None else self._seed

    def __enter__(self):
        global _INSTALLED
        seed = self._seed if self._seed is not None else _draw_seed(None)
        session = _Session(seed, self._model, drawn=self._seed is None)
        with _LOCK:
            if _INSTALLED is None:
                installation = _Installation()
                installation.install()
                _INSTALLED = installation
            _SESSIONS.append(session)
        self._entered.append(session)
        self._last_seed = seed
        return self

    def __exit__(self, *exc_info):
        global _INSTALLED
        session = self._entered.pop()
        with _LOCK:
            # Normally the innermost; removed wherever it is, so an exit out of order
            # (interleaved generators) cannot leave a stale session active.
            for index in range(len(_SESSIONS) - 1, -1, -1):
                if _SESSIONS[index] is session:
                    del _SESSIONS[index]
                    break
            if not _SESSIONS and _INSTALLED is not None:
                installation, _INSTALLED = _INSTALLED, None
                installation.uninstall()
        return False

    def __repr__(self):
        model = "" if self._model is None else f", model={type(self._model).__name__}"
        return f"patch_init(seed={self._seed!r}{model})"

"""Framework-neutral model initialization: rules, specs, stream naming, plans and their dry run.

An adapter (``fastinit.torch`` today; a JAX/Flax one could reuse this unchanged)
lists a model's tensors as :class:`Target` objects (qualified names, owners,
shape, dtype) and supplies its framework's defaults; this module matches user
rules against them, checks every scheme on every tensor's real shape and dtype
before anything is written, and names each tensor's stream.

The contract shared by every adapter: tensor ``name`` is drawn with key
``seed`` from stream ``tensor_stream(name)`` = ``stream_id(name)``, so its
values depend only on ``(seed, name, shape, dtype, scheme)``.
"""

from __future__ import annotations

import fnmatch
import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import ml_dtypes

from fastinit._registry import BY_NAME, RESERVED_ARGUMENTS
from fastinit._validate import stream_id


def tensor_stream(name):
    """The stream of the tensor with qualified name ``name``: ``stream_id(name)``."""
    return stream_id(name)


# --------------------------------------------------------------------------------------

# Scheme names a rule may use, every name of the registry (torch spellings with a
# trailing "_" are accepted too).
RANDOM_SCHEMES = tuple(name for name, info in BY_NAME.items() if info.random)
DETERMINISTIC_SCHEMES = tuple(name for name, info in BY_NAME.items() if not info.random)
SCHEMES = RANDOM_SCHEMES + DETERMINISTIC_SCHEMES
KEEP = "keep"
ZERO_INTEGER = "zero"      # integer buffers (BatchNorm's num_batches_tracked)
CALLABLE = "callable"


@dataclass(frozen=True)
class Spec:
    """How one tensor is filled: a fastinit scheme, a user callable, or left alone."""

    scheme: str                      # a name in SCHEMES, or KEEP / ZERO_INTEGER / CALLABLE
    kwargs: Mapping = field(default_factory=dict)
    function: Callable | None = None
    origin: str = ""


def scheme_spec(scheme, kwargs, origin):
    """A validated spec for a fastinit scheme name and its keyword arguments."""
    if not isinstance(scheme, str):
        raise TypeError(f"{origin}: a scheme must be named by a str; got {type(scheme).__name__} {scheme!r}")
    name = scheme[:-1] if scheme.endswith("_") else scheme
    if name not in SCHEMES:
        raise ValueError(f"{origin}: unknown scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}")
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{origin}: the arguments of {name!r} must be a dict; got {type(kwargs).__name__}")
    reserved = sorted(set(kwargs) & set(RESERVED_ARGUMENTS))
    if reserved:
        raise ValueError(f"{origin}: {', '.join(reserved)} cannot be given in a rule: init_module "
                         "takes the shape, dtype and output from the tensor, the seed from its "
                         "seed argument and the stream from the tensor's name")
    try:
        BY_NAME[name].signature.bind(None, **kwargs)
    except TypeError as error:
        raise TypeError(f"{origin}: bad arguments for {name!r}: {error}") from None
    return Spec(name, dict(kwargs), None, origin)


def parse_spec(value, origin):
    """A rule's value: None, a scheme name, (name, kwargs), or a callable."""
    if value is None:
        return Spec(KEEP, {}, None, origin)
    if isinstance(value, str):
        return scheme_spec(value, {}, origin)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return scheme_spec(value[0], value[1], origin)
    if callable(value) and not isinstance(value, type):
        return Spec(CALLABLE, {}, value, origin)
    raise TypeError(
        f"{origin}: a rule's value must be a scheme name, (name, kwargs), a callable "
        f"fn(tensor, *, seed, stream) or None; got {type(value).__name__} {value!r}"
    )


@dataclass
class Rule:
    key: Any                         # fnmatch pattern (str) or a module class
    spec: Spec | None               # for a pattern, or a type applying to all its tensors
    by_local_name: dict | None       # for a type: {local name: Spec}
    matched: bool = False
    matched_local_names: set = field(default_factory=set)

    def spec_for(self, target):
        if isinstance(self.key, str):
            if any(fnmatch.fnmatchcase(name, self.key) for name in target.names):
                return self.spec
            return None
        for owner, local in target.owners:
            if isinstance(owner, self.key):
                if self.by_local_name is None:
                    return self.spec
                if local in self.by_local_name:
                    self.matched_local_names.add(local)
                    return self.by_local_name[local]
        return None

    def unmatched(self):
        """How this rule is shown if (part of) it matched nothing, else None."""
        if isinstance(self.key, str):
            return None if self.matched else repr(self.key)
        if self.by_local_name is None:
            return None if self.matched else self.key.__name__
        missing = [local for local in self.by_local_name if local not in self.matched_local_names]
        return f"{self.key.__name__}[{', '.join(map(repr, missing))}]" if missing else None


def parse_rules(rules, module_type, module_type_name):
    """User rules as :class:`Rule` objects, in order.

    ``module_type`` is the adapter's module base class (``torch.nn.Module``),
    shown as ``module_type_name`` in errors: a key that is a subclass of it
    matches the tensors its instances own directly.
    """
    if rules is None:
        return []
    if not isinstance(rules, Mapping):
        raise TypeError(f"rules must be a dict {{pattern or module type: scheme}}; got {type(rules).__name__}")
    parsed = []
    for key, value in rules.items():
        if isinstance(key, str):
            origin = f"rule {key!r}"
            parsed.append(Rule(key, parse_spec(value, origin), None))
        elif isinstance(key, type) and issubclass(key, module_type):
            origin = f"rule {key.__name__}"
            if isinstance(value, Mapping):
                by_local = {}
                for local, spec in value.items():
                    if not isinstance(local, str):
                        raise TypeError(f"{origin}: keys of a per-tensor dict must be local names "
                                        f"such as 'weight'; got {local!r}")
                    by_local[local] = parse_spec(spec, f"{origin}[{local!r}]")
                parsed.append(Rule(key, None, by_local))
            else:
                parsed.append(Rule(key, parse_spec(value, origin), None))
        else:
            raise TypeError(
                f"rule keys must be fnmatch patterns (str) or {module_type_name} subclasses; got {key!r}"
            )
    return parsed


def show_call(scheme, kwargs):
    return f"{scheme}({', '.join(f'{key}={value!r}' for key, value in kwargs.items())})"


@functools.lru_cache(maxsize=None)
def _largest_finite(dtype):
    return float(ml_dtypes.finfo(dtype).max)


def _derived_magnitudes(scheme, kwargs, shape):
    """The values ``scheme`` derives from its arguments and the shape: ``[(what, value)]``
    (the registry's :meth:`~fastinit._registry.SchemeInfo.derived_values`); ``[]`` for
    arguments that do not bind, which the dry run reports."""
    info = BY_NAME[scheme]
    try:
        arguments = info.arguments(kwargs)
    except TypeError:
        return []
    return info.derived_values(arguments, shape)


def overflow_error(scheme, kwargs, shape, dtype, describe):
    """A value ``scheme`` derives beyond ``dtype``'s range, as a ValueError in the caller's
    terms (``describe(call)`` says who made the call), or None."""
    limit = _largest_finite(dtype)
    for what, value in _derived_magnitudes(scheme, kwargs, shape):
        if abs(value) > limit:         # NaN (from a NaN argument) keeps fastinit's own message
            return ValueError(f"{describe(show_call(scheme, kwargs))} gives a {what} of "
                              f"{value:.7g}, beyond {dtype.name}'s largest finite value {limit:g}")
    return None


def explained(error, scheme, kwargs, shape, dtype, describe):
    """``error`` from fastinit, or the caller's-terms error for the derived value behind it."""
    if isinstance(error, ValueError):
        better = overflow_error(scheme, kwargs, shape, dtype, describe)
        if better is not None:
            return better
    return error


def validate_scheme(scheme, kwargs, shape, dtype, describe, stream=0):
    """Every check fastinit makes for ``scheme`` on ``shape``/``dtype``, writing nothing.

    A dry run of the scheme on one element of the full shape (seed 0): the
    same parameter, shape and range checks as the real fill, which only
    differs in its seed.  orthogonal is dry-run on an empty block: its checks
    all come before its QR, which a block would compute in full.  A derived
    value (a Xavier bound, a Kaiming std) beyond the dtype's range is
    reported in the caller's terms through ``describe(call)``.
    """
    if not shape or 0 in shape:
        region = None
    elif scheme == "orthogonal":
        region = tuple(slice(0, 0) for _ in shape)
    else:
        region = tuple(slice(0, 1) for _ in shape)
    info = BY_NAME[scheme]
    arguments = dict(kwargs)
    if info.random:
        arguments.update(seed=0, stream=stream)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info.function(shape, **arguments, dtype=dtype, region=region)
    except (TypeError, ValueError) as error:
        better = explained(error, scheme, kwargs, shape, dtype, describe)
        if better is error:
            raise
        raise better from None
    # An empty shape skips the scheme's value checks; the derived ones are made here.
    if region is None and shape and 0 in shape:
        error = overflow_error(scheme, kwargs, shape, dtype, describe)
        if error is not None:
            raise error




# --------------------------------------------------------------------------------------
# Targets and plans
# --------------------------------------------------------------------------------------


@dataclass
class Target:
    """One tensor of a model, once (tied tensors have several names and owners)."""

    name: str                        # canonical qualified name (the first one listed)
    names: list                      # every qualified name of the tensor (tied weights)
    kind: str                        # "parameter" or "buffer"
    owners: list                     # [(module, local name)] for every name
    ancestors: list                  # modules from the root down to the first owner's parent
    tensor: Any


@dataclass(frozen=True)
class InitStep:
    """One tensor of an initialization plan: what ``init_module`` does to it.

    Attributes
    ----------
    name : str
        Qualified name (``prefix`` included), as the framework lists it
        (``named_parameters`` / ``named_buffers``); the tensor's stream is
        ``stream_id(name)``.
    kind : str
        ``"parameter"`` or ``"buffer"``.
    shape : tuple of int
    dtype
        The framework's dtype (``torch.float32``, ...).
    scheme : str
        A fastinit scheme name, ``"callable"`` (a user function),
        ``"keep"`` (left as it is) or ``"zero"`` (an integer buffer).
    kwargs : dict
        The scheme's arguments.
    origin : str
        The rule or default that chose it.
    aliases : tuple of str
        Other names of the same tensor (tied weights), initialized once.
    """

    name: str
    kind: str
    shape: tuple
    dtype: Any
    scheme: str
    kwargs: dict
    origin: str
    aliases: tuple = ()


def match_rules(targets, parsed, default_spec, strict, *, caller="init_module",
                defaults="default"):
    """``[(target, spec)]``: the first matching rule, else ``default_spec(target)``.

    Raises the plan-level errors (rules that match nothing, tensors with no
    rule and no default under ``strict``) naming every offender at once.
    """
    plan, uncovered = [], []
    for target in targets:
        spec = None
        for rule in parsed:
            found = rule.spec_for(target)
            if found is not None:
                rule.matched = True
                if spec is None:
                    spec = found       # first match wins; later rules are still marked as used
        if spec is None:
            spec = default_spec(target)
        if spec is None:
            owner = type(target.owners[0][0]).__name__
            if strict:
                uncovered.append(f"{target.name} ({target.kind} of {owner}, shape {tuple(target.tensor.shape)})")
                continue
            spec = Spec(KEEP, {}, None, "strict=False: no rule and no default")
        plan.append((target, spec))
    unmatched = [shown for shown in (rule.unmatched() for rule in parsed) if shown is not None]
    if unmatched:
        raise ValueError(f"{caller}: these rules match no parameter or buffer: " + ", ".join(unmatched))
    if uncovered:
        raise ValueError(
            f"{caller}: no rule and no {defaults} for: " + "; ".join(uncovered)
            + ".  Add rules for them, e.g. rules={'<name pattern>': ('normal', {'std': 0.02})}, "
            "None to keep a tensor as it is, or pass strict=False to leave all of them"
        )
    return plan


def check_scheme_spec(spec, name, shape, dtype, where):
    """The dry run of a scheme spec on tensor ``name`` (NumPy ``dtype``), in the caller's terms."""
    call = f"{spec.origin} -> {show_call(spec.scheme, spec.kwargs)}"
    try:
        validate_scheme(spec.scheme, spec.kwargs, shape, dtype,
                        lambda shown: f"{where}: {spec.origin} -> {shown}", tensor_stream(name))
    except (TypeError, ValueError) as error:
        if str(error).startswith(where):
            raise
        raise type(error)(f"{where}: {call}: {error}") from None


def fill_with_spec(spec, out, seed, name, *, shape=None, region=None):
    """Fill the NumPy array ``out`` (the whole tensor ``name``, or block ``region`` of its
    global ``shape``: a shard) with a scheme spec's values."""
    info = BY_NAME[spec.scheme]
    arguments = dict(spec.kwargs)
    if info.random:
        arguments.update(seed=seed, stream=tensor_stream(name))
    info.function(shape, **arguments, out=out, region=region)

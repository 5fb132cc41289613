"""The command line's vocabulary: which SCHEMEs exist and how values are parsed.

The scheme table is read from the Python API: every function in
``fastinit.__all__`` that takes ``shape``, ``out``, ``dtype`` and ``region``
is a SCHEME, and its other parameters (with the types of their defaults)
are what ``--param NAME=VALUE`` may set.  Also here: parsing of shapes
(``100000x1024``), dtypes, seeds, streams and ``--threads``.  Every parse
error is a :class:`~fastinit.cli.errors.UsageError`.
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import fastinit as fi
from fastinit._validate import as_dtype
from fastinit.cli.errors import UsageError

# orthogonal and sparse are computed whole, in memory, up to this many elements.
WHOLE_MATRIX_MAX_ELEMENTS = 1 << 24
WHOLE_MATRIX_SCHEMES = ("orthogonal", "sparse")

DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64")

# Arguments the CLI sets itself; never taken from --param.
_RESERVED_PARAMETERS = ("shape", "out", "dtype", "seed", "stream", "region")
_TRUE_WORDS = ("true", "yes", "on")
_FALSE_WORDS = ("false", "no", "off")


# ---------------------------------------------------------------------------
# The scheme table, read from the Python API
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemeSpec:
    """One SCHEME of ``fastinit init``: a public fill function and its parameters.

    Attributes
    ----------
    name : str
        The name it is exported under (``he_normal``).
    function : callable
        The function (``fastinit.he_normal``, which is ``kaiming_normal``).
    parameters : tuple of inspect.Parameter
        The parameters ``--param`` may set (all but shape/out/dtype/seed/stream/region).
    random : bool
        Whether it takes ``seed`` and ``stream``.
    """

    name: str
    function: Callable
    parameters: tuple
    random: bool

    @property
    def canonical_name(self) -> str:
        return self.function.__name__

    @property
    def whole_matrix(self) -> bool:
        """True for the schemes that cannot be generated block by block cheaply."""
        return self.canonical_name in WHOLE_MATRIX_SCHEMES

    def parameter(self, name: str) -> Optional[inspect.Parameter]:
        return next((p for p in self.parameters if p.name == name), None)

    def parameter_names(self) -> str:
        return ", ".join(p.name for p in self.parameters) or "(none)"

    def usage(self) -> str:
        """``he_normal(a=0, mode='fan_in', ...)`` for the help text."""
        parts = []
        for p in self.parameters:
            parts.append(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}")
        alias = f"  [= {self.canonical_name}]" if self.canonical_name != self.name else ""
        return f"{self.name}({', '.join(parts)}){alias}"


@functools.lru_cache(maxsize=None)
def scheme_table() -> dict:
    """Every function in ``fastinit.__all__`` that fills a ``shape`` with ``out``/``dtype``/``region``.

    Returns
    -------
    dict of str to SchemeSpec
        Sorted by name.
    """
    table = {}
    for name in sorted(fi.__all__):
        function = getattr(fi, name, None)
        if not inspect.isfunction(function):
            continue
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        parameters = list(signature.parameters.values())
        if (not parameters or parameters[0].name != "shape"
                or not {"out", "dtype", "region"} <= signature.parameters.keys()):
            continue
        settable = tuple(
            p for p in parameters[1:]
            if p.name not in _RESERVED_PARAMETERS
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        )
        table[name] = SchemeSpec(name, function, settable, "seed" in signature.parameters)
    return table


def lookup_scheme(name: str) -> SchemeSpec:
    table = scheme_table()
    if name not in table:
        raise UsageError(f"unknown scheme {name!r}; choose from: {', '.join(table)}")
    return table[name]


def _parse_number(text: str):
    try:
        return int(text, 10)
    except ValueError:
        return float(text)


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE_WORDS + ("1",):
        return True
    if word in _FALSE_WORDS + ("0",):
        return False
    raise ValueError(text)


def parse_parameter_value(scheme: SchemeSpec, parameter: inspect.Parameter, text: str):
    """Convert ``text`` to the type the parameter's default has.

    bool defaults take true/false/yes/no/on/off/1/0; int and float defaults
    take a number (``0`` stays an int, ``0.1`` a float: ``kaiming_normal``'s
    ``a`` defaults to 0 but accepts 0.2); str defaults keep the text; a
    parameter without a usable default (``sparse``'s ``sparsity=None``)
    takes an int, a float, a bool word or else the text.
    """
    default = parameter.default
    where = f"parameter {parameter.name} of {scheme.name}"
    if isinstance(default, bool):
        try:
            return _parse_bool(text)
        except ValueError:
            raise UsageError(f"{where} expects true or false; got {text!r}") from None
    if isinstance(default, (int, float)):
        try:
            return _parse_number(text)
        except ValueError:
            raise UsageError(f"{where} expects a number (default {default!r}); got {text!r}") from None
    if isinstance(default, str):
        return text
    for convert in (_parse_number, _parse_bool):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def check_parameter_name(scheme: SchemeSpec, name: str) -> inspect.Parameter:
    if name in _RESERVED_PARAMETERS:
        option = {"dtype": "--dtype", "seed": "--seed", "stream": "--stream"}.get(name)
        hint = f"; use {option}" if option else "; the command line sets it"
        raise UsageError(f"{name} is not a parameter of {scheme.name}{hint}")
    parameter = scheme.parameter(name)
    if parameter is None:
        raise UsageError(f"unknown parameter {name!r} for scheme {scheme.name}; "
                         f"its parameters are: {scheme.parameter_names()}")
    return parameter


def parse_parameters(scheme: SchemeSpec, items) -> dict:
    """``["std=0.02", "mean=0"]`` -> ``{"std": 0.02, "mean": 0}`` for ``scheme``."""
    params = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--param expects NAME=VALUE (e.g. --param std=0.02); got {item!r}")
        parameter = check_parameter_name(scheme, name)
        if name in params:
            raise UsageError(f"parameter {name!r} is given twice")
        params[name] = parse_parameter_value(scheme, parameter, text.strip())
    return params


def check_required_parameters(scheme: SchemeSpec, params: dict) -> None:
    missing = [p.name for p in scheme.parameters
               if p.default is inspect.Parameter.empty and p.name not in params]
    if missing:
        raise UsageError(f"scheme {scheme.name} needs " +
                         ", ".join(f"--param {name}=..." for name in missing))


# ---------------------------------------------------------------------------
# Shapes, dtypes, seeds, streams and threads
# ---------------------------------------------------------------------------

_SHAPE_SEPARATORS = re.compile(r"\s*[xX,]\s*")


def parse_shape(text) -> tuple:
    """``"100000x1024"``, ``"100000,1024"``, ``"(100000, 1024)"``, ``[100000, 1024]`` -> a tuple.

    Dimensions must be positive integers.
    """
    example = "give positive integer dimensions separated by 'x' or ',', e.g. 100000x1024"
    if isinstance(text, (list, tuple)):
        dims = []
        for d in text:
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise UsageError(f"malformed shape {list(text)!r}: {example}")
            dims.append(d)
        if not dims:
            raise UsageError(f"malformed shape {list(text)!r}: {example}")
        return tuple(dims)
    if not isinstance(text, str):
        raise UsageError(f"malformed shape {text!r}: {example}")
    body = text.strip()
    if body[:1] + body[-1:] in ("()", "[]"):
        body = body[1:-1].strip()
    parts = _SHAPE_SEPARATORS.split(body)
    if len(parts) > 1 and parts[-1] == "" and "," in body:   # "1024," as in Python
        parts = parts[:-1]
    if not parts or not all(part.isascii() and part.isdigit() for part in parts):
        raise UsageError(f"malformed shape {text!r}: {example}")
    dims = tuple(int(part) for part in parts)
    if 0 in dims:
        raise UsageError(f"shape {text!r} has a zero dimension: {example}")
    return dims


def format_shape(shape) -> str:
    return "x".join(map(str, shape))


def parse_dtype(name) -> np.dtype:
    if not isinstance(name, str) or name not in DTYPE_NAMES:
        raise UsageError(f"unsupported dtype {name!r}; choose from: {', '.join(DTYPE_NAMES)}")
    return as_dtype(name)


def dtype_name(dtype: np.dtype) -> str:
    return "bfloat16" if dtype == as_dtype("bfloat16") else np.dtype(dtype).name


def parse_integer(text: str, what: str) -> int:
    """A decimal or 0x-hexadecimal integer."""
    body = text.strip().replace("_", "")
    try:
        return int(body, 16) if body.lower().startswith("0x") else int(body, 10)
    except ValueError:
        raise UsageError(f"{what} must be an integer; got {text!r}") from None


def parse_stream(text: str):
    """An int (decimal or 0x...) or, for any other text, a stream name."""
    body = text.strip()
    if re.fullmatch(r"[+-]?\d[\d_]*|0[xX][0-9a-fA-F_]+", body):
        return parse_integer(body, "--stream")
    if not body:
        raise UsageError("--stream must be an integer or a non-empty name")
    return text


def set_threads(threads: int) -> None:
    """``fastinit.set_num_threads(threads)``, a bad value reported as a usage error."""
    try:
        fi.set_num_threads(threads)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--threads: {exc}") from None


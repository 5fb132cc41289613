"""The command line's vocabulary: which SCHEMEs exist and how values are parsed.

The scheme table is read from the scheme registry (:mod:`fastinit._registry`):
every name of every scheme is a SCHEME, and its own parameters (with the
types of their defaults) are what ``--param NAME=VALUE`` may set.  Also here: parsing of shapes
(``100000x1024``), dtypes, seeds, streams and ``--threads``.  Every parse
error is a :class:`~fastinit.cli.errors.UsageError`.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import fastinit as fi
from fastinit._registry import BY_NAME, RESERVED_ARGUMENTS, SchemeInfo
from fastinit._validate import as_dtype
from fastinit.cli.errors import UsageError

DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64")

# Arguments the CLI sets itself; never taken from --param.
_RESERVED_PARAMETERS = RESERVED_ARGUMENTS
_TRUE_WORDS = ("true", "yes", "on")
_FALSE_WORDS = ("false", "no", "off")


# ---------------------------------------------------------------------------
# The scheme table, read from the scheme registry
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemeSpec:
    """One SCHEME of ``fastinit init``: a name of a registry scheme.

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
    info : fastinit._registry.SchemeInfo
        Its registry entry.
    """

    name: str
    function: Callable
    parameters: tuple
    random: bool
    info: SchemeInfo

    @property
    def canonical_name(self) -> str:
        return self.info.name

    @property
    def whole_matrix(self) -> bool:
        """True for the schemes that cannot be generated block by block cheaply."""
        return self.info.whole_matrix or self.info.whole_columns

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
    """Every name of every scheme in the registry (:data:`fastinit._registry.BY_NAME`).

    Returns
    -------
    dict of str to SchemeSpec
        Sorted by name.
    """
    return {name: SchemeSpec(name, info.function, info.parameters, info.random, info)
            for name, info in sorted(BY_NAME.items())}


def lookup_scheme(name: str) -> SchemeSpec:
    table = scheme_table()
    if name not in table:
        raise UsageError(f"unknown scheme {name!r}; choose from: {', '.join(table)}")
    return table[name]


# The largest float64 is about 1.8e308: an integer literal of more digits than this overflows.
_MAX_FLOAT_DIGITS = 309
_INTEGER_LITERAL = re.compile(r"[+-]?\d+(?:_\d+)*")
_NON_FINITE_WORDS = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan")


def abbreviate(value, limit: int = 40) -> str:
    """``repr(value)`` (a str) or ``str(value)`` (anything else) for a message; longer than
    ``limit`` characters, only its two ends and its length: a 400-digit literal stays readable."""
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:                         # an int beyond Python's digit limit for str()
        return "an integer of more than 4,300 digits"
    if len(text) <= limit:
        return repr(text) if isinstance(value, str) else text
    short = f"{text[:limit // 2]}...{text[-8:]}"
    return f"{short!r} ({len(text):,} characters)" if isinstance(value, str) else \
        f"{short} ({len(text):,} characters)"


def _parse_number(text: str):
    """An int for an integer literal, else a float; ValueError if not a number.

    A number too large for a float64 (a 400-digit integer, ``1e400``) is an
    OverflowError: fill parameters become doubles, and Python's float() would
    silently turn the float literal into inf (``inf``/``nan`` written out stay
    allowed, for the library to judge).
    """
    body = text.strip()
    if _INTEGER_LITERAL.fullmatch(body):
        digits = len(body.lstrip("+-").replace("_", "").lstrip("0"))
        if digits > _MAX_FLOAT_DIGITS:       # also beyond int()'s 4300-digit limit
            raise OverflowError(text)
        value = int(body, 10)
        float(value)                           # OverflowError above ~1.8e308
        return value
    value = float(body)
    if math.isinf(value) and body.lower() not in _NON_FINITE_WORDS:
        raise OverflowError(text)
    return value


def _too_large(where: str, text) -> UsageError:
    return UsageError(f"{where} expects a number a float64 can hold (magnitude at most about "
                      f"1.8e308); got {abbreviate(text)}, which is too large")


def check_number_range(where: str, value):
    """Refuse a (JSON/TOML) integer too large for a float64, as the command line does."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            raise _too_large(where, value) from None
    return value


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
            raise UsageError(f"{where} expects true or false; got {abbreviate(text)}") from None
    if isinstance(default, (int, float)):
        try:
            return _parse_number(text)
        except OverflowError:
            raise _too_large(where, text) from None
        except ValueError:
            raise UsageError(f"{where} expects a number (default {default!r}); "
                             f"got {abbreviate(text)}") from None
    if isinstance(default, str):
        return text
    for convert in (_parse_number, _parse_bool):
        try:
            return convert(text)
        except OverflowError:
            raise _too_large(where, text) from None
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
            raise UsageError(f"--param expects NAME=VALUE (e.g. --param std=0.02); got {abbreviate(item)}")
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

    Dimensions must be non-negative integers; a zero dimension gives an empty
    array (as in the Python API).
    """
    example = "give non-negative integer dimensions separated by 'x' or ',', e.g. 100000x1024"
    if isinstance(text, (list, tuple)):
        dims = []
        for d in text:
            if isinstance(d, bool) or not isinstance(d, int) or d < 0:
                raise UsageError(f"malformed shape {abbreviate(list(text))}: {example}")
            dims.append(d)
        if not dims:
            raise UsageError(f"malformed shape {list(text)!r}: {example}")
        return tuple(dims)
    if not isinstance(text, str):
        raise UsageError(f"malformed shape {abbreviate(text)}: {example}")
    body = text.strip()
    if body[:1] + body[-1:] in ("()", "[]"):
        body = body[1:-1].strip()
    parts = _SHAPE_SEPARATORS.split(body)
    if len(parts) > 1 and parts[-1] == "" and "," in body:   # "1024," as in Python
        parts = parts[:-1]
    if not parts or not all(part.isascii() and part.isdigit() for part in parts):
        raise UsageError(f"malformed shape {abbreviate(text)}: {example}")
    if any(len(part.lstrip("0")) > 20 for part in parts):      # > 2**64, and int()'s digit limit
        raise UsageError(f"shape {abbreviate(text)} has a dimension of more than 20 digits")
    return tuple(int(part) for part in parts)


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
    if len(body) > 100:                       # no 400-digit literal in messages (nor int()'s limit)
        raise UsageError(f"{what} must be an integer in [0, 2**64); got {abbreviate(text)}")
    try:
        return int(body, 16) if body.lower().startswith("0x") else int(body, 10)
    except ValueError:
        raise UsageError(f"{what} must be an integer; got {abbreviate(text)}") from None


def parse_stream(text: str):
    """An int (decimal or 0x...) or, for any other text, a stream name."""
    body = text.strip()
    if re.fullmatch(r"[+-]?\d[\d_]*|0[xX][0-9a-fA-F_]+", body):
        return parse_integer(body, "--stream")
    if not body:
        raise UsageError("--stream must be an integer or a non-empty name")
    check_text(text, "--stream")
    return text


def check_text(text: str, what: str) -> str:
    """Refuse text that is not valid Unicode (lone surrogates: bytes that were not UTF-8).

    Python turns command-line bytes that are not UTF-8 into lone surrogates
    (``\\udcff`` for byte 0xff), and a JSON spec may spell one (``"\\ud800"``).
    Such a name cannot be written as UTF-8: a safetensors header holding one is
    invalid JSON, and a stream name has no defined id.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        if 0xDC80 <= ord(bad) <= 0xDCFF:       # an undecodable byte from argv (surrogateescape)
            culprit = f"the byte 0x{ord(bad) - 0xDC00:02x}, which is not UTF-8"
        else:
            culprit = f"a lone surrogate, U+{ord(bad):04X}"
        shown = ascii(text) if len(text) <= 40 else ascii(text[:40]) + "..."
        raise UsageError(f"{what} must be valid UTF-8 text; got {shown}, whose character "
                         f"{exc.start} is {culprit}") from None
    return text


def set_threads(threads: int, option: str = "--threads") -> None:
    """``fastinit.set_num_threads(threads)``, a bad value reported as a usage error."""
    limit = fi._config.max_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= limit:
        raise UsageError(f"{option} must be a whole number from 1 to {limit} (leave it out to "
                         f"use every core); got {abbreviate(threads)}")
    try:
        fi.set_num_threads(threads)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{option}: {exc}") from None

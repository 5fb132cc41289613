r"""The scheme registry: every fill function of fastinit, defined once.

One :class:`SchemeInfo` per scheme says what the rest of fastinit needs to
know about it: its function (whose signature gives the parameters, their
defaults and whether it is random), its other names, how it draws (a
sampler with the scheme's own parameters, or a *rule* that derives the
sampler's parameters from the arguments and the fans), its analytic
standard deviation, and whether a block of it costs the whole matrix.
Everything else reads this table:

* ``fastinit`` exports every name in it;
* the CLI's scheme table, ``--param`` checking and ``inspect``'s std;
* ``fastinit.torch``: the drop-ins of the schemes ``torch.nn.init`` lacks
  (``small_init_``, ...), ``init_module``'s rule names, dispatch and
  overflow checks (through :mod:`fastinit._modelplan`);
* ``fastinit.dask``'s wrappers and their docstrings;
* the methods of :class:`fastinit.Generator`.

Adding a scheme is its function plus one entry of :data:`SCHEMES` (see
``docs/extending.md``).
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from typing import Callable, Optional

from . import _llm_schemes, _sampling, _schemes, _structured
from ._fans import compute_fans

__all__ = ["SchemeInfo", "SCHEMES", "BY_NAME", "RESERVED_ARGUMENTS", "scheme_info",
           "truncated_normal_std"]

# Arguments of every fill function that are not the scheme's own: the output, the key and
# the stream.  Adapters set them (init_module, the CLI, dask); a user's rule or --param cannot.
RESERVED_ARGUMENTS = ("shape", "out", "dtype", "seed", "stream", "region")


def truncated_normal_std(mean, std, a, b):
    """The std of :math:`\\mathcal{N}(\\text{mean}, \\text{std}^2)` truncated to ``[a, b]``."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)   # noqa: E731
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))                # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    if mass <= 0:
        return math.nan
    term = (alpha * pdf(alpha) - beta * pdf(beta)) / mass
    shift = (pdf(alpha) - pdf(beta)) / mass
    return std * math.sqrt(max(0.0, 1 + term - shift * shift))


def _sampler_std(sampler, params):
    if sampler == "uniform":
        low, high = params
        return (high - low) / math.sqrt(12)
    if sampler == "normal":
        return abs(params[1])
    return truncated_normal_std(*params)


# What a derived parameter is called in errors, by sampler: (its index, its name).
_DERIVED_VALUE = {"uniform": (1, "bound"), "normal": (1, "std"), "trunc_normal": (3, "truncation bound")}



# The schemes whose blocks cost the whole matrix or whole columns (whole_matrix /
# whole_columns below) are computed whole, in memory, by the CLI and the seed-checkpoint
# writer: up to this many elements.
WHOLE_MATRIX_MAX_ELEMENTS = 1 << 24

@dataclass(frozen=True)
class SchemeInfo:
    """One scheme: its function and everything fastinit's adapters derive from it.

    Attributes
    ----------
    name : str
        The canonical name (the function's ``__name__``).
    function : callable
        The NumPy fill function: ``function(shape=None, <own parameters>, *,
        out=None, dtype=None, [seed=None, stream=0,] region=None)``.
    title : str
        A noun phrase for generated docstrings ("Kaiming (He) normal initialization").
    formula : str
        One line of reST math for generated docstrings.
    aliases : tuple of str
        Other names of the same function (``he_normal``).
    sampler : str or None
        For a sampler itself: which one (its own parameters are the sampler's).
    rule : callable or None
        For a scheme that derives its sampler's parameters: the function the
        scheme's own code fills with (``rule(**own arguments)`` checks them and
        returns ``draw(fan_in, fan_out) -> (sampler, parameters)``).
    fan_based : bool
        Whether ``rule``'s draw uses the fans (then the shape must be 2-D or more).
    std : callable or None
        ``std(arguments, shape)``, the analytic std of a scheme with neither a
        sampler nor a rule (orthogonal, sparse, the constants), or None if unknown.
    whole_matrix : bool
        A block needs the whole matrix (orthogonal's QR): dask computes it in one task.
    whole_columns : bool
        A block costs the whole columns it touches (sparse's ranking).
    required : tuple of str
        Parameters the function requires although their default is None
        (sparse's ``sparsity``): the dask wrappers give them no default.
    torch_name : str or None
        The ``torch.nn.init`` counterpart, whose drop-in is written by hand in
        ``fastinit.torch``; the schemes without one get a generated drop-in.
    example : str
        Arguments of a doctest call (shape first), for generated docstrings.
    """

    name: str
    function: Callable
    title: str
    formula: str = ""
    aliases: tuple = ()
    sampler: Optional[str] = None
    rule: Optional[Callable] = None
    fan_based: bool = True
    std: Optional[Callable] = None
    whole_matrix: bool = False
    whole_columns: bool = False
    required: tuple = ()
    torch_name: Optional[str] = None
    example: str = "(256, 128)"

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.function)

    @functools.cached_property
    def parameters(self) -> tuple:
        """The scheme's own parameters (``inspect.Parameter``): all but the reserved arguments."""
        return tuple(p for p in self.signature.parameters.values()
                     if p.name not in RESERVED_ARGUMENTS
                     and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    @property
    def random(self) -> bool:
        """Whether it takes ``seed`` and ``stream``."""
        return "seed" in self.signature.parameters

    @property
    def derives(self) -> bool:
        """Whether the sampler's parameters are derived (a bound, a std), not given."""
        return self.rule is not None

    @property
    def names(self) -> tuple:
        return (self.name, *self.aliases)

    def parameter_docs(self, indent="    ") -> str:
        """The numpydoc entries of the scheme's own parameters, from its function's docstring.

        For generated docstrings (the dask wrappers, the torch drop-ins): an
        entry naming only reserved arguments (``out, dtype, ...``) is left out.
        """
        lines = inspect.cleandoc(self.function.__doc__).splitlines()
        start = lines.index("Parameters") + 2
        stop = next(i for i in range(start, len(lines)) if lines[i] == "")
        kept, keep = [], False
        for line in lines[start:stop]:
            if not line.startswith(" "):          # an entry: "gain : float, optional"
                names = {name.strip() for name in line.split(" : ")[0].split(",")}
                keep = not names <= set(RESERVED_ARGUMENTS)
            if keep:
                kept.append(f"{indent}{line}\n")
        return "".join(kept)

    def arguments(self, kwargs) -> dict:
        """The scheme's own arguments: ``kwargs`` over the defaults (TypeError if they don't bind)."""
        bound = self.signature.bind_partial(**kwargs)
        bound.apply_defaults()
        return {p.name: bound.arguments.get(p.name) for p in self.parameters}

    def draw(self, arguments, shape):
        """``(sampler, parameters)`` of a call, or None for a structured scheme.

        ``arguments`` as :meth:`arguments` gives them.  Raises what the
        scheme raises for bad arguments or a shape without fans.
        """
        if self.sampler is not None:
            return self.sampler, tuple(arguments[p.name] for p in self.parameters)
        if self.rule is None:
            return None
        own = inspect.signature(self.rule).parameters
        draw = self.rule(*(arguments[name] for name in own))
        if not self.fan_based:
            return draw(None, None)
        return draw(*compute_fans(shape, in_axis=arguments["in_axis"],
                                  out_axis=arguments["out_axis"]))

    def distribution(self, arguments, shape) -> Optional[str]:
        """The sampler a call draws from (``"uniform"``, ``"normal"``, ``"trunc_normal"``), or None."""
        drawn = self.draw(arguments, shape)
        return None if drawn is None else drawn[0]

    def analytic_std(self, arguments, shape) -> Optional[float]:
        """The std of the values a call gives, from the formula; None if unknown."""
        if self.std is not None:
            return self.std(arguments, shape)
        drawn = self.draw(arguments, shape)
        return None if drawn is None else _sampler_std(*drawn)

    def derived_values(self, arguments, shape) -> list:
        """``[(what, value)]``: the parameter a rule derives (a Xavier bound, a Kaiming std).

        Only derived ones: a parameter the user gives directly is checked by
        the fill under its own name.  Arguments that are themselves invalid
        give ``[]``: the scheme's own error names them.
        """
        if self.rule is None:
            return []
        try:
            sampler, params = self.draw(arguments, shape)
        except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError):
            return []
        index, what = _DERIVED_VALUE[sampler]
        return [(what, params[index])]


def _orthogonal_std(arguments, shape):
    return abs(arguments["gain"]) / math.sqrt(max(shape[0], math.prod(shape[1:])))


def _sparse_std(arguments, shape):
    if arguments["sparsity"] is None:
        return None
    rows = shape[0]
    return arguments["std"] * math.sqrt(1 - math.ceil(arguments["sparsity"] * rows) / rows)


def _zero_std(arguments, shape):
    return 0.0


_FANS = ", fans from the full shape"
_ENTRIES = (
    SchemeInfo("uniform", _sampling.uniform, r"Samples of :math:`\mathcal{U}(\text{low}, \text{high})`",
               sampler="uniform", torch_name="uniform_", example="(256, 128), -0.1, 0.1"),
    SchemeInfo("normal", _sampling.normal,
               r"Samples of :math:`\mathcal{N}(\text{mean}, \text{std}^2)`",
               sampler="normal", torch_name="normal_", example="(256, 128), std=0.02"),
    SchemeInfo("trunc_normal", _sampling.trunc_normal,
               r"A normal truncated to :math:`[a, b]` (absolute bounds)", sampler="trunc_normal",
               torch_name="trunc_normal_", example="(256, 128), std=0.02, a=-0.04, b=0.04"),
    SchemeInfo("constant", _sampling.constant, "A constant array", std=_zero_std,
               torch_name="constant_", example="(2, 3), 0.5"),
    SchemeInfo("zeros", _structured.zeros, "Zeros", std=_zero_std, torch_name="zeros_",
               example="(2, 3)"),
    SchemeInfo("ones", _structured.ones, "Ones", std=_zero_std, torch_name="ones_",
               example="(2, 3)"),
    SchemeInfo("eye", _structured.eye, r"The identity matrix (:math:`W_{ij} = [i = j]`)",
               torch_name="eye_", example="(3, 3)"),
    SchemeInfo("dirac", _structured.dirac, "The Dirac delta of a convolution kernel",
               torch_name="dirac_", example="(4, 2, 3)"),
    SchemeInfo("xavier_uniform", _schemes.xavier_uniform,
               "Xavier (Glorot) uniform initialization",
               r":math:`\mathcal{U}(\pm\ell)`, "
               r":math:`\ell = \text{gain}\sqrt{6/(\text{fan\_in}+\text{fan\_out})}`" + _FANS,
               aliases=("glorot_uniform",), rule=_schemes._xavier_uniform_rule,
               torch_name="xavier_uniform_"),
    SchemeInfo("xavier_normal", _schemes.xavier_normal, "Xavier (Glorot) normal initialization",
               r":math:`\mathcal{N}(0, \sigma^2)`, "
               r":math:`\sigma = \text{gain}\sqrt{2/(\text{fan\_in}+\text{fan\_out})}`" + _FANS,
               aliases=("glorot_normal",), rule=_schemes._xavier_normal_rule,
               torch_name="xavier_normal_"),
    SchemeInfo("kaiming_uniform", _schemes.kaiming_uniform, "Kaiming (He) uniform initialization",
               r":math:`\mathcal{U}(\pm\ell)`, :math:`\ell = \text{gain}\sqrt{3/\text{fan\_mode}}`"
               + _FANS, aliases=("he_uniform",), rule=_schemes._kaiming_uniform_rule,
               torch_name="kaiming_uniform_", example="(256, 128), nonlinearity='relu'"),
    SchemeInfo("kaiming_normal", _schemes.kaiming_normal, "Kaiming (He) normal initialization",
               r":math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = \text{gain}/\sqrt{\text{fan\_mode}}`"
               + _FANS, aliases=("he_normal",), rule=_schemes._kaiming_normal_rule,
               torch_name="kaiming_normal_", example="(256, 128), nonlinearity='relu'"),
    SchemeInfo("lecun_uniform", _schemes.lecun_uniform, "LeCun uniform initialization",
               r":math:`\mathcal{U}(\pm\sqrt{3/\text{fan\_in}})`" + _FANS,
               rule=_schemes._lecun_uniform_rule),
    SchemeInfo("lecun_normal", _schemes.lecun_normal, "LeCun (truncated) normal initialization",
               r"Variance :math:`1/\text{fan\_in}`, truncated at two std" + _FANS,
               rule=_schemes._lecun_normal_rule),
    SchemeInfo("variance_scaling", _schemes.variance_scaling, "Variance-scaling initialization",
               r"Variance :math:`\text{scale}/n`, :math:`n` the fan named by ``mode``" + _FANS,
               rule=_schemes._variance_scaling_rule, example="(256, 128), 2.0"),
    SchemeInfo("orthogonal", _structured.orthogonal,
               "A (semi-)orthogonal matrix times ``gain``",
               r"The Q of the QR of a ``rows * cols`` float64 normal matrix, times ``gain``",
               std=_orthogonal_std, whole_matrix=True,
               torch_name="orthogonal_", example="(64, 32)"),
    SchemeInfo("sparse", _structured.sparse, "A sparse 2-D matrix (exact zeros per column)",
               r"In every column :math:`\lceil \text{sparsity} \cdot \text{rows} \rceil` entries "
               r"are zero, the others :math:`\mathcal{N}(0, \text{std}^2)`",
               std=_sparse_std, whole_columns=True, required=("sparsity",), torch_name="sparse_",
               example="(64, 32), 0.5"),
    SchemeInfo("small_init", _llm_schemes.small_init, "SmallInit (Transformers without Tears)",
               r":math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = \sqrt{2/(5d)}`, "
               r":math:`d` = fan_in by default",
               rule=_llm_schemes._small_init_rule),
    SchemeInfo("wang_init", _llm_schemes.wang_init, "Wang's init of residual output projections",
               r":math:`\mathcal{N}(0, \sigma^2)`, :math:`\sigma = 2/(n_\text{layers}\sqrt{d})`, "
               r":math:`d` = fan_in by default",
               rule=_llm_schemes._wang_init_rule, example="(256, 128), n_layers=24"),
    SchemeInfo("scaled_normal", _llm_schemes.scaled_normal,
               "The GPT-2 / Megatron-LM init of residual output projections",
               r":math:`\mathcal{N}(0, \sigma_\text{out}^2)`, "
               r":math:`\sigma_\text{out} = \sigma/\sqrt{2 n_\text{layers}}`",
               rule=_llm_schemes._scaled_normal_rule, fan_based=False,
               example="(256, 128), n_layers=12"),
)

#: Canonical name -> SchemeInfo, in the order above.
SCHEMES = {info.name: info for info in _ENTRIES}
#: Every name (aliases included) -> SchemeInfo.
BY_NAME = {name: info for info in _ENTRIES for name in info.names}


def scheme_info(name) -> SchemeInfo:
    """The entry of a scheme name or alias; KeyError naming the known ones if there is none."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown scheme {name!r}; known schemes: {', '.join(BY_NAME)}") from None


def _check_entries():
    """Catch a malformed entry at import, not in a user's call."""
    for info in _ENTRIES:
        own = {p.name for p in info.parameters}
        rule_parameters = set(inspect.signature(info.rule).parameters) if info.rule else set()
        if (info.function.__name__ != info.name or (info.sampler, info.rule, info.std).count(None) < 2
                or not rule_parameters <= own or len(BY_NAME) != sum(len(i.names) for i in _ENTRIES)):
            raise RuntimeError(f"fastinit._registry: malformed entry {info.name!r}")


_check_entries()

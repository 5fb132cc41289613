"""Drop-ins for ``torch.nn.init``: the same arguments, plus keyword-only ``seed`` and ``stream``.

Each one checks its whole call (:mod:`fastinit.torch._dropin_core`), then
fills the tensor in place with the matching fastinit scheme.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import fastinit
from fastinit.torch._bridge import _scalar
from fastinit.torch._dropin_core import _Fill, _check_tensor, _drop_in, _prepare, _wrong_dimensions
from fastinit.torch._generated import GENERATED, with_seed_doc

calculate_gain = fastinit.calculate_gain

# --------------------------------------------------------------------------------------
# Drop-ins for torch.nn.init
# --------------------------------------------------------------------------------------

@_drop_in
def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, stream=0):
    r"""Fill ``tensor`` with values from :math:`\mathcal{U}(a, b)`, as ``torch.nn.init.uniform_``.

    Values are :func:`fastinit.uniform` of the tensor's shape: in
    :math:`[a, b]` (``b`` itself only through rounding).

    Parameters
    ----------
{tensor_param}
    a, b : float, optional
        Bounds, ``a <= b``.
{seed_returns}

    Raises
    ------
    TypeError
        Non-tensor, unsupported dtype (int, complex, ...) or layout; a bound
        that is not a number or 0-d tensor (a bool too, which torch takes).
    ValueError
        A meta tensor (use :func:`init_module`), ``a > b`` (torch:
        RuntimeError), non-finite bounds or bounds outside the dtype's range.
{inference_raises}

    Notes
    -----
    Everything is checked before the seed is drawn: a call that raises
    leaves every generator as it was.  The differences from torch are listed
    in ``docs/schemes.md`` ("fastinit.torch and torch.nn.init").

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> w = fit.uniform_(torch.empty(3, 5), -1, 1, seed=0)
    >>> bool(w.abs().max() <= 1)
    True
    """
    _check_tensor(tensor, "uniform_")
    return _prepare("uniform_", tensor, "uniform", {"low": _scalar(a), "high": _scalar(b)}, random=True,
                    generator=generator, seed=seed, stream=stream)


@_drop_in
def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, stream=0):
    r"""Fill ``tensor`` with values from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`, as ``torch.nn.init.normal_``.

    Values are :func:`fastinit.normal` of the tensor's shape.

    Parameters
    ----------
{tensor_param}
    mean : float, optional
        Mean.
    std : float, optional
        Standard deviation, ``>= 0``.
{seed_returns}

{uniform_raises}
    ValueError
        A meta tensor, a negative ``std`` (torch: RuntimeError), a non-finite
        ``mean`` or ``std`` or one outside the dtype's range (torch fills NaN
        or inf).
{inference_raises}

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> w = fit.normal_(torch.empty(1000, 1000), std=0.02, seed=0)
    >>> round(float(w.std()), 3)
    0.02
    """
    _check_tensor(tensor, "normal_")
    return _prepare("normal_", tensor, "normal", {"mean": _scalar(mean), "std": _scalar(std)},
                    random=True, generator=generator, seed=seed, stream=stream)


@_drop_in
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None, stream=0):
    r"""Fill ``tensor`` from a truncated normal distribution, as ``torch.nn.init.trunc_normal_``.

    Values follow :math:`\mathcal{N}(\text{mean}, \text{std}^2)` conditioned on
    :math:`a \le x \le b` (absolute bounds, torch semantics), drawn by inverse
    CDF (:func:`fastinit.trunc_normal`), never by rejection.

    Parameters
    ----------
{tensor_param}
    mean, std : float, optional
        Parameters of the untruncated normal, ``std > 0``.
    a, b : float, optional
        Bounds, ``a <= b``; the interval must hold probability mass of at
        least 1e-30 (torch only warns when ``mean`` is more than 2 std away).
{seed_returns}

{uniform_raises}
    ValueError
        A meta tensor, ``std <= 0``, ``a > b``, an interval too far in a tail.
        (torch warns when ``mean`` is more than 2 std from ``[a, b]``, where
        its rejection sampler is poor; this inverse-CDF draw is exact there
        and does not warn.)
{inference_raises}

    Examples
    --------
    >>> import torch, fastinit.torch as fit
    >>> w = fit.trunc_normal_(torch.empty(768, 768), std=0.02, a=-0.04, b=0.04, seed=0)
    >>> bool(w.abs().max() <= 0.04)
    True
    """
    _check_tensor(tensor, "trunc_normal_")
    arguments = {"mean": _scalar(mean), "std": _scalar(std), "a": _scalar(a), "b": _scalar(b)}
    return _prepare("trunc_normal_", tensor, "trunc_normal", arguments, random=True,
                    generator=generator, seed=seed, stream=stream)


@_drop_in
def constant_(tensor, val, *, seed=None, stream=0):
    r"""Fill ``tensor`` with ``val``, as ``torch.nn.init.constant_``.

    .. math:: W_{ij\ldots} = \text{val}

    Parameters
    ----------
{tensor_param}
    val : float
        Finite value, rounded once to the tensor's dtype.
    seed, stream : optional
        Keyword-only; accepted (and ignored: the fill is deterministic) so
        that every drop-in can be called the same way, e.g. as an
        :func:`init_module` rule.

{tensor_returns}

    Raises
    ------
    TypeError
        Non-tensor, unsupported dtype (fastinit fills floating tensors only,
        including for the constant fills, which torch also allows on integer
        tensors), a ``val`` that is not a real number or 0-d tensor (a bool
        too).
    ValueError
        A meta tensor, a finite ``val`` outside the dtype's range (torch:
        RuntimeError).  ``inf``, ``-inf`` and NaN are filled as asked, as torch.
{inference_raises}
    """
    _check_tensor(tensor, "constant_")
    val = _scalar(val)
    if (isinstance(val, (int, float, np.floating)) and not isinstance(val, bool)
            and not math.isfinite(val)):
        # inf/-inf/nan exactly as asked (attention masks are filled with -inf): torch's fill_.
        return _Fill("constant_", torch_value=float(val))
    return _prepare("constant_", tensor, "constant", {"value": val}, random=False)


def _fixed_fill(scheme, tensor):
    """``ones_`` and ``zeros_``: check, then fill with the parameterless ``scheme``."""
    _check_tensor(tensor, f"{scheme}_")
    return _prepare(f"{scheme}_", tensor, scheme, {}, random=False)


@_drop_in
def ones_(tensor, *, seed=None, stream=0):
    r"""Fill ``tensor`` with ones, as ``torch.nn.init.ones_``.

{constant_like_sections}
    """
    return _fixed_fill("ones", tensor)


@_drop_in
def zeros_(tensor, *, seed=None, stream=0):
    r"""Fill ``tensor`` with zeros, as ``torch.nn.init.zeros_``.

{constant_like_sections}
    """
    return _fixed_fill("zeros", tensor)


@_drop_in
def eye_(tensor, *, seed=None, stream=0):
    r"""Fill a 2-D ``tensor`` with the identity matrix, as ``torch.nn.init.eye_``.

    .. math:: W_{ij} = [i = j]

    Parameters
    ----------
    tensor : torch.Tensor
        2-D floating tensor to fill in place.
{ignored_seed}

{tensor_returns}

    Raises
    ------
    TypeError
        As :func:`constant_`.
    ValueError
        A meta tensor or one that is not 2-D (torch's message, then the shape).
{inference_raises}
    """
    _check_tensor(tensor, "eye_")
    if tensor.dim() != 2:
        raise _wrong_dimensions("Only tensors with 2 dimensions are supported", tensor)
    return _prepare("eye_", tensor, "eye", {}, random=False)


@_drop_in
def dirac_(tensor, groups=1, *, seed=None, stream=0):
    r"""Fill a 3-, 4- or 5-D ``tensor`` with the Dirac delta, as ``torch.nn.init.dirac_``.

    .. math::

        W[g p + d,\, d,\, \lfloor k_1/2 \rfloor, \ldots] = 1, \quad
        p = \text{out\_channels} / \text{groups}

    and 0 elsewhere: the convolution passes as many input channels through as
    possible, per group.

    Parameters
    ----------
    tensor : torch.Tensor
        3-, 4- or 5-D floating tensor to fill in place.
    groups : int, optional
        Number of convolution groups, dividing ``tensor.shape[0]``.
{ignored_seed}

{tensor_returns}

    Raises
    ------
    TypeError
        As :func:`constant_`, non-integer ``groups``.
    ValueError
        A meta tensor, wrong number of dimensions, ``groups`` not dividing
        ``shape[0]`` (torch's messages first), ``groups <= 0`` (torch: a
        ZeroDivisionError, or an all-zero tensor for a negative ``groups``).
{inference_raises}
    """
    _check_tensor(tensor, "dirac_")
    if tensor.dim() not in (3, 4, 5):
        raise _wrong_dimensions("Only tensors with 3, 4, or 5 dimensions are supported", tensor)
    groups = _scalar(groups)
    if (isinstance(groups, (int, np.integer)) and not isinstance(groups, bool) and groups >= 1
            and tensor.shape[0] % groups):
        raise ValueError(f"dim 0 must be divisible by groups; got groups={groups} for a tensor of "
                         f"shape {tuple(tensor.shape)}")
    return _prepare("dirac_", tensor, "dirac", {"groups": groups}, random=False)


def _prepare_xavier(scheme, tensor, gain, generator, seed, stream):
    """Both xavier drop-ins: check, fill; torch returns silently for zero elements."""
    name = f"{scheme}_"
    _check_tensor(tensor, name)
    fill = _prepare(name, tensor, scheme, {"gain": _scalar(gain)}, random=True,
                    generator=generator, seed=seed, stream=stream)
    return None if tensor.numel() == 0 else fill


@_drop_in
def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, stream=0):
    r"""Xavier (Glorot) uniform initialization, as ``torch.nn.init.xavier_uniform_``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad
        \ell = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    with torch's fans (``(out, in, *kernel)`` layout).  Also known as Glorot
    uniform initialization.

{weight_gain_params}
{seed_returns}

{uniform_raises}
    ValueError
        A meta tensor, fewer than 2 dimensions, a negative or non-finite
        ``gain`` (torch: RuntimeError), a bound beyond the dtype's range.
        A zero-element tensor is returned silently, as torch.
{inference_raises}
    """
    return _prepare_xavier("xavier_uniform", tensor, gain, generator, seed, stream)


@_drop_in
def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, stream=0):
    r"""Xavier (Glorot) normal initialization, as ``torch.nn.init.xavier_normal_``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}

    Also known as Glorot normal initialization (untruncated, as torch).

{weight_gain_params}
{seed_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`xavier_uniform_`.
    """
    return _prepare_xavier("xavier_normal", tensor, gain, generator, seed, stream)


def _prepare_kaiming(function_name, scheme, tensor, a, mode, nonlinearity, generator, seed, stream):
    """torch's kaiming checks, in torch's order, then fastinit's."""
    _check_tensor(tensor, function_name)
    if 0 in tensor.shape:
        # torch returns before checking anything else; the warning points at the caller.
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
        return None
    if isinstance(mode, str):
        mode = mode.lower()           # as torch: "FAN_IN" is "fan_in"
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fastinit.compute_fans(tuple(tensor.shape))        # torch's "Fan in and fan out ..." error first
    calculate_gain(nonlinearity, a)                   # then torch's gain errors, as ValueError
    return _prepare(function_name, tensor, scheme, {"a": a, "mode": mode, "nonlinearity": nonlinearity},
                    random=True, generator=generator, seed=seed, stream=stream)


@_drop_in
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                     seed=None, stream=0):
    r"""Kaiming (He) uniform initialization, as ``torch.nn.init.kaiming_uniform_``.

    .. math::

        W \sim \mathcal{U}(-\ell, \ell), \quad
        \ell = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}, \quad
        \text{gain} = \text{calculate\_gain}(\text{nonlinearity}, a)

    Also known as He uniform initialization.  ``a=math.sqrt(5)`` (what
    ``nn.Linear`` and ``nn.Conv*d`` use) gives
    :math:`\mathcal{U}(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`.

    Parameters
    ----------
{weight_tensor_param}
    a : float, optional
        Negative slope of the rectifier after this layer (leaky_relu only).
    mode : {"fan_in", "fan_out"}, optional
        Which fan keeps its variance (forward or backward pass).
    nonlinearity : str, optional
        A name :func:`calculate_gain` knows.
{seed_returns}  A zero-element tensor is returned as is, with a warning.

    Raises
    ------
    TypeError
        As :func:`uniform_`; a non-string ``mode``.
    ValueError
        A meta tensor, fewer than 2 dimensions, unknown ``mode`` (any case,
        as torch), what :func:`calculate_gain` refuses (an unknown
        ``nonlinearity``, a slope that is not a number, with torch's
        messages), a NaN slope (torch: RuntimeError).  Zero-element tensors
        warn and return before any check, as torch.
{inference_raises}
    """
    return _prepare_kaiming("kaiming_uniform_", "kaiming_uniform", tensor, a, mode, nonlinearity,
                            generator, seed, stream)


@_drop_in
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                    seed=None, stream=0):
    r"""Kaiming (He) normal initialization, as ``torch.nn.init.kaiming_normal_``.

    .. math::

        W \sim \mathcal{N}(0, \sigma^2), \quad
        \sigma = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}, \quad
        \text{gain} = \text{calculate\_gain}(\text{nonlinearity}, a)

    Also known as He normal initialization (untruncated, as torch).

    Parameters
    ----------
{weight_tensor_param}
    a, mode, nonlinearity
        As in :func:`kaiming_uniform_`.
{seed_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`kaiming_uniform_`.
    """
    return _prepare_kaiming("kaiming_normal_", "kaiming_normal", tensor, a, mode, nonlinearity,
                            generator, seed, stream)


@_drop_in
def orthogonal_(tensor, gain=1, generator=None, *, seed=None, stream=0):
    r"""A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_``.

    The tensor is viewed as ``shape[0]`` rows by ``numel / shape[0]`` columns;
    with :math:`A = QR` the QR decomposition of a standard normal matrix,
    :math:`W = \text{gain} \cdot Q\,\operatorname{diag}(\operatorname{sign} R_{ii})`
    (Saxe et al., 2013).  See :func:`fastinit.orthogonal` (QR in float64).

    Parameters
    ----------
{weight_tensor_param}
    gain : float, optional
        Multiplier.
{seed_returns}

{uniform_raises}
    ValueError
        A meta tensor, fewer than 2 dimensions, a non-finite ``gain`` or one
        outside the dtype's range (torch fills NaN or inf).
{inference_raises}
    """
    _check_tensor(tensor, "orthogonal_")
    if tensor.dim() < 2:
        raise _wrong_dimensions("Only tensors with 2 or more dimensions are supported", tensor)
    return _prepare("orthogonal_", tensor, "orthogonal", {"gain": _scalar(gain)}, random=True,
                    generator=generator, seed=seed, stream=stream)


@_drop_in
def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, stream=0):
    r"""A sparse 2-D matrix, as ``torch.nn.init.sparse_``.

    In every column :math:`\lceil \text{sparsity} \cdot \text{rows} \rceil`
    entries are zero, the others :math:`\mathcal{N}(0, \text{std}^2)`
    (Martens, 2010).  See :func:`fastinit.sparse`.

    Parameters
    ----------
    tensor : torch.Tensor
        2-D floating tensor to fill in place.
    sparsity : float
        Fraction of each column set to zero, in ``[0, 1]``.
    std : float, optional
        Standard deviation of the non-zero entries.
{seed_returns}

{uniform_raises}
    ValueError
        A meta tensor, a tensor that is not 2-D, ``sparsity`` outside
        ``[0, 1]`` (torch zeroes every row, or all but a few), a negative
        ``std`` or one outside the dtype's range.  A zero-element tensor is
        returned silently, as torch.
{inference_raises}
    """
    _check_tensor(tensor, "sparse_")
    if tensor.dim() != 2:
        raise _wrong_dimensions("Only tensors with 2 dimensions are supported", tensor)
    fill = _prepare("sparse_", tensor, "sparse", {"sparsity": _scalar(sparsity), "std": _scalar(std)},
                    random=True, generator=generator, seed=seed, stream=stream)
    return None if tensor.numel() == 0 else fill      # torch: silent for zero elements


for _function in (uniform_, normal_, trunc_normal_, constant_, ones_, zeros_, eye_, dirac_,
                  xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_, orthogonal_,
                  sparse_):
    with_seed_doc(_function)
del _function

# Every drop-in, the generated ones (fastinit.torch._generated) included.
_DROP_INS = frozenset((uniform_, normal_, trunc_normal_, constant_, ones_, zeros_, eye_, dirac_,
                       xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_,
                       orthogonal_, sparse_, *GENERATED.values()))


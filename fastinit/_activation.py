"""Choosing an initialization scheme from the activation that follows the layer.

The rule of thumb of Glorot & Bengio (2010) and He et al. (2015): saturating
or linear activations get Xavier (variance from the average fan), rectifiers
get He (variance from ``fan_in``, twice as large for relu), and SELU gets
LeCun (variance ``1/fan_in``, what self-normalization needs).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._docs import fill_doc
from ._fans import DEFAULT_NEGATIVE_SLOPE, _gain
from ._validate import as_choice
from ._schemes import (
    kaiming_normal, kaiming_uniform, lecun_normal, lecun_uniform, xavier_normal, xavier_uniform,
)

__all__ = ["Scheme", "scheme_for", "init_for", "ACTIVATIONS"]

_FUNCTIONS = {
    f.__name__: f
    for f in (xavier_normal, xavier_uniform, kaiming_normal, kaiming_uniform, lecun_normal,
              lecun_uniform)
}

# activation -> (scheme, the torch nonlinearity whose gain it takes)
_XAVIER = {
    "linear": "linear", "identity": "linear", "none": "linear",
    "sigmoid": "sigmoid", "softmax": "linear", "tanh": "tanh",
}
# Smooth rectifiers (elu, silu/swish, gelu, mish) have no torch gain of their
# own; they behave like relu for positive inputs, so they take relu's sqrt(2).
_KAIMING = {
    "relu": "relu", "leaky_relu": "leaky_relu",
    "elu": "relu", "silu": "relu", "swish": "relu", "gelu": "relu", "mish": "relu",
}
_LECUN = ("selu",)
ACTIVATIONS = (*_XAVIER, *_KAIMING, *_LECUN)
_INIT_DISTRIBUTIONS = ("normal", "uniform")


@dataclass(frozen=True)
class Scheme:
    """The initialization :func:`scheme_for` picks for an activation.

    Whatever the scheme, the weights get standard deviation
    ``gain / sqrt(n)`` where ``n`` is the fan named by ``mode``
    (``fan_avg = (fan_in + fan_out) / 2``).

    Attributes
    ----------
    activation : str
        The activation, lower-cased.
    name : str
        ``"xavier"``, ``"kaiming"`` or ``"lecun"``.
    gain : float
        Standard-deviation multiplier (see above).
    mode : str
        ``"fan_avg"`` (xavier) or ``"fan_in"`` (kaiming, lecun).
    normal, uniform : str
        Names of the fastinit functions that draw it for
        ``distribution="normal"`` and ``"uniform"``.
    arguments : tuple of (str, object)
        Keyword arguments those functions take to reproduce it.
    """

    activation: str
    name: str
    gain: float
    mode: str
    normal: str
    uniform: str
    arguments: tuple = ()

    def function(self, distribution="normal"):
        """The fastinit function for ``distribution`` ("normal" or "uniform")."""
        distribution = as_choice(distribution, "distribution", _INIT_DISTRIBUTIONS)
        return _FUNCTIONS[getattr(self, distribution)]

    @property
    def kwargs(self):
        """``arguments`` as a dict."""
        return dict(self.arguments)


@fill_doc
def scheme_for(activation, param=None):
    r"""The initialization scheme for a layer followed by ``activation``.

    =======================================================  =======  ===================================  =======
    activation                                               scheme   gain                                 mode
    =======================================================  =======  ===================================  =======
    ``linear``, ``identity``, ``none`` or None, ``softmax``  xavier   1                                    fan_avg
    ``sigmoid``                                              xavier   1 (torch's gain)                     fan_avg
    ``tanh``                                                 xavier   :math:`5/3`                          fan_avg
    ``relu``                                                 kaiming  :math:`\sqrt{2}`                     fan_in
    ``leaky_relu``                                           kaiming  :math:`\sqrt{2/(1+\text{slope}^2)}`  fan_in
    ``elu``, ``silu``, ``swish``, ``gelu``, ``mish``         kaiming  :math:`\sqrt{2}` (relu's)            fan_in
    ``selu``                                                 lecun    1                                    fan_in
    =======================================================  =======  ===================================  =======

    The weights then have standard deviation

    .. math::

        \sigma = \frac{\text{gain}}{\sqrt{n_\text{mode}}}, \quad
        n_\text{fan\_in} = \text{fan\_in}, \quad
        n_\text{fan\_avg} = \frac{\text{fan\_in} + \text{fan\_out}}{2}.

    Xavier: :func:`xavier_normal` / :func:`xavier_uniform`;
    kaiming: :func:`kaiming_normal` / :func:`kaiming_uniform` with ``mode="fan_in"``;
    lecun: :func:`lecun_normal` (truncated normal) / :func:`lecun_uniform`.
    The smooth rectifiers have no gain in ``torch.nn.init.calculate_gain``;
    they are close to relu where it matters (positive inputs), so they take
    relu's gain.  SELU takes LeCun's variance ``1/fan_in``, which keeps
    activations self-normalizing (Klambauer et al., 2017), not torch's
    ``calculate_gain("selu") = 3/4``.

    Parameters
    ----------
    activation : str or None
        Name of the activation after the layer (case-insensitive); None means
        no activation ("linear").
    param : float, optional
        Negative slope of ``leaky_relu`` (default 0.01, torch's
        ``LeakyReLU`` default); ignored for the other activations, as in
        :func:`calculate_gain`.

    Returns
    -------
    Scheme

    Raises
    ------
    TypeError
        If ``activation`` is not a string or None, or the slope is not real.
    ValueError
        If ``activation`` is unknown (the message lists the known ones) or
        the slope is not finite.

{glorot_reference}
    .. [2] K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers:
       surpassing human-level performance on ImageNet classification", ICCV 2015.
    .. [3] Y. LeCun, L. Bottou, G. B. Orr and K.-R. Müller, "Efficient
       BackProp", in Neural Networks: Tricks of the Trade, Springer, 1998.

    Examples
    --------
    >>> import fastinit as fi
    >>> s = fi.scheme_for("gelu")
    >>> s.name, s.mode, s.normal, round(s.gain, 4)
    ('kaiming', 'fan_in', 'kaiming_normal', 1.4142)
    """
    activation = _activation_name(activation)
    if activation in _XAVIER:
        gain = _gain(_XAVIER[activation], None, "param")
        return Scheme(activation, "xavier", gain, "fan_avg", "xavier_normal", "xavier_uniform",
                      (("gain", gain),))
    if activation in _KAIMING:
        nonlinearity = _KAIMING[activation]
        slope = None
        if nonlinearity == "leaky_relu":
            slope = DEFAULT_NEGATIVE_SLOPE if param is None else param
        gain = _gain(nonlinearity, slope, "param")
        arguments = (("a", slope),) if slope is not None else ()
        return Scheme(activation, "kaiming", gain, "fan_in", "kaiming_normal", "kaiming_uniform",
                      (*arguments, ("mode", "fan_in"), ("nonlinearity", nonlinearity)))
    return Scheme(activation, "lecun", 1.0, "fan_in", "lecun_normal", "lecun_uniform")


def _activation_name(activation):
    if activation is None:
        return "none"
    if not isinstance(activation, str):
        raise TypeError(
            f"activation must be a string or None, one of {', '.join(map(repr, ACTIVATIONS))}; "
            f"got {type(activation).__name__} {activation!r}"
        )
    name = activation.lower()
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}"
        )
    return name


@fill_doc(sampler="uniform")
def init_for(activation, shape=None, *, distribution="normal", param=None, out=None, dtype=None,
             seed=None, stream=0, region=None, in_axis=1, out_axis=0):
    r"""Initialize a weight array for the activation that follows its layer.

    Draws with the scheme :func:`scheme_for` picks:

    .. math::

        \sigma = \frac{\text{gain}}{\sqrt{n_\text{mode}}}, \quad
        W \sim \mathcal{N}(0, \sigma^2) \ \text{or} \ \mathcal{U}(-\sqrt{3}\sigma, \sqrt{3}\sigma)

    (for selu, ``"normal"`` is LeCun's truncated normal with the same
    :math:`\sigma`).

    Parameters
    ----------
    activation : str or None
        As in :func:`scheme_for`.
{weight_shape_param}
    distribution : {"normal", "uniform"}, optional
        Which of the scheme's two functions to use.
    param : float, optional
        Negative slope of ``leaky_relu``.
{scheme_fill_params}
{fan_layout_param}

{array_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`scheme_for` and the chosen scheme; ValueError for an
        unknown ``distribution``.

    Examples
    --------
    >>> import fastinit as fi
    >>> w = fi.init_for("relu", (1024, 512), seed=0)       # kaiming_normal, fan_in
    >>> round(float(w.std() * 512 ** 0.5), 1)             # gain sqrt(2)
    1.4
    """
    scheme = scheme_for(activation, param)
    draw = scheme.function(distribution)
    return draw(shape, **scheme.kwargs, in_axis=in_axis, out_axis=out_axis, out=out, dtype=dtype,
                seed=seed, stream=stream, region=region)

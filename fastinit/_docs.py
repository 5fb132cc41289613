"""Docstring parts that several public functions share, each written once.

A docstring names a part as ``{name}`` (on a line of its own, indented as the
part itself is); :func:`fill_doc` writes the parts out when the module is
imported, so ``help()``, the rendered docs and the doctests see the full text.
The substitution is a plain ``str.replace`` of the known names, not
``str.format``: the docstrings hold LaTeX braces (``\\frac{6}{n}``).  A part may
itself hold ``{value}`` names that the decorator's keywords fill in (which
sampler a scheme draws with, say).
"""

from __future__ import annotations

import re

__all__ = ["PARTS", "fill_doc", "render"]

#: part name -> text; the text carries its own indentation (numpydoc sections).
#: Parts are written out in this order, so a part may name the parts after it.
PARTS = {
    "weight_gain_params": """\
    Parameters
    ----------
{weight_shape_param}
    gain : float, optional
        Finite, ``>= 0``; see :func:`calculate_gain`.""",
    "glorot_sections": """\
{scheme_fill_params}

{array_returns}

{gain_raises}

{glorot_reference}""",
    "sampler_sections": """\
    out, dtype, seed, stream, region
        As in :func:`uniform`.

{array_returns}

    Raises
    ------
    TypeError
        Unsupported dtype, non-integer seed or stream, non-real parameters.""",
    "fan_scheme_sections": """\
{fan_layout_param}
{scheme_fill_params}

{array_returns}

    Raises
    ------
    TypeError, ValueError
        As :func:`{raises_as}`.""",
    "shape_param": """\
    shape : int or tuple of int, optional
        Shape of the logical array.  Optional when ``out`` is given.""",
    "weight_shape_param": """\
    shape : int or tuple of int, optional
        Full shape of the weight array (at least 2-D).  Optional when ``out``
        is given.""",
    "fan_layout_param": """\
    in_axis, out_axis : int, optional
        Fan layout, as in :func:`compute_fans`.""",
    "scheme_fill_params": """\
    out, dtype, seed, stream, region
        As in :func:`fastinit.{sampler}`; fans come from the full ``shape``.""",
    "array_returns": """\
    Returns
    -------
    numpy.ndarray
        ``out`` when given, else a new array.""",
    "gain_raises": """\
    Raises
    ------
    TypeError
        Non-real ``gain``, and as :func:`variance_scaling`.
    ValueError
        Negative or non-finite ``gain``, and as :func:`variance_scaling`.""",
    "glorot_reference": """\
    References
    ----------
    .. [1] X. Glorot and Y. Bengio, "Understanding the difficulty of training
       deep feedforward neural networks", AISTATS 2010.""",
    "he_reference": """\
    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers:
       surpassing human-level performance on ImageNet classification", ICCV 2015.""",
    "lecun_reference": """\
    References
    ----------
    .. [1] Y. LeCun, L. Bottou, G. B. Orr and K.-R. Müller, "Efficient
       BackProp", in Neural Networks: Tricks of the Trade, Springer, 1998.""",
    "constant_fill_params": """\
    out, dtype, region
        As in :func:`fastinit.constant`.""",
}


def render(text, parts, **values):
    """``text`` with each ``{name}`` of ``parts``, then of ``values``, written out.

    Raises
    ------
    ValueError
        When a part that ``text`` uses names a value that was not given (the
        docstring would show ``{sampler}``, say).
    """
    for name, part in parts.items():
        text = text.replace("{" + name + "}", part)
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    wanted = {name for part in parts.values() for name in re.findall(r"\{([a-z_]+)\}", part)}
    missing = sorted(name for name in wanted - set(parts) if "{" + name + "}" in text)
    if missing:
        raise ValueError(f"a docstring's parts name the values {missing}, which were not given")
    return text


def fill_doc(function=None, /, **values):
    """Decorator: write out the :data:`PARTS` (then ``values``) named in a docstring.

    Used bare (``@fill_doc``) or with values (``@fill_doc(sampler="normal")``).
    """
    def apply(target):
        target.__doc__ = render(target.__doc__, PARTS, **values)
        return target

    return apply if function is None else apply(function)

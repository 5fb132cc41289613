"""The shared docstring parts (fastinit/_docs.py, fastinit.torch's TORCH_PARTS) are
written out in every public docstring: none shows a ``{part}`` name to a reader."""

from __future__ import annotations

import importlib
import inspect

import pytest

import fastinit
from fastinit._docs import PARTS, fill_doc, render
from _util import require_module


def _public_docstrings(module):
    for name in module.__all__:
        value = getattr(module, name)
        if callable(value) and value.__doc__:
            yield f"{module.__name__}.{name}", inspect.getdoc(value)


def _modules():
    yield fastinit
    for extra, name in (("torch", "fastinit.torch"), ("dask", "fastinit.dask")):
        require_module(extra)
        yield importlib.import_module(name)


def test_no_public_docstring_names_a_part():
    require_module("torch")
    from fastinit.torch._generated import TORCH_PARTS
    names = set(PARTS) | set(TORCH_PARTS)
    left = [(where, name) for module in _modules() for where, doc in _public_docstrings(module)
            for name in names if "{" + name + "}" in doc]
    assert left == []


def test_render_writes_parts_then_values_and_leaves_latex_braces():
    parts = {"outer": "see {inner} of {what}", "inner": "the part"}
    assert render(r"\frac{6}{n}: {outer}", parts, what="uniform") == r"\frac{6}{n}: see the part of uniform"


def test_fill_doc_bare_and_with_values():
    @fill_doc
    def bare():
        """{array_returns}"""

    @fill_doc(sampler="normal")
    def valued():
        """{scheme_fill_params}"""

    assert bare.__doc__ == PARTS["array_returns"]
    assert "As in :func:`fastinit.normal`; fans come" in valued.__doc__


def test_render_refuses_a_part_whose_value_is_missing():
    with pytest.raises(ValueError, match=r"parts name the values \['sampler'\], which were not given"):
        render("{scheme_fill_params}", PARTS)

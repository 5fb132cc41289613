"""The distribution registry across the C/Python boundary (issue #12).

* C names every distribution and dtype code; the Python registry
  (fastinit/_distributions.py) covers exactly the C kernels, and every
  registered distribution is a public sampler, a Generator method when
  random, and fits the C parameter limit.
* The product derives trunc_normal's kernel parameters itself, bit for bit
  as the independent oracle (fastinit/reference.py) does, and never imports
  the oracle.
* Limits the tests need come from C (streaming threshold), and fi_plan_init
  leaves its caller's parameters alone.
"""

from __future__ import annotations

import ast
import math
import pathlib
import re
import struct

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core, _distributions, reference
from fastinit._distributions import DISTRIBUTIONS, SAMPLERS

PACKAGE = pathlib.Path(fi.__file__).parent
TESTS = pathlib.Path(__file__).parent


def test_c_names_every_distribution_and_dtype_code_once():
    assert sorted(_core.DIST_CODES.values()) == list(range(len(_core.DIST_CODES)))
    assert sorted(_core.DTYPE_CODES.values()) == list(range(len(_core.DTYPE_CODES)))
    assert all(name.isidentifier() for name in [*_core.DIST_CODES, *_core.DTYPE_CODES])
    # The slots the kernel-table report shows are exactly C's (distribution, dtype) names.
    assert {d for d, _ in fi._config._kernel_sources()} == set(_core.DIST_CODES)


def test_registry_covers_exactly_the_c_kernels():
    registered = [kernel for entry in DISTRIBUTIONS.values() for kernel in entry.kernels]
    assert len(registered) == len(set(registered)), "a C kernel belongs to one distribution"
    assert set(registered) == set(_core.DIST_CODES)


def test_every_distribution_is_a_public_sampler_and_a_generator_method():
    assert set(SAMPLERS) == set(DISTRIBUTIONS)
    for name, entry in DISTRIBUTIONS.items():
        assert getattr(fi, name) is SAMPLERS[name], name
        assert name in fi.__all__, name
        assert hasattr(fi.Generator, name) == entry.random, name


@pytest.mark.parametrize("name", [n for n, e in DISTRIBUTIONS.items() if e.random])
def test_generator_example_of_each_distribution(name):
    g = fi.default_rng(3)
    example = DISTRIBUTIONS[name].example
    got = eval(f"g.{name}({example})", {"g": g})
    want = eval(f"fi.{name}({example}, seed=3, stream=g.stream_at(0))", {"fi": fi, "g": g})
    np.testing.assert_array_equal(got, want)


def test_kernel_values_fit_the_c_parameter_limit():
    cases = {"random_raw": (), "uniform": (-1.0, 2.0), "normal": (0.5, 2.0),
             "trunc_normal": (0.0, 1.0, -2.0, 2.0), "constant": (0.25,)}
    narrow = DISTRIBUTIONS["trunc_normal"].prepare(np.dtype(np.float32), 0.0, 1.0, -0.1, 0.1)
    assert narrow[0] == _core.DIST_CODES["trunc_normal_narrow"]
    assert len(narrow[1]) <= _core.MAX_PARAMS
    assert set(cases) == set(DISTRIBUTIONS)
    for name, parameters in cases.items():
        entry = DISTRIBUTIONS[name]
        code, values = entry.prepare(np.dtype(np.float32), *entry.check(*parameters))
        assert code in [_core.DIST_CODES[k] for k in entry.kernels], name
        assert len(values) <= _core.MAX_PARAMS, name


def test_core_fill_refuses_codes_c_does_not_define():
    out = np.zeros(4, dtype=np.float32)
    for dist, kind in [(len(_core.DIST_CODES), 0), (-1, 0), (1, len(_core.DTYPE_CODES))]:
        with pytest.raises(RuntimeError, match="code"):
            _core.fill(dist, kind, out, 0, 0, (0.0, 1.0, 1.0), (1,), 0)
    with pytest.raises(RuntimeError, match=f"at most {_core.MAX_PARAMS} distribution parameters"):
        _core.fill(_core.DIST_CODES["uniform"], 0, out, 0, 0, (0.0,) * (_core.MAX_PARAMS + 1), (1,), 0)
    assert not out.any()


# --------------------------------------------------------------------------- trunc_normal parameters


def _bits(values):
    return [struct.pack("<d", float(v)) for v in values]


def _trunc_normal_cases():
    rng = np.random.default_rng(12)
    cases = [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (0.0, 1.0, -0.31, 0.31),
             (0.0, 1.0, -0.33, 0.33), (0.0, 1.0, 1.0, 3.0), (0.0, 1.0, -10.05, -10.0),
             (0.0, 1.0, 3.0, 6.0), (1.0, 1.0, 1.0, 1.0), (0.0, 1.0, 11.0, 12.0), (0.0, 1.0, -12.0, 11.5)]
    for _ in range(3000):
        mean, std = rng.normal(0, 3), math.exp(rng.uniform(-8, 3))
        a = mean + std * rng.normal(0, 4)
        b = a + std * math.exp(rng.uniform(-12, 2))
        cases.append((mean, std, a, b))
    return cases


def test_product_trunc_normal_parameters_equal_the_oracle_bit_for_bit():
    regimes = {"narrow": "trunc_normal_narrow", "ordinary": "trunc_normal"}
    seen = set()
    for case in _trunc_normal_cases():
        try:
            want_regime, want = reference.trunc_normal_kernel(*case)
        except ValueError as error:
            with pytest.raises(ValueError) as got_error:
                _distributions.trunc_normal_kernel(*case)
            assert str(got_error.value) == str(error), case
            seen.add("refused")
            continue
        name, got = _distributions.trunc_normal_kernel(*case)
        assert name == regimes[want_regime], case
        assert _bits(got) == _bits(want), case
        assert _bits(_distributions.trunc_normal_parameters(*case)) == \
            _bits(reference.trunc_normal_parameters(*case)), case
        seen.add(name)
    assert seen == {"trunc_normal", "trunc_normal_narrow", "refused"}


def _product_modules():
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "reference.py")


def _package_of(path):
    return ".".join(("fastinit",) + path.relative_to(PACKAGE).parent.parts)


def _reference_imports(source, package):
    """How ``source``, a module of ``package``, imports fastinit.reference (absolute or relative)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "fastinit.reference"]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            if module == "fastinit.reference" or (
                    module == "fastinit" and any(a.name == "reference" for a in node.names)):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and any(
                isinstance(a, ast.Constant) and "reference" in str(a.value) for a in node.args):
            found.append(ast.unparse(node))      # importlib.import_module("fastinit.reference"), ...
    return found


def test_no_product_module_imports_the_reference():
    modules = _product_modules()
    assert PACKAGE / "_sampling.py" in modules and PACKAGE / "_distributions.py" in modules
    offenders = {str(p.relative_to(PACKAGE)): found for p in modules
                 if (found := _reference_imports(p.read_text(), _package_of(p)))}
    assert not offenders, f"product modules import the test oracle fastinit.reference: {offenders}"


@pytest.mark.parametrize("source, package", [
    ("from .reference import trunc_normal_kernel", "fastinit"),
    ("from . import reference", "fastinit"),
    ("from .. import reference", "fastinit.cli"),
    ("from ..reference import raw_words", "fastinit.cli"),
    ("import fastinit.reference", "fastinit"),
    ("from fastinit import reference as R", "fastinit.cli"),
    ("import importlib\nR = importlib.import_module('fastinit.reference')", "fastinit"),
])
def test_the_import_check_sees_every_spelling(source, package):
    assert _reference_imports(source, package), source


def test_the_import_check_passes_other_imports():
    assert not _reference_imports("from . import _sampling, _validate\nimport numpy", "fastinit")
    assert not _reference_imports("from .cli import reference_card", "fastinit")


# --------------------------------------------------------------------------- limits from C


def test_streaming_threshold_comes_from_c_and_plans_leave_parameters_alone():
    threshold = _core.STREAMING_BYTES
    assert threshold > 0
    # (set in the plan, written back into the caller's fi_params)
    assert _core.plan_streaming(threshold) == (True, False)
    assert _core.plan_streaming(threshold + 4099) == (True, False)
    assert _core.plan_streaming(threshold - 1) == (False, False)


def test_no_test_module_shadows_conftest_fixtures():
    conftest = ast.parse((TESTS / "conftest.py").read_text())
    shared = {node.name for node in ast.walk(conftest) if isinstance(node, ast.FunctionDef)
              and any("fixture" in ast.unparse(d) for d in node.decorator_list)}
    assert "simd" in shared
    shadowing = []
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.FunctionDef) and node.name in shared
                    and any("fixture" in ast.unparse(d) for d in node.decorator_list)):
                shadowing.append(f"{path.name}:{node.lineno} {node.name}")
    assert not shadowing, f"test modules redefine conftest fixtures (and skip their checks): {shadowing}"


def test_core_binding_copies_no_codes_or_sizes_from_the_header():
    """_core.pyx takes codes, array sizes and limits from src_c/fastinit.h (cdef extern)."""
    source = PACKAGE / "_core.pyx"
    if not source.exists():
        pytest.skip("fastinit/_core.pyx is not shipped with this installation")
    text = source.read_text()
    assert not re.findall(r"\[\d+\]", text), "array sizes must be the header's FI_MAX_* constants"
    assert not re.findall(r"^(?:DIST|KIND)_\w+\s*=\s*\d", text, flags=re.M), "codes come from fi_dist_name"
    for constant in ("FI_MAX_NDIM", "FI_MAX_PARAMS", "FI_NDIST", "FI_NDTYPE"):
        assert re.search(rf"^\s+enum: {constant}$", text, flags=re.M), constant

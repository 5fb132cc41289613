"""The scheme registry: every scheme reaches every interface, and the three LLM schemes.

small_init, wang_init and scaled_normal were added as one registry entry plus one
function each; these tests check that they (and every other entry) are in the
Python API, the CLI, fastinit.torch (drop-in and init_module rule), fastinit.dask
and fastinit.Generator, and that their values are exactly fastinit.normal with the
documented std.
"""

from __future__ import annotations

import doctest
import inspect
import math
import subprocess
import warnings

import numpy as np
import pytest

import fastinit as fi
from fastinit import _modelplan, _registry, cli
from fastinit.cli.schemes import scheme_table
from fastinit._registry import BY_NAME, SCHEMES
from _util import assert_bits_equal, bits, require_module


def assert_bitwise_equal(got, want):
    want = np.asarray(want)
    assert np.asarray(got).dtype == want.dtype and np.shape(got) == want.shape
    assert_bits_equal(got, bits(want))

torch = require_module("torch")
require_module("dask")
import fastinit.dask as fid  # noqa: E402  (after the checks)
import fastinit.torch as fit  # noqa: E402

# Hand values of the three stds (40-digit decimal arithmetic, rounded to the nearest double).
SMALL_INIT_STD_1024 = 0.01976423537605237      # sqrt(2 / (5 * 1024))
WANG_INIT_STD_24_4096 = 0.0013020833333333333   # 2 / (24 * sqrt(4096)) = 1 / 768
SCALED_NORMAL_STD_12 = 0.004082482904638631     # 0.02 / sqrt(2 * 12)


@pytest.mark.parametrize("info", list(SCHEMES.values()), ids=list(SCHEMES))
def test_every_entry_reaches_every_interface(info):
    table = scheme_table()
    for name in info.names:
        # the Python API
        assert getattr(fi, name) is info.function and name in fi.__all__
        # the CLI: scheme table and --param vocabulary
        assert table[name].function is info.function and table[name].info is info
        assert [p.name for p in table[name].parameters] == [p.name for p in info.parameters]
        # fastinit.torch: a rule name of init_module
        assert name in _modelplan.SCHEMES and (name in _modelplan.RANDOM_SCHEMES) == info.random
        # fastinit.dask
        assert name in fid.__all__ and getattr(fid, name).__name__ == info.name
        # fastinit.Generator
        assert hasattr(fi.Generator, name) == info.random
    # a drop-in: torch's counterpart, written by hand, or a generated one
    drop_in = info.torch_name or f"{info.name}_"
    assert drop_in in fit.__all__ and getattr(fit, drop_in).__name__ == drop_in


def test_generated_drop_ins_are_the_schemes_torch_lacks():
    generated = {name for name in fit.__all__ if name.removesuffix("_") in SCHEMES
                 and SCHEMES[name.removesuffix("_")].torch_name is None}
    assert generated == {"lecun_uniform_", "lecun_normal_", "variance_scaling_", "small_init_",
                         "wang_init_", "scaled_normal_"}
    assert all(hasattr(torch.nn.init, SCHEMES[n].torch_name) for n in SCHEMES if SCHEMES[n].torch_name)


@pytest.mark.parametrize("name", ["small_init_", "wang_init_", "scaled_normal_", "lecun_normal_",
                                  "variance_scaling_"])
def test_generated_drop_in_docstring_examples_run(name):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    [test] = finder.find(getattr(fit, name), name, globs={})
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and test.examples


# ---------------------------------------------------------------------------
# The three LLM schemes: exact values
# ---------------------------------------------------------------------------

CASES = [
    # (call, shape, std)
    (lambda shape, **kw: fi.small_init(shape, **kw), (3, 1024), SMALL_INIT_STD_1024),
    (lambda shape, **kw: fi.small_init(shape, d=1024, **kw), (5, 7), SMALL_INIT_STD_1024),
    (lambda shape, **kw: fi.wang_init(shape, n_layers=24, **kw), (2, 4096), WANG_INIT_STD_24_4096),
    (lambda shape, **kw: fi.wang_init(shape, n_layers=24, d=4096, **kw), (9, 3), WANG_INIT_STD_24_4096),
    (lambda shape, **kw: fi.scaled_normal(shape, n_layers=12, **kw), (33,), SCALED_NORMAL_STD_12),
    (lambda shape, **kw: fi.scaled_normal(shape, n_layers=3, sigma=0.04, **kw), (6, 5),
     0.04 / math.sqrt(2.0 * 3)),    # the documented float64 expression (hand value below)
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("call, shape, std", CASES)
def test_llm_schemes_are_normal_with_the_documented_std(call, shape, std, dtype):
    expected = fi.normal(shape, 0.0, std, dtype=dtype, seed=11, stream=3)
    assert_bitwise_equal(call(shape, dtype=dtype, seed=11, stream=3), expected)
    region = tuple(slice(1, n) for n in shape)
    assert_bitwise_equal(call(shape, dtype=dtype, seed=11, stream=3, region=region), expected[region])


def test_llm_std_formulas_against_hand_values():
    assert math.sqrt(2.0 / (5.0 * 1024)) == SMALL_INIT_STD_1024
    assert 0.04 / math.sqrt(2.0 * 3) == pytest.approx(0.01632993161855452065, rel=2e-16)
    info = SCHEMES["small_init"]
    assert info.analytic_std(info.arguments({}), (3, 1024)) == SMALL_INIT_STD_1024
    info = SCHEMES["wang_init"]
    assert info.analytic_std(info.arguments({"n_layers": 24}), (7, 4096)) == WANG_INIT_STD_24_4096
    assert info.analytic_std(info.arguments({"n_layers": 24, "d": 4096}), (7, 5)) == WANG_INIT_STD_24_4096
    info = SCHEMES["scaled_normal"]
    assert info.analytic_std(info.arguments({"n_layers": 12}), (7,)) == SCALED_NORMAL_STD_12
    assert info.distribution(info.arguments({"n_layers": 12}), (7,)) == "normal"
    assert info.derived_values(info.arguments({"n_layers": 12}), (7,)) == [("std", SCALED_NORMAL_STD_12)]


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: fi.wang_init((4, 4)), TypeError, "n_layers"),
    (lambda: fi.wang_init((4, 4), n_layers=0), ValueError, "n_layers must be an integer in [1, 2**63)"),
    (lambda: fi.wang_init((4, 4), n_layers=True), TypeError, "n_layers must be an integer"),
    (lambda: fi.wang_init((4, 4), n_layers=2.0), TypeError, "n_layers must be an integer"),
    (lambda: fi.wang_init((4, 4), n_layers=2, d=0), ValueError, "d must be an integer in [1, 2**63)"),
    (lambda: fi.small_init((4, 4), d=1.5), TypeError, "d must be an integer"),
    (lambda: fi.small_init((4,)), ValueError, "fewer than 2 dimensions"),
    (lambda: fi.scaled_normal((4,)), TypeError, "n_layers"),
    (lambda: fi.scaled_normal((4,), n_layers=2, sigma=-0.1), ValueError, "sigma must be >= 0"),
    (lambda: fi.scaled_normal((4,), n_layers=2, sigma=math.nan), ValueError, "sigma must be finite"),
    (lambda: fi.scaled_normal((4,), n_layers=2, sigma=1e6, dtype="float16"), ValueError,
     "outside the finite range of float16"),
    (lambda: fi.scaled_normal((4,), n_layers=2**63), ValueError, "n_layers must be an integer in"),
])
def test_llm_scheme_errors(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


def test_a_derived_value_beyond_the_quick_check_still_fills_exactly():
    # std sqrt(1e9 / 4) = 15811.4: a large derived value that float16 still represents
    # (65504 is the limit): the internal entry point fills it as the public sampler does.
    values = fi.variance_scaling((3, 4), 1e9, "fan_in", "normal", dtype="float16", seed=2)
    assert_bitwise_equal(values, fi.normal((3, 4), 0.0, math.sqrt(1e9 / 4), dtype="float16", seed=2))


# ---------------------------------------------------------------------------
# The same schemes through the adapters
# ---------------------------------------------------------------------------

def test_torch_drop_ins_of_the_llm_schemes():
    w = torch.empty(4, 1024)
    assert fit.small_init_(w, seed=5) is w
    assert_bitwise_equal(w.numpy(), fi.normal((4, 1024), 0.0, SMALL_INIT_STD_1024, seed=5))
    fit.wang_init_(w, n_layers=24, d=4096, seed=5, stream="s")
    assert_bitwise_equal(w.numpy(), fi.normal((4, 1024), 0.0, WANG_INIT_STD_24_4096, seed=5, stream="s"))
    torch.manual_seed(0)
    a = fit.scaled_normal_(torch.empty(8), n_layers=12).clone()
    torch.manual_seed(0)
    assert torch.equal(a, fit.scaled_normal_(torch.empty(8), n_layers=12))
    with pytest.raises(TypeError, match="n_layers"):
        fit.wang_init_(w)
    before = w.clone()
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match="n_layers must be an integer in"):
        fit.wang_init_(w, n_layers=0)
    assert torch.equal(w, before) and torch.equal(state, torch.get_rng_state())
    with pytest.raises(ValueError, match="beyond float16's largest finite value"):
        fit.scaled_normal_(torch.empty(3, dtype=torch.float16), n_layers=2, sigma=1e6)


def test_init_module_rules_of_the_llm_schemes():
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Linear(32, 16, bias=False))
    rules = {"0.weight": "small_init", "0.bias": ("scaled_normal_", {"n_layers": 4}),
             "1.weight": ("wang_init", {"n_layers": 4})}
    fit.init_module(model, rules=rules, seed=9)
    assert_bitwise_equal(model[0].weight.detach().numpy(),
                         fi.small_init((32, 64), seed=9, stream=fi.stream_id("0.weight")))
    assert_bitwise_equal(model[0].bias.detach().numpy(),
                         fi.scaled_normal((32,), n_layers=4, seed=9, stream=fi.stream_id("0.bias")))
    assert_bitwise_equal(model[1].weight.detach().numpy(),
                         fi.wang_init((16, 32), n_layers=4, seed=9, stream=fi.stream_id("1.weight")))
    with pytest.raises(TypeError, match="bad arguments for 'wang_init'"):
        fit.init_module(model, rules={"*": ("wang_init", {"layers": 4})}, seed=0)
    half = torch.nn.Linear(4, 4).half()
    with pytest.raises(ValueError, match=r"scaled_normal\(n_layers=2, sigma=1000000.0\) gives a std of"):
        fit.init_module(half, rules={"*": ("scaled_normal", {"n_layers": 2, "sigma": 1e6})}, seed=0)


def test_dask_wrappers_of_the_llm_schemes():
    lazy = fid.wang_init((64, 48), n_layers=6, chunks=(16, 32), seed=4)
    assert_bitwise_equal(lazy.compute(), fi.wang_init((64, 48), n_layers=6, seed=4))
    assert_bitwise_equal(fid.scaled_normal((10,), n_layers=2, chunks=3, seed=1).compute(),
                         fi.scaled_normal((10,), n_layers=2, seed=1))
    assert str(inspect.signature(fid.small_init)) == (
        "(shape, *, d=None, in_axis=1, out_axis=0, chunks='auto', dtype=None, seed=None, stream=0)")
    assert "sqrt{2/(5d)}" in fid.small_init.__doc__ and "d : int, optional" in fid.small_init.__doc__
    with pytest.raises(TypeError, match="n_layers"):
        fid.wang_init((4, 4))


def test_generator_methods_of_the_llm_schemes():
    g = fi.default_rng(7)
    w = g.small_init((16, 8))
    assert_bitwise_equal(w, fi.small_init((16, 8), seed=7, stream=g.stream_at(0)))


def test_cli_init_and_inspect_of_the_llm_schemes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "wang_init", "64x256", "--param", "n_layers=24", "--param", "d=4096",
                     "-o", "w.npy", "-q"]) == 0
    assert_bitwise_equal(np.load(tmp_path / "w.npy"), fi.wang_init((64, 256), n_layers=24, d=4096, seed=0))
    assert cli.main(["inspect", "w.npy", "--scheme", "wang_init", "--param", "n_layers=24",
                     "--param", "d=4096"]) == 0
    assert f"{WANG_INIT_STD_24_4096:.6g}" in capsys.readouterr().out
    assert cli.main(["init", "scaled_normal", "8", "-o", "s.npy", "-q"]) == 2
    assert "needs --param n_layers=..." in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["init", "--help"])
    assert "small_init(d=None, in_axis=1, out_axis=0)" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# The registry's formulas are the schemes' own
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs, shape, std", [
    ("kaiming_normal", {"nonlinearity": "relu"}, (64, 3, 7, 7), math.sqrt(2 / 147)),
    ("kaiming_uniform", {"a": math.sqrt(5)}, (10, 30), math.sqrt(1 / 3) / math.sqrt(30)),
    ("xavier_normal", {"gain": 2.0}, (20, 30), 2 * math.sqrt(2 / 50)),
    ("lecun_normal", {}, (20, 25), 1 / 5),
    ("variance_scaling", {"scale": 3.0, "mode": "fan_avg", "distribution": "uniform"}, (20, 40),
     math.sqrt(3.0 / 30)),
    ("normal", {"std": 0.5}, (7,), 0.5),
    ("uniform", {"low": -3.0, "high": 3.0}, (7,), 6 / math.sqrt(12)),
    ("orthogonal", {"gain": 2.0}, (10, 40), 2 / math.sqrt(40)),
    ("zeros", {}, (3,), 0.0),
])
def test_analytic_std(name, kwargs, shape, std):
    info = BY_NAME[name]
    assert info.analytic_std(info.arguments(kwargs), shape) == pytest.approx(std, rel=1e-14)


@pytest.mark.parametrize("name, kwargs", [
    ("kaiming_uniform", {"nonlinearity": "relu", "mode": "fan_out"}),
    ("xavier_normal", {"gain": 0.5}), ("lecun_normal", {}), ("lecun_uniform", {}),
    ("variance_scaling", {"scale": 2.0, "mode": "fan_geo_avg"}),
    ("small_init", {"d": 77}), ("wang_init", {"n_layers": 3}),
])
def test_the_derived_parameters_are_the_ones_the_scheme_fills_with(name, kwargs):
    info, shape = BY_NAME[name], (96, 64)
    sampler, params = info.draw(info.arguments(kwargs), shape)
    expected = getattr(fi, sampler)(shape, *params, seed=1)
    assert_bitwise_equal(info.function(shape, **kwargs, seed=1), expected)


def test_registry_is_consistent():
    assert len(BY_NAME) == sum(len(info.names) for info in SCHEMES.values())
    for info in SCHEMES.values():
        assert info.random == ("seed" in inspect.signature(info.function).parameters)
        assert not {p.name for p in info.parameters} & set(_registry.RESERVED_ARGUMENTS)
    assert [n for n, i in SCHEMES.items() if i.whole_matrix or i.whole_columns] == ["orthogonal", "sparse"]
    with pytest.raises(KeyError, match="unknown scheme 'nope'"):
        _registry.scheme_info("nope")


def test_kaiming_normal_checks_its_output_once(monkeypatch):
    """Check once: the shape, seed and stream are each validated once per call."""
    from fastinit import _validate
    counts = {}
    for name in ("as_shape", "as_seed", "as_stream", "as_region"):
        original = getattr(_validate, name)

        def counting(*args, _original=original, _name=name):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(*args)
        monkeypatch.setattr(_validate, name, counting)
    # the schemes imported the names; patch them where they are used too
    from fastinit import _schemes
    monkeypatch.setattr(_schemes, "as_seed", _validate.as_seed)
    monkeypatch.setattr(_schemes, "as_stream", _validate.as_stream)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fi.kaiming_normal((64, 64), seed=0)
    assert counts == {"as_shape": 1, "as_seed": 1, "as_stream": 1, "as_region": 1}


def test_no_import_cycle_through_the_registry():
    code = "import fastinit._registry, fastinit._modelplan, fastinit.cli.schemes; print('ok')"
    result = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "ok", result.stderr

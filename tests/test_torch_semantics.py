"""fastinit.torch drop-ins side by side with torch.nn.init on the inputs where they could differ.

Every input torch accepts, fastinit accepts too, with the same return value
(the tensor itself), warnings and, for deterministic fills, values; every
input torch refuses with ValueError, fastinit refuses with ValueError and
torch's message as the prefix of its own.  The deliberate differences are
listed in docs/schemes.md ("fastinit.torch and torch.nn.init") and tested
here as such.  A call that raises draws nothing: no generator moves.
"""

from __future__ import annotations

import math
import warnings

import pytest

from _util import require_module

# Every test here needs the extra: without it the module skips (see _util).
torch = require_module("torch")

import fastinit as fi  # noqa: E402
import fastinit.torch as fit  # noqa: E402

T = torch.nn.init
RANDOM_DROP_INS = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                   "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")
DROP_INS = RANDOM_DROP_INS + ("constant_", "ones_", "zeros_", "eye_", "dirac_")
# Arguments that make each drop-in valid on SHAPES[name].
VALID_ARGS = {"constant_": (0.5,), "sparse_": (0.5,)}
SHAPES = {"eye_": (4, 4), "sparse_": (4, 4), "dirac_": (4, 4, 3)}


def _valid_tensor(name, **kwargs):
    return torch.full(SHAPES.get(name, (4, 4, 3)), 7.0, **kwargs)


def _outcome(function, *args, **kwargs):
    """(exception type or None, message, warnings as text, whether the tensor itself came back)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = function(*args, **kwargs)
        except Exception as error:                     # noqa: BLE001 - compared below
            return type(error), str(error), [str(w.message) for w in caught], None
    returned_itself = result is args[0] if args and isinstance(args[0], torch.Tensor) else result
    return None, "", [str(w.message) for w in caught], returned_itself


# ----------------------------------------------------------------------------- calculate_gain


@pytest.mark.parametrize("nonlinearity, param", [
    (None, None), (1, None), ("Relu", None), ("softplus", None),
    ("leaky_relu", True), ("leaky_relu", "0.2"), ("leaky_relu", [1]), ("leaky_relu", {"a": "b"}),
    ("leaky_relu", torch.tensor(0.2)),
])
def test_calculate_gain_refuses_what_torch_refuses_with_its_text(nonlinearity, param):
    theirs = _outcome(T.calculate_gain, nonlinearity, param)
    ours = _outcome(fit.calculate_gain, nonlinearity, param)
    assert theirs[0] is ValueError and ours[0] is ValueError
    assert ours[1].startswith(theirs[1])


@pytest.mark.parametrize("param", [float("nan"), math.inf, -math.inf, 0, 10, 0.2, None])
def test_calculate_gain_returns_torchs_value(param):
    ours, theirs = fit.calculate_gain("leaky_relu", param), T.calculate_gain("leaky_relu", param)
    assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))


def test_calculate_gain_is_fastinits():
    assert fit.calculate_gain is fi.calculate_gain


# ----------------------------------------------------------------------------- generators


def _inference_tensor(shape):
    with torch.inference_mode():
        return torch.full(shape, 7.0)


def _bad_calls(name):
    """``(description, tensor, args, kwargs)`` for every kind of check ``name`` makes."""
    args = VALID_ARGS.get(name, ())
    shape = SHAPES.get(name, (4, 4, 3))
    calls = [
        ("not a tensor", [1.0, 2.0], args, {}),
        ("integer dtype", torch.zeros(shape, dtype=torch.int64), args, {}),
        ("meta tensor", torch.empty(shape, device="meta"), args, {}),
        ("inference tensor", _inference_tensor(shape), args, {}),
    ]
    if name in RANDOM_DROP_INS:
        calls += [
            ("bad seed", torch.full(shape, 7.0), args, {"seed": -1}),
            ("seed of a bad type", torch.full(shape, 7.0), args, {"seed": 1.5}),
            ("bad stream", torch.full(shape, 7.0), args, {"stream": 1.5}),
            ("bad generator", torch.full(shape, 7.0), args, {"generator": 5}),
        ]
    if name not in ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_"):
        calls.append(("wrong number of dimensions", torch.full((3,), 7.0), args, {}))
    overflow = {
        "uniform_": (0.0, 1e6), "normal_": (0.0, 1e6), "trunc_normal_": (0.0, 1e6, -1e6, 1e6),
        "xavier_uniform_": (1e6,), "xavier_normal_": (1e6,), "orthogonal_": (1e6,),
        "sparse_": (0.5, 1e6), "constant_": (1e6,),
    }
    if name in overflow:
        calls.append(("float16 overflow", torch.full(shape, 7.0, dtype=torch.float16),
                      overflow[name], {}))
    bad_value = {
        "uniform_": (2.0, 1.0), "normal_": (0.0, -1.0), "trunc_normal_": (0.0, 1.0, 2.0, -2.0),
        "xavier_uniform_": (-1.0,), "xavier_normal_": (float("nan"),),
        "orthogonal_": (float("inf"),), "sparse_": (1.5,), "kaiming_uniform_": (0, "fan_avg"),
        "kaiming_normal_": (0, "fan_in", "gelu"), "dirac_": (3,),
    }
    bad_type = {
        "uniform_": ("a", 1.0), "normal_": (0.0, [1.0]), "trunc_normal_": (0.0, 1.0, None),
        "xavier_uniform_": ("2",), "xavier_normal_": (1j,), "orthogonal_": ([2],),
        "sparse_": ("0.5",), "kaiming_uniform_": (True,), "kaiming_normal_": (0, 3),
        "constant_": ("0.5",), "dirac_": (1.5,),
    }
    if name in bad_value:
        calls.append(("bad value", torch.full(shape, 7.0), bad_value[name], {}))
    if name in bad_type:
        calls.append(("bad type", torch.full(shape, 7.0), bad_type[name], {}))
    return calls


@pytest.mark.parametrize("name", DROP_INS)
def test_a_call_that_raises_writes_nothing_and_moves_no_generator(name):
    """Every check comes before the seed is drawn and before anything is written."""
    function = getattr(fit, name)
    for description, tensor, args, kwargs in _bad_calls(name):
        before = tensor.clone() if isinstance(tensor, torch.Tensor) and not tensor.is_meta else None
        state = torch.random.get_rng_state()
        with pytest.raises((TypeError, ValueError, RuntimeError)):
            function(tensor, *args, **kwargs)
        assert torch.equal(torch.random.get_rng_state(), state), description
        if before is not None:
            assert torch.equal(tensor, before), description


@pytest.mark.parametrize("name", RANDOM_DROP_INS)
def test_a_call_that_raises_moves_no_explicit_generator(name):
    function = getattr(fit, name)
    args = VALID_ARGS.get(name, ())
    for description, tensor, bad_args, kwargs in _bad_calls(name):
        if "generator" in kwargs:
            continue
        generator = torch.Generator().manual_seed(3)
        state = generator.get_state()
        with pytest.raises((TypeError, ValueError, RuntimeError)):
            function(tensor, *bad_args, **kwargs, generator=generator)
        assert torch.equal(generator.get_state(), state), description
    generator = torch.Generator().manual_seed(3)
    state = generator.get_state()
    function(torch.full(SHAPES.get(name, (4, 4, 3)), 7.0), *args, generator=generator)
    assert not torch.equal(generator.get_state(), state), "a good call draws from it"


def test_uniform_with_reversed_bounds_leaves_the_generator_alone():
    """The issue's example: uniform_(t, 2, 1) raised after drawing the seed."""
    state = torch.random.get_rng_state()
    with pytest.raises(ValueError, match="low must be <= high"):
        fit.uniform_(torch.empty(3), 2, 1)
    assert torch.equal(torch.random.get_rng_state(), state)


# ----------------------------------------------------------------------------- inference tensors


@pytest.mark.parametrize("name", DROP_INS)
def test_inference_tensor_outside_inference_mode_is_torchs_runtime_error(name):
    args = VALID_ARGS.get(name, ())
    with torch.inference_mode():
        theirs_tensor, ours_tensor = _valid_tensor(name), _valid_tensor(name)
    theirs = _outcome(getattr(T, name), theirs_tensor, *args)
    ours = _outcome(getattr(fit, name), ours_tensor, *args)
    assert theirs[0] is RuntimeError and ours[0] is RuntimeError
    assert ours[1].startswith(theirs[1])
    assert (ours_tensor == 7.0).all()


@pytest.mark.parametrize("name", DROP_INS)
def test_inference_tensor_inside_inference_mode_is_filled(name):
    args = VALID_ARGS.get(name, ())
    with torch.inference_mode():
        tensor = _valid_tensor(name)
        assert getattr(fit, name)(tensor, *args) is tensor
    assert not (tensor == 7.0).all()


# ----------------------------------------------------------------------------- zero elements


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0, 2)])
def test_kaiming_on_zero_elements_warns_and_returns_as_torch(name, shape):
    theirs = _outcome(getattr(T, name), torch.empty(shape))
    state = torch.random.get_rng_state()
    ours = _outcome(getattr(fit, name), torch.empty(shape))
    assert ours == theirs == (None, "", ["Initializing zero-element tensors is a no-op"], True)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_kaiming_zero_element_warning_points_at_the_caller():
    with pytest.warns(UserWarning, match="zero-element") as caught:
        fit.kaiming_uniform_(torch.empty(0))
    assert caught[0].filename == __file__


@pytest.mark.parametrize("name, args", [
    ("xavier_uniform_", ()), ("xavier_normal_", ()), ("sparse_", (0.5,)), ("orthogonal_", ()),
    ("uniform_", ()), ("normal_", ()), ("trunc_normal_", ()), ("constant_", (1.0,)), ("eye_", ()),
])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
def test_other_fills_are_silent_on_zero_elements_as_torch(name, args, shape):
    theirs = _outcome(getattr(T, name), torch.empty(shape), *args)
    ours = _outcome(getattr(fit, name), torch.empty(shape), *args)
    assert ours == theirs == (None, "", [], True)


def test_xavier_on_zero_elements_still_checks_its_arguments():
    # torch, too, refuses a negative gain on an empty tensor (from inside uniform_).
    with pytest.raises(RuntimeError):
        T.xavier_uniform_(torch.empty(0, 3), -1.0)
    with pytest.raises(ValueError, match="gain must be >= 0"):
        fit.xavier_uniform_(torch.empty(0, 3), -1.0)


# ----------------------------------------------------------------------------- 0-d tensor arguments


@pytest.mark.parametrize("name, args", [
    ("uniform_", (0.0, torch.tensor(1.0))),
    ("uniform_", (torch.tensor(-1), torch.tensor(2))),
    ("normal_", (torch.tensor(1.0), torch.tensor(2.0))),
    ("trunc_normal_", (0.0, torch.tensor(1.0), torch.tensor(-1.0), 1.5)),
    ("xavier_uniform_", (torch.tensor(2.0),)),
    ("xavier_normal_", (torch.tensor(0.5, dtype=torch.float64),)),
    ("orthogonal_", (torch.tensor(2.0),)),
    ("sparse_", (torch.tensor(0.5), torch.tensor(0.1))),
])
def test_zero_dimensional_tensor_arguments_are_numbers(name, args):
    shape = (6, 4)
    assert _outcome(getattr(T, name), torch.empty(shape), *args)[::3] == (None, True)
    plain = [a.item() if isinstance(a, torch.Tensor) else a for a in args]
    ours = getattr(fit, name)(tensor := torch.empty(shape), *args, seed=5)
    assert ours is tensor
    assert torch.equal(ours, getattr(fit, name)(torch.empty(shape), *plain, seed=5))


@pytest.mark.parametrize("value", [torch.tensor(2.0), torch.tensor(3), torch.tensor(0.1, dtype=torch.float64)])
def test_constant_takes_a_zero_dimensional_tensor_as_torch(value):
    ours = fit.constant_(torch.empty(3, 2), value)
    assert torch.equal(ours, T.constant_(torch.empty(3, 2), value))


def test_dirac_takes_a_zero_dimensional_integer_tensor_as_groups():
    ours = fit.dirac_(torch.empty(4, 3, 3), torch.tensor(2))
    assert torch.equal(ours, T.dirac_(torch.empty(4, 3, 3), torch.tensor(2)))


@pytest.mark.parametrize("value", [-math.inf, math.inf, float("nan")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_constant_fills_non_finite_values_as_torch(value, dtype):
    """An attention mask is filled with -inf: a value asked for, not a wrong one."""
    ours = fit.constant_(torch.empty(3, dtype=dtype), value)
    theirs = T.constant_(torch.empty(3, dtype=dtype), value)
    assert torch.equal(ours.isnan(), theirs.isnan())
    assert torch.equal(ours.nan_to_num(), theirs.nan_to_num())


def test_multi_element_tensor_arguments_are_still_type_errors():
    with pytest.raises(TypeError):
        T.uniform_(torch.empty(3), torch.tensor([0.0]), 1.0)
    with pytest.raises(TypeError, match="low must be a real number"):
        fit.uniform_(torch.empty(3), torch.tensor([0.0]), 1.0)


# ----------------------------------------------------------------------------- error texts


@pytest.mark.parametrize("name, shape, args", [
    ("orthogonal_", (3,), ()), ("orthogonal_", (), ()),
    ("sparse_", (3,), (0.5,)), ("sparse_", (2, 3, 4), (0.5,)),
    ("eye_", (3,), ()), ("eye_", (2, 3, 4), ()),
    ("dirac_", (3, 3), ()), ("dirac_", (1, 1, 1, 1, 1, 1), ()),
    ("xavier_uniform_", (3,), ()), ("xavier_normal_", (), ()),
    ("kaiming_uniform_", (3,), ()), ("kaiming_normal_", (), ()),
    ("dirac_", (4, 3, 3), (3,)),
    ("kaiming_uniform_", (3, 3), (0, "fan_avg")),
    ("kaiming_normal_", (3, 3), (0, "fan_in", "softplus")),
    ("kaiming_normal_", (3, 3), (0, "fan_in", None)),
    ("kaiming_uniform_", (3, 3), (True,)),
    ("kaiming_uniform_", (3, 3), ("0.2",)),
])
def test_value_errors_start_with_torchs_text(name, shape, args):
    theirs = _outcome(getattr(T, name), torch.empty(shape), *args)
    ours = _outcome(getattr(fit, name), torch.empty(shape), *args)
    assert theirs[0] is ValueError and issubclass(ours[0], ValueError)   # InitValueError: also a RuntimeError
    assert ours[1].startswith(theirs[1]), (ours[1], theirs[1])
    assert len(ours[1]) > len(theirs[1]) or name.startswith("kaiming")


def test_kaiming_mode_is_case_insensitive_as_torch():
    upper = fit.kaiming_normal_(torch.empty(5, 4), mode="FAN_OUT", seed=2)
    assert torch.equal(upper, fit.kaiming_normal_(torch.empty(5, 4), mode="fan_out", seed=2))
    T.kaiming_normal_(torch.empty(5, 4), mode="FAN_OUT")      # torch accepts it too


@pytest.mark.parametrize("seed", [None, 3])
@pytest.mark.parametrize("shape", [(3, 3), (0, 3)])
def test_derived_overflow_is_reported_in_the_callers_terms(seed, shape):
    with pytest.raises(ValueError, match=r"^xavier_uniform_\(gain=1000000.0\) on a float16 tensor of "
                                         rf"shape \({shape[0]}, 3\) gives a bound of "
                                         rf"{1e6 * math.sqrt(6 / (3 + shape[0])):.7g}, beyond "
                                         "float16's largest finite value 65504$"):
        fit.xavier_uniform_(torch.empty(shape, dtype=torch.float16), 1e6, seed=seed)


# ----------------------------------------------------------------------------- documented differences


@pytest.mark.parametrize("name, args", [
    ("normal_", (float("nan"), 1.0)), ("normal_", (0.0, math.inf)),
    ("orthogonal_", (float("nan"),)), ("sparse_", (1.5,)), ("sparse_", (-0.5,)),
    ("trunc_normal_", (0.0, -1.0)), ("dirac_", (-2,)), ("uniform_", (True, 2.0)),
])
def test_documented_differences_are_refused_before_writing(name, args):
    """Inputs torch turns into NaN, inf or meaningless fills: refused, as docs/schemes.md says."""
    shape = (4, 3, 3) if name == "dirac_" else (4, 3)
    assert _outcome(getattr(T, name), torch.zeros(shape), *args)[0] is None
    tensor = torch.full(shape, 7.0)
    state = torch.random.get_rng_state()
    with pytest.raises((TypeError, ValueError)):
        getattr(fit, name)(tensor, *args)
    assert (tensor == 7.0).all()
    assert torch.equal(torch.random.get_rng_state(), state)


def test_differences_are_documented():
    from pathlib import Path

    schemes = (Path(__file__).resolve().parent.parent / "docs" / "schemes.md").read_text()
    section = schemes.split("## fastinit.torch and torch.nn.init", 1)[1].split("\n## ", 1)[0]
    for topic in ("RuntimeError", "meta", "NaN", "sparsity", "groups", "bool", "trunc_normal_",
                  "inference", "zero-element", "0-d tensor", "integer"):
        assert topic in section, topic


def test_an_invalid_argument_is_named_before_any_bound_it_gives():
    with pytest.raises(ValueError, match=r"^gain must be >= 0; got -1000000\.0$"):
        fit.xavier_uniform_(torch.empty(3, 3, dtype=torch.float16), -1e6)



@pytest.mark.parametrize("name, args, kwargs", [
    ("uniform_", (2.0, 1.0), {}),
    ("normal_", (0.0, -1.0), {}),
    ("xavier_uniform_", (), {"gain": -1.0}),
    ("kaiming_normal_", (), {"a": float("nan")}),
])
def test_bad_values_are_both_value_and_runtime_errors(name, args, kwargs):
    """torch raises RuntimeError for these; fastinit's rule says ValueError: the drop-ins' error is both."""
    with pytest.raises(RuntimeError):
        getattr(torch.nn.init, name)(torch.empty(4, 4), *args, **kwargs)
    tensor = torch.zeros(4, 4)
    with pytest.raises(RuntimeError) as info:
        getattr(fit, name)(tensor, *args, **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, fit.InitValueError)
    assert torch.count_nonzero(tensor) == 0

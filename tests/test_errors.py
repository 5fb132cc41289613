"""Bad input: the exception type, a message naming the argument and the value, and no side effects.

Every invalid call raises TypeError (wrong kind of value) or ValueError
(right kind, bad value) whose message names the offending argument and
repeats what was given.  Where the call passes ``out``, the array is
prefilled with a guard pattern and must be bit-for-bit unchanged afterwards:
validation finishes before anything is written.
"""

from __future__ import annotations

import re
import warnings

import ml_dtypes
import numpy as np
import pytest

import fastinit as fi

BF16 = np.dtype(ml_dtypes.bfloat16)
F32 = np.dtype(np.float32)


class Out:
    """Placeholder for a freshly made, guard-filled ``out`` array in a case table."""

    def __init__(self, shape=(3,), dtype=F32):
        self.shape, self.dtype = shape, np.dtype(dtype)

    def make(self):
        out = np.empty(self.shape, dtype=self.dtype)
        out.view(np.uint8)[...] = 0x5A
        return out


def _call(func, args, kwargs):
    """Run func with Out placeholders replaced; returns (exception info, made outs)."""
    made = {k: v.make() for k, v in kwargs.items() if isinstance(v, Out)}
    kwargs = {**kwargs, **made}
    return (lambda: func(*args, **kwargs)), list(made.values())


def _assert_untouched(outs):
    for out in outs:
        assert np.all(out.view(np.uint8) == 0x5A), "out was written although the call failed"


# (id, function, args, kwargs, exception, message regex)
TYPE_ERRORS = [
    # dtypes
    ("dtype-int32", fi.uniform, (3,), dict(dtype=np.int32, seed=1), "dtype must be one of .*got int32"),
    ("dtype-int64", fi.normal, (3,), dict(dtype="int64", seed=1), "dtype must be one of .*got int64"),
    ("dtype-complex", fi.normal, (3,), dict(dtype=np.complex64, seed=1), "dtype must be one of .*got complex64"),
    ("dtype-object", fi.uniform, (3,), dict(dtype=object, seed=1), "dtype must be one of .*got object"),
    ("dtype-bool", fi.uniform, (3,), dict(dtype=bool, seed=1), "dtype must be one of .*got bool"),
    ("dtype-unknown", fi.uniform, (3,), dict(dtype="nonsense", seed=1), "dtype must be one of .*'nonsense'"),
    ("dtype-big-endian", fi.uniform, (3,), dict(dtype=">f4", seed=1), "native byte order; got '>f4'"),
    ("dtype-big-endian-f8", fi.normal, (3,), dict(dtype=">f8", seed=1), "native byte order; got '>f8'"),
    ("out-int", fi.uniform, (), dict(out=Out(dtype=np.int16), seed=1), "dtype must be one of .*got int16"),
    ("out-big-endian", fi.normal, (), dict(out=Out(dtype=">f4"), seed=1), "native byte order; got '>f4'"),
    ("out-complex", fi.normal, (), dict(out=Out(dtype=np.complex128), seed=1), "got complex128"),
    ("dtype-mismatch", fi.normal, (), dict(out=Out(), dtype=np.float64, seed=1),
     r"dtype=float64 does not match out\.dtype=float32"),
    ("dtype-mismatch-bf16", fi.uniform, (), dict(out=Out(dtype=np.float16), dtype="bfloat16", seed=1),
     r"dtype=bfloat16 does not match out\.dtype=float16"),
    # seeds and streams
    ("seed-float", fi.normal, (), dict(out=Out(), seed=1.0), "seed must be an integer; got float 1.0"),
    ("seed-bool", fi.normal, (), dict(out=Out(), seed=True), "seed must be an integer; got bool True"),
    ("seed-np-bool", fi.uniform, (), dict(out=Out(), seed=np.True_), "seed must be an integer; got bool"),
    ("seed-np-float", fi.uniform, (), dict(out=Out(), seed=np.float64(2)), "seed must be an integer; got float64"),
    ("seed-str", fi.uniform, (), dict(out=Out(), seed="7"), "seed must be an integer; got str '7'"),
    ("stream-float", fi.normal, (), dict(out=Out(), seed=1, stream=0.5), "stream must be an integer or a str; got float 0.5"),
    ("stream-bool", fi.uniform, (), dict(out=Out(), seed=1, stream=False), "stream must be an integer or a str; got bool False"),
    # distribution parameters
    ("low-complex", fi.uniform, (), dict(out=Out(), low=1j, seed=1), r"low must be a real number; got complex 1j"),
    ("high-str", fi.uniform, (), dict(out=Out(), high="2", seed=1), "high must be a real number; got str '2'"),
    ("high-bool", fi.uniform, (), dict(out=Out(), high=True, seed=1), "high must be a real number; got bool True"),
    ("mean-complex", fi.normal, (), dict(out=Out(), mean=1 + 0j, seed=1), r"mean must be a real number; got complex \(1\+0j\)"),
    ("std-none", fi.normal, (), dict(out=Out(), std=None, seed=1), "std must be a real number; got NoneType None"),
    ("std-array", fi.normal, (), dict(out=Out(), std=np.ones(2), seed=1), "std must be a real number; got ndarray"),
    # out and shape
    ("out-list", fi.normal, (), dict(out=[0.0, 0.0], seed=1), "out must be a numpy.ndarray; got list"),
    ("out-scalar", fi.uniform, (), dict(out=np.float32(0), seed=1), "out must be a numpy.ndarray; got float32"),
    ("shape-float", fi.normal, ((2.5,),), dict(seed=1), r"shape must be an int or a tuple of ints; got \(2\.5,\)"),
    ("shape-float-scalar", fi.uniform, (2.0,), dict(seed=1), "shape must be an int or a tuple of ints; got 2.0"),
    ("shape-str", fi.uniform, ("ab",), dict(seed=1), "shape must be an int or a tuple of ints; got 'ab'"),
    ("shape-bool", fi.uniform, (True,), dict(seed=1), "shape must be an int or a tuple of ints; got True"),
    ("shape-with-out-float", fi.normal, ((3.0,),), dict(out=Out(), seed=1), r"shape must be .*got \(3\.0,\)"),
    ("no-shape-no-out", fi.normal, (), dict(seed=1), "give shape or out"),
    # regions
    ("region-ints", fi.normal, ((3,),), dict(seed=1, region=(1,)), r"region must be a tuple of slices; got \(1,\)"),
    ("region-list", fi.normal, ((3,),), dict(seed=1, region=[slice(0, 1)]), r"region must be a tuple of slices; got \[slice"),
    ("region-float-bound", fi.normal, ((3,),), dict(out=Out((2,)), seed=1, region=(slice(0.5, 2),)),
     "region\\[0\\] bound must be an integer; got float 0.5"),
    # random_raw and threads
    ("raw-n-float", fi.random_raw, (2.0,), dict(seed=1), "n must be an integer; got float 2.0"),
    ("raw-n-bool", fi.random_raw, (True,), dict(seed=1), "n must be an integer; got bool True"),
    ("raw-start-float", fi.random_raw, (2,), dict(seed=1, start=1.0), "start must be an integer; got float 1.0"),
    ("raw-seed-float", fi.random_raw, (2,), dict(seed=0.0), "seed must be an integer; got float 0.0"),
    ("raw-stream-bool", fi.random_raw, (2,), dict(seed=0, stream=True), "stream must be an integer or a str; got bool True"),
    ("threads-float", fi.set_num_threads, (2.0,), {}, "n must be an integer; got float 2.0"),
    ("threads-bool", fi.set_num_threads, (True,), {}, "n must be an integer; got bool True"),
]

VALUE_ERRORS = [
    # distribution parameters
    ("std-negative", fi.normal, (), dict(out=Out(), std=-1.0, seed=1), "std must be >= 0; got -1.0"),
    ("std-tiny-negative", fi.normal, (), dict(out=Out(), std=-1e-300, seed=1), "std must be >= 0; got -1e-300"),
    ("std-inf", fi.normal, (), dict(out=Out(), std=float("inf"), seed=1), "std must be finite; got inf"),
    ("std-nan", fi.normal, (), dict(out=Out(), std=float("nan"), seed=1), "std must be finite; got nan"),
    ("mean-nan", fi.normal, (), dict(out=Out(), mean=float("nan"), seed=1), "mean must be finite; got nan"),
    ("mean-neg-inf", fi.normal, (), dict(out=Out(), mean=-np.inf, seed=1), "mean must be finite; got -inf"),
    ("low-neg-inf", fi.uniform, (), dict(out=Out(), low=float("-inf"), seed=1), "low must be finite; got -inf"),
    ("high-nan", fi.uniform, (), dict(out=Out(), high=np.float32("nan"), seed=1), "high must be finite; got nan"),
    ("low-above-high", fi.uniform, (), dict(out=Out(), low=2.0, high=1.0, seed=1), "low must be <= high; got low=2.0, high=1.0"),
    ("high-outside-f16", fi.uniform, (), dict(out=Out(dtype=np.float16), high=1e5, seed=1),
     r"high=100000\.0 is outside the finite range of float16"),
    ("low-outside-f16", fi.uniform, (), dict(out=Out(dtype=np.float16), low=-65505.0, seed=1),
     r"low=-65505\.0 is outside the finite range of float16"),
    ("mean-outside-f32", fi.normal, (), dict(out=Out(), mean=1e39, seed=1), r"mean=1e\+39 is outside the finite range of float32"),
    ("std-outside-f16", fi.normal, (), dict(out=Out(dtype=np.float16), std=7e4, seed=1),
     r"std=70000\.0 is outside the finite range of float16"),
    ("mean-outside-bf16", fi.normal, (), dict(out=Out(dtype=BF16), mean=3.4e38, seed=1),
     r"mean=3\.4e\+38 is outside the finite range of bfloat16"),
    ("scale-overflows-f32", fi.uniform, (), dict(out=Out(), low=-3e38, high=3e38, seed=1),
     r"high - low = 6e\+38 overflows float32"),
    # seeds and streams
    ("seed-negative", fi.normal, (), dict(out=Out(), seed=-1), r"seed must be in \[0, 2\*\*64\); got -1"),
    ("seed-2**64", fi.uniform, (), dict(out=Out(), seed=2**64), r"seed must be in \[0, 2\*\*64\); got 18446744073709551616"),
    ("stream-negative", fi.uniform, (), dict(out=Out(), seed=1, stream=-5), r"stream must be in \[0, 2\*\*64\); got -5"),
    ("stream-2**64", fi.normal, (), dict(out=Out(), seed=1, stream=2**64), r"stream must be in .*got 18446744073709551616"),
    # shapes and outs
    ("shape-negative", fi.normal, ((3, -1),), dict(seed=1), r"shape dimensions must be >= 0; got \(3, -1\)"),
    ("shape-negative-with-out", fi.normal, ((-3,),), dict(out=Out(), seed=1), r"shape dimensions must be >= 0; got \(-3,\)"),
    ("shape-too-many-dims", fi.normal, ((1,) * 65,), dict(seed=1), "at most 64 dimensions; got 65"),
    ("shape-too-many-elements", fi.uniform, ((2**32, 2**32),), dict(seed=1),
     r"shape \(4294967296, 4294967296\) has more than 2\*\*63 - 1 elements"),
    ("shape-out-mismatch", fi.normal, ((4, 3),), dict(out=Out((3, 4)), seed=1),
     r"out has shape \(3, 4\) but the shape \(4, 3\) asks for \(4, 3\)"),
    ("shape-out-mismatch-1d", fi.uniform, (4,), dict(out=Out((3,)), seed=1), r"out has shape \(3,\) but the shape \(4,\)"),
    ("out-read-only", fi.normal, (), dict(out=np.zeros(3, np.float32).view(), seed=1), "out is read-only"),
    ("out-broadcast", fi.uniform, (), dict(out=np.broadcast_to(np.zeros(1, np.float32), (4,)), seed=1), "out is read-only"),
    ("out-zero-stride", fi.normal, (),
     dict(out=np.lib.stride_tricks.as_strided(np.zeros(4, np.float32), (4,), (0,)), seed=1),
     r"out has a zero stride \(strides \(0,\), shape \(4,\)\)"),
    # regions
    ("region-stop-past-end", fi.normal, ((10,),), dict(out=Out((11,)), seed=1, region=(slice(0, 11),)),
     r"region\[0\] = slice\(0, 11, None\) is out of bounds.*got start=0, stop=11"),
    ("region-start-after-stop", fi.uniform, ((10,),), dict(seed=1, region=(slice(5, 3),)),
     r"region\[0\] = slice\(5, 3, None\) is out of bounds.*got start=5, stop=3"),
    ("region-negative-past-start", fi.uniform, ((10,),), dict(out=Out((11,)), seed=1, region=(slice(-11, None),)),
     r"region\[0\] = slice\(-11, None, None\) is out of bounds.*got start=-1"),
    ("region-axis-1", fi.uniform, ((4, 5),), dict(seed=1, region=(slice(0, 4), slice(2, 6))),
     r"region\[1\] = slice\(2, 6, None\) is out of bounds.*axis 1 of shape \(4, 5\)"),
    ("region-step-2", fi.normal, ((10,),), dict(out=Out((2,)), seed=1, region=(slice(0, 4, 2),)),
     "region slices must have step 1; axis 0 has step 2"),
    ("region-step-negative", fi.normal, ((10,),), dict(seed=1, region=(slice(None, None, -1),)),
     "region slices must have step 1; axis 0 has step -1"),
    ("region-step-axis-1", fi.normal, ((3, 10),), dict(seed=1, region=(slice(None), slice(0, 4, 3))),
     "axis 1 has step 3"),
    ("region-too-many-slices", fi.normal, ((10,),), dict(seed=1, region=(slice(0, 4), slice(0, 1))),
     r"region has 2 slices but the array has 1 dimensions \(shape \(10,\)\)"),
    ("region-without-shape", fi.normal, (), dict(out=Out((4,)), seed=1, region=(slice(0, 4),)),
     "region needs shape"),
    ("region-out-mismatch", fi.normal, ((10,),), dict(out=Out((10,)), seed=1, region=(slice(0, 4),)),
     r"out has shape \(10,\) but the region of shape \(10,\) asks for \(4,\)"),
    # random_raw and threads
    ("raw-n-negative", fi.random_raw, (-1,), dict(seed=1), "n must be >= 0; got -1"),
    ("raw-start-negative", fi.random_raw, (5,), dict(seed=1, start=-1), "start must be >= 0; got -1"),
    ("raw-past-2**64", fi.random_raw, (5,), dict(seed=1, start=2**64 - 4),
     r"start \+ n must be <= 2\*\*64.*got start=18446744073709551612, n=5"),
    ("raw-start-2**64", fi.random_raw, (1,), dict(seed=1, start=2**64), r"start \+ n must be <= 2\*\*64"),
    ("raw-seed-negative", fi.random_raw, (1,), dict(seed=-2), r"seed must be in \[0, 2\*\*64\); got -2"),
    ("raw-stream-2**64", fi.random_raw, (1,), dict(seed=0, stream=2**64), r"stream must be in \[0, 2\*\*64\)"),
    ("threads-zero", fi.set_num_threads, (0,), {}, r"number of threads must be in \[1, \d+\] \(max\(64, 4 x \d+ CPUs\).*got 0"),
    ("threads-negative", fi.set_num_threads, (-3,), {}, r"number of threads must be in \[1, \d+\] \(max\(64, 4 x \d+ CPUs\).*got -3"),
]

# The read-only cases need their out made read-only after the placeholder step.
for case in VALUE_ERRORS:
    if case[0] == "out-read-only":
        case[3]["out"].flags.writeable = False


def _params(cases, exc):
    return [pytest.param(func, args, kwargs, exc, pattern, id=name) for name, func, args, kwargs, pattern in cases]


@pytest.mark.parametrize("func, args, kwargs, exc, pattern",
                         _params(TYPE_ERRORS, TypeError) + _params(VALUE_ERRORS, ValueError))
def test_bad_input_raises_and_writes_nothing(func, args, kwargs, exc, pattern):
    call, outs = _call(func, args, kwargs)
    with pytest.raises(exc, match=pattern):
        call()
    _assert_untouched(outs)


@pytest.mark.parametrize("func, args, kwargs, exc, pattern",
                         _params(TYPE_ERRORS, TypeError) + _params(VALUE_ERRORS, ValueError))
def test_bad_input_emits_no_warning(func, args, kwargs, exc, pattern):
    """Validation itself must not warn (a RuntimeWarning would become the error under -W error)."""
    call, _ = _call(func, args, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc, match=pattern):
            call()


def test_huge_thread_count_is_a_value_error():
    """set_num_threads documents TypeError and ValueError only, whatever the int."""
    with pytest.raises(ValueError, match="2147483648"):
        fi.set_num_threads(2**31)


def test_thread_count_unchanged_after_bad_value():
    fi.set_num_threads(2)
    with pytest.raises(ValueError):
        fi.set_num_threads(0)
    with pytest.raises(TypeError):
        fi.set_num_threads("3")
    assert fi.get_num_threads() == 2


# ---------------------------------------------------------------------------
# Boundaries that are valid
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    pytest.param(lambda: fi.uniform(3, -65504.0, 65504.0, dtype=np.float16, seed=1), id="float16-max"),
    pytest.param(lambda: fi.normal(3, float(ml_dtypes.finfo(BF16).max), 0.0, dtype="bfloat16", seed=1),
                 id="bfloat16-max"),
    pytest.param(lambda: fi.normal(3, 0.0, -0.0, seed=1), id="std-minus-zero"),
    pytest.param(lambda: fi.uniform(3, 1.5, 1.5, seed=1), id="low-equals-high"),
    pytest.param(lambda: fi.uniform(3, -1.7e38, 1.7e38, seed=1), id="scale-3.4e38"),
    pytest.param(lambda: fi.normal(3, 1e300, 1e300, dtype=np.float64, seed=1), id="float64-huge"),
    pytest.param(lambda: fi.normal(3, seed=0, stream=2**64 - 1), id="stream-max"),
    pytest.param(lambda: fi.normal(3, seed=2**64 - 1), id="seed-max"),
    pytest.param(lambda: fi.normal(3, seed=np.uint64(2**64 - 1), stream=np.int8(3)), id="numpy-ints"),
    pytest.param(lambda: fi.uniform(3, np.float16(-1), np.int64(2), seed=1), id="numpy-reals"),
    pytest.param(lambda: fi.uniform(np.int64(3), seed=1), id="numpy-int-shape"),
    pytest.param(lambda: fi.uniform((np.int32(2), 3), seed=1), id="numpy-int-dims"),
    pytest.param(lambda: fi.random_raw(4, seed=1, start=2**64 - 4), id="raw-last-words"),
    pytest.param(lambda: fi.random_raw(np.uint64(4), seed=1, start=np.uint64(8)), id="raw-numpy-ints"),
])
def test_valid_boundary_values_are_accepted(call):
    out = call()
    assert isinstance(out, np.ndarray) and out.size > 0
    if out.dtype.kind == "f":
        assert np.isfinite(out.astype(np.float64)).all()


@pytest.mark.parametrize("bad, shown", [(1.5, "float 1.5"), ("x", "str 'x'"), ([1], "list [1]"),
                                        (2 + 0j, "complex (2+0j)")])
def test_seed_message_shows_type_and_value(bad, shown):
    with pytest.raises(TypeError, match=re.escape(f"seed must be an integer; got {shown}")):
        fi.uniform(2, seed=bad)

"""fastinit.dask: lazily generated dask arrays, bit-identical to the in-memory arrays.

Chunk invariance is checked with dask's synchronous scheduler for every
scheme, and on a real ``LocalCluster`` (2 worker processes) for several
chunkings; a matrix goes to Zarr and back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from _util import require_module

# Every test here needs the extra: without it the module skips (see _util).
da = require_module("dask.array")
distributed = require_module("distributed")
zarr = require_module("zarr")

import dask  # noqa: E402

import fastinit as fi  # noqa: E402
import fastinit.dask as fid  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (name, positional arguments, whether it takes seed/stream, shape)
SCHEMES = [
    ("uniform", (-1.0, 2.0), True, (45, 38)),
    ("normal", (0.5, 2.0), True, (45, 38)),
    ("trunc_normal", (0.0, 1.0, -1.0, 1.5), True, (45, 38)),
    ("xavier_uniform", (1.5,), True, (45, 38)),
    ("xavier_normal", (), True, (12, 5, 3, 3)),
    ("kaiming_uniform", (5 ** 0.5,), True, (45, 38)),
    ("kaiming_normal", (0, "fan_out", "relu"), True, (12, 5, 3, 3)),
    ("lecun_uniform", (), True, (45, 38)),
    ("lecun_normal", (), True, (45, 38)),
    ("variance_scaling", (2.0, "fan_avg", "truncated_normal"), True, (45, 38)),
    ("sparse", (0.3, 0.1), True, (45, 38)),
    ("orthogonal", (2.0,), True, (45, 38)),
    ("constant", (0.25,), False, (45, 38)),
    ("zeros", (), False, (45, 38)),
    ("ones", (), False, (45, 38)),
    ("eye", (), False, (45, 38)),
    ("dirac", (2,), False, (12, 5, 3, 3)),
]
CHUNKINGS = {
    2: [7, (10, 38), ((40, 5), (1, 36, 1)), "auto", -1],
    4: [(5, 2, 1, 3), (12, 5, 3, 3), ((1, 11), (2, 3), (3,), (1, 1, 1)), "auto"],
}


def _bits(a):
    a = np.asarray(a)
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _in_memory(name, args, random, shape, **kwargs):
    extra = dict(seed=1234, stream="layer.weight") if random else {}
    return getattr(fi, name)(shape, *args, **extra, **kwargs)


def _lazy(name, args, random, shape, chunks, **kwargs):
    extra = dict(seed=1234, stream="layer.weight") if random else {}
    return getattr(fid, name)(shape, *args, chunks=chunks, **extra, **kwargs)


@pytest.mark.parametrize("name, args, random, shape", SCHEMES, ids=[s[0] for s in SCHEMES])
def test_every_chunking_equals_the_in_memory_array(name, args, random, shape):
    expected = _in_memory(name, args, random, shape)
    for chunks in CHUNKINGS[len(shape)]:
        lazy = _lazy(name, args, random, shape, chunks)
        assert isinstance(lazy, da.Array) and lazy.shape == shape and lazy.dtype == expected.dtype
        got = lazy.compute(scheduler="synchronous")
        assert np.array_equal(_bits(got), _bits(expected)), (name, chunks)


@pytest.mark.parametrize("dtype", [np.float16, np.float64, ml_dtypes.bfloat16, "bfloat16"])
def test_dtypes(dtype):
    lazy = fid.kaiming_normal((64, 48), chunks=(10, 13), dtype=dtype, seed=3)
    expected = fi.kaiming_normal((64, 48), dtype=dtype, seed=3)
    assert lazy.dtype == expected.dtype
    assert np.array_equal(_bits(lazy.compute(scheduler="synchronous")), _bits(expected))


def test_signatures_mirror_the_numpy_functions():
    import inspect
    for name, *_ in SCHEMES:
        ours = inspect.signature(getattr(fid, name)).parameters
        theirs = inspect.signature(getattr(fi, name)).parameters
        expected = [p for p in theirs if p not in ("out", "region")] + ["chunks"]
        assert sorted(ours) == sorted(expected), name
        doc = getattr(fid, name).__doc__
        assert "Parameters" in doc and "Returns" in doc and f"fastinit.{name}" in doc


def test_seed_none_is_drawn_once_for_all_blocks():
    lazy = fid.normal((100,), chunks=10)
    first, second = lazy.compute(scheduler="synchronous"), lazy.compute(scheduler="threads")
    assert np.array_equal(first, second)
    assert not np.array_equal(first, fid.normal((100,), chunks=10).compute())


def test_names_are_deterministic_and_distinct():
    a = fid.normal((10, 10), chunks=5, seed=1)
    assert a.name == fid.normal((10, 10), chunks=5, seed=1).name
    assert a.name != fid.normal((10, 10), chunks=5, seed=2).name
    assert a.name != fid.normal((10, 10), chunks=5, seed=1, stream=1).name
    assert a.name != fid.uniform((10, 10), chunks=5, seed=1).name


def test_block_slices_and_lazy_operations():
    lazy = fid.uniform((1000, 300), chunks=(128, 100), seed=5)
    expected = fi.uniform((1000, 300), seed=5)
    assert np.array_equal(lazy[130:700:3, 50:].compute(), expected[130:700:3, 50:])
    assert np.isclose(float(lazy.mean().compute()), float(expected.astype(np.float64).mean()))


def test_zero_dimensional_and_empty_arrays():
    assert np.array_equal(fid.normal((), seed=1).compute(), fi.normal((), seed=1))
    empty = fid.uniform((0, 5), chunks=2, seed=1)
    assert empty.compute().shape == (0, 5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: fid.normal((7,), chunks=((3, 3),)), ValueError, "add up"),
    (lambda: fid.normal((7, 4), chunks=((3, 4), (2, 1))), ValueError, "add up"),
    (lambda: fid.normal((7,), std=-1.0), ValueError, "std"),
    (lambda: fid.uniform((7,), 2.0, 1.0), ValueError, "low"),
    (lambda: fid.xavier_uniform((7,)), ValueError, "fewer than 2 dimensions"),
    (lambda: fid.kaiming_normal((7, 3), mode="fan_avg"), ValueError, "mode"),
    (lambda: fid.orthogonal((7,)), ValueError, "2 dimensions"),
    (lambda: fid.sparse((7, 3, 2), 0.5), ValueError, "2-D"),
    (lambda: fid.eye((7, 3, 2)), ValueError, "2-D"),
    (lambda: fid.dirac((7, 3), 1), ValueError, "3-, 4- or 5-D"),
    (lambda: fid.normal((7,), dtype=np.int32), TypeError, "dtype"),
    (lambda: fid.normal((7,), seed=-1), ValueError, "seed"),
    (lambda: fid.normal((7,), stream=1.5), TypeError, "stream"),
    (lambda: fid.normal((-7,)), ValueError, "shape"),
])
def test_bad_input_raises_when_the_array_is_built(call, error, match):
    with pytest.raises(error, match=match):
        call()


# Every wrapper with a bad input, called the same way eagerly and lazily: building
# the dask array must raise exactly what the NumPy function raises.  The first
# group used to build without error and fail only at ``.compute()``: the check is
# on a parameter the scheme derives from its arguments (std or bound against the
# dtype's range), which the eager path skipped for the empty region used to validate.
BUILD_TIME_ERRORS = [
    ("xavier_uniform", ((10, 10),), {"gain": 1e6, "dtype": "float16"}),
    ("xavier_normal", ((10, 10),), {"gain": 1e6, "dtype": "float16"}),
    ("glorot_uniform", ((3, 4, 5),), {"gain": 1e40, "dtype": "bfloat16"}),
    ("variance_scaling", ((10, 10),), {"scale": 1e308, "distribution": "uniform"}),
    ("variance_scaling", ((10, 10),), {"scale": 1e12, "distribution": "normal", "dtype": "float16"}),
    ("variance_scaling", ((10, 10),), {"scale": 1e12, "dtype": "float16"}),   # truncated_normal
    ("sparse", ((10, 10), 0.5), {"std": 1e6, "dtype": "float16"}),
    ("sparse", ((10, 10), 0.5), {"std": -1.0}),
    ("scaled_normal", ((10, 10),), {"n_layers": 2, "sigma": 1e6, "dtype": "float16"}),
    # These already raised at build time; kept so that every wrapper is covered.
    # (kaiming's and lecun's derived std is at most 5/3: no dtype can overflow.)
    ("uniform", ((7,), 2.0, 1.0), {}),
    ("normal", ((7,), 0.0, 1e6), {"dtype": "float16"}),
    ("trunc_normal", ((7,), 0.0, 1.0, 30.0, 40.0), {}),
    ("constant", ((7,), 1e300), {}),
    ("zeros", ((7,),), {"dtype": np.int32}),
    ("ones", ((7,),), {"dtype": "complex64"}),
    ("eye", ((7, 3, 2),), {}),
    ("dirac", ((4, 2, 3), 3), {}),
    ("kaiming_uniform", ((7, 3),), {"mode": "fan_avg"}),
    ("kaiming_normal", ((7, 3),), {"nonlinearity": "softmax"}),
    ("lecun_uniform", ((7,),), {}),
    ("lecun_normal", ((7, 3),), {"in_axis": 5}),
    ("orthogonal", ((10, 10), 1e6), {"dtype": "float16"}),
    ("small_init", ((7,),), {}),
    ("wang_init", ((7, 3),), {"n_layers": 0}),
]


def _error_of(call):
    try:
        call()
    except Exception as exc:            # noqa: BLE001 - the error itself is the result
        return type(exc), str(exc)
    return None


def test_build_time_errors_cover_every_wrapper():
    assert {case[0] for case in BUILD_TIME_ERRORS} >= set(fid.__all__) - {
        "he_uniform", "he_normal", "glorot_normal"}   # aliases of kaiming_* and xavier_normal


@pytest.mark.parametrize("name, args, kwargs", BUILD_TIME_ERRORS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BUILD_TIME_ERRORS)])
def test_build_raises_what_the_eager_function_raises(name, args, kwargs):
    seeded = {"seed": 1} if "seed" in getattr(fi, name).__code__.co_varnames else {}
    eager = _error_of(lambda: getattr(fi, name)(*args, **kwargs, **seeded))
    assert eager is not None, "not a bad input for the eager function"
    with pytest.raises(eager[0]) as caught:
        getattr(fid, name)(*args, **kwargs, **seeded)
    assert str(caught.value) == eager[1]


def test_eager_empty_region_checks_derived_parameters():
    """The eager path dask builds on: an empty region is validated like the full array."""
    with pytest.raises(ValueError, match="outside the finite range of float16"):
        fi.xavier_uniform((10, 10), gain=1e6, dtype="float16", seed=1, region=(slice(3, 3), slice(0, 10)))
    with pytest.raises(ValueError, match="std=1000000.0 is outside"):
        fi.sparse((10, 10), 0.5, std=1e6, dtype="float16", seed=1, region=(slice(0, 10), slice(4, 4)))
    # A good empty region is still an empty array, without a warning (the full array is not empty).
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fi.xavier_uniform((10, 10), seed=1, region=(slice(3, 3), slice(0, 10))).shape == (0, 10)
        assert fi.sparse((10, 10), 0.5, seed=1, region=(slice(0, 10), slice(4, 4))).shape == (10, 0)


# ----------------------------------------------------------------------------- real cluster


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                           worker_dashboard_address=None, silence_logs=40)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_local_cluster_chunk_invariance(cluster_client):
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    cases = [
        ("kaiming_normal", (0, "fan_in", "relu"), (1000, 600)),
        ("xavier_uniform", (), (1000, 600)),
        ("trunc_normal", (0.0, 0.02, -0.04, 0.04), (1000, 600)),
        ("sparse", (0.5, 0.01), (300, 200)),
        ("orthogonal", (), (300, 200)),
    ]
    for name, args, shape in cases:
        expected = _in_memory(name, args, True, shape)
        rows, cols = shape
        for chunks in [(100, cols), 128, ((rows - 1, 1), (1, cols - 2, 1)), "auto"]:
            got = cluster_client.compute(_lazy(name, args, True, shape, chunks)).result()
            assert np.array_equal(_bits(got), _bits(expected)), (name, chunks)
    # blocks really ran on both worker processes
    lazy = fid.normal((4000, 100), chunks=(100, 100), seed=1)
    futures = cluster_client.compute(lazy.to_delayed().ravel().tolist())
    distributed.wait(futures, timeout=120)
    workers = {address for holders in cluster_client.who_has(futures).values() for address in holders}
    assert len(workers) == 2


def test_local_cluster_to_zarr_and_back(cluster_client, tmp_path):
    lazy = fid.kaiming_uniform((1500, 700), 5 ** 0.5, chunks=(256, 175), seed=8, stream="w")
    path = str(tmp_path / "weights.zarr")
    lazy.to_zarr(path, compute=True)
    stored = zarr.open_array(path, mode="r")
    assert stored.shape == (1500, 700) and stored.chunks == (256, 175)
    expected = fi.kaiming_uniform((1500, 700), 5 ** 0.5, seed=8, stream="w")
    assert np.array_equal(_bits(stored[...]), _bits(expected))
    assert np.array_equal(_bits(da.from_zarr(path).compute()), _bits(expected))


def test_to_zarr_with_the_synchronous_scheduler(tmp_path):
    path = str(tmp_path / "w.zarr")
    with dask.config.set(scheduler="synchronous"):
        fid.xavier_normal((300, 200), chunks=(64, 50), seed=3).to_zarr(path)
    assert np.array_equal(zarr.open_array(path, mode="r")[...], fi.xavier_normal((300, 200), seed=3))


@pytest.mark.slow
def test_dask_to_zarr_example(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(fi.__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dask_to_zarr.py"), "--rows", "3000", "--cols", "1000",
         "--chunk", "512", "--workers", "2", "--path", str(tmp_path / "m.zarr")],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "blocks checked: all equal" in result.stdout

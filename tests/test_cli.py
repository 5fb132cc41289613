"""The ``fastinit`` command line, run as the installed console script.

Every command runs in a subprocess (the ``fastinit`` script next to the
interpreter, else the one on PATH, else ``python -m fastinit``), so these
tests see exactly what a user sees: exit status, stdout, stderr and the
files left in the directory.  Files are compared with the Python API bit
for bit.  The multi-GiB and interrupted writes are in test_cli_outofcore.py.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import pty
import re
import resource
import subprocess
import sys

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli
from fastinit.cli import chunked
from fastinit.cli.chunked import CHUNK_BYTES, contiguous_blocks, region_extents
from fastinit.cli.schemes import parse_shape, scheme_table
from fastinit._validate import as_dtype
from _util import fastinit_command, require_module

DTYPES = ("float32", "float64", "float16", "bfloat16")


def run_cli(*args, cwd=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(fastinit_command() + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def assert_ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def assert_one_line_error(result, status, *fragments):
    """Exit status ``status``, exactly one stderr line ``fastinit: error: ...`` holding ``fragments``."""
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fastinit: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def bits(array) -> np.ndarray:
    array = np.ascontiguousarray(array)
    return array.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[array.dtype.itemsize])


def assert_bitwise_equal(got, want):
    assert got.shape == want.shape
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(bits(got), bits(want))


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# Round trips against the Python API
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_npy_file_is_what_np_save_writes_for_the_api_array(tmp_path, dtype):
    target = tmp_path / "w.npy"
    result = assert_ok(run_cli("init", "he_normal", "257x96", "--dtype", dtype, "--seed", 7, "-o", target))
    want = fi.he_normal((257, 96), dtype=dtype, seed=7)
    assert target.read_bytes() == npy_bytes(want)          # header and data, byte for byte
    loaded = np.load(target, mmap_mode="r")
    if dtype == "bfloat16":                                # .npy has no bfloat16: stored as |V2
        loaded = loaded.view(as_dtype("bfloat16"))
    assert_bitwise_equal(np.asarray(loaded), want)
    assert os.listdir(tmp_path) == ["w.npy"]               # no temporary file left behind
    summary = result.stdout.strip()
    assert len(summary.splitlines()) == 1
    for fragment in (str(target), "257x96", dtype, f"{target.stat().st_size:,} bytes", " s: ",
                     "G samples/s end to end", "G samples/s generating"):
        assert fragment in summary


@pytest.mark.parametrize("dtype", DTYPES)
def test_safetensors_file_loads_with_the_safetensors_library(tmp_path, dtype):
    safetensors_numpy = require_module("safetensors.numpy")
    target = tmp_path / "emb.safetensors"
    assert_ok(run_cli("init", "trunc_normal", "300,40", "--param", "std=0.02", "--param", "a=-0.04",
                      "--param", "b=0.04", "--dtype", dtype, "--seed", 11, "--stream", "embed",
                      "--name", "embed.weight", "-o", target, "--quiet"))
    tensors = safetensors_numpy.load_file(str(target))
    assert list(tensors) == ["embed.weight"]
    want = fi.trunc_normal((300, 40), std=0.02, a=-0.04, b=0.04, dtype=dtype, seed=11, stream="embed")
    assert_bitwise_equal(tensors["embed.weight"], want)

    header_length = int.from_bytes(target.read_bytes()[:8], "little")
    header = json.loads(target.read_bytes()[8:8 + header_length])
    assert header["embed.weight"]["dtype"] == {"float32": "F32", "float64": "F64", "float16": "F16",
                                               "bfloat16": "BF16"}[dtype]
    assert header["embed.weight"]["shape"] == [300, 40]
    assert header["embed.weight"]["data_offsets"] == [0, want.nbytes]
    assert (8 + header_length) % 8 == 0


def test_safetensors_default_name_and_integer_stream(tmp_path):
    safetensors_numpy = require_module("safetensors.numpy")
    target = tmp_path / "w.safetensors"
    assert_ok(run_cli("init", "uniform", "64x8", "--param", "low=-1", "--param", "high=1",
                      "--stream", "0x1F", "-o", target))
    tensors = safetensors_numpy.load_file(str(target))
    assert_bitwise_equal(tensors["weight"], fi.uniform((64, 8), -1.0, 1.0, seed=0, stream=31))


@pytest.mark.parametrize("scheme, shape, options, call", [
    ("normal", (50, 30), ["--param", "mean=0.5", "--param", "std=2"],
     lambda s: fi.normal(s, 0.5, 2.0, seed=3)),
    ("kaiming_uniform", (64, 32, 3), ["--param", "a=0.2", "--param", "mode=fan_out",
                                      "--param", "nonlinearity=leaky_relu"],
     lambda s: fi.kaiming_uniform(s, a=0.2, mode="fan_out", nonlinearity="leaky_relu", seed=3)),
    ("variance_scaling", (3, 3, 16, 8), ["--param", "scale=2", "--param", "mode=fan_avg",
                                         "--param", "distribution=uniform", "--param", "in_axis=-2",
                                         "--param", "out_axis=-1"],
     lambda s: fi.variance_scaling(s, 2.0, "fan_avg", "uniform", in_axis=-2, out_axis=-1, seed=3)),
    ("lecun_normal", (40, 20), [], lambda s: fi.lecun_normal(s, seed=3)),
    ("glorot_uniform", (40, 20), ["--param", "gain=1.5"], lambda s: fi.glorot_uniform(s, 1.5, seed=3)),
    ("orthogonal", (24, 40), ["--param", "gain=2"], lambda s: fi.orthogonal(s, 2.0, seed=3)),
    ("sparse", (30, 20), ["--param", "sparsity=0.3", "--param", "std=0.1"],
     lambda s: fi.sparse(s, sparsity=0.3, std=0.1, seed=3)),
    ("constant", (7, 5), ["--param", "value=0.25"], lambda s: fi.constant(s, 0.25)),
    ("eye", (6, 9), [], lambda s: fi.eye(s)),
    ("dirac", (4, 2, 3, 3), ["--param", "groups=2"], lambda s: fi.dirac(s, groups=2)),
    ("ones", (1000,), [], lambda s: fi.ones(s)),
])
def test_every_kind_of_scheme_equals_the_api(tmp_path, scheme, shape, options, call):
    target = tmp_path / "w.npy"
    assert_ok(run_cli("init", scheme, "x".join(map(str, shape)), "--seed", 3, "-o", target, "-q",
                      *options))
    assert_bitwise_equal(np.load(target), call(shape))


def test_file_larger_than_one_block_is_written_in_order(tmp_path):
    """17M float32 elements (68 MB) in one dimension: two 64 MiB blocks, the second partial."""
    n = 17_000_000
    target = tmp_path / "long.npy"
    assert_ok(run_cli("init", "normal", n, "--param", "std=0.5", "--seed", 5, "--stream", 9,
                      "-o", target, "-q"))
    loaded = np.load(target, mmap_mode="r")
    boundary = CHUNK_BYTES // 4
    for start in (0, boundary - 3, n - 50):
        want = fi.normal((n,), std=0.5, seed=5, stream=9, region=(slice(start, start + 50),))
        assert_bitwise_equal(np.asarray(loaded[start:start + 50]), want)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_spec_file_writes_every_tensor_on_its_named_stream(tmp_path, suffix):
    safetensors_numpy = require_module("safetensors.numpy")
    tensors = {
        "embed.weight": {"scheme": "normal", "shape": [200, 32], "dtype": "bfloat16",
                         "params": {"std": 0.02}},
        "layers.0.weight": {"scheme": "he_uniform", "shape": "32x64"},
        "layers.0.q": {"scheme": "orthogonal", "shape": [16, 16], "dtype": "float64", "stream": 5},
        "head.weight": {"scheme": "xavier_normal", "shape": "10,32", "dtype": "float16",
                        "stream": "custom-head", "params": {"gain": 0.5}},
        "sparse.weight": {"scheme": "sparse", "shape": [20, 12], "params": {"sparsity": 0.25}},
    }
    spec = tmp_path / f"model{suffix}"
    if suffix == ".json":
        spec.write_text(json.dumps({"seed": 42, "tensors": tensors}))
    else:
        lines = ["seed = 42"]
        for name, entry in tensors.items():
            lines.append(f'[tensors."{name}"]')
            for key, value in entry.items():
                if key == "params":
                    value = "{ " + ", ".join(f"{k} = {v}" for k, v in value.items()) + " }"
                else:
                    value = json.dumps(value)
                lines.append(f"{key} = {value}")
        spec.write_text("\n".join(lines) + "\n")
    target = tmp_path / "model.safetensors"
    result = assert_ok(run_cli("init", "--spec", spec, "-o", target))
    assert "5 tensors" in result.stdout

    loaded = safetensors_numpy.load_file(str(target))
    want = {
        "embed.weight": fi.normal((200, 32), std=0.02, dtype="bfloat16", seed=42, stream="embed.weight"),
        "layers.0.weight": fi.he_uniform((32, 64), seed=42, stream="layers.0.weight"),
        "layers.0.q": fi.orthogonal((16, 16), dtype="float64", seed=42, stream=5),
        "head.weight": fi.xavier_normal((10, 32), gain=0.5, dtype="float16", seed=42, stream="custom-head"),
        "sparse.weight": fi.sparse((20, 12), sparsity=0.25, seed=42, stream="sparse.weight"),
    }
    assert sorted(loaded) == sorted(want)
    for name, array in want.items():
        assert_bitwise_equal(loaded[name], array)
    assert sorted(os.listdir(tmp_path)) == sorted([spec.name, target.name])


def test_spec_seed_and_dtype_from_the_command_line(tmp_path):
    safetensors_numpy = require_module("safetensors.numpy")
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"a": {"scheme": "uniform", "shape": [8, 8]},
                                "b": {"scheme": "normal", "shape": [4, 4], "dtype": "float16"}}))
    target = tmp_path / "s.safetensors"
    assert_ok(run_cli("init", "--spec", spec, "-o", target, "--seed", 9, "--dtype", "float64", "-q"))
    loaded = safetensors_numpy.load_file(str(target))
    assert_bitwise_equal(loaded["a"], fi.uniform((8, 8), dtype="float64", seed=9, stream="a"))
    assert_bitwise_equal(loaded["b"], fi.normal((4, 4), dtype="float16", seed=9, stream="b"))


# ---------------------------------------------------------------------------
# Overwriting
# ---------------------------------------------------------------------------

def test_existing_target_is_kept_without_force_and_replaced_with_it(tmp_path):
    target = tmp_path / "w.npy"
    assert_ok(run_cli("init", "normal", "10x10", "--seed", 1, "-o", target, "-q"))
    first = target.read_bytes()
    result = run_cli("init", "normal", "10x10", "--seed", 2, "-o", target)
    assert_one_line_error(result, 1, "already exists", "--force")
    assert target.read_bytes() == first
    assert os.listdir(tmp_path) == ["w.npy"]

    assert_ok(run_cli("init", "normal", "10x10", "--seed", 2, "-o", target, "--force", "-q"))
    assert target.read_bytes() == npy_bytes(fi.normal((10, 10), seed=2))
    assert os.listdir(tmp_path) == ["w.npy"]


# ---------------------------------------------------------------------------
# Bad input: one line, the right status, nothing left behind
# ---------------------------------------------------------------------------

BAD_INPUT = [
    (["init", "gaussian", "10x10", "-o", "w.npy"], 2, ["unknown scheme 'gaussian'", "he_normal", "trunc_normal"]),
    (["init", "normal", "10xx10", "-o", "w.npy"], 2, ["malformed shape '10xx10'", "100000x1024"]),
    (["init", "normal", "10x-1", "-o", "w.npy"], 2, ["malformed shape '10x-1'", "non-negative"]),
    (["init", "normal", "10x" + "1" * 30, "-o", "w.npy"], 2, ["more than 20 digits"]),
    (["init", "normal", "10x10", "--dtype", "int8", "-o", "w.npy"], 2, ["int8", "float32", "bfloat16"]),
    (["init", "normal", "10x10", "--param", "sdt=1", "-o", "w.npy"], 2, ["unknown parameter 'sdt'", "mean, std"]),
    (["init", "normal", "10x10", "--param", "std", "-o", "w.npy"], 2, ["NAME=VALUE"]),
    (["init", "normal", "10x10", "--param", "std=abc", "-o", "w.npy"], 2, ["expects a number", "'abc'"]),
    (["init", "normal", "10x10", "--param", "std=-1", "-o", "w.npy"], 2, ["std must be >= 0"]),
    (["init", "he_normal", "10x10", "--param", "mode=fan_x", "-o", "w.npy"], 2, ["'fan_in', 'fan_out'", "fan_x"]),
    (["init", "normal", "10x10", "--param", "seed=3", "-o", "w.npy"], 2, ["--seed"]),
    (["init", "normal", "10x10", "--seed", "abc", "-o", "w.npy"], 2, ["--seed must be an integer"]),
    (["init", "sparse", "10x10", "-o", "w.npy"], 2, ["sparsity is required"]),
    (["init", "orthogonal", "5000x5000", "-o", "w.npy"], 2, ["whole matrix", "16,777,216"]),
    (["init", "normal", "10x10", "-o", "w.bin"], 2, [".npy or .safetensors"]),
    (["init", "normal", "-o", "w.npy"], 2, ["SCHEME and SHAPE"]),
    (["init", "normal", "10x10", "-o", "w.npy", "--threads", "0"], 2, ["--threads"]),
    (["frobnicate"], 2, ["invalid choice", "init", "bench", "inspect", "info"]),
    (["init", "normal", "10x10", "-o", "missing/w.npy"], 1, ["directory", "does not exist"]),
    (["init", "normal", "10x10", "-o", "afile/w.npy"], 1, ["is not a directory"]),
    (["init", "normal", "100000000x100000000", "-o", "w.npy"], 1, ["not enough free space"]),
    (["init", "--spec", "nothere.json", "-o", "w.safetensors"], 1, ["cannot read spec", "No such file"]),
    (["inspect", "nothere.npy"], 1, ["cannot read", "No such file"]),
    (["bench", "--schemes", "gauss"], 2, ["uniform", "normal", "trunc_normal"]),
]


@pytest.mark.parametrize("args, status, fragments", BAD_INPUT, ids=[" ".join(a[:4]) for a, _, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, args, status, fragments):
    (tmp_path / "afile").write_text("not a directory")
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, status, *fragments)
    assert result.stdout == ""
    assert os.listdir(tmp_path) == ["afile"]


@pytest.mark.parametrize("spec, fragments", [
    ({"w": {"scheme": "normal", "shape": [4, 4], "colour": "red"}}, ["unknown key 'colour'", "scheme, shape"]),
    ({"w": {"scheme": "normal"}}, ["missing 'shape'"]),
    ({"w": {"scheme": "nope", "shape": [4, 4]}}, ["tensor 'w'", "unknown scheme 'nope'"]),
    ({"w": {"scheme": "normal", "shape": [4, 4], "params": {"std": -1}}}, ["tensor 'w'", "std must be >= 0"]),
    ({"w": {"scheme": "normal", "shape": [4, 4], "dtype": "int8"}}, ["unsupported dtype 'int8'"]),
    ({"tensors": {"w": {"scheme": "normal", "shape": [4, 4]}}, "sed": 1}, ["unknown top-level key 'sed'"]),
])
def test_bad_spec_is_one_line_and_leaves_nothing(tmp_path, spec, fragments):
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = run_cli("init", "--spec", "spec.json", "-o", "out.safetensors", cwd=tmp_path)
    assert_one_line_error(result, 2, *fragments)
    assert os.listdir(tmp_path) == ["spec.json"]


def test_spec_needs_a_safetensors_output_and_no_scheme(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"w": {"scheme": "normal", "shape": [4, 4]}}))
    assert_one_line_error(run_cli("init", "--spec", "spec.json", "-o", "w.npy", cwd=tmp_path), 2,
                          ".safetensors")
    assert_one_line_error(run_cli("init", "normal", "--spec", "spec.json", "-o", "w.safetensors",
                                  cwd=tmp_path), 2, "SCHEME", "--spec")
    assert os.listdir(tmp_path) == ["spec.json"]


def test_invalid_toml_spec(tmp_path):
    (tmp_path / "spec.toml").write_text("[tensors.w\nscheme = ")
    result = run_cli("init", "--spec", "spec.toml", "-o", "w.safetensors", cwd=tmp_path)
    assert_one_line_error(result, 2, "not valid TOML")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_cli("init", "normal", "10x10", "-o", locked / "w.npy")
        assert_one_line_error(result, 1, "not writable")
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)


def test_directory_where_no_file_can_be_created():
    result = run_cli("init", "normal", "10x10", "-o", "/proc/fastinit-cli-test.npy")
    assert_one_line_error(result, 1, "/proc")


def _limit_file_size():
    limit = 1 << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_write_error_midway_removes_the_temporary_file(tmp_path):
    """A 1 MiB file-size limit makes the write fail (EFBIG) after the first MiB, like a full disk."""
    result = run_cli("init", "normal", "1000x1000", "-o", "w.npy", cwd=tmp_path, preexec_fn=_limit_file_size)
    assert_one_line_error(result, 1, "writing", "w.npy", "failed", "nothing was written")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# Output conventions: summary line, --quiet, progress bar only on a TTY
# ---------------------------------------------------------------------------

def test_quiet_prints_nothing_and_no_progress_without_a_tty(tmp_path):
    result = assert_ok(run_cli("init", "xavier_uniform", "100x100", "-o", tmp_path / "w.npy", "--quiet"))
    assert result.stdout == "" and result.stderr == ""
    result = assert_ok(run_cli("init", "xavier_uniform", "100x100", "-o", tmp_path / "v.npy"))
    assert result.stderr == ""                              # stderr is a pipe: no progress bar


def test_progress_bar_on_a_tty(tmp_path):
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(fastinit_command() + ["init", "normal", "2000x1000", "-o",
                                                         str(tmp_path / "w.npy")],
                                   stdout=subprocess.PIPE, stderr=terminal, text=True)
        os.close(terminal)
        terminal = None
        output = b""
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:                                 # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
        stdout, _ = process.communicate(timeout=60)
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert process.returncode == 0
    text = output.decode()
    assert "100.0%" in text and "ETA" in text and "/s" in text and "7.6 MiB" in text
    assert "wrote" in stdout and "wrote" not in text


def test_python_dash_m_runs_the_same_cli(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fastinit", "init", "normal", "4x4", "-o",
                             str(tmp_path / "w.npy"), "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert_bitwise_equal(np.load(tmp_path / "w.npy"), fi.normal((4, 4), seed=0))
    result = subprocess.run([sys.executable, "-m", "fastinit", "init", "nope", "4x4", "-o", "x.npy"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert_one_line_error(result, 2, "unknown scheme")


def test_init_help_lists_every_scheme_with_its_parameters():
    result = assert_ok(run_cli("init", "--help"))
    for name in scheme_table():
        assert f"  {name}(" in result.stdout
    assert "he_normal(a=0, mode='fan_in', nonlinearity='leaky_relu'" in result.stdout
    assert "default 0" in result.stdout                     # the seed is reproducible by default


# ---------------------------------------------------------------------------
# info, bench, inspect
# ---------------------------------------------------------------------------

def test_info_prints_the_stream_version():
    result = assert_ok(run_cli("info"))
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    lines = {key.strip(): value.strip() for key, value in lines.items()}
    assert lines["stream_version"] == str(fi.STREAM_VERSION)
    assert lines["version"] == fi.__version__
    assert lines["simd"] in fi.build_info()["simd_available"]
    assert "openmp" in lines and "num_threads" in lines


def test_bench_json_rows_and_plot(tmp_path):
    require_module("matplotlib")
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    result = assert_ok(run_cli("bench", "--size-mib", 1, "--repeat", 2, "--threads", 2,
                               "--dtype", "float32", "bfloat16", "--json", out, "--plot", png, timeout=300))
    rows = json.loads(out.read_text())
    has_torch = importlib.util.find_spec("torch") is not None
    schemes = ("uniform", "normal", "trunc_normal")
    expected = set()
    for dtype in ("float32", "bfloat16"):
        expected |= {("memset", "memset", dtype)} | {("fastinit", s, dtype) for s in schemes}
        if has_torch:
            expected |= {("torch", s, dtype) for s in schemes}
    expected |= {("numpy", "uniform", "float32"), ("numpy", "normal", "float32")}   # no numpy bfloat16
    assert {(r["library"], r["scheme"], r["dtype"]) for r in rows} == expected
    assert len(rows) == len(expected)
    for r in rows:
        itemsize = 4 if r["dtype"] == "float32" else 2
        assert r["bytes"] == r["elements"] * itemsize == 1 << 20
        assert len(r["times_s"]) == 2 and r["median_s"] > 0
        assert math.isclose(r["gsamples_per_s"], r["elements"] / r["median_s"] / 1e9)
        assert math.isclose(r["gb_per_s"], r["bytes"] / r["median_s"] / 1e9)
        if r["library"] == "fastinit":
            assert (r["speedup_vs_torch"] is None) == (not has_torch)
        elif r["library"] != "memset":
            assert r["rate_vs_fastinit"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "G samples/s" in result.stdout and "speed-up" in result.stdout


def test_inspect_prints_statistics_and_the_scheme_std(tmp_path):
    target = tmp_path / "w.npy"
    assert_ok(run_cli("init", "he_normal", "512x256", "-o", target, "-q"))
    result = assert_ok(run_cli("inspect", target, "--scheme", "he_normal"))
    text = result.stdout
    values = fi.he_normal((512, 256), seed=0).astype(np.float64)
    fields = {key: re.search(rf"^  {key} +(\S+)", text, re.MULTILINE).group(1)
              for key in ("shape", "dtype", "mean", "std", "min", "max")}
    assert fields["shape"] == "512x256" and fields["dtype"] == "float32"
    assert math.isclose(float(fields["std"]), values.std(), rel_tol=1e-5)
    assert math.isclose(float(fields["mean"]), values.mean(), rel_tol=1e-4, abs_tol=1e-9)
    assert math.isclose(float(fields["min"]), values.min(), rel_tol=1e-5)
    assert math.isclose(float(fields["max"]), values.max(), rel_tol=1e-5)
    expected = math.sqrt(2 / 256)                            # he_normal: sqrt(2 / fan_in)
    assert f"{expected:.6g}" in text
    assert "he_normal gives std" in text and "closest" in text
    assert f"{math.sqrt(2 / (256 + 512)):.6g}" in text        # xavier_normal
    assert f"{math.sqrt(1 / 256):.6g}" in text                # lecun_normal
    assert "histogram" in text and "#" in text


def test_inspect_safetensors_tensor_and_plot(tmp_path):
    require_module("matplotlib")
    target, png = tmp_path / "m.safetensors", tmp_path / "hist.png"
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"a": {"scheme": "normal", "shape": [300, 200], "dtype": "bfloat16",
                                      "params": {"std": 0.5}},
                                "b": {"scheme": "zeros", "shape": [3, 3]}}))
    assert_ok(run_cli("init", "--spec", spec, "-o", target, "-q"))
    result = assert_ok(run_cli("inspect", target, "--name", "a", "--plot", png,
                               "--scheme", "normal", "--param", "std=0.5"))
    want = fi.normal((300, 200), std=0.5, dtype="bfloat16", seed=0, stream="a").astype(np.float64)
    assert "[a]" in result.stdout and "bfloat16" in result.stdout and "[b]" not in result.stdout
    assert f"{want.std():.6g}" in result.stdout
    assert "normal(std=0.5) gives std 0.5" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    both = assert_ok(run_cli("inspect", target))
    assert "[a]" in both.stdout and "[b]" in both.stdout
    assert_one_line_error(run_cli("inspect", target, "--name", "c"), 1, "no tensor 'c'", "a, b")


def test_inspect_bfloat16_npy(tmp_path):
    target = tmp_path / "w.npy"
    assert_ok(run_cli("init", "uniform", "100x10", "--dtype", "bfloat16", "-o", target, "-q"))
    result = assert_ok(run_cli("inspect", target))
    assert "bfloat16" in result.stdout and "|V2" in result.stdout


def test_inspect_rejects_other_files(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"hello world, not an array")
    assert_one_line_error(run_cli("inspect", tmp_path / "x.npy"), 1, "neither")


# ---------------------------------------------------------------------------
# In-process checks of the building blocks
# ---------------------------------------------------------------------------

def test_scheme_table_is_read_from_the_api():
    table = scheme_table()
    for name in ("normal", "uniform", "trunc_normal", "constant", "he_normal", "kaiming_uniform",
                 "xavier_normal", "glorot_uniform", "lecun_normal", "variance_scaling",
                 "orthogonal", "sparse", "eye", "dirac", "zeros", "ones"):
        assert table[name].function is getattr(fi, name)
    for name in ("random_raw", "compute_fans", "calculate_gain", "init_for", "scheme_for", "build_info"):
        assert name not in table
    assert [p.name for p in table["normal"].parameters] == ["mean", "std"]
    assert table["normal"].random and not table["eye"].random


@pytest.mark.parametrize("text, shape", [("100000x1024", (100000, 1024)), ("100000,1024", (100000, 1024)),
                                         ("7", (7,)), ("2 x 3 x 4", (2, 3, 4)), ("(5, 6)", (5, 6)),
                                         ("5,", (5,)), ("3X4", (3, 4))])
def test_shape_syntax(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("shape, limit", [((10, 7), 20), ((10, 7), 7), ((10, 7), 6), ((3, 4, 5), 7),
                                          ((3, 4, 5), 1), ((3, 4, 5), 1000), ((17,), 5), ((2, 1, 9), 4)])
def test_blocks_cover_the_array_once_in_file_order(shape, limit):
    seen = []
    flat = np.arange(math.prod(shape)).reshape(shape)
    for region in contiguous_blocks(shape, limit):
        block = flat[region]
        assert block.size <= limit
        assert block.shape == region_extents(shape, region)
        seen.extend(block.ravel().tolist())
    assert seen == list(range(math.prod(shape)))


@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_small_blocks_write_the_same_file(tmp_path, monkeypatch, capsys, background, dtype):
    """Blocks of 1000 bytes force row splits inside a 3-D array, with and without the writer thread."""
    monkeypatch.setattr(chunked, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(chunked, "background_writes_pay_off", lambda: background)
    target = tmp_path / "w.npy"
    assert cli.main(["init", "kaiming_normal", "6x5x70", "--dtype", dtype, "--seed", "4", "-o",
                     str(target), "-q"]) == 0
    assert target.read_bytes() == npy_bytes(fi.kaiming_normal((6, 5, 70), dtype=dtype, seed=4))

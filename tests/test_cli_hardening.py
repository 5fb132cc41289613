"""The ``fastinit`` command line on hostile or unusual input (issue #11, items 7-11).

Like test_cli.py, every command runs in a subprocess and is judged by what a
user sees: the exit status, exactly one ``fastinit: error: ...`` line on
stderr (never a traceback, never "internal error"), and the files left
behind.  The signal tests run the console script exactly as pip writes it
for the entry point in pyproject.toml; the stale-file tests kill a real
writer with SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli
from fastinit._config import max_threads
from fastinit._validate import as_dtype
from fastinit.cli.atomic import TEMP_SUFFIX, host_tag, remove_stale_parts
from _util import require_module
from test_cli import assert_bitwise_equal, assert_ok, assert_one_line_error, npy_bytes, run_cli

REPO = Path(__file__).resolve().parent.parent
HUGE = "9" * 400                          # an integer no float64 can hold
LINUX = sys.platform.startswith("linux")


@pytest.fixture
def main_in(capsys, monkeypatch):
    """``fastinit ARGS`` in this process (``fastinit.cli.main``), in a directory: the status and
    output a subprocess would give, without its ~0.4 s of imports.  The subprocess tests
    below cover what only a real process shows (argv bytes, the locale, signals, kill -9)."""
    def run(cwd, *args):
        monkeypatch.chdir(cwd)
        status = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)
    return run


def assert_short_error(result, status, *fragments):
    """One error line that holds ``fragments`` and not a 400-digit literal."""
    line = assert_one_line_error(result, status, *fragments)
    assert "internal error" not in line
    assert HUGE[:60] not in line, line
    return line


# ---------------------------------------------------------------------------
# 7. Numbers too large for a float
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["normal", "-p", f"std={HUGE}"], ["parameter std of normal", "float64", "1.8e308", "(400 characters)"]),
    (["normal", "-p", f"std=-{HUGE}0"], ["parameter std of normal", "(402 characters)"]),
    (["normal", "-p", "std=" + "9" * 5000], ["parameter std of normal", "(5,000 characters)"]),
    (["normal", "-p", "std=1e400"], ["parameter std of normal", "'1e400'", "too large"]),
    (["he_normal", "-p", f"a={HUGE}"], ["parameter a of he_normal", "float64"]),
    (["sparse", "-p", f"sparsity={HUGE}"], ["parameter sparsity of sparse", "float64"]),
    (["normal", "--seed", HUGE], ["--seed", "[0, 2**64)", "(400 characters)"]),
    (["normal", "--stream", HUGE], ["--stream", "[0, 2**64)"]),
], ids=["std", "negative-std", "5000-digits", "1e400", "he-a", "sparsity", "seed", "stream"])
def test_number_too_large_for_a_float_is_a_usage_error(tmp_path, main_in, args, fragments):
    result = main_in(tmp_path, "init", args[0], "10x10", *args[1:], "-o", "w.npy")
    assert_short_error(result, 2, *fragments)
    assert os.listdir(tmp_path) == []


def test_spec_number_too_large_for_a_float(tmp_path, main_in):
    (tmp_path / "p.json").write_text('{"w": {"scheme": "normal", "shape": [2, 2], '
                                     f'"params": {{"std": {HUGE}}}}}}}')
    (tmp_path / "s.json").write_text(f'{{"seed": {HUGE}, "tensors": {{"w": {{"scheme": "normal", '
                                     '"shape": [2, 2]}}}')
    assert_short_error(main_in(tmp_path, "init", "--spec", "p.json", "-o", "w.safetensors"), 2,
                       "p.json", "tensor 'w'", "parameter std of normal", "float64")
    assert_short_error(main_in(tmp_path, "init", "--spec", "s.json", "-o", "w.safetensors"), 2,
                       "s.json", "seed must be in [0, 2**64)")
    assert sorted(os.listdir(tmp_path)) == ["p.json", "s.json"]


# ---------------------------------------------------------------------------
# 8. Spec files, bench sizes, damaged weight files
# ---------------------------------------------------------------------------

DUPLICATE_SPEC = '{"w": {"scheme": "normal", "shape": [2, 2]}, "w": {"scheme": "normal", "shape": [3, 3]}}'


@pytest.mark.parametrize("text, key", [
    (DUPLICATE_SPEC, "'w'"),
    ('{"tensors": {"a": {"scheme": "normal", "shape": [2, 2]}, "a": {"scheme": "ones", "shape": [1]}}}',
     "'a'"),
    ('{"w": {"scheme": "normal", "shape": [2, 2], "params": {"std": 1, "std": 2}}}', "'std'"),
    ('{"seed": 1, "seed": 2, "tensors": {"w": {"scheme": "normal", "shape": [2, 2]}}}', "'seed'"),
], ids=["top", "tensors", "params", "seed"])
def test_duplicate_key_in_a_json_spec_is_an_error(tmp_path, main_in, text, key):
    (tmp_path / "spec.json").write_text(text)
    result = main_in(tmp_path, "init", "--spec", "spec.json", "-o", "w.safetensors")
    assert_short_error(result, 2, "spec 'spec.json'", key, "twice")
    assert os.listdir(tmp_path) == ["spec.json"]


@pytest.mark.parametrize("name, text", [
    ("deep.json", "[" * 100_000 + "]" * 100_000),                       # RecursionError in json
    ("params.json", '{"w": {"scheme": "normal", "shape": [2, 2], "params": {"std": '
                    + "[" * 500 + "]" * 500 + "}}}"),                    # parses, too deep to use
    ("deep.toml", "x = " + "[" * 100_000 + "]" * 100_000),               # RecursionError in tomllib
])
def test_deeply_nested_spec_is_an_error(tmp_path, main_in, name, text):
    (tmp_path / name).write_text(text)
    result = main_in(tmp_path, "init", "--spec", name, "-o", "w.safetensors")
    assert_short_error(result, 2, f"spec {name!r}", "nested too deeply")
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("value, fragments", [
    ("nan", ["--size-mib", "finite", "got nan"]),
    ("inf", ["--size-mib", "finite", "got inf"]),
    ("0", ["--size-mib", "> 0", "got 0"]),
    ("-1", ["--size-mib", "> 0", "got -1"]),
    ("1e300", ["--size-mib", "memory"]),
])
def test_bench_size_must_be_finite_and_positive(tmp_path, main_in, value, fragments):
    result = main_in(tmp_path, "bench", "--size-mib", value)
    assert_short_error(result, 2, *fragments)
    assert result.stdout == ""


def _safetensors_bytes(header, data: bytes = b"\0" * 32) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _npy_bytes(header: str, data: bytes = b"") -> bytes:
    text = header.encode("latin1").ljust(117) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


F32 = {"dtype": "F32"}
DAMAGED_FILES = {
    "garbage-header.npy": (b"\x93NUMPY\x01\x00\x10\x00garbage garbage\n", ["not a valid .npy", "header"]),
    "short-header.npy": (b"\x93NUMPY\x01\x00\xff", ["not a valid .npy"]),
    "version.npy": (b"\x93NUMPY\x09\x00" + b"\0" * 64, ["not a valid .npy", "version 9.0"]),
    "negative.npy": (_npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }"),
                     ["not a valid .npy", "(-3, 4)", "non-negative"]),
    "truncated.npy": (_npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (300, 4), }",
                                 b"\0" * 100), ["not a valid .npy", "4,928", "truncated"]),
    "negative-shape.safetensors": (_safetensors_bytes({"w": {**F32, "shape": [-1, 4], "data_offsets": [0, -16]}}),
                                   ["not a valid .safetensors", "tensor 'w'", "[-1, 4]", "non-negative"]),
    "negative-offset.safetensors": (_safetensors_bytes({"w": {**F32, "shape": [1, 4], "data_offsets": [-16, 0]}}),
                                    ["not a valid .safetensors", "data_offsets [-16, 0]"]),
    "past-eof.safetensors": (_safetensors_bytes({"w": {**F32, "shape": [100, 4], "data_offsets": [0, 1600]}}),
                             ["not a valid .safetensors", "tensor 'w'", "truncated"]),
    "overlap.safetensors": (_safetensors_bytes({"a": {**F32, "shape": [4], "data_offsets": [0, 16]},
                                                "b": {**F32, "shape": [4], "data_offsets": [8, 24]}}),
                            ["not a valid .safetensors", "'a' and 'b' overlap"]),
    "offsets-mismatch.safetensors": (_safetensors_bytes({"w": {**F32, "shape": [2], "data_offsets": [0, 16]}}),
                                     ["not a valid .safetensors", "do not hold its shape"]),
    "not-an-object.safetensors": (_safetensors_bytes([1, 2]), ["not a valid .safetensors", "not a JSON object"]),
    "entry-string.safetensors": (_safetensors_bytes({"w": "x"}), ["not a valid .safetensors", "tensor 'w'"]),
    "no-offsets.safetensors": (_safetensors_bytes({"w": {**F32, "shape": [1]}}),
                               ["not a valid .safetensors", "no 'data_offsets'"]),
    "absurd-length.safetensors": (struct.pack("<Q", 1 << 62) + b"{}",
                                  ["neither a .npy nor a .safetensors", "4,611,686,018,427,387,904"]),
    "tiny.safetensors": (b"abc", ["neither", "shorter than 8 bytes"]),
}


@pytest.mark.parametrize("name", DAMAGED_FILES)
def test_inspect_damaged_file_is_one_labelled_line(tmp_path, main_in, name):
    content, fragments = DAMAGED_FILES[name]
    (tmp_path / name).write_bytes(content)
    result = main_in(tmp_path, "inspect", name)
    assert_short_error(result, 1, repr(name), *fragments)
    assert result.stdout == ""


def test_former_internal_errors_in_a_real_process(tmp_path):
    """The cases that printed "internal error", as the user ran them (the rest run in-process)."""
    (tmp_path / "dup.json").write_text(DUPLICATE_SPEC)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "bad.npy").write_bytes(DAMAGED_FILES["garbage-header.npy"][0])
    (tmp_path / "bad.safetensors").write_bytes(DAMAGED_FILES["negative-shape.safetensors"][0])
    files = sorted(os.listdir(tmp_path))
    assert_short_error(run_cli("init", "normal", "4x4", "-p", f"std={HUGE}", "-o", "w.npy", cwd=tmp_path),
                       2, "parameter std of normal")
    assert_short_error(run_cli("init", "--spec", "dup.json", "-o", "w.safetensors", cwd=tmp_path),
                       2, "'w'", "twice")
    assert_short_error(run_cli("init", "--spec", "deep.json", "-o", "w.safetensors", cwd=tmp_path),
                       2, "nested too deeply")
    assert_short_error(run_cli("bench", "--size-mib", "nan", cwd=tmp_path), 2, "--size-mib")
    assert_short_error(run_cli("inspect", "bad.npy", cwd=tmp_path), 1, "'bad.npy' is not a valid .npy")
    assert_short_error(run_cli("inspect", "bad.safetensors", cwd=tmp_path), 1, "'bad.safetensors'")
    assert sorted(os.listdir(tmp_path)) == files


# ---------------------------------------------------------------------------
# 9. Names that are not UTF-8
# ---------------------------------------------------------------------------

NOT_UTF8 = os.fsdecode(b"w\xff")            # what Python makes of the byte 0xff in argv


def test_name_that_is_not_utf8_is_refused(tmp_path, main_in):
    result = run_cli("init", "normal", "4x4", "--name", NOT_UTF8, "-o", "w.safetensors", cwd=tmp_path)
    assert_short_error(result, 2, "--name must be valid UTF-8", "byte 0xff")   # the real argv byte
    for output in ("w.safetensors", "w.npy"):
        result = main_in(tmp_path, "init", "normal", "4x4", "--name", NOT_UTF8, "-o", output)
        assert_short_error(result, 2, "--name must be valid UTF-8", "byte 0xff")
        result = main_in(tmp_path, "init", "normal", "4x4", "--stream", NOT_UTF8, "-o", output)
        assert_short_error(result, 2, "--stream must be valid UTF-8", "byte 0xff")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("where", ["name", "stream"])
def test_spec_name_with_a_lone_surrogate_is_refused(tmp_path, main_in, where):
    entry = '{"scheme": "normal", "shape": [2, 2]' + (', "stream": "s\\ud800"}' if where == "stream" else "}")
    name = "w\\udc00" if where == "name" else "w"
    (tmp_path / "spec.json").write_text(f'{{"{name}": {entry}}}')
    result = main_in(tmp_path, "init", "--spec", "spec.json", "-o", "w.safetensors")
    assert_short_error(result, 2, "spec.json", "valid UTF-8", "lone surrogate")
    assert os.listdir(tmp_path) == ["spec.json"]


def test_non_ascii_names_still_load_with_safetensors(tmp_path, main_in):
    safetensors_numpy = require_module("safetensors.numpy")
    assert_ok(main_in(tmp_path, "init", "normal", "3x3", "--name", "Gewicht.ä.😀", "--stream", "flüss",
                      "-o", "w.safetensors", "-q"))
    tensors = safetensors_numpy.load_file(str(tmp_path / "w.safetensors"))
    assert_bitwise_equal(tensors["Gewicht.ä.😀"], fi.normal((3, 3), seed=0, stream="flüss"))


def test_output_path_that_is_not_utf8_is_written_and_reported(tmp_path):
    """Under a strict UTF-8 stdout, printing such a name used to fail (UnicodeEncodeError:
    "internal error") after the file was written."""
    env = dict(os.environ, LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8:strict")
    env.pop("PYTHONUTF8", None)
    result = assert_ok(run_cli("init", "normal", "4x4", "-o", os.fsdecode(b"\xff.npy"), cwd=tmp_path, env=env))
    assert "\\xff.npy" in result.stdout
    assert os.listdir(tmp_path) == [os.fsdecode(b"\xff.npy")]
    result = assert_ok(run_cli("inspect", os.fsdecode(b"\xff.npy"), cwd=tmp_path, env=env))
    assert result.stdout.startswith("\\xff.npy\n")


# ---------------------------------------------------------------------------
# 10. Signals while starting; leftovers of killed writes
# ---------------------------------------------------------------------------

def console_script(directory: Path) -> Path:
    """The ``fastinit`` script pip writes for pyproject.toml's entry point (same template)."""
    try:
        import tomllib
    except ImportError:                                       # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    entry = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["fastinit"]
    module, function = entry.split(":")
    script = directory / "fastinit"
    script.write_text(f"#!{sys.executable}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
                      f"from {module} import {function}\n"
                      "if __name__ == '__main__':\n"
                      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                      f"    sys.exit({function}())\n")
    script.chmod(0o755)
    return script


def caught_signals(pid: int) -> int:
    """The SigCgt mask of a process (bit n-1 set: signal n has a handler)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16)
    return 0


@pytest.mark.skipif(not LINUX, reason="reads /proc/<pid>/status")
@pytest.mark.parametrize("signum, delay", [
    (signal.SIGINT, 0.0), (signal.SIGINT, 0.02), (signal.SIGINT, 0.05), (signal.SIGINT, 0.1),
    (signal.SIGINT, 0.2), (signal.SIGTERM, 0.0), (signal.SIGTERM, 0.05), (signal.SIGTERM, 0.2),
    (signal.SIGHUP, 0.02),
])
def test_signal_while_starting_is_one_line(tmp_path, signum, delay):
    """A signal at any moment once the script runs: one line, 128 + signal number, nothing written.

    The clock starts when the process catches SIGTERM (the entry point's first
    act; before it, the interpreter is still starting and nobody's code runs),
    so 0-0.2 s lands in the ~0.3 s of imports, or later in the spec read from
    a pipe that never ends.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([str(console_script(tmp_path)), "init", "--spec", "/dev/stdin",
                                "-o", "w.safetensors"], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not caught_signals(process.pid) & (1 << (signal.SIGTERM - 1)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the entry point never caught SIGTERM"
            time.sleep(0.0005)
        time.sleep(delay)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signum, (process.returncode, stderr)
    assert stdout == ""
    assert stderr.splitlines() == [f"fastinit: error: interrupted by {signal.Signals(signum).name}; "
                                   "nothing was written"], stderr
    assert os.listdir(tmp_path) == ["fastinit"]


def test_main_restores_the_signal_handlers(capsys):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert cli.main(["info"]) == 0
    assert {s: signal.getsignal(s) for s in before} == before


GIB = 1 << 30


def start_big_write(directory: Path) -> subprocess.Popen:
    """A 1 GiB write (seconds on two cores); the tests stop it long before it ends."""
    if shutil.disk_usage(directory).free < 2 * GIB:
        pytest.skip("needs 2 GiB free")
    return subprocess.Popen([sys.executable, "-m", "fastinit", "init", "normal", "16384x16384", "-o",
                             str(directory / "big.npy")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_part(directory: Path, process: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = [n for n in os.listdir(directory) if n.endswith(TEMP_SUFFIX)]
        if names:
            return names[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.001)
    pytest.fail("no temporary file appeared")


@pytest.mark.skipif(not LINUX, reason="POSIX locks and kill -9")
def test_next_write_removes_the_part_file_of_a_killed_write(tmp_path):
    writer = start_big_write(tmp_path)
    try:
        part = wait_for_part(tmp_path, writer)
        time.sleep(0.1)                                       # some data in it
        assert writer.poll() is None, "the write finished before it could be killed"
        writer.kill()
        writer.communicate()
    finally:
        if writer.poll() is None:
            writer.kill()
    assert os.listdir(tmp_path) == [part]                     # what kill -9 leaves behind

    result = assert_ok(run_cli("init", "normal", "4x4", "-o", "small.npy", cwd=tmp_path))
    assert result.stderr.startswith("fastinit: removed 1 stale temporary file")
    assert repr(part) in result.stderr and len(result.stderr.splitlines()) == 1
    assert os.listdir(tmp_path) == ["small.npy"]


@pytest.mark.skipif(not LINUX, reason="POSIX locks and job control signals")
def test_part_file_of_a_live_write_is_left_alone(tmp_path):
    writer = start_big_write(tmp_path)
    try:
        part = wait_for_part(tmp_path, writer)
        writer.send_signal(signal.SIGSTOP)                    # alive, holding its lock, not writing
        result = assert_ok(run_cli("init", "normal", "4x4", "-o", "small.npy", "-q", cwd=tmp_path))
        assert result.stderr == ""
        assert sorted(os.listdir(tmp_path)) == sorted([part, "small.npy"])
        writer.send_signal(signal.SIGTERM)
        writer.send_signal(signal.SIGCONT)
        _, stderr = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 143, stderr                 # it cleaned up after itself
    assert os.listdir(tmp_path) == ["small.npy"]


@pytest.mark.skipif(not LINUX, reason="POSIX locks")
def test_remove_stale_parts_takes_only_unlocked_files_named_like_ours(tmp_path):
    import fcntl
    tag = host_tag()
    other = "0" * 8 if tag != "0" * 8 else "1" * 8
    stale = tmp_path / f".w.npy.{tag}.abcd_123.fastinit-part"
    live = tmp_path / f".v.npy.{tag}.zz9z9zz9.fastinit-part"
    others = [f".w.npy.{other}.abcd1234.fastinit-part",      # another machine's: its lock may not show
              ".w.npy.abcd1234.fastinit-part",               # an older fastinit's (it took no lock)
              f".w.npy.{tag}.abc.fastinit-part", f"w.npy.{tag}.abcd_123.fastinit-part",
              f".w.npy.{tag}.ABCD1234.fastinit-part", f".w.npy.{tag}.abcd1234.fastinit-part.bak", "w.npy"]
    for path in [stale, live] + [tmp_path / name for name in others]:
        path.write_bytes(b"x" * 10)
    specials = [f".l.npy.{tag}.linklink.fastinit-part", f".d.npy.{tag}.dirdirdi.fastinit-part"]
    (tmp_path / specials[0]).symlink_to(tmp_path / "w.npy")
    (tmp_path / specials[1]).mkdir()
    holder = os.open(live, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)                   # as a live writer holds it
        assert remove_stale_parts(tmp_path) == [(stale.name, 10)]
        assert remove_stale_parts(tmp_path) == []
    finally:
        os.close(holder)
    assert remove_stale_parts(tmp_path, keep=live.name) == []
    assert remove_stale_parts(tmp_path) == [(live.name, 10)]
    assert sorted(os.listdir(tmp_path)) == sorted(others + specials)


# ---------------------------------------------------------------------------
# 11. Options anywhere, --threads, -o DIRECTORY, zero-size arrays
# ---------------------------------------------------------------------------

def test_options_may_come_between_and_before_the_positionals(tmp_path, main_in):
    assert_ok(run_cli("init", "he_normal", "-o", "b.npy", "10x10", "-q", cwd=tmp_path))
    assert (tmp_path / "b.npy").read_bytes() == npy_bytes(fi.he_normal((10, 10), seed=0))
    assert_ok(main_in(tmp_path, "init", "-q", "--seed", "3", "normal", "--dtype", "float16", "4x5",
                      "-o", "c.npy"))
    assert (tmp_path / "c.npy").read_bytes() == npy_bytes(fi.normal((4, 5), seed=3, dtype="float16"))
    assert_ok(main_in(tmp_path, "inspect", "-p", "std=1", "c.npy", "--scheme", "normal"))
    result = main_in(tmp_path, "init", "normal", "-o", "d.npy", "4x4", "5x5")
    assert_one_line_error(result, 2, "unrecognized arguments: 5x5")
    assert sorted(os.listdir(tmp_path)) == ["b.npy", "c.npy"]


@pytest.mark.parametrize("command", [["init", "normal", "4x4", "-o", "w.npy"], ["bench"]])
@pytest.mark.parametrize("threads", ["0", "-2", "40000"])
def test_threads_error_says_what_the_command_line_takes(tmp_path, main_in, command, threads):
    result = main_in(tmp_path, *command, "--threads", threads)
    line = assert_short_error(result, 2, f"--threads must be a whole number from 1 to {max_threads()}",
                              "leave it out", f"got {threads}")
    assert "None" not in line
    assert os.listdir(tmp_path) == []


def test_output_that_is_a_directory(tmp_path, main_in):
    (tmp_path / "somedir").mkdir()
    for output in ("somedir/", "somedir", "."):
        result = main_in(tmp_path, "init", "normal", "4x4", "-o", output)
        assert_short_error(result, 1, f"cannot write {output!r}: it is a directory", ".npy or .safetensors")
    result = main_in(tmp_path, "init", "normal", "4x4", "-o", "new.npy/")
    assert_short_error(result, 2, "'new.npy/' ends in '/'", "names a directory")
    assert os.listdir(tmp_path) == ["somedir"] and os.listdir(tmp_path / "somedir") == []


@pytest.mark.parametrize("shape, dtype", [("100x0", "float32"), ("0x7", "bfloat16"), ("0", "float16"),
                                          ("3x0x5", "float64")])
def test_zero_size_npy_is_what_np_save_writes(tmp_path, main_in, shape, dtype):
    assert_ok(main_in(tmp_path, "init", "normal", shape, "--dtype", dtype, "-o", "w.npy"))
    dims = tuple(int(d) for d in shape.split("x"))
    assert (tmp_path / "w.npy").read_bytes() == npy_bytes(np.empty(dims, dtype=as_dtype(dtype)))
    assert np.load(tmp_path / "w.npy").shape == dims


def test_zero_size_safetensors_loads_with_safetensors(tmp_path, main_in):
    safetensors_numpy = require_module("safetensors.numpy")
    result = assert_ok(run_cli("init", "he_normal", "0x5", "-o", "h.safetensors", "-q", cwd=tmp_path))
    assert result.stderr == ""                                # no "zero-element" warning
    assert safetensors_numpy.load_file(str(tmp_path / "h.safetensors"))["weight"].shape == (0, 5)
    assert_ok(main_in(tmp_path, "init", "orthogonal", "0x5", "-o", "o.safetensors", "-q"))
    assert safetensors_numpy.load_file(str(tmp_path / "o.safetensors"))["weight"].shape == (0, 5)
    spec = {"empty": {"scheme": "normal", "shape": [4, 0], "dtype": "float64"},
            "full": {"scheme": "normal", "shape": "3x2"}, "none": {"scheme": "zeros", "shape": [0]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = assert_ok(main_in(tmp_path, "init", "--spec", "spec.json", "-o", "m.safetensors"))
    assert result.stderr == ""
    tensors = safetensors_numpy.load_file(str(tmp_path / "m.safetensors"))
    assert tensors["empty"].shape == (4, 0) and tensors["empty"].dtype == np.float64
    assert tensors["none"].shape == (0,)
    assert_bitwise_equal(tensors["full"], fi.normal((3, 2), seed=0, stream="full"))
    result = assert_ok(main_in(tmp_path, "inspect", "m.safetensors", "--name", "empty", "--scheme", "normal"))
    assert "(0 elements)" in result.stdout and "an empty array" in result.stdout

"""``fastinit init``: write SCHEME(SHAPE, ...) or a spec file's tensors to one file.

``command_init`` makes the :class:`~fastinit.cli.jobs.TensorJob` s (from
SCHEME SHAPE --param ..., or from a JSON/TOML spec via
:func:`jobs_from_spec`), checks them all before any file exists, and hands
them to the output's format (:mod:`fastinit.cli.formats`): it lays them out,
encodes the header, and writes them out of core.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import fastinit as fi
from fastinit.cli.atomic import check_target
from fastinit.cli.errors import RuntimeFailure, UsageError, os_error_text
from fastinit.cli.formats import FORMATS, output_format, suffix_list
from fastinit.cli.formats.base import Format
from fastinit.cli.jobs import TensorJob
from fastinit.cli.progress import format_bytes
from fastinit.cli.schemes import (SchemeSpec, abbreviate, check_number_range, check_parameter_name,
                                  check_text, dtype_name, format_shape, lookup_scheme, parse_dtype,
                                  parse_integer, parse_parameter_value, parse_parameters, parse_shape,
                                  parse_stream, set_threads)

SPEC_TOP_KEYS = ("tensors", "seed", "dtype")
SPEC_TENSOR_KEYS = ("scheme", "shape", "dtype", "stream", "params")


# ---------------------------------------------------------------------------
# Spec files
# ---------------------------------------------------------------------------

# Deeper than any valid spec (top -> tensors -> tensor -> params -> value): refused early,
# so that nothing later (repr, validation) recurses into a hostile file.
SPEC_MAX_DEPTH = 32


class DuplicateKey(ValueError):
    """A JSON object that gives a key twice (json keeps only the last one)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list) -> dict:
    """``object_pairs_hook`` for json.loads: a key given twice is an error, at any level."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def _nesting_depth(data, limit: int) -> int:
    """The depth of nested dicts/lists in ``data`` (iterative; stops once past ``limit``)."""
    deepest = 0
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest


def load_spec(path: Path) -> dict:
    """Read a JSON or TOML spec (chosen by the suffix; .toml is TOML, anything else JSON).

    A key given twice is an error in both (TOML says so itself; JSON would
    silently keep the last), and so is nesting deeper than any spec needs.
    """
    where = f"spec {str(path)!r}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuntimeFailure(f"cannot read {where}: {os_error_text(exc)}") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:                                  # Python < 3.11
            try:
                import tomli as tomllib
            except ImportError:
                raise RuntimeFailure("TOML specs need Python 3.11+ or the 'tomli' package; "
                                     "or write the spec as JSON") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{where} is not valid TOML: {exc}") from None
        except RecursionError:
            raise UsageError(f"{where} is nested too deeply (a spec needs at most "
                             f"{SPEC_MAX_DEPTH} levels)") from None
    else:
        try:
            data = json.loads(raw.decode("utf-8"), object_pairs_hook=_refuse_duplicate_keys)
        except DuplicateKey as exc:
            raise UsageError(f"{where} gives the key {abbreviate(exc.key)} twice in one object "
                             "(JSON would keep only the last); give each key once") from None
        except RecursionError:
            raise UsageError(f"{where} is nested too deeply (a spec needs at most "
                             f"{SPEC_MAX_DEPTH} levels)") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if _nesting_depth(data, SPEC_MAX_DEPTH) > SPEC_MAX_DEPTH:
        raise UsageError(f"{where} is nested too deeply (a spec needs at most {SPEC_MAX_DEPTH} levels)")
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a table/object of tensors")
    return data


def jobs_from_spec(data: dict, where: str, seed_option: Optional[int], dtype_option: Optional[str],
                   form: Format) -> list:
    """TensorJobs for a spec, to be written in ``form`` (a multi-tensor format, which
    refuses its reserved tensor names); the command line's --seed/--dtype override the
    spec's own."""
    if "tensors" in data:
        unknown = [key for key in data if key not in SPEC_TOP_KEYS]
        if unknown:
            raise UsageError(f"{where}: unknown top-level key {unknown[0]!r}; "
                             f"allowed: {', '.join(SPEC_TOP_KEYS)}")
        tensors = data["tensors"]
        seed = data.get("seed", 0)
        default_dtype = data.get("dtype", "float32")
    else:
        tensors, seed, default_dtype = data, 0, "float32"
    if seed_option is not None:
        seed = seed_option
    if dtype_option is not None:
        default_dtype = dtype_option
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"{where}: seed must be an integer; got {abbreviate(seed)}")
    if not 0 <= seed < 1 << 64:
        raise UsageError(f"{where}: seed must be in [0, 2**64); got {abbreviate(seed)}")
    if not isinstance(tensors, dict) or not tensors:
        raise UsageError(f"{where}: 'tensors' must map tensor names to tables with "
                         f"{', '.join(SPEC_TENSOR_KEYS)}")
    jobs = []
    for name, entry in tensors.items():
        label = f"{where}: tensor {abbreviate(name)}"
        check_text(name, f"{where}: tensor name")
        if not form.usable_name(name):
            raise UsageError(f"{label}: this name is reserved in {form.name}")
        if not isinstance(entry, dict):
            raise UsageError(f"{label} must be a table with keys {', '.join(SPEC_TENSOR_KEYS)}")
        unknown = [key for key in entry if key not in SPEC_TENSOR_KEYS]
        if unknown:
            raise UsageError(f"{label}: unknown key {unknown[0]!r}; allowed: {', '.join(SPEC_TENSOR_KEYS)}")
        for key in ("scheme", "shape"):
            if key not in entry:
                raise UsageError(f"{label}: missing {key!r}")
        try:
            if not isinstance(entry["scheme"], str):
                raise UsageError(f"scheme must be a name; got {entry['scheme']!r}")
            scheme = lookup_scheme(entry["scheme"])
            shape = parse_shape(entry["shape"])
            dtype = parse_dtype(entry.get("dtype", default_dtype))
            stream = entry.get("stream", name)
            if isinstance(stream, bool) or not isinstance(stream, (int, str)):
                raise UsageError(f"stream must be an integer or a name; got {abbreviate(stream)}")
            if isinstance(stream, str):
                check_text(stream, "stream")
            params = spec_parameters(scheme, entry.get("params", {}))
        except UsageError as exc:
            raise UsageError(f"{label}: {exc}") from None
        jobs.append(TensorJob(name, scheme, shape, dtype, params, seed, stream))
    return jobs


def spec_parameters(scheme: SchemeSpec, params) -> dict:
    """Spec parameters keep their JSON/TOML types; strings are parsed for number/bool parameters."""
    if not isinstance(params, dict):
        raise UsageError(f"params must be a table of NAME = VALUE; got {params!r}")
    result = {}
    for name, value in params.items():
        parameter = check_parameter_name(scheme, name)
        if isinstance(value, str) and not isinstance(parameter.default, str):
            value = parse_parameter_value(scheme, parameter, value)
        result[name] = check_number_range(f"parameter {name} of {scheme.name}", value)
    return result


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------

def check_output_name(text: str) -> Path:
    """``-o``: refuse a directory before anything else is said about the name."""
    path = Path(text)
    if path.is_dir():
        raise RuntimeFailure(f"cannot write {text!r}: it is a directory; give a file name ending in "
                             f"{suffix_list()} (e.g. {str(path / ('weights' + FORMATS[0].label))!r})")
    if text.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        # Path() would drop the separator and write a file where the user named a directory.
        raise UsageError(f"-o {text!r} ends in {text[-1]!r}, so it names a directory; give a file "
                         f"name ending in {suffix_list()}")
    return path


def printable_path(path) -> str:
    """``path`` for stdout: bytes that are not UTF-8 shown as ``\\xff`` rather than failing."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def command_init(args) -> int:
    """``fastinit init``: returns the exit status (0)."""
    if getattr(args, "hf_config", None) is not None:
        from fastinit.cli.hf_command import command_init_hf     # imports torch only when asked
        return command_init_hf(args)
    if getattr(args, "max_shard_size", None) is not None:
        raise UsageError("--max-shard-size applies to --hf-config checkpoints only")
    output_path = check_output_name(args.output)
    if args.name is not None:
        check_text(args.name, "--name")
    form = output_format(output_path)
    if args.threads is not None:
        set_threads(args.threads)
    if args.spec is not None:
        for value, option in ((args.scheme, "SCHEME"), (args.shape, "SHAPE"), (args.stream, "--stream"),
                              (args.param, "--param"), (args.name, "--name")):
            if value:
                raise UsageError(f"{option} cannot be combined with --spec (the spec gives each tensor's)")
        if not form.multi_tensor:
            several = suffix_list([other for other in FORMATS if other.multi_tensor])
            raise UsageError(f"--spec writes several tensors and needs a {several} output; "
                             f"got {str(output_path)!r}")
        seed = parse_integer(args.seed, "--seed") if args.seed is not None else None
        spec_path = Path(args.spec)
        jobs = jobs_from_spec(load_spec(spec_path), str(spec_path), seed, args.dtype, form)
    else:
        if not args.scheme or not args.shape:
            raise UsageError("init needs SCHEME and SHAPE (e.g. fastinit init he_normal 100000x1024 "
                             "-o embedding.npy), or --spec FILE")
        scheme = lookup_scheme(args.scheme)
        shape = parse_shape(args.shape)
        dtype = parse_dtype(args.dtype or "float32")
        seed = parse_integer(args.seed, "--seed") if args.seed is not None else 0
        stream = parse_stream(args.stream) if args.stream is not None else 0
        params = parse_parameters(scheme, args.param)
        if not form.named and args.name is not None:
            named = suffix_list([other for other in FORMATS if other.named])
            raise UsageError(f"--name names the tensor in a {named} file; a {form.label} file holds "
                             "one unnamed array")
        name = args.name if args.name is not None else "weight"
        if not form.usable_name(name):
            raise UsageError(f"--name {name!r} is not a usable {form.name} tensor name")
        jobs = [TensorJob(name, scheme, shape, dtype, params, seed, stream)]

    for job in jobs:
        job.validate(f"{args.spec}: tensor {job.name!r}: " if args.spec is not None else "")
    check_target(output_path, args.force)

    jobs = form.layout(jobs)
    provenance = {"version": fi.__version__, "stream_version": fi.STREAM_VERSION,
                  "tensors": {job.name: job.provenance() for job in jobs}}
    header = form.encode_header(jobs, provenance)
    seconds, generating = form.write(output_path, header, jobs, args.force, args.quiet)
    args.written = True                       # from here on, an interrupt leaves the file in place

    if not args.quiet:
        elements = sum(job.size for job in jobs)
        file_bytes = len(header) + sum(job.nbytes for job in jobs)
        if len(jobs) == 1:
            job = jobs[0]
            what = (f"{format_shape(job.shape)} {dtype_name(job.dtype)} {job.scheme.name}"
                    + (f" (seed {job.seed})" if job.scheme.random else ""))
        else:
            dtypes = sorted({dtype_name(job.dtype) for job in jobs})
            what = f"{len(jobs)} tensors, {elements:,} elements ({', '.join(dtypes)})"
        print(f"wrote {printable_path(output_path.resolve())}: {what}, {file_bytes:,} bytes "
              f"({format_bytes(file_bytes)}) in {seconds:.3g} s: "
              f"{elements / max(seconds, 1e-9) / 1e9:.3g} G samples/s end to end, "
              f"{elements / max(generating, 1e-9) / 1e9:.3g} G samples/s generating "
              f"({generating:.3g} s; the rest is writing and fsync)")
    return 0


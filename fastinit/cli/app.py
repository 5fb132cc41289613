"""The argument parser of ``fastinit``, :func:`main` and error reporting.

What the commands do, their exit statuses and the files they write are
described in :mod:`fastinit.cli` (the package's docstring); each command is a
module of its own (``init_command``, ``bench``, ``inspect_command``,
``info_command``), and this one only parses and dispatches.
"""

from __future__ import annotations

import argparse
import codecs
import os
import signal
import sys
import textwrap

import fastinit as fi
from fastinit.cli.bench import BENCH_SCHEMES, command_bench
from fastinit.cli.errors import CLIError, Interrupted, UsageError, os_error_text
from fastinit.cli.atomic import SignalsToExceptions
from fastinit.cli.chunked import CHUNK_BYTES
from fastinit.cli.formats import FORMATS, suffix_list
from fastinit.cli.info_command import command_info
from fastinit.cli.init_command import command_init
from fastinit.cli.inspect_command import command_inspect
from fastinit.cli.progress import MIB
from fastinit._registry import WHOLE_MATRIX_MAX_ELEMENTS
from fastinit.cli.schemes import DTYPE_NAMES, scheme_table

__all__ = ["main", "safe_stdout", "build_parser"]

PROG = "fastinit"

# How the help names the formats (from the format table).
EVERY_FORMAT = suffix_list()                                              # .npy or .safetensors
SLASHED_FORMATS = suffix_list(joiner="/")                                 # .npy/.safetensors
SEVERAL_TENSORS = suffix_list([form for form in FORMATS if form.multi_tensor])
NAMED_TENSORS = suffix_list([form for form in FORMATS if form.named])


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors as one line (raised as UsageError) instead of usage + exit."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


class IntermixedArgumentParser(ArgumentParser):
    """A command's parser: its options may come anywhere, even between positionals.

    Plain argparse takes the positionals in one run: in ``init he_normal -o
    b.npy 10x10`` it gives SCHEME and SHAPE (``nargs='?'``) their values at
    ``he_normal`` and then finds ``10x10`` unrecognized.  Intermixed parsing
    takes the options first, then the positionals.  The subparsers action
    calls ``parse_known_args``, which is routed here; argparse's intermixed
    parser calls it again itself (Python < 3.12), hence the guard.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


# The spec examples of `fastinit init --help`, printed verbatim (RawDescriptionHelpFormatter);
# tests/test_cli_reports.py writes each to a file and runs it, so they stay valid.
SPEC_JSON_EXAMPLE = """\
{
  "seed": 0,
  "dtype": "float32",
  "tensors": {
    "embed.weight": {"scheme": "normal", "shape": [8192, 512],
                     "dtype": "bfloat16", "params": {"std": 0.02}},
    "fc.weight": {"scheme": "he_uniform", "shape": "2048x512",
                  "stream": "fc"}
  }
}
"""

SPEC_TOML_EXAMPLE = """\
seed = 0                    # optional; --seed overrides it
dtype = "float32"           # optional default for the tensors

[tensors."embed.weight"]
scheme = "normal"
shape = [8192, 512]
dtype = "bfloat16"          # overrides the default
params = { std = 0.02 }

[tensors."fc.weight"]
scheme = "he_uniform"
shape = "2048x512"
stream = "fc"               # default: the tensor's name
"""


def scheme_epilog() -> str:
    lines = ["schemes (parameters with their defaults; set them with --param NAME=VALUE):"]
    for spec in scheme_table().values():
        lines.append(f"  {spec.usage()}")
    lines += ["", *_wrap(
        f"orthogonal and sparse need the whole matrix: they are computed in memory and refused "
        f"above {WHOLE_MATRIX_MAX_ELEMENTS:,} elements.  Every other scheme is written in "
        f"{CHUNK_BYTES // MIB} MiB blocks with bounded memory, whatever the size.")]
    lines += ["", *_wrap(
        "spec file (--spec SPEC): TOML when its name ends in .toml (Python >= 3.11 or the "
        f"tomli package), else JSON, listing named tensors, all written to one {SEVERAL_TENSORS} file.  "
        "Top level: "
        "optional 'seed' (--seed overrides it) and 'dtype' (the default of the tensors; --dtype "
        "overrides it), and 'tensors' (a top level without it is read as the tensors "
        "themselves).  Each tensor: 'scheme' and 'shape' (a list or \"AxB\"), optional 'dtype', "
        "'params' (the scheme's parameters) and 'stream' (default: the tensor's name, so each "
        "tensor is drawn on its own stream).  The same spec in both formats:")]
    lines += ["", "  model.json:", *textwrap.indent(SPEC_JSON_EXAMPLE, "    ").splitlines()]
    lines += ["", "  model.toml:", *textwrap.indent(SPEC_TOML_EXAMPLE, "    ").splitlines()]
    lines += ["", "examples:",
              "  fastinit init he_normal 100000x1024 -o embedding.npy",
              "  fastinit init normal 50000,4096 --param std=0.02 --dtype bfloat16 \\",
              "      -o embed.safetensors --name embed.weight",
              "  fastinit init --spec model.toml -o model.safetensors",
              "  fastinit init --hf-config config.json -o seed-checkpoint/ --seed 1"]
    return "\n".join(lines)


def _wrap(text: str) -> list:
    return textwrap.wrap(text, width=79)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description=f"Write initialized weight arrays to {SLASHED_FORMATS} files, benchmark the "
                    "fills and inspect weight files.  Every value is a pure function of (seed, stream, "
                    "index, scheme, dtype): the files are bit-identical to the Python API.",
        epilog="Run 'fastinit COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version",
                        version=f"fastinit {fi.__version__} (stream v{fi.STREAM_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=IntermixedArgumentParser)

    init = commands.add_parser(
        "init", help="write an initialized array (or a spec's tensors) to a file",
        description="\n".join(_wrap(
            f"Write SCHEME(SHAPE, **params, dtype=DTYPE, seed=SEED, stream=STREAM) to FILE ({EVERY_FORMAT}), "
            "bit-identical to the Python call, in bounded memory, through a "
            "temporary file renamed into place at the end.")),
        epilog=scheme_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("scheme", nargs="?", metavar="SCHEME", help="e.g. he_normal, normal, xavier_uniform "
                      "(the list is below)")
    init.add_argument("shape", nargs="?", metavar="SHAPE", help="e.g. 100000x1024 or 100000,1024")
    init.add_argument("-o", "--output", required=True, metavar="FILE",
                      help=f"output file, {EVERY_FORMAT} (with --hf-config: a directory)")
    init.add_argument("--spec", metavar="SPEC", help="JSON or TOML file listing named tensors, "
                      f"written to one {SEVERAL_TENSORS} file (instead of SCHEME SHAPE)")
    init.add_argument("--hf-config", metavar="CONFIG", default=None,
                      help="a transformers config.json: write the model's seed checkpoint to the "
                           "directory -o DIR (model.safetensors, sharded above --max-shard-size, and "
                           "config.json), every tensor drawn as the model's own init code draws it; "
                           "needs torch and transformers")
    init.add_argument("--max-shard-size", metavar="SIZE", default=None,
                      help="with --hf-config: the largest shard, e.g. 5GB, 500MB, 2GiB or bytes "
                           "(default 50GB, as save_pretrained)")
    init.add_argument("--dtype", choices=DTYPE_NAMES, default=None,
                      help="float32 (default), float16, bfloat16 or float64; with --spec, the "
                           "default for tensors that do not give one; with --hf-config, instead of "
                           "the config's dtype")
    init.add_argument("--seed", metavar="N", default=None,
                      help="seed in [0, 2**64) (default 0: the same command always writes the same "
                           "file; with --spec it overrides the spec's seed)")
    init.add_argument("--stream", metavar="S", default=None,
                      help="stream: an integer or a name (hashed by fastinit.stream_id); default 0")
    init.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                      help="a scheme parameter, e.g. --param std=0.02 (repeatable)")
    init.add_argument("--name", metavar="T", default=None,
                      help=f"tensor name in a {NAMED_TENSORS} file (default 'weight')")
    init.add_argument("--threads", type=int, metavar="N", default=None,
                      help="threads for the fill (default: all, as OpenMP decides)")
    init.add_argument("-f", "--force", action="store_true", help="overwrite an existing FILE")
    init.add_argument("-q", "--quiet", action="store_true",
                      help="no progress bar and no summary line")
    init.set_defaults(handler=command_init)

    bench = commands.add_parser(
        "bench", help="fill throughput: fastinit vs NumPy, torch and memset, in one run",
        description="Time fastinit fills against NumPy (PCG64 random/standard_normal with out=) "
                    "and, when importable, torch.nn.init (kaiming_uniform_, kaiming_normal_, "
                    "trunc_normal_ timed on 1/16 of the tensor and scaled), with a 2-thread memset "
                    "as the bandwidth ceiling.  Buffers are pre-allocated and pre-faulted, contenders "
                    "interleaved within each repetition; the median time is reported.  The speed-up "
                    "column compares each fastinit fill with torch's fill of the same scheme and dtype "
                    "('12.3x vs torch'), and gives NumPy and torch rates as a fraction of fastinit's.")
    bench.add_argument("--size-mib", type=float, default=256, metavar="N",
                       help="buffer size in MiB per dtype (default 256)")
    bench.add_argument("--dtype", nargs="+", choices=DTYPE_NAMES, metavar="DTYPE",
                       help=f"one or more of {', '.join(DTYPE_NAMES)} (default float32)")
    bench.add_argument("--schemes", nargs="+", choices=BENCH_SCHEMES, metavar="SCHEME",
                       help=f"one or more of {', '.join(BENCH_SCHEMES)} (default all)")
    bench.add_argument("--threads", type=int, default=None, metavar="N",
                       help="threads for fastinit and torch (default: all cores)")
    bench.add_argument("--repeat", type=int, default=5, metavar="N",
                       help="timed repetitions per contender (default 5)")
    bench.add_argument("--json", metavar="FILE", help="write the rows as a JSON list")
    bench.add_argument("--plot", metavar="FILE.png", help="draw a bar chart (needs matplotlib)")
    bench.set_defaults(handler=command_bench)

    info = commands.add_parser("info", help="version, stream version, SIMD path, OpenMP, threads",
                               description="Print fastinit's build information.")
    info.set_defaults(handler=command_info)

    insp = commands.add_parser(
        "inspect", help=f"statistics and a histogram of a tensor in a {SLASHED_FORMATS} file",
        description="Shape, dtype, mean, std, min, max (read in bounded chunks), the std the common "
                    "fan-based schemes give for that shape, and a text histogram.  --scheme adds the "
                    "std of that scheme (from its formula; sampled from its first 2**20 elements "
                    "when it has none).  The distribution (uniform, normal or truncated normal) is "
                    "told from the excess kurtosis (-1.2, 0, in between) within 5 standard errors; "
                    "--plot draws its density over the histogram.  '<- closest' marks a scheme whose "
                    "std is within 3 standard errors of the measured std (at least 0.1%).")
    insp.add_argument("file", metavar="FILE")
    insp.add_argument("--name", metavar="T", help=f"tensor of a {NAMED_TENSORS} file (default: all)")
    insp.add_argument("--scheme", metavar="S", help="also show the std scheme S gives for the shape")
    insp.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                      help="a parameter of --scheme (repeatable)")
    insp.add_argument("--plot", metavar="FILE.png", help="write a histogram PNG (needs matplotlib)")
    insp.set_defaults(handler=command_inspect)
    return parser


def report_error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {' '.join(str(message).split())}\n")
    sys.stderr.flush()


def _escape_unencodable(exc: UnicodeEncodeError):
    """Codec error handler: a byte Python kept as a lone surrogate -> ``\\xff``, else ``\\uXXXX``."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}"
                   for c in text), exc.end


def safe_stdout() -> None:
    """For the fastinit process (its entry points call this, not :func:`main`): print file
    names that are not UTF-8 as ``\\xff`` instead of failing after the work is done.

    Under a UTF-8 locale Python's stdout is strict, so printing a path with an
    undecodable byte (kept by Python as a lone surrogate) raises
    UnicodeEncodeError; under the C locale it already writes the byte back.
    """
    if getattr(sys.stdout, "errors", None) == "strict" and hasattr(sys.stdout, "reconfigure"):
        codecs.register_error("fastinit-escape", _escape_unencodable)
        try:
            sys.stdout.reconfigure(errors="fastinit-escape")
        except (ValueError, OSError):
            pass


def interrupted_message(signum: int, args) -> str:
    """What an interrupt left: for init, whether the file was written."""
    name = signal.Signals(signum).name
    if getattr(args, "command", None) in (None, "init") and not getattr(args, "written", False):
        return f"interrupted by {name}; nothing was written"
    return f"interrupted by {name}"


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring).

    For the whole run, SIGINT, SIGTERM and SIGHUP raise
    :class:`~fastinit.cli.errors.Interrupted` (restored on return), so each
    gives one line and 130, 143 or 129 wherever it lands.  The console script
    (:mod:`_fastinit_entry`) covers the imports before this function runs.
    """
    args = None
    try:
        with SignalsToExceptions():
            parser = build_parser()
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return 0
            return args.handler(args)
    except CLIError as exc:
        report_error(str(exc))
        return exc.exit_status
    except Interrupted as exc:
        report_error(interrupted_message(exc.signum, args))
        return exc.exit_status
    except KeyboardInterrupt:                  # main() run outside the main thread: no handlers
        report_error(interrupted_message(signal.SIGINT, args))
        return 130
    except BrokenPipeError:                    # stdout closed early (e.g. piped into head)
        try:                                   # keep the interpreter's final flush quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except MemoryError:
        report_error("out of memory")
        return 1
    except OSError as exc:
        report_error(f"{os_error_text(exc)}" + (f": {exc.filename!r}" if exc.filename else ""))
        return 1
    except Exception as exc:                   # a bug: still one line, no traceback
        if os.environ.get("FASTINIT_DEBUG"):
            raise
        report_error(f"internal error: {type(exc).__name__}: {exc} "
                     "(set FASTINIT_DEBUG=1 for a traceback)")
        return 1

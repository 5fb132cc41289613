"""Side-by-side fill throughput: fastinit vs memset, NumPy and torch.

Every contender writes into a pre-allocated buffer that was written once
before timing (so no page faults are timed).  All buffers hold the same
number of elements: ``--size-mib`` MiB of float32 (float16/bfloat16 buffers
are half that size in bytes, float64 twice).  The contenders are run
round-robin within each repetition, so slow drift of a shared machine hits
all of them alike, and the median over repetitions is reported.

Usage::

    python benchmarks/compare.py                  # 1 GiB, 3 repeats, 2 threads
    python benchmarks/compare.py --quick          # tiny smoke run
    python benchmarks/compare.py --json out.json  # also write the rows

torch is optional; its rows are skipped when it cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import ml_dtypes

try:
    import fastinit as fi
except ImportError:  # run from a source checkout without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fastinit as fi

try:
    import torch
except ImportError:  # torch is an optional comparison
    torch = None

MIB = 1 << 20
QUICK_SIZE_MIB = 8
WARMUP_ELEMENTS = 1 << 16   # small untimed call per contender (thread pools, lazy init)
ROW_ALIGN = 1024            # torch tensors are 2-D: (n // 1024, 1024)

NORMAL_REF = "torch kaiming_normal_"
UNIFORM_REF = "torch kaiming_uniform_"
TRUNC_REF_PREFIX = "torch trunc_normal_"
# The torch function each family of rows is compared with.
TORCH_PEER = {"normal": NORMAL_REF, "uniform": UNIFORM_REF, "trunc_normal": TRUNC_REF_PREFIX}


@dataclass
class Contender:
    """One timed fill.

    ``fn(view)`` fills ``view``; the timed view is the first ``1/fraction``
    of ``buf`` and the measured time is multiplied by ``fraction`` (only
    torch's trunc_normal_ uses a fraction > 1).
    """

    name: str
    dtype: str
    family: str                 # "normal", "uniform" or "memset"
    buf: Any                    # numpy array or torch tensor (full size)
    fn: Callable[[Any], None]
    fraction: int = 1
    parallel_memset: bool = False   # candidate for the memset ceiling
    times: list = field(default_factory=list)

    def view(self, n_elements: Optional[int] = None):
        """Leading part of the buffer: ``n_elements`` or the timed fraction."""
        if n_elements is None:
            return self.buf[: len(self.buf) // self.fraction]
        if self.buf.ndim == 1:
            return self.buf[:n_elements]
        return self.buf[: max(1, n_elements // self.buf.shape[1])]

    def run_timed(self) -> None:
        """Time one call and record the (scaled) seconds."""
        target = self.view()
        start = time.perf_counter()
        self.fn(target)
        self.times.append((time.perf_counter() - start) * self.fraction)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# --------------------------------------------------------------------------
# Buffers
# --------------------------------------------------------------------------

def n_elements_for(size_mib: float) -> int:
    """Number of float32 elements in ``size_mib`` MiB, a multiple of 1024."""
    n = int(size_mib * MIB) // 4
    return max(ROW_ALIGN, n - n % ROW_ALIGN)


def numpy_buffer(n: int, dtype) -> np.ndarray:
    """A contiguous array of ``n`` elements, written once so its pages exist."""
    buf = np.empty(n, dtype=dtype)
    buf.view(np.uint8).fill(0)
    return buf


def torch_buffer(n: int):
    """A pre-faulted 2-D float32 tensor of ``n`` elements, rows of 1024."""
    t = torch.empty((n // ROW_ALIGN, ROW_ALIGN), dtype=torch.float32)
    t.zero_()
    return t


# --------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------

def threaded_fill(threads: int) -> Callable[[np.ndarray], None]:
    """memset with ``threads`` Python threads, each ``fill(0)`` on one part.

    ``ndarray.fill`` releases the GIL, so the parts are written in parallel.
    """
    def fill(a: np.ndarray) -> None:
        parts = np.array_split(a, threads)
        workers = [threading.Thread(target=p.fill, args=(0,)) for p in parts]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return fill


def memset_contenders(f32: np.ndarray, t32, threads: int) -> list:
    """The memset ceiling(s) and the single-thread NumPy fill."""
    rows = [Contender(f"memset: numpy fill(0), {threads} Python threads", "float32",
                      "memset", f32, threaded_fill(threads), parallel_memset=True)]
    if t32 is not None:
        rows.append(Contender(f"memset: torch zero_(), {threads} threads", "float32",
                              "memset", t32, lambda t: t.zero_(), parallel_memset=True))
    rows.append(Contender("memset: numpy fill(0), 1 thread", "float32", "memset",
                          f32, lambda a: a.fill(0)))
    return rows


def fastinit_contenders(n: int, f32: np.ndarray) -> list:
    """fastinit fills, all into pre-allocated arrays via ``out=``."""
    f16 = numpy_buffer(n, np.float16)
    bf16 = numpy_buffer(n, ml_dtypes.bfloat16)
    f64 = numpy_buffer(n, np.float64)

    def uniform(a):
        fi.uniform(out=a, seed=0)

    def normal(a):
        fi.normal(out=a, seed=0)

    def trunc_normal(a):
        fi.trunc_normal(out=a, std=0.02, a=-0.04, b=0.04, seed=0)

    # Named schemes on a 2-D view: fan/gain maths is O(1), the fill is the same kernel.
    def kaiming_normal(a):
        fi.kaiming_normal(out=a.reshape(-1, ROW_ALIGN), seed=0)

    def kaiming_uniform(a):
        fi.kaiming_uniform(out=a.reshape(-1, ROW_ALIGN), seed=0)

    return [
        Contender("fastinit uniform", "float32", "uniform", f32, uniform),
        Contender("fastinit normal", "float32", "normal", f32, normal),
        Contender("fastinit normal", "float16", "normal", f16, normal),
        Contender("fastinit normal", "bfloat16", "normal", bf16, normal),
        Contender("fastinit normal", "float64", "normal", f64, normal),
        Contender("fastinit uniform", "float64", "uniform", f64, uniform),
        Contender("fastinit trunc_normal", "float32", "trunc_normal", f32, trunc_normal),
        Contender("fastinit kaiming_normal", "float32", "normal", f32, kaiming_normal),
        Contender("fastinit kaiming_uniform", "float32", "uniform", f32, kaiming_uniform),
    ]


def numpy_contenders(f32: np.ndarray) -> list:
    """NumPy's PCG64 generator filling float32 in place (single thread)."""
    gen = np.random.Generator(np.random.PCG64(0))
    return [
        Contender("numpy PCG64 random", "float32", "uniform", f32,
                  lambda a: gen.random(dtype=np.float32, out=a)),
        Contender("numpy PCG64 standard_normal", "float32", "normal", f32,
                  lambda a: gen.standard_normal(dtype=np.float32, out=a)),
    ]


def torch_contenders(t32, trunc_fraction: int) -> list:
    """torch.nn.init initialisers on a 2-D float32 tensor."""
    init = torch.nn.init
    return [
        Contender(UNIFORM_REF, "float32", "uniform", t32, init.kaiming_uniform_),
        Contender(NORMAL_REF, "float32", "normal", t32, init.kaiming_normal_),
        Contender(f"{TRUNC_REF_PREFIX} (timed on 1/{trunc_fraction}, x{trunc_fraction})",
                  "float32", "trunc_normal", t32,
                  lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), fraction=trunc_fraction),
    ]


def build_contenders(n: int, threads: int, trunc_fraction: int) -> list:
    """Allocate and pre-fault every buffer; return the contenders in run order."""
    f32 = numpy_buffer(n, np.float32)
    t32 = torch_buffer(n) if torch is not None else None
    rows = memset_contenders(f32, t32, threads)
    rows += fastinit_contenders(n, f32)
    rows += numpy_contenders(f32)
    if t32 is not None:
        rows += torch_contenders(t32, trunc_fraction)
    return rows


# --------------------------------------------------------------------------
# Measurement and report
# --------------------------------------------------------------------------

def measure(contenders: list, repeat: int) -> None:
    """Warm each contender up on a small slice, then time them round-robin."""
    with _no_grad():
        for c in contenders:
            c.fn(c.view(WARMUP_ELEMENTS))
        for _ in range(repeat):
            for c in contenders:
                c.run_timed()


def _no_grad():
    """torch.no_grad() when torch is present, else a no-op context."""
    if torch is not None:
        return torch.no_grad()
    import contextlib
    return contextlib.nullcontext()


def ceiling_of(contenders: list) -> Contender:
    """The fastest multi-thread memset: the write-bandwidth ceiling."""
    return min((c for c in contenders if c.parallel_memset), key=lambda c: c.median)


def make_rows(contenders: list, n: int) -> list:
    """One dict per contender: times, rates and ratios."""
    def peer(prefix):
        return next((c for c in contenders if c.name.startswith(prefix)), None)

    refs = {family: peer(prefix) for family, prefix in TORCH_PEER.items()}
    ceiling = ceiling_of(contenders)
    rows = []
    for c in contenders:
        t = c.median
        itemsize = _itemsize(c.dtype)
        ref = refs.get(c.family)
        rows.append({
            "contender": c.name,
            "dtype": c.dtype,
            "family": c.family,
            "elements": n,
            "bytes": n * itemsize,
            "timed_fraction": 1.0 / c.fraction,
            "times_s": c.times,
            "median_s": t,
            "gsamples_per_s": n / t / 1e9,
            "gb_per_s": n * itemsize / t / 1e9,
            "ceiling": c is ceiling,
            "torch_peer": TORCH_PEER.get(c.family) if ref and ref is not c else None,
            "x_vs_torch": ref.median / t if ref and ref is not c else None,
            "memset_ratio": t / ceiling.median,
        })
    return rows


def _itemsize(dtype: str) -> int:
    return {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}[dtype]


def _fmt(value: Optional[float], spec: str) -> str:
    return "" if value is None else format(value, spec)


def markdown_table(rows: list) -> str:
    """The rows as a markdown table; the memset ceiling is marked with *."""
    header = ["contender", "dtype", "median time (s)", "G samples/s", "GB/s",
              "speed-up vs torch peer", "memset ratio"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|"]
    for r in rows:
        name = r["contender"] + (" (ceiling *)" if r["ceiling"] else "")
        cells = [name, r["dtype"], _fmt(r["median_s"], ".4f"),
                 _fmt(r["gsamples_per_s"], ".3f"), _fmt(r["gb_per_s"], ".2f"),
                 (f'{r["x_vs_torch"]:.1f}x vs {r["torch_peer"]}' if r["x_vs_torch"] else ""),
                 _fmt(r["memset_ratio"], ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_lines(rows: list) -> list:
    """PASS/FAIL lines for the targets of benchmarks/README.md."""
    get = {(r["contender"], r["dtype"]): r for r in rows}
    uni, nor = get[("fastinit uniform", "float32")], get[("fastinit normal", "float32")]
    checks = [
        ("normal f32 >= 1.0 G samples/s", nor["gsamples_per_s"] >= 1.0),
        ("uniform f32 >= 2.0 G samples/s", uni["gsamples_per_s"] >= 2.0),
        ("uniform f32 within 2x of the memset ceiling", uni["memset_ratio"] <= 2.0),
        ("float64 normal >= 0.3 G samples/s",
         get[("fastinit normal", "float64")]["gsamples_per_s"] >= 0.3),
    ]
    for dt in ("bfloat16", "float16"):
        rate = get[("fastinit normal", dt)]["gsamples_per_s"]
        checks.append((f"{dt} normal >= float32 normal rate", rate >= nor["gsamples_per_s"]))
    trunc = get[("fastinit trunc_normal", "float32")]
    checks.append(("trunc_normal f32 >= 0.7 G samples/s", trunc["gsamples_per_s"] >= 0.7))
    if nor["x_vs_torch"] is not None:
        checks.append(("normal f32 >= 6x torch kaiming_normal_", nor["x_vs_torch"] >= 6.0))
        checks.append(("uniform f32 >= 10x torch kaiming_uniform_", uni["x_vs_torch"] >= 10.0))
        checks.append(("trunc_normal f32 >= 50x torch trunc_normal_", trunc["x_vs_torch"] >= 50.0))
    return [f"- {'PASS' if ok else 'FAIL'}: {label}" for label, ok in checks]


def print_header(args, n: int) -> None:
    info = fi.build_info()
    print(f"fastinit build_info: {info}")
    print(f"threads: fastinit {fi.get_num_threads()}, "
          f"torch {torch.get_num_threads() if torch is not None else 'n/a'} "
          f"({'torch ' + torch.__version__ if torch is not None else 'torch not installed'}), "
          f"numpy {np.__version__} (single-threaded generators)")
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"size: {n} elements = {n * 4 / MIB:.0f} MiB of float32; "
          f"median of {args.repeat} round-robin repetition(s)")
    print()


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mib", type=float, default=None,
                   help="float32 buffer size in MiB (default 1024; %d with --quick)"
                   % QUICK_SIZE_MIB)
    p.add_argument("--repeat", type=int, default=None,
                   help="timed repetitions per contender (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=2,
                   help="threads for fastinit, torch and the memset ceiling (default 2)")
    p.add_argument("--trunc-fraction", type=int, default=16,
                   help="time torch trunc_normal_ on 1/N of the buffer and scale (default 16)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as a JSON list")
    p.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = p.parse_args(argv)
    if args.size_mib is None:
        args.size_mib = QUICK_SIZE_MIB if args.quick else 1024
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1 or args.threads < 1 or args.trunc_fraction < 1:
        p.error("--repeat, --threads and --trunc-fraction must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    fi.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
    n = n_elements_for(args.size_mib)
    print_header(args, n)

    contenders = build_contenders(n, args.threads, args.trunc_fraction)
    measure(contenders, args.repeat)
    rows = make_rows(contenders, n)

    print(markdown_table(rows))
    print()
    print("Rates count the full buffer; (ceiling *) is the memset that "
          "'memset ratio' divides by.")
    print("Targets:")
    print("\n".join(target_lines(rows)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
        print(f"\nwrote {len(rows)} rows to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

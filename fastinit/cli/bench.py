"""Fill throughput: ``fastinit bench``, and the timing machinery it shares with
``benchmarks/compare.py``.

The machinery (first half of this file) is the one way fills are timed:

* buffers: :func:`prefaulted` NumPy arrays and :func:`prefaulted_tensor`
  torch tensors of ``n`` elements, 2-D with rows of :data:`ROW_WIDTH` (the
  kaiming fills need two dimensions), every page written once before timing
  so no page fault is timed;
* a :class:`Contender` is one timed fill of such a buffer; the builders make
  the memset ceiling(s) (:func:`memset_contenders`), fastinit
  (:func:`fastinit_contender`), NumPy PCG64 (:func:`numpy_contenders`) and
  ``torch.nn.init`` (:func:`torch_contenders`; its slow ``trunc_normal_`` is
  timed on a fraction of the rows and scaled up);
* :func:`measure` warms every contender up on a small slice, then times them
  round-robin, so slow drift of a shared machine hits them all alike; a
  contender's time is the median of its repetitions;
* :func:`ceiling_of` picks the fastest multi-thread memset (the write-bandwidth
  ceiling) and :func:`markdown_table` lays out the results.

The command (second half): for each ``--dtype``, a 2-thread memset and the
fastinit, NumPy and torch fills of each of ``--schemes``; the speed-up column
says how many times faster the fastinit fill of the same scheme and dtype is.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import fastinit as fi
from fastinit._validate import as_dtype
from fastinit.cli.errors import UsageError
from fastinit.cli.files import MIB, write_text
from fastinit.cli.plotting import import_matplotlib, save_figure
from fastinit.cli.schemes import set_threads

ROW_WIDTH = 1024                # buffers are (n / 1024, 1024)
WARMUP_ELEMENTS = 1 << 16       # the small untimed call per contender (thread pools, lazy init)
TORCH_TRUNC_FRACTION = 16       # torch trunc_normal_ (about 36 s per GiB) is timed on 1/16 of the rows
TRUNC_PARAMS = dict(mean=0.0, std=0.02, a=-0.04, b=0.04)

BENCH_SCHEMES = ("uniform", "normal", "trunc_normal")
# What `fastinit bench` times for each scheme: the fastinit function and its parameters.
FASTINIT_FOR_SCHEME = {
    "uniform": ("kaiming_uniform", {}),
    "normal": ("kaiming_normal", {}),
    "trunc_normal": ("trunc_normal", TRUNC_PARAMS),
}
MEMSET_THREADS = 2              # `fastinit bench`'s ceiling: a 2-thread memset


# ---------------------------------------------------------------------------
# Contenders and buffers
# ---------------------------------------------------------------------------

@dataclass
class Contender:
    """One timed fill: ``fill(view)`` writes ``view``, the leading rows of ``buffer``.

    The timed view is the first ``1/fraction`` of the rows (only torch's
    trunc_normal_ uses a fraction > 1) and the time is scaled up to the
    whole buffer, so every rate counts the full buffer.
    """

    label: str
    library: str                    # "fastinit", "numpy", "torch" or "memset"
    scheme: str                     # "uniform", "normal", "trunc_normal" or "memset"
    dtype: str
    buffer: Any                     # numpy array or torch tensor, (rows, ROW_WIDTH)
    fill: Callable[[Any], Any]
    fraction: int = 1
    threads: int = 1
    ceiling_candidate: bool = False   # a multi-thread memset: may be the ceiling
    times: list = field(default_factory=list)

    @property
    def elements(self) -> int:
        return math.prod(self.buffer.shape)

    @property
    def itemsize(self) -> int:
        return as_dtype(self.dtype).itemsize

    def timed_view(self):
        return self.buffer[: max(1, self.buffer.shape[0] // self.fraction)]

    def warm_up(self) -> None:
        self.fill(self.buffer[: max(1, WARMUP_ELEMENTS // ROW_WIDTH)])

    def time_once(self) -> None:
        """Time one call and record the seconds, scaled to the whole buffer."""
        view = self.timed_view()
        scale = self.buffer.shape[0] / view.shape[0]
        start = time.perf_counter()
        self.fill(view)
        self.times.append((time.perf_counter() - start) * scale)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def row(self) -> dict:
        """The measurements as a dict (callers add their own comparisons)."""
        seconds = self.median
        return {
            "contender": self.label, "library": self.library, "scheme": self.scheme,
            "dtype": self.dtype, "elements": self.elements, "bytes": self.elements * self.itemsize,
            "threads": self.threads, "timed_fraction": self.timed_view().shape[0] / self.buffer.shape[0],
            "times_s": self.times, "median_s": seconds,
            "gsamples_per_s": self.elements / seconds / 1e9,
            "gb_per_s": self.elements * self.itemsize / seconds / 1e9,
        }


def import_torch():
    """torch, or None when it cannot be imported (its rows are then left out)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def buffer_elements(size_mib: float, itemsize: int = 4, minimum: int = ROW_WIDTH) -> int:
    """Elements in ``size_mib`` MiB of ``itemsize``-byte items: a multiple of ROW_WIDTH, at least ``minimum``."""
    n = int(size_mib * MIB) // itemsize
    return max(minimum, n - n % ROW_WIDTH)


def prefaulted(n: int, dtype: str) -> np.ndarray:
    """A (n / ROW_WIDTH, ROW_WIDTH) array, every page written once so no page fault is timed."""
    buffer = np.empty((n // ROW_WIDTH, ROW_WIDTH), dtype=as_dtype(dtype))
    buffer.view(np.uint8).fill(0)
    return buffer


def prefaulted_tensor(torch, n: int, dtype: str):
    """The torch twin of :func:`prefaulted`."""
    tensor = torch.empty((n // ROW_WIDTH, ROW_WIDTH), dtype=getattr(torch, dtype))
    tensor.zero_()
    return tensor


def threaded_fill(threads: int) -> Callable[[np.ndarray], None]:
    """memset with ``threads`` Python threads, each ``fill(0)`` on one part.

    ``ndarray.fill`` releases the GIL, so the parts are written in parallel.
    """
    def fill(a: np.ndarray) -> None:
        workers = [threading.Thread(target=part.fill, args=(0,)) for part in np.array_split(a, threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return fill


def memset_contenders(buffer: np.ndarray, dtype: str, threads: int, tensor=None,
                      single_thread: bool = False) -> list:
    """A ``threads``-thread NumPy memset; with ``tensor``, torch's ``zero_()`` too (the
    faster is the ceiling); with ``single_thread``, a 1-thread ``fill(0)`` for reference."""
    contenders = [Contender(f"memset: numpy fill(0), {threads} Python threads", "memset", "memset",
                            dtype, buffer, threaded_fill(threads), threads=threads,
                            ceiling_candidate=True)]
    if tensor is not None:
        contenders.append(Contender(f"memset: torch zero_(), {threads} threads", "memset", "memset",
                                    dtype, tensor, lambda t: t.zero_(), threads=threads,
                                    ceiling_candidate=True))
    if single_thread:
        contenders.append(Contender("memset: numpy fill(0), 1 thread", "memset", "memset", dtype,
                                    buffer, lambda a: a.fill(0)))
    return contenders


def fastinit_contender(function: str, scheme: str, buffer: np.ndarray, dtype: str, threads: int,
                       **params) -> Contender:
    """``fastinit.<function>(out=view, seed=0, **params)`` into ``buffer``."""
    fill_function = getattr(fi, function)
    return Contender(f"fastinit {function}", "fastinit", scheme, dtype, buffer,
                     lambda view: fill_function(out=view, seed=0, **params), threads=threads)


def numpy_contenders(buffer: np.ndarray, dtype: str, schemes=("uniform", "normal")) -> list:
    """NumPy's PCG64 ``random`` / ``standard_normal`` with ``out=`` (one thread; float32
    and float64 only: NumPy has no other generators)."""
    if dtype not in ("float32", "float64"):
        return []
    generator = np.random.Generator(np.random.PCG64(0))
    np_dtype = as_dtype(dtype)
    calls = {
        "uniform": ("numpy PCG64 random", lambda view: generator.random(dtype=np_dtype, out=view)),
        "normal": ("numpy PCG64 standard_normal",
                   lambda view: generator.standard_normal(dtype=np_dtype, out=view)),
    }
    return [Contender(calls[scheme][0], "numpy", scheme, dtype, buffer, calls[scheme][1])
            for scheme in schemes if scheme in calls]


def torch_contenders(torch, tensor, dtype: str, schemes=BENCH_SCHEMES, threads: int = 1,
                     trunc_fraction: int = TORCH_TRUNC_FRACTION) -> list:
    """``torch.nn.init``'s kaiming_uniform_, kaiming_normal_ and trunc_normal_ (the last
    timed on 1/``trunc_fraction`` of the rows and scaled)."""
    init = torch.nn.init
    calls = {
        "uniform": ("torch kaiming_uniform_", init.kaiming_uniform_, 1),
        "normal": ("torch kaiming_normal_", init.kaiming_normal_, 1),
        "trunc_normal": (f"torch trunc_normal_ (timed on 1/{trunc_fraction}, x{trunc_fraction})",
                         lambda view: init.trunc_normal_(view, **TRUNC_PARAMS), trunc_fraction),
    }
    return [Contender(calls[scheme][0], "torch", scheme, dtype, tensor, calls[scheme][1],
                      fraction=calls[scheme][2], threads=threads)
            for scheme in schemes]


# ---------------------------------------------------------------------------
# Measuring and reporting
# ---------------------------------------------------------------------------

def measure(contenders: list, repeat: int, torch=None) -> None:
    """Warm each contender up on a small slice, then time all of them round-robin ``repeat`` times."""
    with torch.no_grad() if torch is not None else contextlib.nullcontext():
        for contender in contenders:
            contender.warm_up()
        for _ in range(repeat):
            for contender in contenders:
                contender.time_once()


def ceiling_of(contenders: list) -> Contender:
    """The fastest multi-thread memset: the write-bandwidth ceiling."""
    return min((c for c in contenders if c.ceiling_candidate), key=lambda c: c.median)


def markdown_table(header, body, left: int = 1) -> str:
    """A markdown table with padded columns; the first ``left`` columns are left-aligned,
    the others right-aligned (numbers)."""
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]

    def render(cells):
        return "| " + " | ".join(cell.ljust(w) if i < left else cell.rjust(w)
                                 for i, (cell, w) in enumerate(zip(cells, widths))) + " |"
    rule = "|" + "|".join("-" * (w + 2) if i < left else "-" * (w + 1) + ":"
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([render(header), rule] + [render(cells) for cells in body])


# ---------------------------------------------------------------------------
# fastinit bench
# ---------------------------------------------------------------------------

def bench_contenders(dtype: str, n: int, schemes, threads: int, torch) -> list:
    """Every contender for one dtype, sharing pre-faulted buffers of ``n`` elements."""
    buffer = prefaulted(n, dtype)
    contenders = memset_contenders(buffer, dtype, MEMSET_THREADS)
    for scheme in schemes:
        function, params = FASTINIT_FOR_SCHEME[scheme]
        contenders.append(fastinit_contender(function, scheme, buffer, dtype, threads, **params))
    contenders += numpy_contenders(buffer, dtype, schemes)
    if torch is not None:
        contenders += torch_contenders(torch, prefaulted_tensor(torch, n, dtype), dtype, schemes, threads)
    return contenders


def bench_rows(contenders: list) -> list:
    """One dict per contender of one dtype; ``speedup`` is how many times faster fastinit's
    fill of the same scheme and dtype is than this row."""
    fastinit_median = {(c.scheme, c.dtype): c.median for c in contenders if c.library == "fastinit"}
    memset_median = ceiling_of(contenders).median
    rows = []
    for c in contenders:
        reference = fastinit_median.get((c.scheme, c.dtype))
        rows.append({**c.row(),
                     "speedup": (c.median / reference) if reference else None,
                     "fraction_of_memset": memset_median / c.median})
    return rows


def bench_table(rows: list) -> str:
    header = ("contender", "scheme", "dtype", "median ms", "G samples/s", "GB/s", "speed-up")
    body = []
    for r in rows:
        speedup = "ceiling" if r["library"] == "memset" else (
            "" if r["speedup"] is None else f"{r['speedup']:.1f}x")
        body.append((r["contender"], r["scheme"], r["dtype"], f"{r['median_s'] * 1e3:.2f}",
                     f"{r['gsamples_per_s']:.3f}", f"{r['gb_per_s']:.2f}", speedup))
    return markdown_table(header, body, left=3)


def bench_plot(rows: list, path: Path, title: str) -> None:
    plt = import_matplotlib("--plot")
    groups = []
    for r in rows:
        key = (r["scheme"], r["dtype"])
        if key not in groups:
            groups.append(key)
    libraries = [lib for lib in ("memset", "fastinit", "numpy", "torch") if any(r["library"] == lib for r in rows)]
    colors = {lib: f"C{i}" for i, lib in enumerate(libraries)}
    width = 0.8 / max(len(libraries), 1)
    figure, axes = plt.subplots(figsize=(max(6, 1.4 * len(groups)), 4.5))
    labelled = set()
    for g, key in enumerate(groups):
        present = [r for r in rows if (r["scheme"], r["dtype"]) == key]
        for i, r in enumerate(present):           # the bars of a group side by side, centred
            x = g + (i - (len(present) - 1) / 2) * width
            library = r["library"]
            axes.bar(x, r["gsamples_per_s"], width, color=colors[library],
                     label=None if library in labelled else library)
            labelled.add(library)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([f"{scheme}\n{dtype}" for scheme, dtype in groups])
    axes.set_ylabel("G samples/s (median)")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    save_figure(plt, figure, path)


def physical_memory() -> int:
    """Bytes of physical memory, or 0 where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0


def command_bench(args) -> int:
    """``fastinit bench``: returns the exit status (0)."""
    if not (math.isfinite(args.size_mib) and args.size_mib > 0):   # nan fails every comparison
        raise UsageError(f"--size-mib must be a finite number of MiB > 0 (e.g. 256); "
                         f"got {args.size_mib:g}")
    memory = physical_memory()
    if memory and args.size_mib * MIB > memory:
        raise UsageError(f"--size-mib {args.size_mib:g} is more than this machine's memory "
                         f"({memory // MIB:,} MiB)")
    if args.repeat < 1:
        raise UsageError(f"--repeat must be >= 1; got {args.repeat}")
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    set_threads(threads)
    if args.plot:
        import_matplotlib("--plot")            # fail before the measurements, not after
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(threads)
    dtypes = list(dict.fromkeys(args.dtype or ["float32"]))
    schemes = list(dict.fromkeys(args.schemes or BENCH_SCHEMES))

    print(f"fastinit {fi.__version__} (stream v{fi.STREAM_VERSION}, {fi.build_info()['simd']}), "
          f"numpy {np.__version__} (1 thread)"
          + (f", torch {torch.__version__}" if torch is not None else ", torch not installed")
          + f"; {threads} thread(s); {args.size_mib:g} MiB per buffer; median of {args.repeat}")
    rows = []
    for dtype in dtypes:
        n = buffer_elements(args.size_mib, as_dtype(dtype).itemsize,
                            minimum=ROW_WIDTH * TORCH_TRUNC_FRACTION)
        contenders = bench_contenders(dtype, n, schemes, threads, torch)
        measure(contenders, args.repeat, torch)
        rows += bench_rows(contenders)
        del contenders
    print(bench_table(rows))
    print("speed-up: how many times faster the fastinit fill of the same scheme and dtype is; "
          "the memset row is the write-bandwidth ceiling")
    if args.json:
        write_text(Path(args.json), json.dumps(rows, indent=2) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")
    if args.plot:
        bench_plot(rows, Path(args.plot), f"fill throughput, {args.size_mib:g} MiB buffers, "
                                          f"{threads} thread(s)")
        print(f"wrote {args.plot}")
    return 0

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
fastinit, NumPy and torch fills of each of ``--schemes``.  The speed-up column
compares each fastinit fill with its torch peer (same scheme and dtype: "12.3x
vs torch"), and gives a NumPy or torch fill's rate as a fraction of fastinit's
("0.08x of fastinit"); "-" where there is nothing to compare with (no torch).
The plot (``--plot``) uses a log axis, so every bar is readable.
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
from fastinit.cli.atomic import write_text
from fastinit.cli.errors import UsageError
from fastinit.cli.plotting import import_matplotlib, save_figure
from fastinit.cli.progress import MIB
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
    """One dict per contender of one dtype, with its comparison (``None`` where there is none).

    * ``speedup_vs_torch`` (fastinit rows): fastinit's rate / the rate of
      ``torch.nn.init``'s fill of the same scheme and dtype (its *peer*);
      ``None`` without torch.
    * ``rate_vs_fastinit`` (NumPy and torch rows): this rate / the rate of
      fastinit's fill of the same scheme and dtype.
    * ``fraction_of_memset`` (every row): this rate / the memset ceiling's.
    """
    median = {(c.library, c.scheme, c.dtype): c.median for c in contenders}
    memset_median = ceiling_of(contenders).median
    rows = []
    for c in contenders:
        row = {**c.row(), "speedup_vs_torch": None, "rate_vs_fastinit": None,
               "fraction_of_memset": memset_median / c.median}
        if c.library == "fastinit":
            peer = median.get(("torch", c.scheme, c.dtype))
            row["speedup_vs_torch"] = peer / c.median if peer else None
        elif c.library in ("numpy", "torch"):
            reference = median.get(("fastinit", c.scheme, c.dtype))
            row["rate_vs_fastinit"] = reference / c.median if reference else None
        rows.append(row)
    return rows


def ratio_text(ratio: float) -> str:
    """``12.3x``, ``0.081x``: two significant digits below 1, so small ratios don't read 0.0x."""
    return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2g}x"


def comparison_cell(row: dict) -> str:
    """The speed-up column: fastinit vs its torch peer; others as a fraction of fastinit."""
    if row["library"] == "memset":
        return "ceiling"
    if row["library"] == "fastinit":
        ratio = row["speedup_vs_torch"]
        return "-" if ratio is None else f"{ratio_text(ratio)} vs torch"
    ratio = row["rate_vs_fastinit"]
    return "-" if ratio is None else f"{ratio_text(ratio)} of fastinit"


def bench_table(rows: list) -> str:
    header = ("contender", "scheme", "dtype", "threads", "median ms", "G samples/s", "GB/s", "speed-up")
    body = []
    for r in rows:
        body.append((r["contender"], r["scheme"], r["dtype"], str(r["threads"]),
                     f"{r['median_s'] * 1e3:.2f}", f"{r['gsamples_per_s']:.3f}",
                     f"{r['gb_per_s']:.2f}", comparison_cell(r)))
    return markdown_table(header, body, left=3)


def bench_footer(torch_installed: bool) -> str:
    """What the speed-up column means (printed under the table)."""
    text = ("speed-up: on a fastinit row, how many times faster it is than torch.nn.init's fill of "
            "the same scheme and dtype ('12.3x vs torch'); on a numpy or torch row, its rate as a "
            "fraction of fastinit's fill of the same scheme and dtype ('0.08x of fastinit'); memset "
            "is the write-bandwidth ceiling.")
    if not torch_installed:
        text += " torch is not installed, so fastinit rows show '-' (no torch peer to compare with)."
    return text


# ---------------------------------------------------------------------------
# The plot
# ---------------------------------------------------------------------------

PLOT_LIBRARIES = ("fastinit", "numpy", "torch")
PLOT_COLORS = {"fastinit": "C0", "numpy": "C1", "torch": "C2", "memset": "0.3"}


def missing_reason(library: str, scheme: str, dtype: str, torch_installed: bool) -> str:
    """Why ``library`` has no bar for (scheme, dtype), as a short footnote."""
    if library == "torch" and not torch_installed:
        return "torch is not installed"
    if library == "numpy" and dtype not in ("float32", "float64"):
        return "NumPy has no float16/bfloat16 generators"
    if library == "numpy" and scheme == "trunc_normal":
        return "NumPy has no trunc_normal"
    return "not measured"


def plural_threads(threads: int) -> str:
    return f"{threads} thread" + ("" if threads == 1 else "s")


def bench_plot(rows: list, path: Path, title: str, torch_installed: bool = True) -> None:
    """Bars of G samples/s on a log axis, one panel per dtype, one group per scheme.

    The log axis keeps a 100x slower fill (torch trunc_normal_) visible next
    to the fastest; the memset ceiling is a dashed line; a contender with
    no measurement gets an ``n/a`` mark and a footnote saying why; the
    legend gives each contender's threads.
    """
    plt = import_matplotlib("--plot")
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    schemes = list(dict.fromkeys(r["scheme"] for r in rows if r["library"] != "memset"))
    threads = {r["library"]: r["threads"] for r in rows}
    threads.setdefault("numpy", 1)
    measured = [r["gsamples_per_s"] for r in rows]
    low, high = min(measured) / 3, max(measured) * 3
    width = 0.8 / len(PLOT_LIBRARIES)
    figure_width = max(7.0, 1.0 + 1.75 * len(schemes) * len(dtypes))
    figure, panels = plt.subplots(1, len(dtypes), figsize=(figure_width, 5.0), sharey=True, squeeze=False)
    reasons = []
    for panel, dtype in zip(panels[0], dtypes):
        panel.set_yscale("log")
        panel.set_ylim(low, high)
        for g, scheme in enumerate(schemes):
            for i, library in enumerate(PLOT_LIBRARIES):
                x = g + (i - (len(PLOT_LIBRARIES) - 1) / 2) * width
                row = next((r for r in rows if (r["library"], r["scheme"], r["dtype"]) == (library, scheme, dtype)), None)
                if row is None:
                    reason = missing_reason(library, scheme, dtype, torch_installed)
                    if reason not in reasons:
                        reasons.append(reason)
                    mark = "*" * (reasons.index(reason) + 1)
                    panel.text(x, low * 1.15, f"n/a{mark}", rotation=90, ha="center", va="bottom",
                               fontsize=7, color=PLOT_COLORS[library])
                    continue
                value = row["gsamples_per_s"]
                panel.bar(x, value, width, color=PLOT_COLORS[library])
                panel.text(x, value * 1.08, f"{value:.3g}", ha="center", va="bottom", fontsize=6.5, rotation=90)
        memset = [r for r in rows if r["library"] == "memset" and r["dtype"] == dtype]
        if memset:
            ceiling = memset[0]["gsamples_per_s"]
            panel.axhline(ceiling, color=PLOT_COLORS["memset"], linestyle="--", linewidth=1)
            panel.text(len(schemes) - 0.5, ceiling * 1.1, "memset", ha="right", va="bottom", fontsize=7,
                       color=PLOT_COLORS["memset"])
        panel.set_xticks(range(len(schemes)))
        panel.set_xticklabels(schemes)
        panel.set_title(dtype, fontsize=10)
        panel.grid(axis="y", which="major", alpha=0.3)
    panels[0][0].set_ylabel("G samples/s (median, log scale)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=PLOT_COLORS[lib]) for lib in PLOT_LIBRARIES]
    labels = ["torch (not installed)" if lib == "torch" and not torch_installed
              else f"{lib} ({plural_threads(threads.get(lib, 1))})" for lib in PLOT_LIBRARIES]
    handles.append(plt.Line2D([0], [0], color=PLOT_COLORS["memset"], linestyle="--"))
    labels.append(f"memset ceiling ({plural_threads(threads.get('memset', MEMSET_THREADS))})")
    columns = len(labels) if figure_width >= 9 else 2
    figure.legend(handles, labels, loc="upper center", ncol=columns, fontsize=8,
                  bbox_to_anchor=(0.5, 0.94), frameon=False)
    notes = [f"n/a{'*' * (i + 1)}: {reason}" for i, reason in enumerate(reasons)]
    if any(r["library"] == "torch" and r["timed_fraction"] < 1 for r in rows):
        notes.append("torch trunc_normal_ is timed on part of the buffer and scaled")
    figure.suptitle(title, fontsize=11)
    if notes:
        figure.text(0.5, 0.01, ";  ".join(notes), ha="center", va="bottom", fontsize=7.5)
    figure.tight_layout(rect=(0, 0.05 if notes else 0, 1, 0.90 if columns == len(labels) else 0.87))
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
    print(bench_footer(torch is not None))
    if args.json:
        write_text(Path(args.json), json.dumps(rows, indent=2) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")
    if args.plot:
        bench_plot(rows, Path(args.plot),
                   f"fastinit {fi.__version__} fill throughput: {args.size_mib:g} MiB buffers, "
                   f"median of {args.repeat}", torch_installed=torch is not None)
        print(f"wrote {args.plot}")
    return 0

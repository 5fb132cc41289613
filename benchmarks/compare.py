"""Side-by-side fill throughput: fastinit vs memset, NumPy and torch.

Every contender writes into a pre-allocated buffer that was written once
before timing (so no page faults are timed).  All buffers hold the same
number of elements: ``--size-mib`` MiB of float32 (float16/bfloat16 buffers
are half that size in bytes, float64 twice).  The contenders are run
round-robin within each repetition, so slow drift of a shared machine hits
all of them alike, and the median over repetitions is reported.

Every fastinit row is measured once per usable kernel table (the registry
of src_c/dispatch.c, switched in-process before each call), all in the same
round-robin, so the tables' columns compare like with like.  With several
``--threads`` counts, every (row, table, thread count) is one more
contender in the same round-robin and a scaling table follows.

The timing machinery is ``fastinit.cli.bench`` (shared with ``fastinit
bench``); this script chooses the rows, compares each with its torch peer
and the memset ceiling, and checks the targets of benchmarks/README.md.

Usage::

    python benchmarks/compare.py                  # 1 GiB, 3 repeats, 2 threads, every table
    python benchmarks/compare.py --quick          # tiny smoke run
    python benchmarks/compare.py --threads 1,2,4,8,16 --tables auto   # scaling of the best table
    python benchmarks/compare.py --json out.json  # also write the rows

torch is optional; its rows are skipped when it cannot be imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
from pathlib import Path
from typing import Optional

import numpy as np

try:
    import fastinit as fi
except ImportError:  # run from a source checkout without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fastinit as fi
from fastinit import _config
from fastinit.cli import bench

QUICK_SIZE_MIB = 8

# The fastinit rows: (function, scheme it is compared as, dtype).  Every buffer
# has the same number of elements; the named schemes fill a 2-D buffer.
FASTINIT_ROWS = [
    ("uniform", "uniform", "float32"),
    ("normal", "normal", "float32"),
    ("normal", "normal", "float16"),
    ("normal", "normal", "bfloat16"),
    ("normal", "normal", "float64"),
    ("uniform", "uniform", "float64"),
    ("trunc_normal", "trunc_normal", "float32"),
    ("kaiming_normal", "normal", "float32"),
    ("kaiming_uniform", "uniform", "float32"),
]
# The torch function each scheme's rows are compared with (a label prefix).
TORCH_PEER = {"normal": "torch kaiming_normal_", "uniform": "torch kaiming_uniform_",
              "trunc_normal": "torch trunc_normal_"}


# Targets of one table against another (issue #10), checked when both are measured:
# (row function, dtype) -> least speed-up of the first table over the second.
TABLE_TARGETS = {
    ("avx512", "avx2"): {("normal", "float32"): 2.2, ("trunc_normal", "float32"): 1.9,
                         ("normal", "float64"): 1.8},
}


def usable_tables() -> list:
    """Names of the kernel tables this CPU and build can run, best first (C registry)."""
    return [name for name, usable, _ in _config._TABLES if usable]


def on_table(table: str, threads: int, fill):
    """``fill`` run with kernel table ``table`` and ``threads`` fastinit threads selected."""
    def run(view):
        _config._select_simd(table)
        fi.set_num_threads(threads)
        return fill(view)
    return run


def build_contenders(n: int, thread_counts: list, tables: list, trunc_fraction: int, torch) -> list:
    """Allocate and pre-fault every buffer; return the contenders in run order.

    The fastinit rows get one contender per (table, thread count); memset,
    NumPy and torch run at the first thread count (memset at each).
    """
    threads = thread_counts[0]
    buffers = {dtype: bench.prefaulted(n, dtype) for dtype in ("float32", "float16", "bfloat16", "float64")}
    f32 = buffers["float32"]
    t32 = bench.prefaulted_tensor(torch, n, "float32") if torch is not None else None
    contenders = bench.memset_contenders(f32, "float32", threads, tensor=t32, single_thread=True)
    for extra in thread_counts[1:]:
        contenders += bench.memset_contenders(f32, "float32", extra)
    for function, scheme, dtype in FASTINIT_ROWS:
        params = bench.TRUNC_PARAMS if function == "trunc_normal" else {}
        for count in thread_counts:
            for table in tables:
                c = bench.fastinit_contender(function, scheme, buffers[dtype], dtype, count, **params)
                contenders.append(dataclasses.replace(c, fill=on_table(table, count, c.fill)))
                contenders[-1].table = table
    contenders += bench.numpy_contenders(f32, "float32")
    if t32 is not None:
        contenders += bench.torch_contenders(torch, t32, "float32", threads=threads,
                                             trunc_fraction=trunc_fraction)
    return contenders


def make_rows(contenders: list, threads: int) -> list:
    """One dict per contender at ``threads`` threads (fastinit: one per table): the
    measurements, the speed-up vs its torch peer, the memset ratio."""
    contenders = [c for c in contenders if c.threads == threads or c.library in ("numpy",)
                  or c.label == "memset: numpy fill(0), 1 thread"]
    peers = {scheme: next((c for c in contenders if c.label.startswith(prefix)), None)
             for scheme, prefix in TORCH_PEER.items()}
    ceiling = bench.ceiling_of(contenders)
    rows = []
    for c in contenders:
        peer = peers.get(c.scheme)
        has_peer = peer is not None and peer is not c
        table = getattr(c, "table", None)
        row = c.row()
        if table is not None:
            row["contender"] = f"{row['contender']} [{table}]"
        rows.append({**row, "table": table,
                     "ceiling": c is ceiling,
                     "torch_peer": TORCH_PEER[c.scheme] if has_peer else None,
                     "x_vs_torch": peer.median / c.median if has_peer else None,
                     "memset_ratio": c.median / ceiling.median})
    return rows


def _fmt(value: Optional[float], spec: str) -> str:
    return "" if value is None else format(value, spec)


def table(rows: list) -> str:
    """The rows as a markdown table; the memset ceiling is marked with *."""
    header = ["contender", "dtype", "median time (s)", "G samples/s", "GB/s",
              "speed-up vs torch peer", "memset ratio"]
    body = []
    for r in rows:
        body.append([r["contender"] + (" (ceiling *)" if r["ceiling"] else ""), r["dtype"],
                     _fmt(r["median_s"], ".4f"), _fmt(r["gsamples_per_s"], ".3f"),
                     _fmt(r["gb_per_s"], ".2f"),
                     f'{r["x_vs_torch"]:.1f}x vs {r["torch_peer"]}' if r["x_vs_torch"] else "",
                     _fmt(r["memset_ratio"], ".2f")])
    return bench.markdown_table(header, body, left=2)


def target_lines(rows: list, tables: list) -> list:
    """PASS/FAIL lines for the targets of benchmarks/README.md (best measured table)
    and, for pairs of tables measured together, those of TABLE_TARGETS."""
    best = tables[0]
    get = {(r["contender"], r["dtype"]): r for r in rows}

    def rate(function, dtype, table=best):
        return get[(f"fastinit {function} [{table}]", dtype)]

    uni, nor = rate("uniform", "float32"), rate("normal", "float32")
    checks = [
        (f"[{best}] normal f32 >= 1.0 G samples/s", nor["gsamples_per_s"] >= 1.0),
        (f"[{best}] uniform f32 >= 2.0 G samples/s", uni["gsamples_per_s"] >= 2.0),
        (f"[{best}] uniform f32 within 2x of the memset ceiling", uni["memset_ratio"] <= 2.0),
        (f"[{best}] float64 normal >= 0.3 G samples/s", rate("normal", "float64")["gsamples_per_s"] >= 0.3),
    ]
    for dt in ("bfloat16", "float16"):
        checks.append((f"[{best}] {dt} normal >= float32 normal rate",
                       rate("normal", dt)["gsamples_per_s"] >= nor["gsamples_per_s"]))
    trunc = rate("trunc_normal", "float32")
    checks.append((f"[{best}] trunc_normal f32 >= 0.7 G samples/s", trunc["gsamples_per_s"] >= 0.7))
    if nor["x_vs_torch"] is not None:
        checks.append((f"[{best}] normal f32 >= 6x torch kaiming_normal_", nor["x_vs_torch"] >= 6.0))
        checks.append((f"[{best}] uniform f32 >= 10x torch kaiming_uniform_", uni["x_vs_torch"] >= 10.0))
        checks.append((f"[{best}] trunc_normal f32 >= 50x torch trunc_normal_", trunc["x_vs_torch"] >= 50.0))
    for (fast, slow), goals in TABLE_TARGETS.items():
        if fast not in tables or slow not in tables:
            continue
        if fast == best:
            checks.append((f"[{fast}] uniform f32 >= 85% of the memset ceiling", uni["memset_ratio"] <= 1 / 0.85))
            if nor["x_vs_torch"] is not None:
                checks.append((f"[{fast}] normal f32 >= 12x torch kaiming_normal_", nor["x_vs_torch"] >= 12.0))
        for (function, dtype), least in goals.items():
            ratio = rate(function, dtype, slow)["median_s"] / rate(function, dtype, fast)["median_s"]
            checks.append((f"{function} {dtype}: {fast} >= {least}x {slow} (measured {ratio:.2f}x)",
                           ratio >= least))
    return [f"- {'PASS' if ok else 'FAIL'}: {label}" for label, ok in checks]


def table_columns(rows: list, tables: list) -> str:
    """fastinit rows x kernel tables: G samples/s per table, and each table's
    speed-up over the next one below it."""
    keys = []
    for r in rows:
        if r["table"] is not None and (r["contender"].rsplit(" [", 1)[0], r["dtype"]) not in keys:
            keys.append((r["contender"].rsplit(" [", 1)[0], r["dtype"]))
    get = {(r["contender"], r["dtype"]): r for r in rows}
    pairs = list(zip(tables, tables[1:]))
    header = ["fastinit row", "dtype"] + [f"{t} G/s" for t in tables] + [f"{a} / {b}" for a, b in pairs]
    body = []
    for label, dtype in keys:
        median = {t: get[(f"{label} [{t}]", dtype)]["median_s"] for t in tables}
        body.append([label.replace("fastinit ", ""), dtype]
                    + [f"{get[(f'{label} [{t}]', dtype)]['gsamples_per_s']:.3f}" for t in tables]
                    + [f"{median[b] / median[a]:.2f}x" for a, b in pairs])
    return bench.markdown_table(header, body, left=2)


def scaling_table(contenders: list, thread_counts: list) -> str:
    """G samples/s of each fastinit row and table (and the memset's GB/s) per thread count,
    with the speed-up over the first count."""
    base = thread_counts[0]
    groups = {}
    for c in contenders:
        if c.library == "fastinit":
            groups.setdefault((c.label.replace("fastinit ", ""), c.dtype, c.table), {})[c.threads] = c
        elif c.ceiling_candidate and c.label.startswith("memset: numpy"):
            groups.setdefault(("memset (GB/s)", "float32", ""), {})[c.threads] = c
    header = ["row", "dtype", "table"] + [f"{t} thr" for t in thread_counts] + [
        f"{t} / {base} thr" for t in thread_counts[1:]]
    body = []
    for (label, dtype, table), by_threads in groups.items():
        if set(by_threads) != set(thread_counts):
            continue
        value = (lambda c: c.row()["gb_per_s"]) if label.startswith("memset") else (
            lambda c: c.row()["gsamples_per_s"])
        body.append([label, dtype, table] + [f"{value(by_threads[t]):.3f}" for t in thread_counts]
                    + [f"{by_threads[base].median / by_threads[t].median:.2f}x" for t in thread_counts[1:]])
    return bench.markdown_table(header, body, left=3)


def print_header(args, n: int, torch) -> None:
    info = fi.build_info()
    print(f"fastinit build_info: {info}")
    print(f"kernel tables measured (best first): {', '.join(args.tables)}; "
          f"thread counts: {', '.join(map(str, args.threads))}")
    print(f"threads: fastinit {args.threads[0]}, "
          f"torch {torch.get_num_threads() if torch is not None else 'n/a'} "
          f"({'torch ' + torch.__version__ if torch is not None else 'torch not installed'}), "
          f"numpy {np.__version__} (single-threaded generators)")
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"size: {n} elements = {n * 4 / bench.MIB:.0f} MiB of float32; "
          f"median of {args.repeat} round-robin repetition(s)")
    print()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mib", type=float, default=None,
                   help="float32 buffer size in MiB (default 1024; %d with --quick)"
                   % QUICK_SIZE_MIB)
    p.add_argument("--repeat", type=int, default=None,
                   help="timed repetitions per contender (default 3; 1 with --quick)")
    p.add_argument("--threads", default="2",
                   help="comma-separated thread counts, e.g. 1,2,4: fastinit rows and the memset run at "
                        "each, torch and the main table at the first (default 2)")
    p.add_argument("--tables", default="all",
                   help="comma-separated kernel tables to measure, best first, or 'all' (every "
                        "usable one) or 'auto' (the best usable one); default all")
    p.add_argument("--trunc-fraction", type=int, default=bench.TORCH_TRUNC_FRACTION,
                   help="time torch trunc_normal_ on 1/N of the buffer and scale (default %d)"
                   % bench.TORCH_TRUNC_FRACTION)
    p.add_argument("--json", metavar="FILE", help="also write the rows as a JSON list")
    p.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = p.parse_args(argv)
    if args.size_mib is None:
        args.size_mib = QUICK_SIZE_MIB if args.quick else 1024
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    try:
        args.threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        p.error(f"--threads must be comma-separated integers; got {args.threads!r}")
    if args.repeat < 1 or min(args.threads) < 1 or args.trunc_fraction < 1:
        p.error("--repeat, --threads and --trunc-fraction must be >= 1")
    if len(set(args.threads)) != len(args.threads):
        p.error(f"--threads lists a count twice: {args.threads}")
    usable = usable_tables()
    if args.tables == "all":
        args.tables = usable
    elif args.tables == "auto":
        args.tables = usable[:1]
    else:
        args.tables = [t.strip() for t in args.tables.split(",")]
        bad = [t for t in args.tables if t not in usable]
        if bad:
            p.error(f"--tables: {', '.join(bad)} not usable here; usable: {', '.join(usable)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch = bench.import_torch()
    fi.set_num_threads(args.threads[0])
    if torch is not None:
        torch.set_num_threads(args.threads[0])
        torch.manual_seed(0)
    n = bench.buffer_elements(args.size_mib)
    print_header(args, n, torch)

    contenders = build_contenders(n, args.threads, args.tables, args.trunc_fraction, torch)
    try:
        bench.measure(contenders, args.repeat, torch)
    finally:
        _config._select_simd("auto")
        fi.set_num_threads(None)
    rows = make_rows(contenders, args.threads[0])

    print(table(rows))
    print()
    print("Rates count the full buffer; (ceiling *) is the memset that "
          "'memset ratio' divides by.")
    print()
    print(f"Kernel tables, {args.threads[0]} thread(s), G samples/s (medians of the same run):")
    print(table_columns(rows, args.tables))
    if len(args.threads) > 1:
        print()
        print("Thread scaling, G samples/s (memset: GB/s), medians of the same run:")
        print(scaling_table(contenders, args.threads))
    print()
    print("Targets:")
    print("\n".join(target_lines(rows, args.tables)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
        print(f"\nwrote {len(rows)} rows to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

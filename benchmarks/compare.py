"""Side-by-side fill throughput: fastinit vs memset, NumPy and torch.

Every contender writes into a pre-allocated buffer that was written once
before timing (so no page faults are timed).  All buffers hold the same
number of elements: ``--size-mib`` MiB of float32 (float16/bfloat16 buffers
are half that size in bytes, float64 twice).  The contenders are run
round-robin within each repetition, so slow drift of a shared machine hits
all of them alike, and the median over repetitions is reported.

The timing machinery is ``fastinit.cli.bench`` (shared with ``fastinit
bench``); this script chooses the rows, compares each with its torch peer
and the memset ceiling, and checks the targets of benchmarks/README.md.

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
import sys
from pathlib import Path
from typing import Optional

import numpy as np

try:
    import fastinit as fi
except ImportError:  # run from a source checkout without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fastinit as fi
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


def build_contenders(n: int, threads: int, trunc_fraction: int, torch) -> list:
    """Allocate and pre-fault every buffer; return the contenders in run order."""
    buffers = {dtype: bench.prefaulted(n, dtype) for dtype in ("float32", "float16", "bfloat16", "float64")}
    f32 = buffers["float32"]
    t32 = bench.prefaulted_tensor(torch, n, "float32") if torch is not None else None
    contenders = bench.memset_contenders(f32, "float32", threads, tensor=t32, single_thread=True)
    for function, scheme, dtype in FASTINIT_ROWS:
        params = bench.TRUNC_PARAMS if function == "trunc_normal" else {}
        contenders.append(bench.fastinit_contender(function, scheme, buffers[dtype], dtype, threads,
                                                   **params))
    contenders += bench.numpy_contenders(f32, "float32")
    if t32 is not None:
        contenders += bench.torch_contenders(torch, t32, "float32", threads=threads,
                                             trunc_fraction=trunc_fraction)
    return contenders


def make_rows(contenders: list) -> list:
    """One dict per contender: the measurements, the speed-up vs its torch peer, the memset ratio."""
    peers = {scheme: next((c for c in contenders if c.label.startswith(prefix)), None)
             for scheme, prefix in TORCH_PEER.items()}
    ceiling = bench.ceiling_of(contenders)
    rows = []
    for c in contenders:
        peer = peers.get(c.scheme)
        has_peer = peer is not None and peer is not c
        rows.append({**c.row(),
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


def print_header(args, n: int, torch) -> None:
    info = fi.build_info()
    print(f"fastinit build_info: {info}")
    print(f"threads: fastinit {fi.get_num_threads()}, "
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
    p.add_argument("--threads", type=int, default=2,
                   help="threads for fastinit, torch and the memset ceiling (default 2)")
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
    if args.repeat < 1 or args.threads < 1 or args.trunc_fraction < 1:
        p.error("--repeat, --threads and --trunc-fraction must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch = bench.import_torch()
    fi.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
    n = bench.buffer_elements(args.size_mib)
    print_header(args, n, torch)

    contenders = build_contenders(n, args.threads, args.trunc_fraction, torch)
    bench.measure(contenders, args.repeat, torch)
    rows = make_rows(contenders)

    print(table(rows))
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

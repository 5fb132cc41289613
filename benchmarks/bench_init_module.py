#!/usr/bin/env python
"""Time ``fastinit.torch.init_module`` on a ~1B-parameter model against torch's eager construction.

The model is a decoder-only transformer skeleton (token embedding, N blocks of
attention projections and a SwiGLU MLP with RMSNorms, an untied output layer)
made of standard ``nn.Embedding``/``nn.Linear``/``nn.RMSNorm`` layers, so
both sides initialize the same distributions (Linear:
``kaiming_uniform_(a=sqrt(5))``, Embedding: ``N(0, 1)``).

Contenders, in the same process, one model alive at a time:

``torch eager``
    ``Model()`` on the CPU: allocation plus torch's default initialization
    in every layer's constructor.
``fastinit meta + init_module``
    ``with torch.device("meta"): Model()`` then ``init_module(model, seed)``:
    construction without storage, ``to_empty`` (allocation) and one fill
    per tensor, each from its named stream.

Both pay the first touch of freshly allocated memory (page faults, and on a
virtual machine the host backing each new page), measured separately as
``first touch`` (``torch.empty`` of the same number of bytes plus
``fill_(0)``).  That cost depends on where the kernel finds the pages, not
only on the code: see ``fastinit/torch/_memory.py``.  Each build reports wall
seconds, CPU seconds of the process (robust to other load on a shared
machine) and minor page faults.  A second pair times re-initializing the
already-allocated model (``reset_parameters()`` of every module against
``init_module`` on the same model), which isolates the generation work.

Per repeat it prints the speed-up (torch eager / meta + init_module, wall
and CPU); at the end the median, minimum and maximum, the resident set size
after every repeat (it must not grow), and whether the targets (>= 4x in
every repeat, >= 6x median, wall clock) were met.

    python benchmarks/bench_init_module.py                  # ~1.04B parameters, 5 repeats
    python benchmarks/bench_init_module.py --fresh-process  # every repeat in a new process
    python benchmarks/bench_init_module.py --huge-pages     # materialize on huge pages
    python benchmarks/bench_init_module.py --layers 2 --repeat 1     # quick smoke run
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

import fastinit as fi
import fastinit.torch as fit
from fastinit.torch import _memory


class Block(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.attn_norm = nn.RMSNorm(width)
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.o_proj = nn.Linear(width, width, bias=False)
        self.mlp_norm = nn.RMSNorm(width)
        self.gate_proj = nn.Linear(width, hidden, bias=False)
        self.up_proj = nn.Linear(width, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, width, bias=False)


class DecoderSkeleton(nn.Module):
    """Parameters of a decoder-only LM (no forward pass: only initialization is timed)."""

    def __init__(self, vocab=32000, width=2048, hidden=5504, layers=18):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, width)
        self.layers = nn.ModuleList(Block(width, hidden) for _ in range(layers))
        self.norm = nn.RMSNorm(width)
        self.lm_head = nn.Linear(width, vocab, bias=False)


def _usage():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime, usage.ru_minflt


def _timed(function):
    """(wall s, CPU s of the whole process, minor faults), result."""
    gc.collect()
    start = _usage()
    result = function()
    return tuple(end - begin for begin, end in zip(start, _usage())), result


def _rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--hidden", type=int, default=5504)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fresh-process", action="store_true",
                        help="run every repeat in a new Python process")
    parser.add_argument("--huge-pages", action="store_true",
                        help="materialize on memory advised for transparent huge pages")
    parser.add_argument("--first-repeat", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the raw timings here")
    args = parser.parse_args(argv)
    if args.fresh_process:
        return _fresh_processes(args, argv)
    _memory.huge_pages = args.huge_pages

    torch.set_num_threads(args.threads)
    fi.set_num_threads(args.threads)
    config = dict(vocab=args.vocab, width=args.width, hidden=args.hidden, layers=args.layers)
    with torch.device("meta"):
        probe = DecoderSkeleton(**config)
    parameters = sum(p.numel() for p in probe.parameters())
    nbytes = parameters * 4
    del probe
    print(f"model: {parameters / 1e9:.3f}B parameters ({nbytes / 2**30:.2f} GiB float32), "
          f"{args.threads} threads, {args.repeat} repeats, torch {torch.__version__}")

    def torch_eager():
        return DecoderSkeleton(**config)

    def fastinit_meta():
        with torch.device("meta"):
            model = DecoderSkeleton(**config)
        return fit.init_module(model, seed=0)

    def first_touch():
        buffer = torch.empty(parameters)
        buffer.fill_(0)
        return buffer

    def torch_reset(model):
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    # warm-up: imports, meta registrations, thread pools (small model)
    small = dict(config, layers=1, vocab=1024)
    DecoderSkeleton(**small)
    with torch.device("meta"):
        warm = DecoderSkeleton(**small)
    fit.init_module(warm, seed=0)
    del warm

    names = ("first touch", "torch eager", "fastinit meta + init_module",
             "torch reset_parameters", "fastinit init_module (re-init)")
    times = {name: [] for name in names}
    cpu = {name: [] for name in names}
    faults = {name: [] for name in names}
    rss = []

    def record(name, measured):
        for table, value in zip((times, cpu, faults), measured):
            table[name].append(value)

    for repeat in range(args.first_repeat, args.first_repeat + args.repeat):
        order = [("torch eager", torch_eager), ("fastinit meta + init_module", fastinit_meta)]
        if repeat % 2:
            order.reverse()                # alternate, so drift hits both alike
        measured, buffer = _timed(first_touch)
        record("first touch", measured)
        del buffer
        for name, build in order:
            measured, model = _timed(build)
            record(name, measured)
            if name == "torch eager":
                reinitialize = functools.partial(torch_reset, model)
                record("torch reset_parameters", _timed(reinitialize)[0])
            else:
                reinitialize = functools.partial(fit.init_module, model, seed=1)
                record("fastinit init_module (re-init)", _timed(reinitialize)[0])
            del reinitialize
            del model
            gc.collect()
        rss.append(_rss_mib())
        print(f"  repeat {repeat + 1} ({order[0][0]} first): "
              + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
              + f"; speed-up {times['torch eager'][-1] / times['fastinit meta + init_module'][-1]:.2f}x"
              + f"; RSS {rss[-1]:.0f} MiB", flush=True)
    result = {"parameters": parameters, "threads": args.threads, "huge_pages": args.huge_pages,
              "times": times, "cpu": cpu, "faults": faults, "rss_mib": rss}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if not args.child:
        _report(result, nbytes)
    return result


def _fresh_processes(args, argv):
    """Every repeat in a new interpreter (the first init_module of a program)."""
    merged = None
    for repeat in range(args.repeat):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "repeat.json")
            child = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--fresh-process"]
            command = [sys.executable, os.path.abspath(__file__), *child, "--repeat", "1",
                       "--first-repeat", str(repeat), "--child", "--json", path]
            subprocess.run(command, check=True)
            with open(path) as f:
                one = json.load(f)
        if merged is None:
            merged = one
        else:
            for key in ("times", "cpu", "faults"):
                for name, values in one[key].items():
                    merged[key][name].extend(values)
            merged["rss_mib"].extend(one["rss_mib"])
    _report(merged, merged["parameters"] * 4)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(merged, f, indent=1)
    return merged


def _report(result, nbytes):
    times, cpu, faults = result["times"], result["cpu"], result["faults"]
    print()
    print("| what | median s [min-max] | median CPU s | median minor faults | GB/s (float32 written) |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"| {name} | {median:.2f} [{min(seconds):.2f}-{max(seconds):.2f}] "
              f"| {statistics.median(cpu[name]):.2f} | {statistics.median(faults[name]):.0f} "
              f"| {nbytes / median / 1e9:.2f} |")
    eager, ours = times["torch eager"], times["fastinit meta + init_module"]
    wall = [e / f for e, f in zip(eager, ours)]
    by_cpu = [e / f for e, f in zip(cpu["torch eager"], cpu["fastinit meta + init_module"])]
    reinit = [e / f for e, f in zip(times["torch reset_parameters"],
                                    times["fastinit init_module (re-init)"])]
    print()
    print("speed-up, construct + initialize, per repeat (wall): "
          + " ".join(f"{x:.2f}x" for x in wall))
    print("speed-up, construct + initialize, per repeat (CPU):  "
          + " ".join(f"{x:.2f}x" for x in by_cpu))
    print(f"speed-up, construct + initialize (wall): median {statistics.median(wall):.2f}x, "
          f"min {min(wall):.2f}x, max {max(wall):.2f}x")
    print(f"speed-up, re-initialize (memory resident): median {statistics.median(reinit):.2f}x")
    print("RSS after each repeat (MiB): " + " ".join(f"{x:.0f}" for x in result["rss_mib"]))
    ok = min(wall) >= 4 and statistics.median(wall) >= 6
    print(f"targets (>= 4x every repeat, >= 6x median): {'met' if ok else 'NOT met'}"
          f" (huge pages {'on' if result['huge_pages'] else 'off'})")

if __name__ == "__main__":
    main()

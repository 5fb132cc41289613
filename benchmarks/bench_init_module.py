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
``fill_(0)``); init_module lowers it by materializing large tensors on
NumPy-allocated memory, which NumPy advises for transparent huge pages.  A second pair times re-initializing the
already-allocated model (``reset_parameters()`` of every module against
``init_module`` on the same model), which isolates the generation work.

    python benchmarks/bench_init_module.py                  # ~1.04B parameters, 3 repeats
    python benchmarks/bench_init_module.py --layers 2 --repeat 1     # quick smoke run
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import statistics
import time

import torch
from torch import nn

import fastinit as fi
import fastinit.torch as fit


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


def _timed(function):
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--hidden", type=int, default=5504)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the raw timings here")
    args = parser.parse_args(argv)

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

    times = {name: [] for name in ("first touch", "torch eager", "fastinit meta + init_module",
                                   "torch reset_parameters", "fastinit init_module (re-init)")}
    for repeat in range(args.repeat):
        order = [("torch eager", torch_eager), ("fastinit meta + init_module", fastinit_meta)]
        if repeat % 2:
            order.reverse()                # alternate, so drift hits both alike
        elapsed, buffer = _timed(first_touch)
        times["first touch"].append(elapsed)
        del buffer
        for name, build in order:
            elapsed, model = _timed(build)
            times[name].append(elapsed)
            if name == "torch eager":
                reinitialize = functools.partial(torch_reset, model)
                times["torch reset_parameters"].append(_timed(reinitialize)[0])
            else:
                reinitialize = functools.partial(fit.init_module, model, seed=1)
                times["fastinit init_module (re-init)"].append(_timed(reinitialize)[0])
            del reinitialize
            del model
            gc.collect()
        print(f"  repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))

    median = {name: statistics.median(values) for name, values in times.items()}
    print()
    print("| what | median s | GB/s (float32 written) |")
    print("|---|---:|---:|")
    for name, seconds in median.items():
        print(f"| {name} | {seconds:.2f} | {nbytes / seconds / 1e9:.2f} |")
    construct = median["torch eager"] / median["fastinit meta + init_module"]
    reinit = median["torch reset_parameters"] / median["fastinit init_module (re-init)"]
    print()
    print(f"speed-up, construct + initialize:            {construct:.2f}x")
    print(f"speed-up, re-initialize (memory resident):    {reinit:.2f}x")
    print(f"first touch of {nbytes / 2**30:.2f} GiB of torch.empty memory: {median['first touch']:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"parameters": parameters, "threads": args.threads, "times": times,
                       "median": median}, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Time library model construction with and without ``fastinit.torch.patch_init``.

Contenders, in the same process, one model alive at a time, in alternating
order in every repeat (so that drift in machine load hits both alike):

``torch``
    the library's own construction: ``AutoModelForCausalLM.from_config`` of a
    ~1.1B-parameter Llama configuration (transformers), or
    ``timm.create_model("vit_base_patch16_224", pretrained=False)`` (timm).
``patch_init``
    the same call inside ``with fastinit.torch.patch_init(seed):``.

End to end: construction, allocation, first touch of the fresh memory and
every init call; the ratio is torch's median over patch_init's median (and
the ratio of each adjacent pair is printed too).  A second pair re-runs the
library's init on the already-built model (transformers:
``model.apply(model._init_weights)``, timm: ``model.init_weights()``) with
and without patch_init: the generation work alone, without allocation and
first touch.  Nothing is downloaded:
configurations are built in code.  timm needs torchvision, which the pinned
CPU torch of the main environment cannot import; run the ViT part in an
environment that has timm (``--model vit``).

    python benchmarks/bench_patch_init.py                     # both models that import, 5 repeats
    python benchmarks/bench_patch_init.py --model llama --repeat 7
    python benchmarks/bench_patch_init.py --quick             # tiny configurations: smoke run

Targets (issue 13): Llama >= 4x, ViT-B/16 >= 10x.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import statistics
import time

import torch

import fastinit
import fastinit.torch as fit
from _machine import cpu_name  # benchmarks/_machine.py, beside this script

patch_init = fit.patch_init

TARGETS = {"llama": 4.0, "vit": 10.0}


def reinit(model):
    if hasattr(model, "_init_weights") and hasattr(model, "config"):      # transformers
        model.apply(model._init_weights)
    else:                                                                  # timm
        model.init_weights()


def llama_builder(quick):
    transformers = importlib.import_module("transformers")
    # ~1.1B parameters (TinyLlama's shape); untied embeddings, float32.
    shape = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                 num_key_value_heads=4, vocab_size=32000)
    if quick:
        shape = dict(hidden_size=256, intermediate_size=704, num_hidden_layers=2, num_attention_heads=8,
                     num_key_value_heads=2, vocab_size=4000)
    config = transformers.LlamaConfig(**shape, tie_word_embeddings=False)
    return lambda: transformers.AutoModelForCausalLM.from_config(config)


def vit_builder(quick):
    timm = importlib.import_module("timm")
    name = "vit_tiny_patch16_224" if quick else "vit_base_patch16_224"
    return lambda: timm.create_model(name, pretrained=False)


BUILDERS = {"llama": llama_builder, "vit": vit_builder}


def run(model, repeat, quick, seed):
    build = BUILDERS[model](quick)
    contenders = {"torch": build, "patch_init": lambda: _patched(build, seed)}
    model_obj = build()                         # warm-up: imports, lazy modules, code paths
    parameters = sum(p.numel() for p in model_obj.parameters())
    del model_obj
    _patched(build, seed)
    times = {name: [] for name in contenders}
    for index in range(repeat):
        order = list(contenders) if index % 2 == 0 else list(reversed(contenders))
        for name in order:
            gc.collect()
            start = time.perf_counter()
            built = contenders[name]()
            times[name].append(time.perf_counter() - start)
            del built
            gc.collect()
    medians = {name: statistics.median(values) for name, values in times.items()}
    pairs = [t / p for t, p in zip(times["torch"], times["patch_init"])]
    built = build()
    again = {"torch re-init": [], "patch_init re-init": []}
    for index in range(repeat):
        for name in (list(again) if index % 2 == 0 else list(reversed(list(again)))):
            start = time.perf_counter()
            if name == "torch re-init":
                reinit(built)
            else:
                with patch_init(seed):
                    reinit(built)
            again[name].append(time.perf_counter() - start)
    del built
    gc.collect()
    times.update(again)
    medians.update({name: statistics.median(values) for name, values in again.items()})
    return {"model": model, "parameters": parameters, "times_s": times, "median_s": medians,
            "speedup_median": medians["torch"] / medians["patch_init"], "speedup_pairs": pairs,
            "reinit_speedup_median": medians["torch re-init"] / medians["patch_init re-init"],
            "target": TARGETS[model]}


def _patched(build, seed):
    with patch_init(seed):
        return build()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["all", *BUILDERS], default="all")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny configurations, 1 repeat")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    models = list(BUILDERS) if args.model == "all" else [args.model]
    print(f"CPU: {cpu_name()}; threads: torch {torch.get_num_threads()}, fastinit "
          f"{fastinit.get_num_threads() if hasattr(fastinit, 'get_num_threads') else '?'}; "
          f"torch {torch.__version__}")
    results = []
    for model in models:
        try:
            result = run(model, repeat, args.quick, args.seed)
        except ImportError as error:
            print(f"{model}: skipped ({error})")
            continue
        results.append(result)
        print(f"{model}: {result['parameters'] / 1e6:.1f}M parameters")
        for name, values in result["times_s"].items():
            shown = " ".join(f"{value:.2f}" for value in values)
            print(f"  {name:>18}: median {result['median_s'][name]:.3f} s  ({shown})")
        pairs = " ".join(f"{value:.1f}" for value in result["speedup_pairs"])
        verdict = "meets" if result["speedup_median"] >= result["target"] else "MISSES"
        print(f"  speed-up: median {result['speedup_median']:.2f}x (pairs {pairs}); "
              f"{verdict} the {result['target']:g}x target")
        print(f"  re-init only (no allocation): median {result['reinit_speedup_median']:.2f}x")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"cpu": cpu_name(), "results": results}, out, indent=1)


if __name__ == "__main__":
    main()

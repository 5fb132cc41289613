#!/usr/bin/env python
"""Write a ~1B-parameter Llama seed checkpoint with ``fastinit init --hf-config``: time and peak memory.

The command runs in this process (``fastinit.cli.app.main``) while a thread
samples ``RssAnon`` (anonymous resident memory: heap, NumPy buffers, torch's
allocations; not the page cache of the file being written) from
``/proc/self/status`` every 5 ms; the peak is reported next to the
checkpoint's size.  The bound to meet is 512 MiB whatever the model size.
``--check`` then loads the checkpoint with ``from_pretrained`` (that needs the
model's memory) and reports missing/unexpected keys and tying.

    python benchmarks/bench_hf_seed_checkpoint.py                     # 1.1B Llama, bf16, 3 shards
    python benchmarks/bench_hf_seed_checkpoint.py --layers 2 --check  # quick smoke run

The default config is TinyLlama-1.1B's shape (hidden 2048, 22 layers,
intermediate 5632, 32 heads / 4 KV heads, vocabulary 32000).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

from _machine import cpu_name  # benchmarks/_machine.py, beside this script


def rss_anon_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


class PeakSampler(threading.Thread):
    """Samples RssAnon until stopped; ``peak`` is the largest value seen."""

    def __init__(self, interval=0.005):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = rss_anon_bytes()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.peak = max(self.peak, rss_anon_bytes())
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()
        self.peak = max(self.peak, rss_anon_bytes())
        return self.peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=22)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--intermediate", type=int, default=5632)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--max-shard-size", default="1GB")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    parser.add_argument("--check", action="store_true", help="load it with from_pretrained afterwards")
    parser.add_argument("--json", default=None, help="write the results as JSON")
    options = parser.parse_args()

    import fastinit
    import torch  # noqa: F401  (imported before the baseline, as the command needs it)
    import transformers
    from fastinit.cli.app import main as fastinit_main

    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": options.hidden,
              "intermediate_size": options.intermediate, "num_hidden_layers": options.layers,
              "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": options.vocab,
              "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
              "initializer_range": 0.02, "dtype": options.dtype}
    work = Path(options.dir) if options.dir else Path(tempfile.mkdtemp(prefix="fastinit-hf-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    config_path = work / "config-in.json"
    config_path.write_text(json.dumps(config))
    out = work / "checkpoint"

    baseline = rss_anon_bytes()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    status = fastinit_main(["init", "--hf-config", str(config_path), "-o", str(out), "--force",
                            "--max-shard-size", options.max_shard_size, "--seed", "0"])
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    if status:
        raise SystemExit(f"fastinit init failed with status {status}")
    files = sorted(p for p in out.iterdir() if p.suffix == ".safetensors")
    size = sum(p.stat().st_size for p in files)
    result = {
        "cpu": cpu_name(), "cores": __import__("os").cpu_count(), "fastinit": fastinit.__version__,
        "transformers": transformers.__version__, "layers": options.layers, "dtype": options.dtype,
        "checkpoint_bytes": size, "files": len(files), "seconds": round(seconds, 3),
        "gb_per_s": round(size / seconds / 1e9, 3),
        "rss_anon_before_mib": round(baseline / 2 ** 20, 1), "rss_anon_peak_mib": round(peak / 2 ** 20, 1),
        "rss_anon_bound_mib": 512, "within_bound": peak < 512 * 2 ** 20,
    }
    if options.check:
        model, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
        result.update(parameters=sum(p.numel() for p in model.parameters()),
                      missing_keys=sorted(info["missing_keys"]), unexpected_keys=sorted(info["unexpected_keys"]))
        del model
    print(json.dumps(result, indent=2))
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=2) + "\n")
    if not options.dir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""What the ``fastinit`` reports say: ``init --help``'s spec examples, ``bench``'s
speed-up column and plot, ``inspect``'s distribution and ``closest`` mark.

Run as the console script, like tests/test_cli.py (whose helpers this uses).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import textwrap

import numpy as np
import pytest

import fastinit as fi
from tests.test_cli import assert_bitwise_equal, assert_ok, run_cli

try:
    from safetensors.numpy import load_file
except ImportError:                                  # pragma: no cover
    load_file = None


# ---------------------------------------------------------------------------
# init --help: a JSON and a TOML spec example, both valid
# ---------------------------------------------------------------------------

def help_block(text: str, title: str) -> str:
    """The verbatim block under ``  TITLE:`` in the help (lines indented by 4, blank lines kept)."""
    lines = text.splitlines()
    start = lines.index(f"  {title}:") + 1
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def test_init_help_shows_a_json_and_a_toml_spec_that_both_work(tmp_path):
    pytest.importorskip("safetensors")
    text = assert_ok(run_cli("init", "--help")).stdout
    examples = {"json": help_block(text, "model.json"), "toml": help_block(text, "model.toml")}
    assert examples["json"].lstrip().startswith("{") and '"tensors"' in examples["json"]
    assert '[tensors."embed.weight"]' in examples["toml"]
    json.loads(examples["json"])                              # verbatim: no argparse re-wrapping
    want = {
        "embed.weight": fi.normal((8192, 512), std=0.02, dtype="bfloat16", seed=0, stream="embed.weight"),
        "fc.weight": fi.he_uniform((2048, 512), dtype="float32", seed=0, stream="fc"),
    }
    for suffix, example in examples.items():
        spec, target = tmp_path / f"model.{suffix}", tmp_path / f"model_{suffix}.safetensors"
        spec.write_text(example)
        assert_ok(run_cli("init", "--spec", spec, "-o", target, "-q"))
        got = load_file(str(target))
        assert sorted(got) == sorted(want)
        for name, array in want.items():
            value = got[name]
            if value.dtype != array.dtype:                     # bfloat16 without ml_dtypes
                value = value.view(array.dtype)
            assert_bitwise_equal(value, array)

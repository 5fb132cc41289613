"""docs/schemes.md's framework tables: the mappings that are easy to get wrong, checked.

Keras' ``VarianceScaling`` turns ``distribution="normal"`` into
``"truncated_normal"`` (keras/src/initializers/random_initializers.py), while
fastinit's ``"normal"``, like JAX's, is untruncated: the Keras table must not
pass ``distribution`` straight through.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

import fastinit as fi

SCHEMES_MD = Path(__file__).resolve().parent.parent / "docs" / "schemes.md"


def _table_rows(section_title):
    text = SCHEMES_MD.read_text()
    section = text.split(f"## {section_title}", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= set("-: "):
            rows.append((cells[0], cells[1]))
    return rows


def _keras_variance_scaling_rows():
    return {framework: ours for framework, ours in _table_rows("Keras (`keras.initializers`)")
            if framework.startswith("`VarianceScaling(")}


def test_keras_normal_maps_to_fastinits_truncated_normal():
    rows = _keras_variance_scaling_rows()
    normal = [ours for framework, ours in rows.items() if '"normal"' in framework]
    assert normal and all('"truncated_normal"' in ours for ours in normal), rows
    untruncated = [ours for framework, ours in rows.items() if '"untruncated_normal"' in framework]
    assert untruncated and all(re.search(r'mode, "(untruncated_)?normal"', ours) for ours in untruncated)
    assert not any("distribution" in ours for ours in rows.values()), "no pass-through of the name"


def test_the_documented_keras_normal_call_draws_what_keras_draws():
    """Keras: stddev sqrt(scale / fan_in) / 0.8796..., truncated at 2 stddev."""
    shape, scale = (3, 3, 64, 128), 2.0
    fan_in = 3 * 3 * 64
    w = fi.variance_scaling(shape, scale, "fan_in", "truncated_normal", in_axis=-2, out_axis=-1,
                            dtype=np.float64, seed=0)
    keras_stddev = math.sqrt(scale / fan_in) / 0.87962566103423978
    assert np.abs(w).max() <= 2 * keras_stddev
    assert abs(w.std() / math.sqrt(scale / fan_in) - 1) < 0.01     # variance scale / n after truncation
    untruncated = fi.variance_scaling(shape, scale, "fan_in", "normal", in_axis=-2, out_axis=-1,
                                      dtype=np.float64, seed=0)
    assert np.abs(untruncated).max() > 2 * keras_stddev              # what the old table gave

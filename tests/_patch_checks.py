"""Checks shared by the patch_init tests of transformers and timm models."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats


def _tensors(model):
    named = dict(model.named_parameters())
    named.update(model.named_buffers())
    return {name: tensor.detach() for name, tensor in named.items()}


def _same_bits(a, b):
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        return torch.equal(a.view(torch.int32 if a.element_size() == 4 else torch.int16),
                           b.view(torch.int32 if b.element_size() == 4 else torch.int16))
    return torch.equal(a, b)


def assert_same_distributions(patched, reference):
    """Every tensor as the library's own init gives it, within statistical tolerance.

    Exact: integer buffers, constant tensors, and where the reference holds
    exactly 0 or 1 (biases, norms, padding rows, masks) -- a continuous draw
    hits neither.  The rest: a two-sample Kolmogorov-Smirnov test (the values
    are fixed by the seeds, so the test is deterministic) and std, mean and
    range within tolerance.
    """
    ours, theirs = _tensors(patched), _tensors(reference)
    assert ours.keys() == theirs.keys()
    compared = 0
    for name, want in theirs.items():
        got = ours[name]
        assert got.shape == want.shape and got.dtype == want.dtype, name
        if not want.is_floating_point():
            assert torch.equal(got, want), name
            continue
        for value in (0.0, 1.0):
            assert torch.equal(got == value, want == value), f"{name}: where the library puts {value}"
        random = (want != 0) & (want != 1)
        if random.sum() < 2 or torch.unique(want[random]).numel() == 1:
            assert torch.equal(got, want), f"{name}: a constant tensor"
            continue
        a, b = got[random].double().numpy(), want[random].double().numpy()
        if np.ptp(b) == 0 or np.unique(b).size < 0.5 * b.size:
            assert np.array_equal(a, b), f"{name}: computed values"   # rotary frequencies etc.
            continue
        result = stats.ks_2samp(a, b)
        assert result.pvalue > 1e-5, f"{name}: KS p={result.pvalue:.2e}, std {a.std():.4g} vs {b.std():.4g}"
        tolerance = 6 / np.sqrt(b.size) + 0.02
        assert abs(a.std() / b.std() - 1) < tolerance, f"{name}: std {a.std():.4g} vs {b.std():.4g}"
        assert abs(a.mean() - b.mean()) < tolerance * b.std() + 1e-12, name
        # Bounded laws (uniform: 1.73 std, truncation at 2 std: 2.27 std; a normal sample of
        # 1000 reaches 2.6 std but with probability 1e-4): ours stay within the library's range.
        if b.size >= 1000 and np.abs(b - b.mean()).max() < 2.6 * b.std():
            assert np.abs(a).max() <= np.abs(b).max() * 1.05, f"{name}: range"
        compared += 1
    assert compared >= 8

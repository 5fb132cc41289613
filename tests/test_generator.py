"""fastinit.default_rng / Generator: one fresh, documented stream per call.

The k-th call of a generator with path P and seed S must equal the module
function with ``seed=S, stream=stream_id("fastinit.Generator", *P, f"call:{k}")``
bit for bit (docs/stream.md, "Generators"); the ids are computed here from
that definition, not from the generator.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import threading

import numpy as np
import pytest

import fastinit as fi
from _util import require_module

SEED = 7


def sid(*components):
    return fi.stream_id("fastinit.Generator", *components)


def test_documented_stream_ids():
    # Pinned: the derivation is part of stream v1.
    assert sid("call:0") == fi.default_rng(0).stream_at(0)
    assert fi.stream_id("fastinit.Generator", "call:0") == 0xE9B051A79BE660F2
    assert fi.default_rng(0).child("a").spawn(2)[1].stream_at(3) == sid("child:a", "spawn:1", "call:3")


def test_kth_call_is_the_module_function_on_the_documented_stream():
    g = fi.default_rng(SEED)
    calls = [
        ("normal", ((64, 32),), {"std": 0.02}),
        ("uniform", ((64, 32), -1, 1), {"dtype": np.float64}),
        ("trunc_normal", ((64, 32),), {"std": 0.02, "a": -0.04, "b": 0.04}),
        ("kaiming_uniform", ((64, 32),), {"a": 5 ** 0.5}),
        ("he_normal", ((8, 4, 3, 3),), {"mode": "fan_out"}),
        ("glorot_uniform", ((64, 32),), {}),
        ("lecun_normal", ((64, 32),), {}),
        ("variance_scaling", ((64, 32), 2.0, "fan_avg", "uniform"), {}),
        ("orthogonal", ((32, 16),), {"gain": 2.0}),
        ("sparse", ((32, 16), 0.25), {}),
        ("random_raw", (5,), {"start": 3}),
    ]
    for k, (name, args, kwargs) in enumerate(calls):
        got = getattr(g, name)(*args, **kwargs)
        want = getattr(fi, name)(*args, **kwargs, seed=SEED, stream=sid(f"call:{k}"))
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), name
    assert g.calls == len(calls)


def test_consecutive_calls_differ_and_same_seed_repeats():
    g = fi.default_rng(SEED)
    a, b = g.normal(1000), g.normal(1000)
    assert not np.any(a == b)
    h = fi.default_rng(SEED)
    assert h.normal(1000).tobytes() == a.tobytes() and h.normal(1000).tobytes() == b.tobytes()
    assert fi.default_rng(SEED + 1).normal(1000).tobytes() != a.tobytes()


def test_out_and_region_use_the_call_index():
    full = fi.default_rng(SEED).normal((64, 32))
    part = fi.default_rng(SEED).normal((64, 32), region=(slice(16, 48), slice(8, 24)))
    assert part.tobytes() == full[16:48, 8:24].tobytes()
    out = np.empty((64, 32), dtype=np.float32)
    assert fi.default_rng(SEED).normal(out=out) is out and out.tobytes() == full.tobytes()


def test_spawn_children_are_independent_and_reproducible():
    g = fi.default_rng(SEED)
    first = g.normal(8)
    a, b = g.spawn(2)
    (c,) = g.spawn(1)
    assert [x.path for x in (a, b, c)] == [("spawn:0",), ("spawn:1",), ("spawn:2",)]
    assert g.normal(8).tobytes() == fi.normal(8, seed=SEED, stream=sid("call:1")).tobytes()
    values = [x.normal(1000) for x in (a, b, c)]
    assert all(not np.any(values[i] == values[j]) for i in range(3) for j in range(i))
    assert not np.any(values[0][:8] == first)
    assert values[1].tobytes() == fi.normal(1000, seed=SEED, stream=sid("spawn:1", "call:0")).tobytes()
    # Spawning first gives the same children and leaves the parent's own calls alone.
    h = fi.default_rng(SEED)
    a2, b2, c2 = h.spawn(3)
    assert [x.normal(1000).tobytes() for x in (a2, b2, c2)] == [v.tobytes() for v in values]
    assert h.normal(8).tobytes() == first.tobytes()
    assert g.spawn(0) == []


def test_named_children_ignore_call_order():
    g = fi.default_rng(SEED)
    enc = g.child("encoder.0.weight").normal(100)
    dec = g.child("decoder.0.weight").normal(100)
    h = fi.default_rng(SEED)
    h.uniform(5)
    h.spawn(4)
    assert h.child("decoder.0.weight").normal(100).tobytes() == dec.tobytes()
    assert h.child("encoder.0.weight").normal(100).tobytes() == enc.tobytes()
    assert not np.any(enc == dec)
    # Nested children differ from a joined name, and children differ from spawned ones.
    assert g.child("a").child("b").stream_at(0) == sid("child:a", "child:b", "call:0")
    assert g.child("a").child("b").stream_at(0) != g.child("a.b").stream_at(0)
    assert g.child("spawn:0").stream_at(0) != g.spawn(1)[0].stream_at(0)


def test_default_rng_seed_handling():
    g = fi.default_rng(SEED)
    assert fi.default_rng(g) is g
    assert fi.default_rng(np.uint64(2**64 - 1)).seed == 2**64 - 1
    entropy = fi.default_rng()
    assert 0 <= entropy.seed < 2**64
    assert entropy.normal(4).tobytes() == fi.normal(4, seed=entropy.seed, stream=sid("call:0")).tobytes()
    for bad in (-1, 2**64, 1.0, True, "1", np.random.default_rng(0)):
        with pytest.raises(Exception) as mine:
            fi.default_rng(bad)
        with pytest.raises(Exception) as theirs:
            fi.normal(4, seed=bad)
        assert type(mine.value) is type(theirs.value) and str(mine.value) == str(theirs.value)
        assert type(mine.value) in (TypeError, ValueError)


def test_bad_calls_raise_and_do_not_advance():
    g = fi.default_rng(SEED)
    with pytest.raises(ValueError, match="std must be >= 0"):
        g.normal(4, std=-1.0)
    for kwargs in ({"seed": 1}, {"stream": 1}, {"colour": 1}):
        with pytest.raises(TypeError, match=r"Generator\.normal\(\)"):
            g.normal(4, **kwargs)
    with pytest.raises(TypeError, match="child name must be a str"):
        g.child(0)
    with pytest.raises(ValueError, match="n must be >= 0"):
        g.spawn(-1)
    with pytest.raises(ValueError, match="k must be >= 0"):
        g.stream_at(-1)
    assert g.calls == 0
    assert g.normal(4).tobytes() == fi.normal(4, seed=SEED, stream=sid("call:0")).tobytes()


def test_signatures_and_help_lack_seed_and_stream():
    g = fi.default_rng(SEED)
    names = ("random_raw", "uniform", "normal", "trunc_normal", "variance_scaling", "xavier_uniform",
             "xavier_normal", "glorot_uniform", "glorot_normal", "kaiming_uniform", "kaiming_normal",
             "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "orthogonal", "sparse")
    for name in names:
        full = inspect.signature(getattr(fi, name))
        method = inspect.signature(getattr(g, name))
        assert list(method.parameters) == [p for p in full.parameters if p not in ("seed", "stream")]
        assert [p.kind for p in method.parameters.values()] == \
            [p.kind for p in full.parameters.values() if p.name not in ("seed", "stream")]
        doc = inspect.getdoc(getattr(fi.Generator, name))
        assert f"fastinit.{getattr(fi, name).__name__}" in doc and "Examples" in doc
        first_line = doc.splitlines()[0]
        assert first_line == inspect.getdoc(getattr(fi, name)).splitlines()[0]
    text = pydoc_text(fi.Generator.normal)
    assert "normal(self, shape=None, mean=0.0, std=1.0, *, out=None, dtype=None, region=None)" in text


def pydoc_text(obj):
    import pydoc
    return pydoc.render_doc(obj, renderer=pydoc.plaintext)


def test_repr_pickle_copy():
    g = fi.default_rng(SEED).child("x")
    g.normal(3)
    g.spawn(2)
    assert repr(g) == "Generator(seed=7, path=('child:x',), calls=1)"
    next_call = fi.normal(5, seed=SEED, stream=sid("child:x", "call:1")).tobytes()
    for clone in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g), copy.copy(g), g):
        assert repr(clone) == repr(g)
        assert clone.normal(5).tobytes() == next_call
        assert clone.spawn(1)[0].path == ("child:x", "spawn:2")


def test_threads_never_share_a_stream():
    g = fi.default_rng(SEED)
    results = []

    def work():
        for _ in range(25):
            results.append(g.random_raw(2))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert g.calls == 100
    expected = {fi.random_raw(2, seed=SEED, stream=sid(f"call:{k}")).tobytes() for k in range(100)}
    assert {r.tobytes() for r in results} == expected


# ---------------------------------------------------------------- fastinit.torch


def test_torch_model_apply_gives_distinct_reproducible_layers():
    torch = require_module("torch")
    import fastinit.torch as fit

    def build(seed):
        model = torch.nn.Sequential(*[torch.nn.Linear(16, 16) for _ in range(4)])
        g = fi.default_rng(seed)

        def init(m):
            if isinstance(m, torch.nn.Linear):
                fit.normal_(m.weight, std=0.02, generator=g)
                fit.zeros_(m.bias)
        model.apply(init)
        return model, g

    model, g = build(SEED)
    weights = [m.weight.detach().numpy() for m in model]
    assert all(not np.any(weights[i] == weights[j]) for i in range(4) for j in range(i))
    assert g.calls == 4
    for k, w in enumerate(weights):   # apply visits children in order: layer k is call k
        assert w.tobytes() == fi.normal((16, 16), std=0.02, seed=SEED, stream=sid(f"call:{k}")).tobytes()
    again, _ = build(SEED)
    assert all(a.weight.detach().numpy().tobytes() == w.tobytes() for a, w in zip(again, weights))


def test_torch_drop_ins_take_the_generators_next_stream():
    torch = require_module("torch")
    import fastinit.torch as fit
    g = fi.default_rng(SEED)
    state = torch.get_rng_state()
    t = fit.kaiming_uniform_(torch.empty(32, 8), a=5 ** 0.5, generator=g)
    assert torch.equal(torch.get_rng_state(), state)       # torch's generator untouched
    assert t.numpy().tobytes() == fi.kaiming_uniform((32, 8), a=5 ** 0.5, seed=SEED,
                                                    stream=sid("call:0")).tobytes()
    u = fit.trunc_normal_(torch.empty(8, 4, dtype=torch.float64), std=0.02, generator=g)
    assert u.numpy().tobytes() == fi.trunc_normal((8, 4), std=0.02, dtype=np.float64, seed=SEED,
                                                 stream=sid("call:1")).tobytes()
    # Methods and drop-ins share one counter.
    assert g.normal(3).tobytes() == fi.normal(3, seed=SEED, stream=sid("call:2")).tobytes()


def test_torch_drop_in_errors_leave_the_generator_alone():
    torch = require_module("torch")
    import fastinit.torch as fit
    g = fi.default_rng(SEED)
    t = torch.zeros(4, 4)
    with pytest.raises(TypeError, match="supplies seed and stream; got it with seed=3"):
        fit.normal_(t, generator=g, seed=3)
    with pytest.raises(TypeError, match="got it with stream='w'"):
        fit.normal_(t, generator=g, stream="w")
    with pytest.raises(TypeError, match="a fastinit.Generator or None; got Generator"):
        fit.normal_(t, generator=np.random.default_rng(0))
    with pytest.raises(ValueError):
        fit.normal_(t, std=-1.0, generator=g)
    assert g.calls == 0 and not t.any()

"""What the ``fastinit`` reports say: ``init --help``'s spec examples, ``bench``'s
speed-up column and plot, ``inspect``'s distribution and ``closest`` mark.

Run as the console script, like tests/test_cli.py (whose helpers this uses).
"""

from __future__ import annotations

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


# ---------------------------------------------------------------------------
# bench: the speed-up column compares fastinit with its torch peer; a readable plot
# ---------------------------------------------------------------------------

def fake_contender(library, scheme, median, dtype="float32", threads=2, ceiling=False):
    """A Contender with given times (no fill is run): the report is a function of them."""
    from fastinit.cli import bench
    buffer = np.zeros((4, bench.ROW_WIDTH), dtype=np.float32)
    return bench.Contender(f"{library} {scheme}", library, scheme, dtype, buffer, lambda view: None,
                           threads=threads, ceiling_candidate=ceiling, times=[median])


def float32_field(torch_uniform, torch_trunc_normal):
    """memset, fastinit and numpy at fixed float32 times; torch's two times as given."""
    return [fake_contender("memset", "memset", 0.001, ceiling=True),
            fake_contender("fastinit", "uniform", 0.010),
            fake_contender("fastinit", "trunc_normal", 0.020),
            fake_contender("numpy", "uniform", 0.040, threads=1),
            fake_contender("torch", "uniform", torch_uniform),
            fake_contender("torch", "trunc_normal", torch_trunc_normal)]


def test_bench_speedup_compares_fastinit_with_its_torch_peer():
    from fastinit.cli import bench
    contenders = float32_field(torch_uniform=0.123, torch_trunc_normal=2.0)
    rows = {(r["library"], r["scheme"]): r for r in bench.bench_rows(contenders)}
    assert rows["fastinit", "uniform"]["speedup_vs_torch"] == pytest.approx(12.3)
    assert rows["fastinit", "trunc_normal"]["speedup_vs_torch"] == pytest.approx(100.0)
    assert rows["numpy", "uniform"]["rate_vs_fastinit"] == pytest.approx(0.25)
    assert rows["torch", "uniform"]["rate_vs_fastinit"] == pytest.approx(0.010 / 0.123)
    table = bench.bench_table(list(rows.values()))
    cells = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in table.splitlines()[2:]}
    assert cells == {"memset memset": "ceiling", "fastinit uniform": "12.3x vs torch",
                     "fastinit trunc_normal": "100.0x vs torch", "numpy uniform": "0.25x of fastinit",
                     "torch uniform": "0.081x of fastinit", "torch trunc_normal": "0.01x of fastinit"}
    assert "threads" in table.splitlines()[0]
    footer = bench.bench_footer(torch_installed=True)
    assert "vs torch" in footer and "of fastinit" in footer and "not installed" not in footer


def test_bench_without_torch_says_so(monkeypatch, capsys, tmp_path):
    from fastinit import cli
    from fastinit.cli import bench
    monkeypatch.setattr(bench, "import_torch", lambda: None)
    out = tmp_path / "rows.json"
    status = cli.main(["bench", "--size-mib", "0.25", "--repeat", "1", "--threads", "1",
                       "--schemes", "uniform", "--json", str(out)])
    text = capsys.readouterr().out
    assert status == 0
    assert "torch not installed" in text
    assert "torch is not installed, so fastinit rows show '-'" in text
    fastinit_line = next(line for line in text.splitlines() if line.startswith("| fastinit"))
    assert fastinit_line.split("|")[-2].strip() == "-"
    rows = json.loads(out.read_text())
    assert {r["library"] for r in rows} == {"memset", "fastinit", "numpy"}
    assert [r["speedup_vs_torch"] for r in rows if r["library"] == "fastinit"] == [None]


def captured_bench_figure(monkeypatch, rows, torch_installed):
    """The figure bench_plot draws (kept open instead of saved)."""
    pytest.importorskip("matplotlib")
    from fastinit.cli import bench
    figures = []
    monkeypatch.setattr(bench, "save_figure", lambda plt, figure, path: figures.append(figure))
    bench.bench_plot(rows, None, "title", torch_installed=torch_installed)
    return figures[0]


def figure_texts(figure) -> list:
    texts = [t.get_text() for t in figure.texts]
    for axes in figure.axes:
        texts += [t.get_text() for t in axes.texts]
    for legend in figure.legends:
        texts += [t.get_text() for t in legend.get_texts()]
    return texts


def na_marks(figure) -> list:
    """The sorted ``n/a`` marks drawn in the panels (where a bar is missing)."""
    return sorted(t.get_text() for axes in figure.axes for t in axes.texts if t.get_text().startswith("n/a"))


def test_bench_plot_is_log_scale_marks_missing_bars_and_states_threads(monkeypatch):
    from fastinit.cli import bench
    float32 = float32_field(torch_uniform=0.1, torch_trunc_normal=5.0)
    bfloat16 = [fake_contender("memset", "memset", 0.001, dtype="bfloat16", ceiling=True),
                fake_contender("fastinit", "uniform", 0.010, dtype="bfloat16"),
                fake_contender("fastinit", "trunc_normal", 0.010, dtype="bfloat16"),
                fake_contender("torch", "uniform", 0.1, dtype="bfloat16"),
                fake_contender("torch", "trunc_normal", 5.0, dtype="bfloat16")]
    rows = bench.bench_rows(float32) + bench.bench_rows(bfloat16)
    figure = captured_bench_figure(monkeypatch, rows, torch_installed=True)
    assert [axes.get_yscale() for axes in figure.axes] == ["log", "log"]         # one panel per dtype
    low, high = figure.axes[0].get_ylim()
    rates = [r["gsamples_per_s"] for r in rows]
    assert low < min(rates) and high > max(rates)                               # every bar shows
    texts = figure_texts(figure)
    assert {"fastinit (2 threads)", "numpy (1 thread)", "torch (2 threads)",
            "memset ceiling (2 threads)"} <= set(texts)
    marks = na_marks(figure)
    assert marks == ["n/a*", "n/a**", "n/a**"]     # numpy: f32 trunc_normal; bf16 both
    footnote = " ".join(texts)
    assert "n/a*: NumPy has no trunc_normal" in footnote
    assert "n/a**: NumPy has no float16/bfloat16 generators" in footnote

    without_torch = [r for r in bench.bench_rows(float32[:4])]
    figure = captured_bench_figure(monkeypatch, without_torch, torch_installed=False)
    texts = figure_texts(figure)
    assert "torch (not installed)" in texts
    assert "n/a*: torch is not installed;  n/a**: NumPy has no trunc_normal" in " ".join(texts)
    assert na_marks(figure) == ["n/a*", "n/a*", "n/a**"]    # torch uniform and trunc_normal, numpy trunc
    import matplotlib.pyplot as plt
    plt.close("all")


# ---------------------------------------------------------------------------
# inspect: the overlay follows the distribution detected; `closest` within a tolerance
# ---------------------------------------------------------------------------

SHAPE = (512, 256)                        # fan_in 256: lecun std 1/16, he std sqrt(2)/16


def inspect_in_process(monkeypatch, capsys, tmp_path, array, *options, plot=False):
    """Save ``array`` as .npy, run ``fastinit inspect`` in-process: (stdout, figure or None)."""
    from fastinit import cli
    from fastinit.cli import inspect_command
    target = tmp_path / "w.npy"
    np.save(target, array)
    figures = []
    monkeypatch.setattr(inspect_command, "save_figure", lambda plt, figure, path: figures.append(figure))
    args = ["inspect", str(target), *options] + (["--plot", str(tmp_path / "h.png")] if plot else [])
    assert cli.main(args) == 0
    return capsys.readouterr().out, (figures[0] if figures else None)


def overlay(figure):
    """(label, x, y) of the curve drawn over the histogram."""
    (line,) = figure.axes[0].get_lines()
    return line.get_label(), np.asarray(line.get_xdata()), np.asarray(line.get_ydata())


def test_inspect_uniform_gets_a_flat_overlay_over_its_bounds(monkeypatch, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    values = fi.uniform(SHAPE, low=-0.5, high=1.5, seed=0)
    text, figure = inspect_in_process(monkeypatch, capsys, tmp_path, values, plot=True)
    low, high = float(values.min()), float(values.max())
    assert f"distribution uniform over [{low:.6g}, {high:.6g}]" in text
    label, x, y = overlay(figure)
    assert label.startswith("uniform over")
    width = (high - low) / 96                                      # the plot's 96 bins over [min, max]
    level = values.size * width / (high - low)
    np.testing.assert_allclose(x, [low, low, high, high])
    np.testing.assert_allclose(y, [0, level, level, 0])


def test_inspect_trunc_normal_gets_the_renormalized_truncated_curve(monkeypatch, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    stats = pytest.importorskip("scipy.stats")
    values = fi.trunc_normal(SHAPE, mean=0.0, std=1.0, a=-2.0, b=2.0, seed=0)
    text, figure = inspect_in_process(monkeypatch, capsys, tmp_path, values, plot=True)
    assert "distribution truncated normal" in text
    label, x, y = overlay(figure)
    assert "truncated to [-2, 2]" in label
    low, high = float(values.min()), float(values.max())
    width = (high - low) / 96
    # the curve is n * bin width * the density of N(0, 1) cut to [-2, 2] (mass 0.954, renormalized)
    want = values.size * width * stats.truncnorm.pdf(x, -2.0, 2.0)
    np.testing.assert_allclose(y, want, rtol=0.02)
    assert y[len(y) // 2] > values.size * width * math.exp(0) / math.sqrt(2 * math.pi) * 1.03


def test_inspect_normal_gets_the_normal_curve(monkeypatch, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    values = fi.he_normal(SHAPE, seed=0)
    text, figure = inspect_in_process(monkeypatch, capsys, tmp_path, values, plot=True)
    assert "distribution normal (excess kurtosis" in text
    label, x, y = overlay(figure)
    mean, std = values.astype(np.float64).mean(), values.astype(np.float64).std()
    width = (float(values.max()) - float(values.min())) / 96
    want = values.size * width * np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    assert label == "normal, same mean and std"
    np.testing.assert_allclose(y, want, rtol=1e-6)


@pytest.mark.parametrize("array, reason", [
    (np.full(SHAPE, 0.25, dtype=np.float32), "no spread"),
    (fi.sparse(SHAPE, sparsity=0.5, seed=0), "not uniform, normal or truncated normal"),
    (fi.uniform((20, 20), seed=0), "fewer than 1,000 values"),
])
def test_inspect_draws_no_curve_for_other_distributions(monkeypatch, capsys, tmp_path, array, reason):
    pytest.importorskip("matplotlib")
    text, figure = inspect_in_process(monkeypatch, capsys, tmp_path, array, plot=True)
    assert reason in re.search(r"^  distribution (.*)$", text, re.MULTILINE).group(1)
    assert [line for line in figure.axes[0].get_lines() if len(line.get_xdata())] == []


def test_inspect_marks_closest_only_within_the_stated_tolerance(monkeypatch, capsys, tmp_path):
    lecun = 1 / 16
    far = fi.normal(SHAPE, std=0.905 * lecun, seed=0)               # 10% off lecun_normal
    text, _ = inspect_in_process(monkeypatch, capsys, tmp_path, far)
    assert "<- closest" not in text and "closest:" not in text
    n = far.size
    tolerance = 3 / math.sqrt(2 * n)                                  # 3 standard errors of a normal's std
    assert f"no scheme's std is within +-{tolerance:.2%} (3 standard errors" in text
    assert re.search(r"the nearest is lecun_normal \(measured / expected = 0\.90\d\d\)", text)

    near = fi.he_normal(SHAPE, seed=0)
    text, _ = inspect_in_process(monkeypatch, capsys, tmp_path, near)
    marked = [line for line in text.splitlines() if "<- closest" in line]
    assert len(marked) == 1 and "he_normal" in marked[0]
    assert f"closest: measured std within +-{tolerance:.2%}" in text

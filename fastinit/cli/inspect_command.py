"""``fastinit inspect``: statistics and a histogram of the tensors in a weight file.

Reads a ``.npy`` or ``.safetensors`` file in bounded chunks (two passes:
moments and extremes, then a histogram), prints shape, dtype, mean, std,
min, max and a text histogram, the std the common fan-based schemes give
for the shape, and with ``--scheme`` the std of that scheme (from its
formula, else sampled).  ``--plot`` draws the histogram as a PNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

import fastinit as fi
from fastinit.cli.errors import RuntimeFailure, UsageError
from fastinit.cli.files import StoredTensor, contiguous_blocks, read_tensors, region_extents, tensor_chunks
from fastinit.cli.plotting import import_matplotlib, save_figure
from fastinit.cli.schemes import (WHOLE_MATRIX_MAX_ELEMENTS, SchemeSpec, dtype_name, format_shape,
                                  lookup_scheme, parse_parameters)

HISTOGRAM_BINS = 96
TEXT_HISTOGRAM_BINS = 24


@dataclass
class TensorStats:
    """Count, mean, variance (as m2), extremes and zeros of the finite values seen so far."""

    count: int = 0
    finite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    zeros: int = 0

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.finite) if self.finite else math.nan

    def add(self, values: np.ndarray) -> None:
        """Merge a chunk (Chan et al.'s parallel mean/variance update)."""
        self.count += values.size
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        self.zeros += int(np.count_nonzero(finite == 0))
        if not finite.size:
            return
        n_b = finite.size
        mean_b = float(finite.mean())
        m2_b = float(np.square(finite - mean_b).sum())
        n_a = self.finite
        total = n_a + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / total
        self.m2 += m2_b + delta * delta * n_a * n_b / total
        self.finite = total
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))


def tensor_statistics(tensor: StoredTensor):
    """Two chunked passes: the moments and extremes, then a histogram over [min, max]."""
    stats = TensorStats()
    for chunk in tensor_chunks(tensor):
        stats.add(chunk)
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    low, high = stats.minimum, stats.maximum
    if stats.finite and high == low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1) if stats.finite else None
    if stats.finite:
        for chunk in tensor_chunks(tensor):
            counts += np.histogram(chunk[np.isfinite(chunk)], bins=edges)[0]
    return stats, counts, edges


def truncated_normal_std(mean: float, std: float, a: float, b: float) -> float:
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)   # noqa: E731
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))                # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    if mass <= 0:
        return math.nan
    term = (alpha * pdf(alpha) - beta * pdf(beta)) / mass
    shift = (pdf(alpha) - pdf(beta)) / mass
    return std * math.sqrt(max(0.0, 1 + term - shift * shift))


def analytic_scheme_std(scheme: SchemeSpec, shape: tuple, params: dict) -> Optional[float]:
    """The standard deviation ``scheme`` gives for ``shape``, from its formula, or None if unknown."""
    kw = {p.name: p.default for p in scheme.parameters}
    kw.update(params)
    name = scheme.canonical_name

    def fans():
        return fi.compute_fans(shape, in_axis=kw.get("in_axis", 1), out_axis=kw.get("out_axis", 0))

    if name in ("kaiming_normal", "kaiming_uniform"):
        fan_in, fan_out = fans()
        gain = fi.calculate_gain(kw["nonlinearity"], kw["a"])
        return gain / math.sqrt(fan_in if kw["mode"] == "fan_in" else fan_out)
    if name in ("xavier_normal", "xavier_uniform"):
        fan_in, fan_out = fans()
        return kw["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
    if name in ("lecun_normal", "lecun_uniform"):
        return 1.0 / math.sqrt(fans()[0])
    if name == "variance_scaling":
        fan_in, fan_out = fans()
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
               "fan_geo_avg": math.sqrt(fan_in * fan_out)}[kw["mode"]]
        return math.sqrt(kw["scale"] / fan)
    if name == "normal":
        return abs(kw["std"])
    if name == "uniform":
        return (kw["high"] - kw["low"]) / math.sqrt(12)
    if name == "trunc_normal":
        return truncated_normal_std(kw["mean"], kw["std"], kw["a"], kw["b"])
    if name in ("constant", "zeros", "ones"):
        return 0.0
    if name == "orthogonal":
        return abs(kw["gain"]) / math.sqrt(max(shape[0], math.prod(shape[1:])))
    if name == "sparse" and kw.get("sparsity") is not None:
        rows = shape[0]
        return kw["std"] * math.sqrt(1 - math.ceil(kw["sparsity"] * rows) / rows)
    return None


def sampled_scheme_std(scheme: SchemeSpec, shape: tuple, params: dict) -> Optional[float]:
    """The std of the first (up to 2**20) elements ``scheme`` gives for ``shape`` (seed 0)."""
    if scheme.whole_matrix and math.prod(shape) > WHOLE_MATRIX_MAX_ELEMENTS:
        return None
    region = next(contiguous_blocks(shape, 1 << 20))
    out = np.empty(region_extents(shape, region), dtype=np.float64)
    keywords = dict(params, seed=0) if scheme.random else dict(params)
    scheme.function(shape, out=out, region=region, **keywords)
    return float(out.std())


def scheme_std_for(scheme: SchemeSpec, shape: tuple, params: dict):
    """(std, how it was obtained) for ``--scheme``."""
    try:
        std = analytic_scheme_std(scheme, shape, params)
        if std is not None:
            return std, "formula"
        std = sampled_scheme_std(scheme, shape, params)
        return std, "sampled"
    except (TypeError, ValueError, KeyError) as exc:
        raise UsageError(f"--scheme {scheme.name}: {exc}") from None


COMMON_SCHEMES = (
    ("kaiming_normal / he_normal", "sqrt(2 / fan_in)",
     lambda fan_in, fan_out: fi.calculate_gain("leaky_relu", 0) / math.sqrt(fan_in)),
    ("xavier_normal / glorot_normal", "sqrt(2 / (fan_in + fan_out))",
     lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    ("lecun_normal", "sqrt(1 / fan_in)",
     lambda fan_in, fan_out: 1.0 / math.sqrt(fan_in)),
)


def describe_tensor(tensor: StoredTensor, scheme: Optional[SchemeSpec], params: dict, plot: Optional[Path]) -> None:
    stats, counts, edges = tensor_statistics(tensor)
    title = f"{tensor.path}" + (f" [{tensor.name}]" if tensor.name else "")
    print(title)
    print(f"  shape    {format_shape(tensor.shape) or '()'}  ({tensor.size:,} elements)")
    print(f"  dtype    {dtype_name(tensor.dtype)}{tensor.note}")
    print(f"  mean     {stats.mean:.6g}")
    print(f"  std      {stats.std:.6g}")
    print(f"  min      {stats.minimum:.6g}")
    print(f"  max      {stats.maximum:.6g}")
    print(f"  zeros    {stats.zeros:,} ({stats.zeros / max(stats.count, 1):.2%})")
    if stats.finite != stats.count:
        print(f"  non-finite {stats.count - stats.finite:,} (left out of the statistics above)")

    if tensor.size == 0:
        print("  (an empty array: no values, so no statistics to compare)")
    elif len(tensor.shape) >= 2:
        fan_in, fan_out = fi.compute_fans(tensor.shape)
        print(f"  fans     fan_in {fan_in:,}, fan_out {fan_out:,} (PyTorch layout (out, in, *kernel))")
        print("  std the common schemes give for this shape (their *_uniform twins have the same std):")
        candidates = [(label, formula, rule(fan_in, fan_out)) for label, formula, rule in COMMON_SCHEMES]
        def distance(candidate):
            std = candidate[2]
            return abs(math.log(stats.std / std)) if stats.std > 0 and std > 0 else math.inf
        closest = min(candidates, key=distance)
        width = max(len(c[0]) for c in candidates)
        for candidate in candidates:
            label, formula, std = candidate
            mark = (f"  <- closest (measured / expected = {stats.std / std:.4f})"
                    if candidate is closest and distance(candidate) < math.log(1.5) else "")
            print(f"    {label:<{width}}  {std:<10.6g}  {formula}{mark}")
    else:
        print("  (fan-based schemes need at least 2 dimensions)")
    if scheme is not None and tensor.size:
        std, how = scheme_std_for(scheme, tensor.shape, params)
        if std is None:
            print(f"  {scheme.name}: std unknown for this shape (the matrix is too large to sample)")
        else:
            ratio = f" (measured / expected = {stats.std / std:.4f})" if std > 0 else ""
            arguments = ", ".join(f"{key}={value!r}" for key, value in params.items())
            call = f"{scheme.name}({arguments})" if params else scheme.name
            print(f"  {call} gives std {std:.6g} for this shape ({how}){ratio}")

    if edges is not None:
        print(f"  histogram ({TEXT_HISTOGRAM_BINS} bins):")
        merged = counts.reshape(TEXT_HISTOGRAM_BINS, -1).sum(axis=1)
        merged_edges = edges[:: HISTOGRAM_BINS // TEXT_HISTOGRAM_BINS]
        peak = max(int(merged.max()), 1)
        for i, count in enumerate(merged):
            bar = "#" * int(round(40 * count / peak))
            print(f"    {merged_edges[i]:>+11.4g} .. {merged_edges[i + 1]:>+11.4g} | {bar:<40} {count:,}")
    if plot is not None:
        inspect_plot(tensor, stats, counts, edges, plot, title)
        print(f"wrote {plot}")


def inspect_plot(tensor, stats, counts, edges, path: Path, title: str) -> None:
    plt = import_matplotlib("--plot")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    if edges is not None:
        axes.stairs(counts, edges, fill=True, alpha=0.6, label="values")
        if stats.std > 0:
            centers = (edges[:-1] + edges[1:]) / 2
            width = edges[1] - edges[0]
            density = np.exp(-0.5 * ((centers - stats.mean) / stats.std) ** 2) / (stats.std * math.sqrt(2 * math.pi))
            axes.plot(centers, density * stats.finite * width, label="normal, same mean and std")
        axes.legend()
    axes.set_xlabel("value")
    axes.set_ylabel("count")
    axes.set_title(f"{title}\n{format_shape(tensor.shape)} {dtype_name(tensor.dtype)}, "
                   f"mean {stats.mean:.4g}, std {stats.std:.4g}", fontsize=9)
    figure.tight_layout()
    save_figure(plt, figure, path)


def command_inspect(args) -> int:
    """``fastinit inspect``: returns the exit status (0)."""
    scheme = lookup_scheme(args.scheme) if args.scheme else None
    if args.param and scheme is None:
        raise UsageError("--param needs --scheme")
    params = parse_parameters(scheme, args.param) if scheme is not None else {}
    if args.plot:
        import_matplotlib("--plot")
    tensors = read_tensors(Path(args.file))
    if args.name is not None:
        chosen = [t for t in tensors if t.name == args.name]
        if not chosen:
            names = ", ".join(sorted(t.name for t in tensors if t.name)) or "(none: a .npy file holds one unnamed array)"
            raise RuntimeFailure(f"no tensor {args.name!r} in {args.file!r}; its tensors: {names}")
        tensors = chosen
    if args.plot and len(tensors) > 1:
        raise UsageError(f"--plot draws one tensor; choose it with --name (tensors: "
                         f"{', '.join(t.name for t in tensors)})")
    for i, tensor in enumerate(tensors):
        if i:
            print()
        describe_tensor(tensor, scheme, params, Path(args.plot) if args.plot else None)
    return 0


"""``fastinit inspect``: statistics and a histogram of the tensors in a weight file.

Reads a file of any format of the table (:mod:`fastinit.cli.formats`) in
bounded chunks (two passes: moments and extremes, then a histogram), prints
shape, dtype, mean, std, min, max and a text histogram, the std the common
fan-based schemes give for the shape, and with ``--scheme`` the std of that
scheme (from its formula, else sampled).  ``--plot`` draws the histogram as a PNG, with the
density of the distribution detected.

Which distribution (:func:`detect_distribution`): the excess kurtosis ``k``
(fourth central moment / variance**2 - 3, from the second pass) tells the
three shapes fastinit draws apart: a uniform has ``k = -1.2``, a normal
``k = 0``, a truncated normal lies in between (its hard bounds cut the
tails).  With ``n`` values the tolerance is ``5 * sqrt(24 / n)``, five
standard errors of ``k`` for a normal sample (five, not three, because the
sample kurtosis has a heavy right tail; a uniform's standard error is
smaller, so this is generous for it).  In order: ``|k| <= tol`` is normal;
``|k + 1.2| <= tol`` is uniform over [min, max]; ``-1.2 < k < 0`` is a
truncated normal over [min, max] if the one whose mean and std match the
values' has a kurtosis within ``tol`` of ``k``; anything else (a constant,
sparse weights, fewer than :data:`MIN_VALUES_FOR_SHAPE` values) is not
classified, and no curve is drawn.

The ``<- closest`` mark: a common scheme's std is marked when the measured
std is within :func:`std_tolerance` of it: three standard errors of a
sample std (relative standard error ``sqrt((k + 2) / (4 n))``, which is
``1 / sqrt(2 n)`` for a normal), at least 0.1% (rounding to the stored
dtype); else the nearest scheme is named without the mark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

import fastinit as fi
from fastinit.cli.errors import RuntimeFailure, UsageError
from fastinit.cli.chunked import contiguous_blocks, region_extents
from fastinit.cli.formats import FORMATS, read_tensors, tensor_chunks
from fastinit.cli.formats.base import StoredTensor
from fastinit.cli.plotting import import_matplotlib, save_figure
from fastinit._registry import WHOLE_MATRIX_MAX_ELEMENTS
from fastinit.cli.schemes import (SchemeSpec, dtype_name, format_shape,
                                  lookup_scheme, parse_parameters)

HISTOGRAM_BINS = 96
TEXT_HISTOGRAM_BINS = 24
MIN_VALUES_FOR_SHAPE = 1000        # fewer values: the kurtosis is too noisy to name a distribution
# The tolerance on the kurtosis, in standard errors: the sample kurtosis has a heavy right tail,
# so 3 is too tight (he_normal 512x256 with seed 0 gives k = +0.041, 3.06 standard errors).
SHAPE_STANDARD_ERRORS = 5
STD_STANDARD_ERRORS = 3            # the tolerance of `closest`, in standard errors of the std
STD_TOLERANCE_FLOOR = 1e-3         # ... and at least this (dtype rounding)
UNIFORM_EXCESS_KURTOSIS = -1.2


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
    m4: float = math.nan        # sum of (x - mean)**4, from the second pass

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.finite) if self.finite else math.nan

    @property
    def excess_kurtosis(self) -> float:
        """m4 / m2**2 - 3 (0 for a normal, -1.2 for a uniform); nan when undefined."""
        if not self.finite or self.m2 <= 0 or not math.isfinite(self.m4):
            return math.nan
        return self.finite * self.m4 / (self.m2 * self.m2) - 3.0

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
        stats.m4 = 0.0
        for chunk in tensor_chunks(tensor):
            finite = chunk[np.isfinite(chunk)]
            counts += np.histogram(finite, bins=edges)[0]
            stats.m4 += float(np.sum(np.square(np.square(finite - stats.mean))))
    return stats, counts, edges


# ---------------------------------------------------------------------------
# Which distribution: uniform, normal or truncated normal
# ---------------------------------------------------------------------------

def truncated_normal_density(x: np.ndarray, mu: float, sigma: float, a: float, b: float) -> np.ndarray:
    """The density of N(mu, sigma**2) truncated to [a, b] (renormalized to mass 1), 0 outside."""
    alpha, beta = (a - mu) / sigma, (b - mu) / sigma
    mass = 0.5 * (math.erfc(-beta / math.sqrt(2)) - math.erfc(-alpha / math.sqrt(2)))
    z = (np.asarray(x, dtype=np.float64) - mu) / sigma
    density = np.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi) * mass)
    return np.where((x >= a) & (x <= b), density, 0.0)


def truncated_normal_moments(mu: float, sigma: float, a: float, b: float):
    """(mean, std, excess kurtosis) of N(mu, sigma**2) truncated to [a, b], by quadrature.

    Simpson's rule on 4001 points: [a, b] is at most a few sigma wide for the
    bounds met here (the extremes of a sample), so the grid is fine enough.
    """
    x = np.linspace(a, b, 4001)
    weights = np.ones_like(x)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    density = np.exp(-0.5 * ((x - mu) / sigma) ** 2) * weights
    density /= density.sum()
    mean = float(np.dot(density, x))
    centred = x - mean
    variance = float(np.dot(density, centred ** 2))
    fourth = float(np.dot(density, centred ** 4))
    return mean, math.sqrt(variance), fourth / (variance * variance) - 3.0


def fit_truncated_normal(mean: float, std: float, a: float, b: float):
    """(mu, sigma) of the normal whose truncation to [a, b] has this mean and std, or None.

    A fixed-point iteration: shift mu by the mean's error, scale sigma by the
    std's ratio.  None when no truncated normal has that std (it is at most the
    uniform's, (b - a) / sqrt(12)) or the iteration does not settle.
    """
    if not (b > a and 0 < std < (b - a) / math.sqrt(12)):
        return None
    mu, sigma = mean, std
    for _ in range(500):
        got_mean, got_std, _ = truncated_normal_moments(mu, sigma, a, b)
        mu += mean - got_mean
        sigma *= std / got_std
        if sigma > 1e3 * (b - a):
            return None
        if abs(got_mean - mean) <= 1e-9 * std and abs(got_std / std - 1) <= 1e-9:
            return mu, sigma
    return None


@dataclass
class Distribution:
    """What :func:`detect_distribution` found: ``kind`` is "normal", "uniform",
    "trunc_normal" or "unknown"; ``text`` says why, for the report."""

    kind: str
    text: str
    low: float = math.nan         # uniform and truncated normal: the bounds [low, high]
    high: float = math.nan
    mu: float = math.nan          # truncated normal: the parent normal's mean and std
    sigma: float = math.nan

    def density(self, x: np.ndarray, stats: TensorStats) -> Optional[np.ndarray]:
        """The fitted density at ``x``, or None for "unknown"."""
        if self.kind == "normal":
            return np.exp(-0.5 * ((x - stats.mean) / stats.std) ** 2) / (stats.std * math.sqrt(2 * math.pi))
        if self.kind == "uniform":
            return np.where((x >= self.low) & (x <= self.high), 1.0 / (self.high - self.low), 0.0)
        if self.kind == "trunc_normal":
            return truncated_normal_density(x, self.mu, self.sigma, self.low, self.high)
        return None

    def label(self) -> str:
        if self.kind == "normal":
            return "normal, same mean and std"
        if self.kind == "uniform":
            return f"uniform over [{self.low:.4g}, {self.high:.4g}]"
        if self.kind == "trunc_normal":
            return (f"normal({self.mu:.4g}, {self.sigma:.4g}) truncated to "
                    f"[{self.low:.4g}, {self.high:.4g}]")
        return ""


def detect_distribution(stats: TensorStats) -> Distribution:
    """Normal, uniform or truncated normal, from the excess kurtosis (rule: module docstring)."""
    n, k = stats.finite, stats.excess_kurtosis
    if not (stats.std > 0) or not math.isfinite(k):
        return Distribution("unknown", "not classified (no spread: every value the same)")
    if n < MIN_VALUES_FOR_SHAPE:
        return Distribution("unknown", f"not classified (fewer than {MIN_VALUES_FOR_SHAPE:,} values)")
    tolerance = SHAPE_STANDARD_ERRORS * math.sqrt(24.0 / n)
    rule = (f"excess kurtosis {k:.4f}; uniform -1.2, normal 0, truncated normal between; "
            f"tolerance +-{tolerance:.3g} = {SHAPE_STANDARD_ERRORS}*sqrt(24/n)")
    if abs(k) <= tolerance:
        return Distribution("normal", f"normal ({rule})")
    if abs(k - UNIFORM_EXCESS_KURTOSIS) <= tolerance:
        return Distribution("uniform", f"uniform over [{stats.minimum:.6g}, {stats.maximum:.6g}] ({rule})",
                            low=stats.minimum, high=stats.maximum)
    if UNIFORM_EXCESS_KURTOSIS < k < 0:
        fit = fit_truncated_normal(stats.mean, stats.std, stats.minimum, stats.maximum)
        if fit is not None:
            mu, sigma = fit
            fitted = truncated_normal_moments(mu, sigma, stats.minimum, stats.maximum)[2]
            if abs(k - fitted) <= tolerance:
                return Distribution(
                    "trunc_normal",
                    f"truncated normal: normal({mu:.6g}, {sigma:.6g}) cut to [{stats.minimum:.6g}, "
                    f"{stats.maximum:.6g}], whose excess kurtosis is {fitted:.4f} ({rule})",
                    low=stats.minimum, high=stats.maximum, mu=mu, sigma=sigma)
    return Distribution("unknown", f"not uniform, normal or truncated normal ({rule})")


def std_tolerance(stats: TensorStats) -> float:
    """Relative tolerance of the ``closest`` mark: 3 standard errors of the sample std, at least 0.1%.

    The sample variance's relative standard error is sqrt((k + 2) / n) for
    excess kurtosis k, so the std's is half that: sqrt((k + 2) / (4 n)).
    """
    k = stats.excess_kurtosis
    k = k if math.isfinite(k) else 0.0
    relative_se = math.sqrt(max(k + 2.0, 0.0) / (4.0 * max(stats.finite, 1)))
    return max(STD_STANDARD_ERRORS * relative_se, STD_TOLERANCE_FLOOR)


def analytic_scheme_std(scheme: SchemeSpec, shape: tuple, params: dict) -> Optional[float]:
    """The standard deviation ``scheme`` gives for ``shape``, from its formula, or None if unknown.

    The formula is the registry's (:meth:`fastinit._registry.SchemeInfo.analytic_std`):
    the scheme's own rule, with the fans of ``shape``.
    """
    return scheme.info.analytic_std(scheme.info.arguments(params), shape)


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
    distribution = detect_distribution(stats)
    print(f"  distribution {distribution.text}")

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
        nearest = min(candidates, key=distance)
        tolerance = std_tolerance(stats)
        # within +-tolerance of the ratio 1, i.e. |log ratio| <= log1p(tolerance) (symmetric enough)
        within = distance(nearest) <= math.log1p(tolerance)
        width = max(len(c[0]) for c in candidates)
        for candidate in candidates:
            label, formula, std = candidate
            mark = (f"  <- closest (measured / expected = {stats.std / std:.4f})"
                    if candidate is nearest and within else "")
            print(f"    {label:<{width}}  {std:<10.6g}  {formula}{mark}")
        explained = (f"within +-{tolerance:.2%} ({STD_STANDARD_ERRORS} standard errors of the std of "
                     f"{stats.finite:,} values, at least {STD_TOLERANCE_FLOOR:.1%})")
        if within:
            print(f"    closest: measured std {explained} of its std")
        elif math.isfinite(distance(nearest)):
            print(f"    no scheme's std is {explained} of the measured std; the nearest is "
                  f"{nearest[0]} (measured / expected = {stats.std / nearest[2]:.4f})")
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
        inspect_plot(tensor, stats, counts, edges, plot, title, distribution)
        print(f"wrote {plot}")


def inspect_plot(tensor, stats, counts, edges, path: Path, title: str, distribution: Distribution) -> None:
    """The histogram, and over it the expected counts of the distribution detected (if any)."""
    plt = import_matplotlib("--plot")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    if edges is not None:
        axes.stairs(counts, edges, fill=True, alpha=0.6, label="values")
        width = edges[1] - edges[0]
        if distribution.kind == "uniform":      # a flat line with vertical edges at the bounds
            x = np.array([distribution.low, distribution.low, distribution.high, distribution.high])
            level = stats.finite * width / (distribution.high - distribution.low)
            axes.plot(x, [0, level, level, 0], label=distribution.label())
        elif distribution.kind != "unknown":
            x = np.linspace(edges[0], edges[-1], 400)
            axes.plot(x, distribution.density(x, stats) * stats.finite * width, label=distribution.label())
        else:
            axes.plot([], [], " ", label="no curve: " + distribution.text.split(" (")[0])
        axes.legend(fontsize=8)
    axes.set_xlabel("value")
    axes.set_ylabel("count")
    axes.set_title(f"{title}\n{format_shape(tensor.shape)} {dtype_name(tensor.dtype)}, "
                   f"mean {stats.mean:.4g}, std {stats.std:.4g}, excess kurtosis "
                   f"{stats.excess_kurtosis:.3g}", fontsize=9)
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
            unnamed = next(form for form in FORMATS if not form.named)
            names = (", ".join(sorted(t.name for t in tensors if t.name))
                     or f"(none: a {unnamed.label} file holds one unnamed array)")
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


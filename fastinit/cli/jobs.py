"""The tensors a command writes: :class:`TensorJob`, one array to generate.

``fastinit init`` makes the jobs (:mod:`fastinit.cli.init_command`), the
formats lay them out and encode their headers (:mod:`fastinit.cli.formats`)
and the out-of-core writer fills them block by block
(:mod:`fastinit.cli.chunked`); each imports this module, which imports none
of them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastinit._registry import WHOLE_MATRIX_MAX_ELEMENTS
from fastinit.cli.errors import UsageError
from fastinit.cli.schemes import SchemeSpec, check_required_parameters, format_shape


class SizedJob:
    """What the writer asks of every job beyond its ``name``, ``shape`` and ``dtype``."""

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


@dataclass
class TensorJob(SizedJob):
    """One array to generate: ``scheme.function(shape, **params, dtype, seed, stream)``."""

    name: str
    scheme: SchemeSpec
    shape: tuple
    dtype: np.dtype
    params: dict
    seed: int
    stream: Any = 0

    @property
    def whole_matrix(self) -> bool:
        """Whether the writer must compute the whole array at once (:meth:`compute_whole`)."""
        return self.scheme.whole_matrix

    def keywords(self) -> dict:
        keywords = dict(self.params)
        if self.scheme.random:
            keywords.update(seed=self.seed, stream=self.stream)
        return keywords

    def fill_region(self, out: np.ndarray, region: tuple) -> None:
        self.scheme.function(self.shape, out=out, region=region, **self.keywords())

    def compute_whole(self) -> np.ndarray:
        return np.ascontiguousarray(self.scheme.function(self.shape, dtype=self.dtype, **self.keywords()))

    def validate(self, context: str = "") -> None:
        """Call the library on a one-element block so its own checks run before any file exists.

        orthogonal and sparse compute the whole matrix even for a block, so
        they are size-checked here and tried on a shape of the same rank with
        every dimension cut to at most 2.  ``context`` prefixes error messages.
        """
        check_required_parameters(self.scheme, self.params)
        if self.scheme.whole_matrix and self.size > WHOLE_MATRIX_MAX_ELEMENTS:
            raise UsageError(
                f"{context}{self.scheme.name} needs the whole matrix in memory; the command line computes it "
                f"only up to {WHOLE_MATRIX_MAX_ELEMENTS:,} elements (e.g. 4096x4096), and "
                f"{format_shape(self.shape)} has {self.size:,}; use a scheme that streams "
                f"(e.g. normal, he_normal) or the Python API"
            )
        try:
            with warnings.catch_warnings():
                # The API warns that filling a zero-element array is a no-op (as torch does);
                # here an empty file is what was asked for.
                warnings.filterwarnings("ignore", "Initializing zero-element", UserWarning)
                if self.size == 0:                 # nothing to generate: check the whole call
                    self.scheme.function(self.shape, dtype=self.dtype, **self.keywords())
                elif self.scheme.whole_matrix:
                    small = tuple(min(d, 2) for d in self.shape)
                    self.scheme.function(small, dtype=self.dtype, **self.keywords())
                else:
                    one = np.empty((1,) * len(self.shape), dtype=self.dtype)
                    self.fill_region(one, tuple(slice(0, 1) for _ in self.shape))
        except (TypeError, ValueError, OverflowError) as exc:
            raise UsageError(f"{context}{self.scheme.name}: {exc}") from None

    def provenance(self) -> dict:
        entry = {"scheme": self.scheme.name, "params": self.params}
        if self.scheme.random:
            entry.update(seed=self.seed, stream=self.stream)
        return entry

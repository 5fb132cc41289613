"""Doctest collection over fastinit/ (pyproject: testpaths and --doctest-modules).

fastinit.torch and fastinit.dask raise ImportError, naming their extra, when
the extra is not installed, so their doctests cannot even be collected
there.  Outside CI, and in CI with FASTINIT_TEST_EXTRAS=optional (the
no-extras run of tools/check_release.sh), those modules are left out of
collection; otherwise (CI proper) a missing extra stays an error, as in
tests/_util.py's ``extras_required``, which states the same rule.

This file is at the repository root, not in the package, so that it is not
installed with fastinit.
"""

from __future__ import annotations

import importlib.util
import os

# Package module -> the import it needs (the extra's own module).
_NEEDS = {"fastinit/torch.py": "torch", "fastinit/torch_patch.py": "torch", "fastinit/dask.py": "dask"}


def _extras_required() -> bool:
    return bool(os.environ.get("CI")) and os.environ.get("FASTINIT_TEST_EXTRAS") != "optional"


# find_spec looks the module up without importing it (importing torch takes seconds).
collect_ignore = [] if _extras_required() else [
    path for path, module in _NEEDS.items() if importlib.util.find_spec(module) is None]

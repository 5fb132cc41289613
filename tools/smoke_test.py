"""Smoke test of an INSTALLED fastinit (an sdist or a wheel), run outside the checkout.

Checks that the extension imports and fills, that a scheme and a region give
the documented values, that the command line writes a loadable ``.npy``, and
that the optional adapters fail with an ImportError naming their extra when
the extra is missing.  Exits non-zero on the first failure.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

import fastinit as fi


def main():
    here = pathlib.Path(fi.__file__).resolve()
    assert "site-packages" in here.parts, f"fastinit was imported from {here}, not an installed copy"

    a = fi.normal((64, 48), std=0.02, seed=1)
    assert a.dtype == np.float32 and a.shape == (64, 48)
    top = fi.normal((64, 48), std=0.02, seed=1, region=(slice(0, 32),))
    assert np.array_equal(top.view(np.uint32), a[:32].view(np.uint32)), "region differs from the full array"
    assert np.array_equal(fi.random_raw(4, seed=0),
                          np.array([0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8], np.uint32)), \
        "Philox4x32-10 known-answer vector (Random123) differs"
    w = fi.kaiming_normal((512, 256), seed=0)
    assert abs(float(w.std()) - (2 / 256) ** 0.5) < 0.01 * (2 / 256) ** 0.5 * 10
    for dtype in ("float16", "bfloat16", "float64"):
        assert fi.uniform((8, 8), -1, 1, dtype=dtype, seed=2).shape == (8, 8)

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "w.npy")
        subprocess.run([sys.executable, "-m", "fastinit", "init", "he_normal", "300x200", "-o", out,
                        "--seed", "5", "-q"], check=True)
        cli = np.load(out)
        api = fi.kaiming_normal((300, 200), seed=5)
        assert np.array_equal(cli.view(np.uint32), api.view(np.uint32)), "CLI file differs from the API"

    for module, extra, needs in (("fastinit.torch", "torch", "torch"), ("fastinit.dask", "dask", "dask")):
        if importlib.util.find_spec(needs) is not None:
            continue
        try:
            __import__(module)
        except ImportError as exc:
            assert f"fastinit[{extra}]" in str(exc), f"{module}: ImportError does not name the extra: {exc}"
        else:
            raise AssertionError(f"{module} imported without {needs} installed")
    print(f"smoke test passed: fastinit {fi.__version__} from {here.parent}, simd {fi.build_info()['simd']}")


if __name__ == "__main__":
    main()

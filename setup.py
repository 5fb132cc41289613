"""Build of the fastinit extension.

Only the kernel tables listed in src_c/simd_sources.json (for x86-64:
kernels_avx512.c, kernels_avx2.c) are compiled with instruction-set flags,
each with its own; everything else targets the baseline ISA, and the kernel
table is chosen at run time (src_c/dispatch.c), never with -march=native.  On
aarch64, kernels_neon.c needs no extra flags (ASIMD is part of the baseline).
OpenMP is used when the compiler has it; otherwise the build still succeeds,
serial, with a warning.
"""

import json
import os
import platform
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SRC = "src_c"
PORTABLE_SOURCES = ["kernels_generic.c", "cpu.c", "dispatch.c", "fill.c", "parallel.c"]
# Sources compiled with extra instruction-set flags, per architecture: (file, flags).
with open(os.path.join(SRC, "simd_sources.json")) as _f:
    SIMD_SOURCES = {machine: [(e["source"], e["flags"]) for e in entries]
                    for machine, entries in json.load(_f).items() if not machine.startswith("_")}
COMMON_FLAGS = [
    "-O3",
    "-std=c11",
    "-ffp-contract=off",      # no fused multiply-add: scalar and SIMD paths give the same bits
    "-fno-math-errno",        # lets sqrt inline to one instruction
    "-fvisibility=hidden",
]
if os.environ.get("FASTINIT_SANITIZE"):
    COMMON_FLAGS = ["-O1", "-g", "-std=c11", "-ffp-contract=off", "-fno-math-errno",
                    "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                    "-fno-sanitize-recover=undefined"]


def _machine():
    m = platform.machine().lower()
    if m in ("x86_64", "amd64"):
        return "x86_64"
    return "aarch64" if m in ("aarch64", "arm64") else m


class BuildExt(build_ext):
    def _openmp_flags(self):
        if os.environ.get("FASTINIT_NO_OPENMP"):
            return None
        code = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp_check.c")
            with open(src, "w") as f:
                f.write(code)
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
                self.compiler.link_executable(objs, "omp_check", output_dir=tmp,
                                              extra_postargs=["-fopenmp"])
            except Exception:
                return None
        return ["-fopenmp"]

    def build_extensions(self):
        omp = self._openmp_flags()
        if omp is None:
            msg = ("fastinit: the C compiler has no OpenMP support; building a SERIAL "
                   "extension (fills use one thread).")
            print("WARNING: " + msg, file=sys.stderr)
        for ext in self.extensions:
            ext.extra_compile_args = COMMON_FLAGS + (omp or [])
            ext.extra_link_args = (omp or []) + [f for f in COMMON_FLAGS if f.startswith("-fsanitize")]
            for source, flags in SIMD_SOURCES.get(_machine(), []):
                objs = self.compiler.compile(
                    [os.path.join(SRC, source)],
                    output_dir=self.build_temp,
                    include_dirs=ext.include_dirs,
                    extra_postargs=COMMON_FLAGS + flags,
                )
                ext.extra_objects = list(ext.extra_objects or []) + objs
        super().build_extensions()


extensions = [
    Extension(
        "fastinit._core",
        sources=["fastinit/_core.pyx"] + [os.path.join(SRC, s) for s in PORTABLE_SOURCES],
        include_dirs=[SRC, np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=[os.path.join(SRC, f) for f in os.listdir(SRC) if f.endswith((".h", ".json"))]
        + [os.path.join(SRC, s) for s, _ in SIMD_SOURCES.get(_machine(), [])],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": 3}),
    cmdclass={"build_ext": BuildExt},
)

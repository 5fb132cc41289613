#!/usr/bin/env bash
# Build the extension with AddressSanitizer + UndefinedBehaviorSanitizer in a
# scratch copy of the tree and run the test suite (default: the fast tests)
# against it, once per kernel table this CPU can run (FASTINIT_SIMD=<name>; the names come
# from the C registry through fastinit.build_info()).  Usage: tools/sanitize.sh [pytest args and paths...]
# (paths relative to the repository root; default: tests -m "not slow").
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp -r "$repo/setup.py" "$repo/pyproject.toml" "$repo/_fastinit_entry.py" "$repo/fastinit" "$repo/src_c" "$repo/tests" "$work/"
rm -f "$work"/fastinit/*.so "$work"/fastinit/_core.c
python -m pip install --quiet "Cython>=3.0" "setuptools>=64" wheel
(cd "$work" && FASTINIT_SANITIZE=1 python setup.py -q build_ext --inplace >/dev/null 2>&1) \
    || { echo "sanitizer build failed" >&2; (cd "$work" && FASTINIT_SANITIZE=1 python setup.py build_ext --inplace); exit 1; }

# (No `ldd | grep -q` here: with pipefail, grep exiting early fails the pipeline.)
linked="$(ldd "$work"/fastinit/_core*.so)"
[[ "$linked" == *libasan* ]] || { echo "extension is not instrumented" >&2; exit 1; }
asan="$(gcc -print-file-name=libasan.so)"
# libstdc++ is preloaded right after libasan so that ASan's __cxa_throw
# interceptor finds the real function when it initializes.  Without it the
# first C++ exception thrown by an uninstrumented extension (matplotlib's
# ft2font raises one on every attribute lookup) stops the run with
# 'CHECK failed: asan_interceptors.cpp "real___cxa_throw != 0"'.
preload="$asan:$(gcc -print-file-name=libstdc++.so)"
# Python itself is not built with ASan: leak checking would report the interpreter.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(tests -m "not slow" -q -x -p no:cacheprovider)
# Usable tables, best first, as the instrumented build itself reports them.
mapfile -t tables < <(cd "$work" && LD_PRELOAD="$asan" PYTHONPATH="$work" python -c \
    'import fastinit as fi; print("\n".join(reversed(fi.build_info()["simd_available"])))')
[ ${#tables[@]} -gt 0 ] || { echo "could not list the kernel tables" >&2; exit 1; }
for simd in "${tables[@]}"; do
    echo "== sanitized test run, FASTINIT_SIMD=$simd"
    (cd "$work" && LD_PRELOAD="$preload" FASTINIT_SIMD="$simd" PYTHONPATH="$work" \
        python -m pytest "${args[@]}")
done

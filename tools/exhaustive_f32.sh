#!/usr/bin/env bash
# Build and run tools/exhaustive_f32.c: the AVX2 float32 normal transform
# against the scalar definition for every input word (about 1.5 minutes on two
# cores).  Compiled with the kernels' own flags; x86-64 only.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [[ "$(uname -m)" != "x86_64" ]]; then
    echo "exhaustive_f32: skipped, not x86-64"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(-O2 -std=c11 -ffp-contract=off -fno-math-errno -fopenmp -I"$repo/src_c")
gcc "${flags[@]}" -c "$repo/src_c/kernels_generic.c" -o "$work/generic.o"
gcc "${flags[@]}" -c "$repo/src_c/dispatch.c" -o "$work/dispatch.o"
gcc "${flags[@]}" -mavx2 -mf16c "$repo/tools/exhaustive_f32.c" "$work/generic.o" "$work/dispatch.o" \
    -lm -o "$work/exhaustive_f32"
"$work/exhaustive_f32"

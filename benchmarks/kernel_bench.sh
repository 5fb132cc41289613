#!/usr/bin/env bash
# Build benchmarks/kernel_bench.c against the C sources (each SIMD kernel file
# with its flags from src_c/simd_sources.json, as setup.py does) and run it.
# Usage: bash benchmarks/kernel_bench.sh [elements] [calls]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
machine="$(uname -m)"
[[ "$machine" == "amd64" ]] && machine=x86_64
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(-O3 -std=c11 -ffp-contract=off -fno-math-errno -I"$repo/src_c")
declare -A simd_flags=()
while read -r source source_flags; do
    [[ -n "$source" ]] && simd_flags["$source"]="$source_flags"
done < <(python3 - "$repo/src_c/simd_sources.json" "$machine" <<'PY'
import json, sys
for entry in json.load(open(sys.argv[1])).get(sys.argv[2], []):
    print(" ".join([entry["source"]] + entry["flags"]))
PY
)
objects=()
for path in "$repo"/src_c/*.c; do
    file="$(basename "$path")"
    if [[ -v "simd_flags[$file]" ]]; then
        # shellcheck disable=SC2086
        gcc "${flags[@]}" ${simd_flags[$file]} -c "$path" -o "$work/$file.o"
    elif grep -q '^#include <immintrin.h>\|^#include <arm_neon.h>' "$path"; then
        continue
    else
        gcc "${flags[@]}" -c "$path" -o "$work/$file.o"
    fi
    objects+=("$work/$file.o")
done
gcc "${flags[@]}" "$repo/benchmarks/kernel_bench.c" "${objects[@]}" -lpthread -o "$work/kernel_bench"
"$work/kernel_bench" "$@"

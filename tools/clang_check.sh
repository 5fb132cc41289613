#!/usr/bin/env bash
# Compile every C source with clang and -Wall -Werror: src_c/*.c (the SIMD
# kernel files with their own flags from src_c/simd_sources.json, the rest
# with the baseline flags of setup.py), the Cython-generated _core.c, and the
# tools' C programs.  Real compiles (-c), not just syntax checks.  OpenMP is
# used when clang finds omp.h (libomp), otherwise the serial build is checked.
# Installs clang (and libomp-dev, for OpenMP) with apt-get when missing.
# Usage: tools/clang_check.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v clang >/dev/null; then
    apt-get install -y clang >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y clang >/dev/null; }
fi
clang --version | head -1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
machine="$(uname -m)"
[[ "$machine" == "amd64" ]] && machine=x86_64

base=(-O2 -std=c11 -ffp-contract=off -fno-math-errno -fvisibility=hidden -fPIC -Wall -Werror -I"$repo/src_c")
openmp=()
printf '#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n' >"$work/omp.c"
if ! clang -fopenmp "$work/omp.c" -o "$work/omp" >/dev/null 2>&1; then
    apt-get install -y libomp-dev >/dev/null 2>&1 || true
fi
if clang -fopenmp "$work/omp.c" -o "$work/omp" >/dev/null 2>&1; then
    openmp=(-fopenmp)
    echo "OpenMP: yes"
else
    echo "OpenMP: no (omp.h/libomp not found): checking the serial build"
fi

# "table source flag flag ..." for the SIMD kernel files of this machine.
declare -A simd_flags=() table_of=()
while read -r table source flags; do
    [[ -n "$source" ]] || continue
    simd_flags["$source"]="$flags"
    table_of["$source"]="$table"
done < <(python3 - "$repo/src_c/simd_sources.json" "$machine" <<'PY'
import json, sys
for entry in json.load(open(sys.argv[1])).get(sys.argv[2], []):
    print(" ".join([entry["table"], entry["source"]] + entry["flags"]))
PY
)

failed=0
compile() {   # label, then the clang arguments
    local label="$1"; shift
    if clang "$@" 2>"$work/err"; then
        echo "ok    $label"
    else
        echo "FAIL  $label"; cat "$work/err"; failed=1
    fi
}

for path in "$repo"/src_c/*.c; do
    file="$(basename "$path")"
    if [[ -v "simd_flags[$file]" ]]; then
        # shellcheck disable=SC2086  # the file's flags are separate words
        compile "src_c/$file (${simd_flags[$file]})" "${base[@]}" ${simd_flags[$file]} -c "$path" -o "$work/$file.o"
    elif grep -q '^#include <immintrin.h>\|^#include <arm_neon.h>' "$path"; then
        echo "skip  src_c/$file (kernels for another machine than $machine)"
    else
        compile "src_c/$file" "${base[@]}" "${openmp[@]}" -c "$path" -o "$work/$file.o"
    fi
done

# The Cython module, generated fresh from fastinit/_core.pyx.
if python3 -c "import Cython, numpy" 2>/dev/null; then
    cp "$repo/fastinit/_core.pyx" "$work/_core.pyx"
    (cd "$work" && python3 -m cython -3 _core.pyx -o _core.c >/dev/null)
    py_inc="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    np_inc="$(python3 -c 'import numpy; print(numpy.get_include())')"
    compile "fastinit/_core.pyx (Cython-generated C)" "${base[@]}" "${openmp[@]}" \
        -DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION -I"$py_inc" -I"$np_inc" -c "$work/_core.c" -o "$work/_core.o"
else
    echo "skip  fastinit/_core.pyx (Cython or NumPy not importable)"
fi

# tools/exhaustive_f32.c, once per table it has a section for, with that table's flags.
for source in "${!table_of[@]}"; do
    table="${table_of[$source]}"
    macro="FI_EXHAUSTIVE_${table^^}"
    grep -q "defined($macro)" "$repo/tools/exhaustive_f32.c" || continue
    # shellcheck disable=SC2086
    compile "tools/exhaustive_f32.c ($table)" "${base[@]}" "${openmp[@]}" ${simd_flags[$source]} \
        -D"$macro" -c "$repo/tools/exhaustive_f32.c" -o "$work/exhaustive_$table.o"
done

compile "benchmarks/kernel_bench.c" "${base[@]}" -c "$repo/benchmarks/kernel_bench.c" -o "$work/kernel_bench.o"

[[ $failed -eq 0 ]] && echo "clang -Wall -Werror: all clean" || echo "clang -Wall -Werror: FAILED"
exit $failed

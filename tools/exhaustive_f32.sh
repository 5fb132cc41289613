#!/usr/bin/env bash
# Build and run tools/exhaustive_f32.c once per SIMD kernel table of this
# machine (src_c/simd_sources.json): each table's float32 normal transform
# against the scalar definition for every input word, compiled with that
# table's own flags.  A table whose instruction set this CPU lacks is skipped
# with a message; a table exhaustive_f32.c has no section for is reported.
# About 1.5 minutes per table on two cores.
# Usage: tools/exhaustive_f32.sh [table ...]   (default: every table listed for this machine)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
machine="$(uname -m)"
[[ "$machine" == "amd64" ]] && machine=x86_64
# "name flag flag ..." per table of this machine, from the one list setup.py also reads.
mapfile -t tables < <(python3 - "$repo/src_c/simd_sources.json" "$machine" <<'PY'
import json, sys
for entry in json.load(open(sys.argv[1])).get(sys.argv[2], []):
    print(" ".join([entry["table"]] + entry["flags"]))
PY
)
if [[ ${#tables[@]} -eq 0 ]]; then
    echo "exhaustive_f32: skipped, no SIMD kernel tables are built on $machine"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(-O2 -std=c11 -ffp-contract=off -fno-math-errno -fopenmp -Wall -I"$repo/src_c")
gcc "${flags[@]}" -c "$repo/src_c/kernels_generic.c" -o "$work/generic.o"
gcc "${flags[@]}" -c "$repo/src_c/cpu.c" -o "$work/cpu.o"
status=0
for line in "${tables[@]}"; do
    read -r name table_flags <<<"$line"
    if [[ $# -gt 0 && " $* " != *" $name "* ]]; then
        continue
    fi
    macro="FI_EXHAUSTIVE_${name^^}"
    if ! grep -q "defined($macro)" "$repo/tools/exhaustive_f32.c"; then
        echo "exhaustive_f32 $name: no check written for this table"
        continue
    fi
    # shellcheck disable=SC2086  # the table's flags are separate words
    gcc "${flags[@]}" $table_flags -D"$macro" "$repo/tools/exhaustive_f32.c" "$work/generic.o" "$work/cpu.o" \
        -lm -o "$work/exhaustive_f32_$name"
    start=$SECONDS
    "$work/exhaustive_f32_$name" || status=1
    echo "exhaustive_f32 $name: $((SECONDS - start)) s"
done
exit $status

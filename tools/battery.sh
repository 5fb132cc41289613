#!/usr/bin/env bash
# Statistical battery for fastinit's raw Philox4x32-10 stream.
#
# Pipes the raw uint32 words of (seed, stream) -- tools/stream_words.py, i.e.
# fastinit.random_raw words 0, 1, 2, ... as little-endian uint32 -- into
# dieharder's raw-stdin generator (-g 200) and tees dieharder's report to LOG,
# followed by a PASSED/WEAK/FAILED tally and the list of WEAK/FAILED rows.
#
# Installs nothing.  Needs dieharder on PATH (Debian/Ubuntu:
# `apt-get install dieharder`) and a built fastinit (the repo root is put on
# PYTHONPATH, so an in-place build works).
#
# Usage: tools/battery.sh [-q] [-s SEED] [-t STREAM] [-i K] [-d TEST]... LOG [-- DIEHARDER_ARGS...]
#   -q         quick smoke check: a handful of fast tests
#              (-d 0 1 2 15 100 101 205: birthdays, OPERM5, 32x32 rank, runs,
#              STS monobit, STS runs, byte distribution); about 1 minute
#   -s SEED    Philox key (default 0)
#   -t STREAM  stream id (default 0)
#   -i K       feed streams STREAM..STREAM+K-1 interleaved word by word
#              (a cross-stream check; default 1: one stream)
#   -d TEST    run only dieharder test TEST (repeatable); default: `dieharder -a`
#   LOG        output log (overwritten)
#   -- ARGS    extra dieharder arguments, e.g. `-- -n 7` for rgb_bitdist ntuple 7
#
# Time: the full `dieharder -a` (dieharder 3.31.1: 114 result rows) reads about
# 6.2e10 words (~230 GiB) through the pipe and took 57 minutes on a shared
# 2-core x86-64 VM under `nice -n 19` (dieharder is single-threaded and is the
# bottleneck; the generator uses one thread and mostly waits on the pipe).
# See docs/statistical_quality.md for results.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
seed=0 stream=0 inter=1 quick=0 tests=()
while getopts "qs:t:i:d:h" opt; do
    case "$opt" in
        q) quick=1 ;;
        s) seed="$OPTARG" ;;
        t) stream="$OPTARG" ;;
        i) inter="$OPTARG" ;;
        d) tests+=("$OPTARG") ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [-q] [-s SEED] [-t STREAM] [-i K] [-d TEST]... LOG [-- DIEHARDER_ARGS...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-q] [-s SEED] [-t STREAM] [-i K] [-d TEST]... LOG [-- DIEHARDER_ARGS...]" >&2; exit 2; }
log="$1"; shift
[ "${1:-}" = "--" ] && shift
extra=("$@")

command -v dieharder >/dev/null || {
    echo "dieharder not found; install it (Debian/Ubuntu: apt-get install dieharder)" >&2; exit 1; }
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
python -c "import fastinit" || { echo "cannot import fastinit (build it first)" >&2; exit 1; }

[ $quick -eq 1 ] && [ ${#tests[@]} -eq 0 ] && tests=(0 1 2 15 100 101 205)
runs=()
if [ ${#tests[@]} -eq 0 ]; then
    runs=("-a")
else
    for t in "${tests[@]}"; do runs+=("-d $t"); done
fi

errf="$(mktemp)"
trap 'rm -f "$errf"' EXIT
: > "$log"
{
    echo "# fastinit raw-stream battery: seed=$seed stream=$stream interleave=$inter"
    echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -srm)"
    echo "# fastinit: $(python -c 'import fastinit as f; i=f.build_info(); print(i.get("version"), "stream v%s" % i.get("stream_version"), i.get("simd"))' 2>/dev/null || echo '?')"
    echo "# git: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# $(dieharder -l 2>/dev/null | grep -o 'dieharder version [0-9.]*' | head -1)"
} | tee -a "$log"

t0=$(date +%s)
for r in "${runs[@]}"; do
    # shellcheck disable=SC2086
    cmd="python tools/stream_words.py --seed $seed --stream $stream --interleave $inter --report | dieharder -g 200 $r ${extra[*]}"
    echo "# command: $cmd" | tee -a "$log"
    # shellcheck disable=SC2086
    python "$repo/tools/stream_words.py" --seed "$seed" --stream "$stream" --interleave "$inter" \
        --report 2>"$errf" \
        | dieharder -g 200 $r "${extra[@]}" | tee -a "$log"
    sed 's/^/# /' "$errf" | tee -a "$log"
done
t1=$(date +%s)

{
    echo "# elapsed: $((t1 - t0)) s"
    p=$(grep -c '|  *PASSED *$' "$log" || true)
    w=$(grep -c '|  *WEAK *$' "$log" || true)
    f=$(grep -c '|  *FAILED *$' "$log" || true)
    echo "# summary: PASSED=$p WEAK=$w FAILED=$f (rows: $((p + w + f)))"
    grep -E '\|  *(WEAK|FAILED) *$' "$log" | sed 's/^/# non-pass: /' || true
} | tee -a "$log"

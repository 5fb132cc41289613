#!/usr/bin/env bash
# Prove the aarch64 NEON kernel table (src_c/kernels_neon.c) bit-identical to
# the scalar definition on an x86-64 machine: cross-compile it with the
# driver tools/check_aarch64.c (no Python involved) and run that under
# qemu-aarch64.  Exits non-zero on any difference.  On an aarch64 machine it
# compiles natively and runs without qemu.
#
# Installs what it lacks from the distribution's packages (Debian/Ubuntu:
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static; needs root
# or sudo).  Measured on a 2-core AMD EPYC shared with other jobs (load ~8):
# install 27 s, build 13 s, check 297 s, 5.6 min in all, 2.5 CPU-minutes (so
# about 1.5 min of checking on two idle cores); the phases' times are printed
# at the end.  qemu timings say nothing about NEON speed on real hardware.
#
# Extra compiler flags for the driver go in CHECK_AARCH64_DEFINES, e.g.
# CHECK_AARCH64_DEFINES="-DBM_STRIDE=4099u -DWORDS_PER_KERNEL=1000000ull" for a
# quick run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
t0=$(date +%s)

native=0
[[ "$(uname -m)" == "aarch64" || "$(uname -m)" == "arm64" ]] && native=1
if (( native )); then
    cc=gcc; objdump=objdump; run=()
else
    cc=aarch64-linux-gnu-gcc; objdump=aarch64-linux-gnu-objdump
    missing=()
    command -v "$cc" >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu)
    qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
    [[ -n "$qemu" ]] || missing+=(qemu-user-static)
    if (( ${#missing[@]} )); then
        echo "check_aarch64: installing ${missing[*]}"
        sudo=()
        if [[ "$(id -u)" != 0 ]]; then
            command -v sudo >/dev/null || { echo "check_aarch64: need root (or sudo) to install ${missing[*]}" >&2; exit 2; }
            sudo=(sudo)
        fi
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
        qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64)"
    fi
    run=("$qemu")
fi
t_install=$(date +%s)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The extension's own flags (setup.py COMMON_FLAGS): no fused multiply-add anywhere.
flags=(-std=c11 -ffp-contract=off -fno-math-errno -Wall -Wextra -Werror -I"$repo/src_c")

# The objects as the extension builds them must hold no fused multiply-add and no
# FMAX/FMIN (the scalar clamps keep the bound on ties of signed zeros; FMAX does not).
for src in kernels_neon kernels_generic; do
    "$cc" -O3 "${flags[@]}" -c "$repo/src_c/$src.c" -o "$work/$src.o"
    if "$objdump" -d "$work/$src.o" | grep -Ei '\s(fmla|fmls|fmadd|fmsub|fnmadd|fnmsub|fmax|fmin|fmaxnm|fminnm)\s'; then
        echo "check_aarch64: $src.c compiles to fused or max/min float instructions (above)" >&2
        exit 1
    fi
done

# The driver: the NEON file is #included (it tests the table's inner functions too).
for src in kernels_generic fill parallel; do
    "$cc" -O2 "${flags[@]}" -c "$repo/src_c/$src.c" -o "$work/drv_$src.o"
done
# shellcheck disable=SC2086
"$cc" -O2 -static "${flags[@]}" ${CHECK_AARCH64_DEFINES:-} "$repo/tools/check_aarch64.c" \
    "$work"/drv_*.o -lm -lpthread -o "$work/check_aarch64"
t_build=$(date +%s)

# Three independent parts side by side (qemu runs one core each).
parts=("kat f16 log tables" "radius" "angle")
pids=()
for i in "${!parts[@]}"; do
    # shellcheck disable=SC2086
    "${run[@]}" "$work/check_aarch64" ${parts[$i]} >"$work/out$i" 2>&1 &
    pids+=($!)
done
status=0
for i in "${!parts[@]}"; do
    wait "${pids[$i]}" || status=1
    cat "$work/out$i"
done
t_end=$(date +%s)
echo "check_aarch64: install $((t_install - t0)) s, build $((t_build - t_install)) s," \
     "check $((t_end - t_build)) s ($(nproc) cores$( (( native )) || echo ", under qemu"))"
if (( status )); then
    echo "check_aarch64: FAILED: the NEON table differs from the scalar definition" >&2
    exit 1
fi
echo "check_aarch64: passed"

#!/usr/bin/env bash
# patch_init against timm, in a virtual environment of its own: timm needs torchvision, and
# PyPI's torchvision does not import beside the pinned CPU torch 2.13.0 of the main test
# environment, so the `timm` extra pins the torch/torchvision pair it is tested with
# (pyproject.toml).  Usage: bash tools/check_timm.sh [pytest arguments]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e "$repo[timm]" "pytest>=7" "scipy>=1.9" "hypothesis>=6"
cd "$repo"
# With FASTINIT_TEST_TIMM=1 a missing timm is an error, not a skip.
FASTINIT_TEST_TIMM=1 python -m pytest -q -p no:cacheprovider "${@:-tests/test_patch_timm.py}"

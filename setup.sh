#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine: system packages for the benchmark's
# General-MIDI renderer and the probe's speech (espeak-ng), then a virtual environment in .venv
# with the pinned working set.
#   bash setup.sh        what the main job (the benchmark) needs: TensorFlow only
#   bash setup.sh test   + what the tests need: pytest, Apache Beam, JAX and PyTorch (Keras' other
#                        backends; PyPI's torch wheel brings ~2.5 GB of CUDA libraries), the demo
#                        extra, selenium and Debian's chromium + chromium-driver (the demo's browser test)
set -euo pipefail
cd "$(dirname "$0")"

SYSTEM_PACKAGES=(fluidsynth fluid-soundfont-gm espeak-ng)
if [ "${1:-}" = test ]; then
  SYSTEM_PACKAGES+=(chromium chromium-driver)  # tests/test_demo.py: a headless browser from Debian, none downloaded
fi
missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
case "${1:-}" in
  "") .venv/bin/python -m pip install -q -e . ;;
  test) .venv/bin/python -m pip install -q -e '.[test]' ;;
  *) echo "usage: bash setup.sh [test]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs what kiln needs on a fresh Debian 12 machine: the compiler toolchain and libraries
# (Debian packages) and the Python build and test dependencies (PyPI). Safe to run repeatedly:
# it only installs what is missing.
set -euo pipefail

DEBIAN_PACKAGES=(g++ cmake ninja-build ccache pkg-config libopenblas-dev liblapacke-dev libgtest-dev libsleef-dev libdnnl-dev)
PYTHON_PACKAGES=(numpy scipy nanobind scikit-build-core pytest hypothesis scikit-learn)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
missing_py=()
for p in "${PYTHON_PACKAGES[@]}"; do
  module=${p//-/_}
  [ "$p" = "scikit-build-core" ] && module=scikit_build_core
  [ "$p" = "scikit-learn" ] && module=sklearn
  "$PYTHON" -c "import $module" >/dev/null 2>&1 || missing_py+=("$p")
done
if [ ${#missing_py[@]} -gt 0 ]; then
  echo "setup: installing Python packages: ${missing_py[*]}"
  "$PYTHON" -m pip install -q --disable-pip-version-check "${missing_py[@]}"
fi

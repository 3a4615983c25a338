#!/usr/bin/env bash
# Installs the Debian 12 packages LayerScope needs (only those missing). Runs apt-get through sudo when not root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread libgloo-dev  # libgloo-dev: the Gloo headers c10d::ProcessGroupGloo includes
  libdnnl-dev  # oneDNN's headers: float32 CPU products (core/model/cpu_gemm.h); libtorch already depends on libdnnl2
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libgl-dev
  libeigen3-dev libboost-math-dev libgtest-dev nlohmann-json3-dev libpcre2-dev libicu-dev
  python3-numpy python3-scipy
  xvfb xauth
  clang-14 libclang-rt-14-dev llvm-14
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null

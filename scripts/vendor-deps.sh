#!/usr/bin/env bash
# Fetches the build dependencies that scripts/device-check.sh needs on a machine without package access
# (docs/gpu.md): the Debian 12 packages below, downloaded with `apt-get download` (no root, no install) into
# third_party/debs/ (gitignored; ~32 MB). They travel with the working tree to the GPU machine, where
# device-check.sh unpacks them with dpkg-deb -x into build-device/sysroot. LibTorch is not among them: the GPU
# machine's PyTorch provides it.
#   nlohmann-json3-dev, libeigen3-dev, libboost1.74-dev (headers: Boost.Math), libpcre2-dev + its libraries,
#   libicu-dev + libicu72 + icu-devtools, googletest (sources: built with the LibTorch's C++ ABI) + libgtest-dev,
#   pkgconf (pkg-config) and ninja-build in case the machine has none.
# Usage (repository root, Debian 12 with network): scripts/vendor-deps.sh
set -euo pipefail
mkdir -p third_party/debs
cd third_party/debs
apt-get download nlohmann-json3-dev libeigen3-dev libboost1.74-dev \
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 \
  libicu-dev libicu72 icu-devtools googletest libgtest-dev \
  pkgconf pkgconf-bin libpkgconf3 ninja-build
ls -l *.deb
du -sh .

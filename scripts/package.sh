#!/usr/bin/env bash
# Builds the Debian package layerscope_<version>_<arch>.deb from this tree in a fresh build directory (build-package/,
# or BUILD_DIR) and checks it with `ctest -L packaging` (lintian, desktop-file-validate, appstreamcli, the files, then,
# as root, apt-get install, the installed programs, apt-get remove). Installs what is missing first (apt-get, via sudo
# if not root); uses ccache when present. Usage: scripts/package.sh [--no-check] [extra cmake configure arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
check=1
if [ "${1:-}" = --no-check ]; then check=0; shift; fi
start=$(date +%s)

scripts/install-deps.sh
# Packaging tools: dpkg-shlibdeps (Depends), help2man (man pages), file (CPack strips), and the checks' linters.
packages=(dpkg-dev file help2man lintian desktop-file-utils appstream)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "package: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

build=${BUILD_DIR:-build-package}
rm -rf "$build"
# LibTorch translation units take ~1.5 GB of compiler memory each; keep jobs within memory (as scripts/build.sh).
jobs=$(nproc)
mem_gb=$(awk '/MemAvailable/ {print int($2/1024/1024)}' /proc/meminfo)
[ "$jobs" -gt $((mem_gb / 2 > 0 ? mem_gb / 2 : 1)) ] && jobs=$((mem_gb / 2 > 0 ? mem_gb / 2 : 1))
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime  # see scripts/build.sh
# Installed layout under /usr, no source-tree fallback compiled in; only the packaged targets are built (the test
# suites are configured for the packaging label but not compiled, and `install` does not build `all`).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DLAYERSCOPE_SOURCE_TREE_FALLBACK=OFF -DLAYERSCOPE_BUILD_TESTS=ON -DLAYERSCOPE_PACKAGING_TESTS=ON \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON "${launcher[@]}" "$@"
cmake --build "$build" -j "$jobs" --target layerscope layerscope-cli layerscope_package_files
if [ "$check" -eq 1 ]; then
  # The first packaging test (Packaging.Deb) runs cpack; the others check its result.
  ctest --test-dir "$build" -L packaging --output-on-failure
else
  (cd "$build" && cpack -G DEB)
fi
deb=$(ls "$build"/layerscope_*.deb)
echo "package: $deb ($(du -h "$deb" | cut -f1)) in $(($(date +%s) - start)) s"

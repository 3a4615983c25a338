#!/usr/bin/env bash
# Configures and builds LayerScope (Release) into build/. Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# LibTorch translation units take ~1.5 GB of compiler memory each; keep jobs within memory.
mem_gb=$(awk '/MemAvailable/ {print int($2/1024/1024)}' /proc/meminfo)
[ "$jobs" -gt $((mem_gb / 2 > 0 ? mem_gb / 2 : 1)) ] && jobs=$((mem_gb / 2 > 0 ? mem_gb / 2 : 1))
# ccache, where installed, makes rebuilds after a branch switch or in a second worktree cheap.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# ccache caches files built with the precompiled LibTorch header (cmake/TorchPch.cmake) only with this sloppiness.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
cmake --build build -j "$jobs"

#!/usr/bin/env bash
# Installs what is missing, builds (Release) and runs every test through ctest. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
export OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=offscreen
cd build
ctest --output-on-failure --timeout 900 -j 2 "$@"

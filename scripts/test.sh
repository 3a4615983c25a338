#!/usr/bin/env bash
# Installs what is missing, builds (Release), runs the sanitizer stage
# (scripts/ci-sanitizers.sh: ASan + UBSan unit tests of the torch-free libraries and every fuzz target for
# LAYERSCOPE_CI_FUZZ_SECONDS, default 60; LAYERSCOPE_CI_SANITIZERS=0 skips it), then every test through ctest.
# Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ "${LAYERSCOPE_CI_SANITIZERS:-1}" != 0 ]; then
  scripts/ci-sanitizers.sh
fi
# ctest last, so its summary closes the output.
export OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=offscreen
cd build
ctest --output-on-failure --timeout 900 -j 2 "$@"

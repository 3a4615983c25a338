#!/usr/bin/env bash
# CI stage "sanitizers" (called by scripts/test.sh): one clang-14 tree (preset `fuzz`, build-fuzz/) with ASan +
# UBSan builds the torch-free libraries, their unit tests and the libFuzzer targets; the unit tests run under the
# sanitizers, then every fuzz target runs LAYERSCOPE_CI_FUZZ_SECONDS (default 60, the issue's figure: see
# docs/fuzzing.md, CI time) on its corpus, two at a time.
# Any sanitizer report, failing test or fuzz finding fails the stage. Needs no LibTorch build and no stdin.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${LAYERSCOPE_CI_FUZZ_SECONDS:-60}
jobs=${LAYERSCOPE_CI_FUZZ_JOBS:-2}
unit_tests=(text_tests data_tests results_tests)
t0=$(date +%s)
scripts/install-deps.sh </dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake --preset fuzz -DLAYERSCOPE_BUILD_TESTS=ON "${launcher[@]}" >/dev/null
cmake --build build-fuzz --target fuzz_all "${unit_tests[@]}" -j 2
t1=$(date +%s)
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${unit_tests[@]}"; do
  exe=$(find build-fuzz/tests -type f -name "$t" -perm -u+x | head -1)
  echo "sanitizers: $t"
  "$exe" --gtest_brief=1 </dev/null
done
t2=$(date +%s)
LAYERSCOPE_FUZZ_BUILD=0 LAYERSCOPE_FUZZ_JOBS=$jobs scripts/fuzz.sh "$seconds"
t3=$(date +%s)
echo "sanitizers: build $((t1 - t0))s, unit tests $((t2 - t1))s, fuzzing $((t3 - t2))s, total $((t3 - t0))s"

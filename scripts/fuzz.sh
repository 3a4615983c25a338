#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang-14, ASan + UBSan, build-fuzz/) and runs every target
# for SECONDS (default 60) on its corpus; prints executions, speed, coverage and findings per target.
# A finding (crash, sanitizer report, untyped exception, leak, timeout, out-of-memory) fails the script; its
# reproducer is in build-fuzz/findings/<target>/. See docs/fuzzing.md.
#   scripts/fuzz.sh [SECONDS]
# Environment: LAYERSCOPE_FUZZ_JOBS    targets run at once (default 1; CI uses 2 on 2 cores)
#              LAYERSCOPE_FUZZ_TARGETS space-separated subset (default: all), e.g. "safetensors config"
#              LAYERSCOPE_FUZZ_BUILD=0 skip the build step (binaries already built)
#              LAYERSCOPE_BUILD_LOCK   lock file taken while building (default /tmp/build.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=${LAYERSCOPE_FUZZ_JOBS:-1}
bdir=build-fuzz
all_targets=(safetensors safetensors_index config adapter tokenizer tokenizer_config encode tasks results session)
read -r -a targets <<<"${LAYERSCOPE_FUZZ_TARGETS:-${all_targets[*]}}"

if [ "${LAYERSCOPE_FUZZ_BUILD:-1}" != 0 ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  [ -f "$bdir/build.ninja" ] || cmake --preset fuzz "${launcher[@]}" >/dev/null
  lock=${LAYERSCOPE_BUILD_LOCK:-/tmp/build.lock}
  flock "$lock" cmake --build "$bdir" --target "${targets[@]/#/fuzz_}" -j 2
fi

mkdir -p "$bdir/fuzz-logs"
run_one() {  # target -> runs it, writes $bdir/fuzz-logs/<target>.log and .rc
  local t=$1 bdir=$2 seconds=$3
  local work="$bdir/corpus/$t" art="$bdir/findings/$t/" dict=()
  rm -rf "$art"  # this run's findings only (copy a reproducer to fuzz/corpus/<target>/ when it is fixed)
  mkdir -p "$work" "$art"
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  set +e
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  nice -n 10 "$bdir/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" "$work" "fuzz/corpus/$t" </dev/null \
    >"$bdir/fuzz-logs/$t.log" 2>&1
  echo $? >"$bdir/fuzz-logs/$t.rc"
}
export -f run_one
start=$(date +%s)
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$bdir" "$seconds"
elapsed=$(( $(date +%s) - start ))

failed=0
printf '\n%-18s %12s %9s %7s %9s %s\n' target executions exec/s cov findings status
for t in "${targets[@]}"; do
  log="$bdir/fuzz-logs/$t.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  findings=$(find "$bdir/findings/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
             2>/dev/null | wc -l)
  rc=$(cat "$bdir/fuzz-logs/$t.rc")
  status=ok
  if [ "$rc" != 0 ]; then
    status="FAIL (exit $rc, see $log)"
    failed=1
  fi
  printf '%-18s %12s %9s %7s %9s %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "$findings" "$status"
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time, ${elapsed}s in all"
exit $failed

#!/usr/bin/env bash
# The GPU proof of issue 13 (docs/gpu.md), one script run from the repository root on a machine with PyTorch 2.x +
# CUDA, transformers, peft, safetensors and tokenizers, a C++20 compiler and CMake (>= 3.25), but no network and no
# package access:
#   1. build core + CLI + core tests with LAYERSCOPE_BUILD_GUI=OFF against PyTorch's own LibTorch;
#   2. the core tests on the CPU (in the background, while the GPU steps run), the device tests with CUDA visible,
#      and the CLI's logits on cpu vs cuda;
#   3. tests/device/hf_parity.py   (logits and hidden states vs transformers, fp32 and bf16);
#   4. tests/device/peft_parity.py (an LS-LoRA adapter trained here, loaded by peft);
#   5. benchmarks on a random bf16 checkpoint with the Llama 3.1 8B shapes, made on the device while step 1 builds:
#      prefill tokens/s and fraction of the bf16 GEMM rate measured in the same run, the default analysis of 64
#      items x ~128 tokens, one LS-LoRA + GARFA training step, and the peak GPU memory of each.
# Prints one summary table and writes it, the logs and every figure (JSON) into OUT_DIR as it goes, so that a run
# stopped at a time limit still leaves what it measured. Steps are ordered by what they prove and skipped, marked
# "skipped", when the time budget (DEVICE_CHECK_BUDGET seconds, default 540) would be overrun.
#
# Build dependencies other than LibTorch travel with the working tree as Debian packages in third_party/debs/
# (gitignored, ~32 MB), fetched on a Debian 12 machine with network by scripts/vendor-deps.sh (apt-get download)
# and unpacked here with dpkg-deb -x (or ar + tar) into build-device/sysroot. Packages the machine already has
# (pkg-config, ninja, ICU, PCRE2) are used from the system first.
#
# Usage: scripts/device-check.sh OUT_DIR        (about 8-10 minutes on one H200)
set -uo pipefail
OUT=${1:?usage: scripts/device-check.sh OUT_DIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(pwd)
[ -f "$ROOT/scripts/device-check.sh" ] || { echo "run from the repository root" >&2; exit 2; }
BUILD=$ROOT/build-device
SYSROOT=$BUILD/sysroot
JOBS=$(nproc)
PY=${PYTHON:-python3}
SUMMARY=$OUT/summary.txt
START=$(date +%s)
BUDGET=${DEVICE_CHECK_BUDGET:-540}
# DEVICE_CHECK_STEPS: the steps after the build to run, a space-separated subset of
# "tests hf peft prefill analyze train" (default: all), e.g. to rerun one failed step on a short lease.
STEPS=" ${DEVICE_CHECK_STEPS:-tests hf peft prefill analyze train} "
step() { [[ "$STEPS" == *" $1 "* ]]; }
: >"$SUMMARY"

row() { printf '%-46s %-8s %s\n' "$1" "$2" "$3" | tee -a "$SUMMARY"; }
stamp() { date +%s; }
elapsed() { echo $(( $(stamp) - START )); }
# has_time SECONDS: true when a step that may take SECONDS still fits in the budget.
has_time() { [ $(( BUDGET - $(elapsed) )) -ge "$1" ]; }
skip() { row "$1" skipped "not enough of the ${BUDGET} s budget left ($(elapsed) s used)"; }
echo "device-check started $(date -u +%FT%TZ), budget ${BUDGET} s" | tee "$OUT/progress.log"
note() { echo "[$(elapsed) s] $*" | tee -a "$OUT/progress.log"; }

# ---- 0. dependencies -------------------------------------------------------------------------------------------
mkdir -p "$SYSROOT"
if compgen -G "$ROOT/third_party/debs/*.deb" >/dev/null; then
  for deb in "$ROOT"/third_party/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$SYSROOT"
    else
      (tmp=$(mktemp -d) && cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$SYSROOT" && rm -rf "$tmp")
    fi
  done
else
  note "third_party/debs/ is empty: run scripts/vendor-deps.sh on a machine with network first"
fi
ARCHLIB=$SYSROOT/usr/lib/x86_64-linux-gnu
export PATH=$PATH:$SYSROOT/usr/bin                      # vendored ninja / pkgconf only if the system has none
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$ARCHLIB
if ! command -v pkg-config >/dev/null && [ -x "$SYSROOT/usr/bin/pkgconf" ]; then
  ln -sf "$SYSROOT/usr/bin/pkgconf" "$SYSROOT/usr/bin/pkg-config"
fi
# Vendored .pc files say prefix=/usr: PKG_CONFIG_SYSROOT_DIR maps their paths into the sysroot. System .pc first.
if ! pkg-config --exists icu-uc libpcre2-8 2>/dev/null; then
  export PKG_CONFIG_PATH=$ARCHLIB/pkgconfig:$SYSROOT/usr/share/pkgconfig
  export PKG_CONFIG_SYSROOT_DIR=$SYSROOT
fi
# The wheels' CUDA libraries (nvidia-* packages): found through torch's RUNPATH at run time, but the linker
# resolving libtorch_cuda.so's dependencies and the tests may need them on the library path too.
NVLIBS=$($PY -c "import glob, os, nvidia; print(':'.join(sorted(set(os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(os.path.join(d, '**', 'lib*.so*'), recursive=True)))))" 2>/dev/null || true)
[ -n "$NVLIBS" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$NVLIBS
TORCH_PREFIX=$($PY -c "import torch; print(torch.utils.cmake_prefix_path)")
{
  echo "PyTorch $($PY -c "import torch; print(torch.__version__, 'CUDA', torch.version.cuda)")"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1
  echo "$(nproc) CPUs; $(g++ --version 2>/dev/null | head -1); $(cmake --version 2>/dev/null | head -1); nvcc $(nvcc --version 2>/dev/null | tail -1)"
  $PY -c "import transformers, peft, safetensors; print('transformers', transformers.__version__, 'peft', peft.__version__, 'safetensors', safetensors.__version__)" 2>&1 | tail -1
} | tee "$OUT/machine.txt"
export OMP_WAIT_POLICY=PASSIVE

# The 8B-shaped checkpoint needs only Python and the GPU: make it while the CPUs build.
M8=$BUILD/random-8b
rm -rf "$M8"
( t=$(stamp); timeout 200 $PY tests/device/make_8b.py "$M8" --device cuda >"$OUT/make_8b.log" 2>&1;
  echo "rc=$? seconds=$(( $(stamp) - t ))" >>"$OUT/make_8b.log" ) &
MAKE8B_PID=$!

# ---- 1. build --------------------------------------------------------------------------------------------------
t0=$(stamp)
# -O1: the GPU does the arithmetic here and the build time comes out of a short lease; CI builds -O3.
COMMON=(-G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG"
        -DLAYERSCOPE_BUILD_GUI=OFF -DLAYERSCOPE_GTEST_SOURCE="$SYSROOT/usr/src/googletest"
        -DLAYERSCOPE_PYTHON3="$(command -v $PY)" -DCMAKE_POLICY_VERSION_MINIMUM=3.5)  # CMake 4 and GoogleTest's 3.5
# PyTorch's TorchConfig.cmake first (needs the CUDA toolkit for a CUDA PyTorch); without a toolkit, or if it fails,
# the LAYERSCOPE_TORCH_FROM_PYTHON route links the wheel's libraries directly.
if cmake "${COMMON[@]}" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$SYSROOT/usr" >"$OUT/configure.log" 2>&1; then
  TORCH_ROUTE="TorchConfig.cmake"
else
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
  cmake "${COMMON[@]}" -DCMAKE_PREFIX_PATH="$SYSROOT/usr" -DLAYERSCOPE_TORCH_FROM_PYTHON=ON -DLAYERSCOPE_PYTHON="$PY" \
    >>"$OUT/configure.log" 2>&1 || { row "1 configure" FAIL "see configure.log"; tail -40 "$OUT/configure.log"; exit 1; }
  TORCH_ROUTE="TORCH_FROM_PYTHON"
fi
note "configured ($TORCH_ROUTE) in $(( $(stamp) - t0 )) s"
if ninja -C "$BUILD" -j"$JOBS" layerscope-cli layerscope-cli-model model_tests >"$OUT/build.log" 2>&1; then
  warnings=$(grep -c "warning:" "$OUT/build.log")
  row "1 build (GUI off, $TORCH_ROUTE)" ok "$(( $(stamp) - t0 )) s, $warnings compiler warnings"
else
  row "1 build ($TORCH_ROUTE)" FAIL "see build.log"
  grep -m 20 -B2 -A6 "error" "$OUT/build.log" | head -120
  exit 1
fi
grep "warning:" "$OUT/build.log" | sort | uniq -c | sort -rn | head -20 >"$OUT/build_warnings.txt"
CLI=$BUILD/app/layerscope-cli

# ---- 2. core tests -----------------------------------------------------------------------------------------------
# backtrace LOG BINARY ARGS...: after a crash (signal exit), reruns the test that was running (the last "[ RUN ]" line
# of LOG) under a debugger (gdb, else cuda-gdb, which also debugs host code) and writes its backtrace beside LOG.
backtrace() {
  local log=$1 bin=$2; shift 2
  local name dbg
  name=$(grep '^\[ RUN      \]' "$log" | tail -1 | awk '{print $4}')
  dbg=$(command -v gdb || command -v cuda-gdb || true)
  [ -n "$name" ] && [ -n "$dbg" ] || return 0
  timeout 120 "$dbg" -q -batch -ex run -ex bt -ex "info sharedlibrary" --args "$bin" --gtest_filter="$name" "$@" \
    >"${log%.log}.backtrace.txt" 2>&1
  echo "crashed in $name: backtrace in $(basename "${log%.log}.backtrace.txt")"
}
CPU_TESTS_PID=
if step tests; then
  # CPU: every model test with CUDA hidden, in the background on 4 threads (the GPU steps below need few CPUs).
  ( export CUDA_VISIBLE_DEVICES="" OMP_NUM_THREADS=4
    timeout 300 "$BUILD/tests/model/model_tests" >"$OUT/model_tests_cpu.log" 2>&1; c=$?; echo "rc=$c" >>"$OUT/model_tests_cpu.log"
    [ $c -gt 128 ] && [ $c != 137 ] && backtrace "$OUT/model_tests_cpu.log" "$BUILD/tests/model/model_tests" >>"$OUT/model_tests_cpu.log" ) &
  CPU_TESTS_PID=$!
  t0=$(stamp)
  timeout 120 "$BUILD/tests/model/model_tests" --gtest_filter='Device*' >"$OUT/device_tests_cuda.log" 2>&1; c=$?
  crash=""
  [ $c -gt 128 ] && [ $c != 137 ] && crash=$(backtrace "$OUT/device_tests_cuda.log" "$BUILD/tests/model/model_tests")
  row "2 Device* tests (CUDA visible)" "$([ $c = 0 ] && echo ok || echo FAIL)" \
    "$(grep -h '^\[  PASSED\|^\[  FAILED  \] [0-9]\|^\[  SKIPPED \] [0-9]\|cuda vs cpu' "$OUT/device_tests_cuda.log" | tr '\n' ' ')$crash"
  # The CLI on both devices: float32 logits of one sequence on the demo model must agree.
  ids=256,84,104,101,32,99,97,116,32,115,97,116,32,111,110,32,116,104,101,32,109,97,116
  timeout 60 "$CLI" logits resources/models/demo --ids $ids --device cpu --out "$OUT/demo_cpu.npy" 2>>"$OUT/cli.log" &&
  timeout 60 "$CLI" logits resources/models/demo --ids $ids --device cuda --out "$OUT/demo_cuda.npy" 2>>"$OUT/cli.log"; d=$?
  cmp=$($PY -c "import numpy as n; a=n.load('$OUT/demo_cpu.npy'); b=n.load('$OUT/demo_cuda.npy'); print('%.2e' % (abs(a-b).max()/abs(a).max()))" 2>/dev/null || echo nan)
  row "2 CLI logits cpu vs cuda (demo, fp32)" "$([ $d = 0 ] && $PY -c "import sys; sys.exit(not $cmp <= 1e-4)" 2>/dev/null && echo ok || echo FAIL)" "rel $cmp ($(( $(stamp) - t0 )) s)"
fi

# ---- 3, 4. parity with transformers and peft ---------------------------------------------------------------------
if ! step hf; then :
elif has_time 150; then
  t0=$(stamp)
  timeout 150 $PY tests/device/hf_parity.py --cli "$CLI" --out "$OUT" --device cuda >"$OUT/hf_parity.log" 2>&1; rc=$?
  grep -E " ok$| FAIL$" "$OUT/hf_parity.log"
  row "3 hf_parity (fp32 1e-4, bf16 bound)" "$([ $rc = 0 ] && echo ok || echo FAIL)" "$(( $(stamp) - t0 )) s; hf_parity.json"
else skip "3 hf_parity"; fi
if ! step peft; then :
elif has_time 120; then
  t0=$(stamp)
  timeout 120 $PY tests/device/peft_parity.py --cli "$CLI" --out "$OUT" --device cuda >"$OUT/peft_parity.log" 2>&1; rc=$?
  row "4 peft_parity (1e-4)" "$([ $rc = 0 ] && echo ok || echo FAIL)" "$(grep 'peft LoRA' "$OUT/peft_parity.log" | tail -1) ($(( $(stamp) - t0 )) s)"
else skip "4 peft_parity"; fi

# ---- 5. 8B-shaped benchmarks ---------------------------------------------------------------------------------------
# Peak GPU memory of a command: nvidia-smi sampled every 0.2 s for the command's process (includes the CUDA context).
gpu_peak() {  # gpu_peak NAME SECONDS CMD...  -> runs CMD (time limit), stdout to OUT/NAME.json, peak MiB to OUT/NAME.gpu_mib
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" &
  local pid=$! peak=0 m
  while kill -0 $pid 2>/dev/null; do
    m=$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null |
        awk -F', ' -v p=$pid '$1==p {print $2}')
    [ -z "$m" ] && m=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
    [ -n "$m" ] && [ "$m" -gt "$peak" ] 2>/dev/null && peak=$m
    sleep 0.2
  done
  wait $pid; local rc=$?
  echo $peak >"$OUT/$name.gpu_mib"
  return $rc
}
field() { $PY -c "import json,sys; j=json.load(open('$1')); print(j$2)" 2>/dev/null || echo "?"; }
wait $MAKE8B_PID
if grep -q "^rc=0" "$OUT/make_8b.log"; then
  row "5 8B-shaped bf16 checkpoint made (on the GPU)" ok "$(tail -1 "$OUT/make_8b.log")"
  # Prefill with the default attention (fused kernels where LibTorch has them, core::usesFusedAttention) and, for
  # comparison, HF's eager numerics (LAYERSCOPE_ATTENTION=eager), with the logits of both compared.
  for variant in auto eager; do
    name=bench_forward_8b; [ $variant = eager ] && name=bench_forward_8b_eager
    if ! step prefill; then :
    elif has_time 60; then
      if LAYERSCOPE_ATTENTION=$variant gpu_peak $name 120 "$CLI" bench forward "$M8" --tokens 2048 --batch 1 \
           --dtype bfloat16 --reps 3 --device cuda; then
        tps=$(field "$OUT/$name.json" "['tokens_per_second']")
        frac=$(field "$OUT/$name.json" "['fraction_of_gemm']")
        att=$(field "$OUT/$name.json" "['attention']")
        met=$($PY -c "print('ok' if float('$frac') >= 0.6 else 'MISSED')" 2>/dev/null || echo "?")
        [ $variant = eager ] && met="(info)"
        row "5 prefill 2048 tok, bf16, $att attention (>= 60% GEMM)" "$met" \
          "$tps tok/s, $frac of GEMM, peak $(cat "$OUT/$name.gpu_mib") MiB"
      else
        row "5 prefill 2048 tok, bf16 ($variant)" FAIL "see $name.log"
      fi
    else skip "5 prefill 2048 tok, bf16 ($variant)"; fi
  done
  if step prefill && has_time 40; then  # the two attention paths on the 8B shape: bf16 logits of 512 tokens
    ids8=$($PY -c "import random; r=random.Random(1); print(','.join(str(r.randrange(259)) for _ in range(512)))")
    for variant in auto eager; do
      LAYERSCOPE_ATTENTION=$variant timeout 60 "$CLI" logits "$M8" --ids "$ids8" --dtype bfloat16 --device cuda \
        --out "$OUT/logits8b_$variant.npy" 2>>"$OUT/cli.log"
    done
    cmp=$($PY -c "import numpy as n; a=n.load('$OUT/logits8b_auto.npy'); b=n.load('$OUT/logits8b_eager.npy'); print('%.2e' % (abs(a-b).max()/abs(b).max()))" 2>/dev/null || echo nan)
    row "5 8B logits, default vs eager attention (bf16)" info "rel $cmp over 512 tokens"
  fi
  if ! step analyze; then :
  elif has_time 100; then
    t0=$(stamp)
    if gpu_peak analyze_8b 150 "$CLI" analyze --model "$M8" --task "$M8/task64.mc.jsonl" --out "$OUT/analyze_8b" \
         --overwrite --dtype bfloat16 --device cuda; then
      s=$(( $(stamp) - t0 )); mib=$(cat "$OUT/analyze_8b.gpu_mib")
      met=$([ $s -lt 60 ] && [ "$mib" -lt 40960 ] && echo ok || echo MISSED)
      row "5 analyze 64 x 128, bf16 (< 60 s, < 40 GB)" "$met" "$s s wall (load included), peak $mib MiB"
    else
      row "5 analyze 64 x 128" FAIL "$(( $(stamp) - t0 )) s; see analyze_8b.log"
    fi
    rm -rf "$OUT/analyze_8b/checkpoints" 2>/dev/null
  else skip "5 analyze 64 x 128"; fi
  if ! step train; then :
  elif has_time 60; then
    if gpu_peak bench_train_8b 90 "$CLI" bench train "$M8" --tokens 512 --batch 4 --steps 2 --dtype bfloat16 \
         --lora-layers all --garfa-layers all --device cuda; then
      row "5 LS-LoRA + GARFA step (4 x 512, bf16)" ok \
        "$(field "$OUT/bench_train_8b.json" "['step_seconds_best']") s/step, $(field "$OUT/bench_train_8b.json" "['fraction_of_gemm']") of GEMM, peak $(cat "$OUT/bench_train_8b.gpu_mib") MiB"
    else
      row "5 LS-LoRA + GARFA step" FAIL "see bench_train_8b.log"
    fi
  else skip "5 LS-LoRA + GARFA step"; fi
else
  row "5 make 8B checkpoint" FAIL "$(tail -3 "$OUT/make_8b.log" | tr '\n' ' ')"
fi
rm -rf "$M8"

# ---- the CPU tests started in step 2 --------------------------------------------------------------------------------
if [ -n "$CPU_TESTS_PID" ]; then
  for _ in $(seq 1 60); do kill -0 $CPU_TESTS_PID 2>/dev/null || break; has_time 5 || break; sleep 1; done
  if kill -0 $CPU_TESTS_PID 2>/dev/null; then
    row "2 model_tests (CPU, CUDA hidden)" skipped "still running at the budget's end"
  else
    row "2 model_tests (CPU, CUDA hidden)" "$(grep -q '^rc=0' "$OUT/model_tests_cpu.log" && echo ok || echo FAIL)" \
      "$(grep -h '^\[  PASSED\|^\[  FAILED  \] [0-9]\|FAILED TEST\|^crashed in' "$OUT/model_tests_cpu.log" | tr '\n' ' ')"
  fi
fi
echo
echo "summary ($OUT/summary.txt, $(elapsed) s in all):"
cat "$SUMMARY"
! grep -q "FAIL\|MISSED" "$SUMMARY"

#!/usr/bin/env bash
# The GPU proof of issue 13 (docs/gpu.md), one script run from the repository root on a machine with PyTorch 2.x +
# CUDA, transformers, peft, safetensors and tokenizers, a C++20 compiler and CMake (>= 3.25), but no network and no
# package access:
#   1. build core + CLI + core tests with LAYERSCOPE_BUILD_GUI=OFF against PyTorch's own LibTorch;
#   2. run the core tests on the CPU, the device tests with CUDA visible, and the CLI on cpu vs cuda;
#   3. tests/device/hf_parity.py   (logits and hidden states vs transformers, fp32 and bf16);
#   4. tests/device/peft_parity.py (an LS-LoRA adapter trained here, loaded by peft);
#   5. benchmarks on a random bf16 checkpoint with the Llama 3.1 8B shapes made on the device: prefill tokens/s and
#      fraction of the bf16 GEMM rate measured in the same run, the default analysis of 64 items x ~128 tokens,
#      one LS-LoRA + GARFA training step, and the peak GPU memory of each.
# Prints one summary table and writes it, the logs and every figure (JSON) into OUT_DIR.
#
# Build dependencies other than LibTorch travel with the working tree as Debian packages in third_party/debs/
# (gitignored, ~32 MB), fetched on a Debian 12 machine with network by scripts/vendor-deps.sh (apt-get download)
# and unpacked here with dpkg-deb -x (or ar + tar) into build-device/sysroot. Packages the machine already has
# (pkg-config, ninja, ICU, PCRE2) are used from the system first.
#
# Usage: scripts/device-check.sh OUT_DIR        (about 10 minutes on one H200)
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
: >"$SUMMARY"
declare -A STATUS

row() { printf '%-44s %-8s %s\n' "$1" "$2" "$3" | tee -a "$SUMMARY"; }
stamp() { date +%s; }

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
# The wheels' CUDA libraries (nvidia-*-cu12 packages): found through torch's RUNPATH at run time, but the linker
# resolving libtorch_cuda.so's dependencies and the tests may need them on the library path too.
NVLIBS=$($PY -c "import glob, os, nvidia; print(':'.join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], '*', 'lib')))))" 2>/dev/null || true)
[ -n "$NVLIBS" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$NVLIBS
TORCH_PREFIX=$($PY -c "import torch; print(torch.utils.cmake_prefix_path)")
TORCH_VERSION=$($PY -c "import torch; print(torch.__version__, torch.version.cuda)")
echo "PyTorch $TORCH_VERSION; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)" \
  | tee "$OUT/machine.txt"

# ---- 1. build --------------------------------------------------------------------------------------------------
t0=$(stamp)
COMMON=(-G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLAYERSCOPE_BUILD_GUI=OFF
        -DLAYERSCOPE_GTEST_SOURCE="$SYSROOT/usr/src/googletest" -DLAYERSCOPE_PYTHON3="$(command -v $PY)")
# PyTorch's TorchConfig.cmake first (needs the CUDA toolkit for a CUDA PyTorch); without a toolkit, the
# LAYERSCOPE_TORCH_FROM_PYTHON route links the wheel's libraries directly.
if cmake "${COMMON[@]}" -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$SYSROOT/usr" >"$OUT/configure.log" 2>&1; then
  TORCH_ROUTE="CMAKE_PREFIX_PATH=torch.utils.cmake_prefix_path"
else
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
  cmake "${COMMON[@]}" -DCMAKE_PREFIX_PATH="$SYSROOT/usr" -DLAYERSCOPE_TORCH_FROM_PYTHON=ON -DLAYERSCOPE_PYTHON="$PY" \
    >>"$OUT/configure.log" 2>&1 || { row "1 configure" FAIL "see configure.log"; cat "$SUMMARY"; exit 1; }
  TORCH_ROUTE="LAYERSCOPE_TORCH_FROM_PYTHON (no CUDA toolkit)"
fi
if ninja -C "$BUILD" -j"$JOBS" layerscope-cli model_tests train_tests >"$OUT/build.log" 2>&1; then
  row "1 build (GUI off, $TORCH_ROUTE)" ok "$(( $(stamp) - t0 )) s"
else
  row "1 build" FAIL "see build.log"; tail -30 "$OUT/build.log"; cat "$SUMMARY"; exit 1
fi
CLI=$BUILD/app/layerscope-cli

# ---- 2. core tests -----------------------------------------------------------------------------------------------
t0=$(stamp)
export OMP_WAIT_POLICY=PASSIVE
CUDA_VISIBLE_DEVICES="" "$BUILD/tests/model/model_tests" --gtest_brief=1 >"$OUT/model_tests_cpu.log" 2>&1; a=$?
CUDA_VISIBLE_DEVICES="" "$BUILD/tests/train/train_tests" --gtest_filter='-SlowAdapters.*' --gtest_brief=1 \
  >"$OUT/train_tests_cpu.log" 2>&1; b=$?
"$BUILD/tests/model/model_tests" --gtest_filter='Device*' >"$OUT/device_tests_cuda.log" 2>&1; c=$?
# The CLI on both devices: float32 logits of one sequence on the demo model must agree.
ids=256,84,104,101,32,99,97,116,32,115,97,116,32,111,110,32,116,104,101,32,109,97,116
"$CLI" logits resources/models/demo --ids $ids --device cpu --out "$OUT/demo_cpu.npy" 2>>"$OUT/cli.log" &&
"$CLI" logits resources/models/demo --ids $ids --device cuda --out "$OUT/demo_cuda.npy" 2>>"$OUT/cli.log"; d=$?
cmp=$($PY -c "import numpy as n; a=n.load('$OUT/demo_cpu.npy'); b=n.load('$OUT/demo_cuda.npy'); print('%.2e' % (abs(a-b).max()/abs(a).max()))" 2>/dev/null || echo nan)
row "2 model_tests, train_tests (CPU)" "$([ $a$b = 00 ] && echo ok || echo FAIL)" "$(grep -h 'PASSED\|FAILED' "$OUT"/model_tests_cpu.log "$OUT"/train_tests_cpu.log | tr '\n' ' ')"
row "2 Device* tests (CUDA visible)" "$([ $c = 0 ] && echo ok || echo FAIL)" "$(grep -h 'PASSED\|FAILED' "$OUT/device_tests_cuda.log" | tr '\n' ' ')"
row "2 CLI logits cpu vs cuda (demo, fp32)" "$([ $d = 0 ] && $PY -c "import sys; sys.exit(not $cmp <= 1e-4)" 2>/dev/null && echo ok || echo FAIL)" "rel $cmp ($(( $(stamp) - t0 )) s)"

# ---- 3, 4. parity with transformers and peft ---------------------------------------------------------------------
t0=$(stamp)
timeout 300 $PY tests/device/hf_parity.py --cli "$CLI" --out "$OUT" --device cuda 2>&1 | tee "$OUT/hf_parity.log"
row "3 hf_parity (fp32 1e-4, bf16 bound)" "$([ ${PIPESTATUS[0]} = 0 ] && echo ok || echo FAIL)" "$(( $(stamp) - t0 )) s; hf_parity.json"
t0=$(stamp)
timeout 300 $PY tests/device/peft_parity.py --cli "$CLI" --out "$OUT" --device cuda 2>&1 | tee "$OUT/peft_parity.log"
row "4 peft_parity (1e-4)" "$([ ${PIPESTATUS[0]} = 0 ] && echo ok || echo FAIL)" "$(tail -1 "$OUT/peft_parity.log")"

# ---- 5. 8B-shaped benchmarks ---------------------------------------------------------------------------------------
# Peak GPU memory of a command: nvidia-smi sampled every 0.2 s for the command's process (includes the CUDA context).
gpu_peak() {  # gpu_peak NAME SECONDS CMD...  -> runs CMD (time limit), stdout to OUT/NAME.json, peak MiB to OUT/NAME.gpu_mib
  local name=$1 limit=$2; shift 2
  timeout "$limit" "$@" >"$OUT/$name.json" 2>"$OUT/$name.log" &
  local pid=$! peak=0 m
  while kill -0 $pid 2>/dev/null; do
    m=$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null |
        awk -F', ' -v p=$pid '$1==p {print $2}')
    [ -n "$m" ] && [ "$m" -gt "$peak" ] && peak=$m
    sleep 0.2
  done
  wait $pid; local rc=$?
  echo $peak >"$OUT/$name.gpu_mib"
  return $rc
}
field() { $PY -c "import json,sys; j=json.load(open('$1')); print(j$2)" 2>/dev/null || echo "?"; }
M8=$BUILD/random-8b
t0=$(stamp)
timeout 240 $PY tests/device/make_8b.py "$M8" --device cuda >"$OUT/make_8b.log" 2>&1 || row "5 make 8B checkpoint" FAIL "see make_8b.log"
row "5 8B-shaped bf16 checkpoint made" ok "$(( $(stamp) - t0 )) s"
if gpu_peak bench_forward_8b 240 "$CLI" bench forward "$M8" --tokens 2048 --batch 1 --dtype bfloat16 --reps 3 --device cuda; then
  tps=$(field "$OUT/bench_forward_8b.json" "['tokens_per_second']")
  frac=$(field "$OUT/bench_forward_8b.json" "['fraction_of_gemm']")
  met=$($PY -c "print('ok' if float('$frac') >= 0.6 else 'MISSED')" 2>/dev/null || echo "?")
  row "5 prefill 2048 tok, bf16 (>= 60% GEMM)" "$met" "$tps tok/s, $frac of GEMM, peak $(cat "$OUT/bench_forward_8b.gpu_mib") MiB"
else
  row "5 prefill 2048 tok, bf16" FAIL "see bench_forward_8b.log"
fi
t0=$(stamp)
if gpu_peak analyze_8b 240 "$CLI" analyze --model "$M8" --task "$M8/task64.mc.jsonl" --out "$OUT/analyze_8b" \
     --overwrite --dtype bfloat16 --device cuda; then
  s=$(( $(stamp) - t0 )); mib=$(cat "$OUT/analyze_8b.gpu_mib")
  met=$([ $s -lt 60 ] && [ "$mib" -lt 40960 ] && echo ok || echo MISSED)
  row "5 analyze 64 x 128, bf16 (< 60 s, < 40 GB)" "$met" "$s s wall (load included), peak $mib MiB"
else
  row "5 analyze 64 x 128" FAIL "see analyze_8b.log"
fi
if gpu_peak bench_train_8b 240 "$CLI" bench train "$M8" --tokens 512 --batch 4 --steps 2 --dtype bfloat16 \
     --lora-layers all --garfa-layers all --device cuda; then
  row "5 LS-LoRA + GARFA step (4 x 512, bf16)" ok \
    "$(field "$OUT/bench_train_8b.json" "['step_seconds_best']") s/step, $(field "$OUT/bench_train_8b.json" "['fraction_of_gemm']") of GEMM, peak $(cat "$OUT/bench_train_8b.gpu_mib") MiB"
else
  row "5 LS-LoRA + GARFA step" FAIL "see bench_train_8b.log"
fi
rm -rf "$M8"
echo
echo "summary ($OUT/summary.txt):"
cat "$SUMMARY"
! grep -q "FAIL\|MISSED" "$SUMMARY"

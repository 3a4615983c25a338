#!/bin/bash
# LayerScope `bench forward` against the PyTorch-eager peer (peer_forward.py) on one checkpoint, cell by cell,
# alternating the two programs (LayerScope, peer, LayerScope, peer, ... ROUNDS times per cell) so that a change in
# machine load hits both; prints the best and worst tokens/s of each, the ratio of the bests per cell, and the
# median (lowest-highest) of the per-round ratios: each LayerScope run against the peer run right after it, so a
# load change between rounds cancels out (use --rounds 5 or more for that column to mean something).
#
# usage: scripts/bench/compare.sh MODEL_DIR [--batches 1,8] [--tokens 32,64,128,256,512,1024]
#                                 [--dtypes float32,bfloat16] [--reps 5] [--rounds 2]
# env:   LAYERSCOPE_CLI (default build/app/layerscope-cli), PYTHON (default /usr/bin/python3)
# Needs python3-torch (benchmarks only; see scripts/bench/README.md). Both sides run with as many threads as online
# cores. The peer runs with OMP_WAIT_POLICY=PASSIVE (issue 12's set-up); LayerScope with its own runtime defaults
# (core/model/runtime.cpp: PASSIVE with a bounded spin, GOMP_SPINCOUNT=10000), unless OMP_WAIT_POLICY or
# GOMP_SPINCOUNT is set in the caller's environment, which then applies to both sides.
# --peer-spincount N also gives the peer GOMP_SPINCOUNT=N (e.g. 10000: the same bounded spin as LayerScope's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cli=${LAYERSCOPE_CLI:-$here/../../build/app/layerscope-cli}
py=${PYTHON:-/usr/bin/python3}
model=${1:?usage: compare.sh MODEL_DIR [--batches 1,8] [--tokens ...] [--dtypes ...] [--reps 5] [--rounds 2]}
shift
batches=1,8 tokens=32,64,128,256,512,1024 dtypes=float32,bfloat16 reps=5 rounds=2 peer_spin=
while [ $# -gt 0 ]; do
  case $1 in
    --batches) batches=$2 ;; --tokens) tokens=$2 ;; --dtypes) dtypes=$2 ;; --reps) reps=$2 ;; --rounds) rounds=$2 ;;
    --peer-spincount) peer_spin=$2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
peer_env=(OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}")
[ -n "${GOMP_SPINCOUNT:-}" ] && peer_env+=(GOMP_SPINCOUNT="$GOMP_SPINCOUNT")
[ -n "$peer_spin" ] && peer_env+=(GOMP_SPINCOUNT="$peer_spin")
threads=$(nproc)
tps() { "$py" -c 'import json,sys; print("%.1f" % json.loads(sys.stdin.read().strip().splitlines()[-1])["tokens_per_second"])'; }
echo "# $(date -Is) $(uname -n), $threads threads, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# peer: ${peer_env[*]}; LayerScope: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(its default)} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-(its default)}"
printf '%-9s %5s %6s | %21s | %21s | %6s | %s\n' dtype batch tokens "LayerScope tok/s" "peer tok/s" ratio \
  "per-round ratio: median (lowest-highest)"
for d in ${dtypes//,/ }; do
  for b in ${batches//,/ }; do
    for t in ${tokens//,/ }; do
      ls=() pe=()
      for ((r = 0; r < rounds; ++r)); do
        ls+=("$("$cli" bench forward "$model" --sweep --batches "$b" --tokens-list "$t" --dtypes "$d" --reps "$reps" \
                 --no-gemm-rate 2>/dev/null | tps)")
        pe+=("$(env "${peer_env[@]}" "$py" "$here/peer_forward.py" "$model" --batch "$b" --tokens "$t" --dtype "$d" --reps "$reps" \
                 --threads "$threads" | tps)")
      done
      "$py" - "$d" "$b" "$t" "${ls[*]}" "${pe[*]}" <<'PY'
import sys
d, b, t, ls, pe = sys.argv[1:6]
ls, pe = [float(x) for x in ls.split()], [float(x) for x in pe.split()]
rng = lambda v: "%9.0f-%-9.0f" % (min(v), max(v))
paired = sorted(a / p for a, p in zip(ls, pe))
n = len(paired)
median = paired[n // 2] if n % 2 else (paired[n // 2 - 1] + paired[n // 2]) / 2
print("%-9s %5s %6s | %21s | %21s | %5.2fx | %.2fx (%.2f-%.2f)"
      % (d, b, t, rng(ls), rng(pe), max(ls) / max(pe), median, paired[0], paired[-1]))
PY
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

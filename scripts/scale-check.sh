#!/usr/bin/env bash
# The whole workflow on a large random checkpoint, each step under /usr/bin/time -v, with the cost estimate
# (`--dry-run`) beside the measured wall time and peak resident memory (docs/scale.md). Not part of CI: on the
# Llama 3.1 8B shape it runs for hours on 2 cores.
#
#   scripts/scale-check.sh [WORK_DIR]        (default: $HOME/.cache/layerscope/scale-check)
#
# Environment: SCALE_PRESET (llama31-8b | 1b, default llama31-8b), SCALE_ITEMS (task items, default 64),
# SCALE_PAIRS (pairs-file items, default 15), SCALE_ORDER_LENGTH (first_of_two list length, default 40-56: about
# 128 Llama 3.1 tokens per prompt), SCALE_BUDGET_GB (--memory-budget, default: the machine's available memory),
# SCALE_STEPS (training steps, default 5), CLI (default build/app/layerscope-cli).
# The checkpoint is made once under WORK_DIR (outside the source tree: 16 GB for the 8B preset, never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-$HOME/.cache/layerscope/scale-check}
preset=${SCALE_PRESET:-llama31-8b}
items=${SCALE_ITEMS:-64}
pairs=${SCALE_PAIRS:-15}
order=${SCALE_ORDER_LENGTH:-40-56}
steps=${SCALE_STEPS:-5}
cli=${CLI:-$root/build/app/layerscope-cli}
budget=()
[ -n "${SCALE_BUDGET_GB:-}" ] && budget=(--memory-budget "$SCALE_BUDGET_GB")
[ -x "$cli" ] || { echo "scale-check: no $cli; build first (scripts/build.sh)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "scale-check: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
case "$preset" in
  llama31-8b) tokenizer=$root/build/tests/text/tokenizer_data/llama3_1/tokenizer.json; dtype=bfloat16; shards=4 ;;
  1b) tokenizer=$root/build/tests/text/tokenizer_data/llama2/tokenizer.json; dtype=bfloat16; shards=1 ;;
  *) echo "scale-check: SCALE_PRESET must be llama31-8b or 1b" >&2; exit 2 ;;
esac
[ -f "$tokenizer" ] || { echo "scale-check: no $tokenizer (the tokenizer tests' data; build the tests first)" >&2; exit 1; }

model=$work/$preset-random
logs=$work/logs
mkdir -p "$work" "$logs"
rows=()  # "step|wall|peak|estimated time|estimated peak"

# run NAME ESTIMATE_TIME ESTIMATE_PEAK -- COMMAND...: times one step, keeps its log, adds a row.
run() {
  local name=$1 est_t=$2 est_m=$3
  shift 4
  echo "== $name: $*" >&2
  local log=$logs/${name// /_}.log
  if ! /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1; then
    echo "scale-check: step '$name' failed; its output:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  local wall peak
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.time")
  peak=$(awk '/Maximum resident set size/ {printf "%.2f GiB", $NF / 1048576}' "$log.time")
  rows+=("$name|$wall|$peak|$est_t|$est_m")
}

# estimate ARGS...: "time|peak" from the `--dry-run` output of the same command (train plans no budget).
estimate() {
  local out extra=("${budget[@]}")
  [ "$1" = train ] && extra=()
  out=$("$cli" "$@" --dry-run "${extra[@]}" 2>/dev/null) || { echo "-|-"; return; }
  local t m
  t=$(sed -n 's/^  time \([^(]*\) (load.*/\1/p' <<<"$out" | sed 's/ *$//')
  m=$(sed -n 's/^  peak resident memory \([0-9.]* GiB\).*/\1/p' <<<"$out")
  echo "${t:--}|${m:--}"
}

if [ ! -f "$model/config.json" ]; then
  run "make-model" - - -- "$cli" make-model --preset "$preset" --dtype "$dtype" --shards "$shards" \
    --tokenizer "$tokenizer" --out "$model"
fi
# The task: first_of_two at about 128 tokens, multiple choice, and a pairs file for pairs mode.
"$cli" make-tasks --out "$work/tasks" --n "$items" --families first_of_two --forms mc,pairs \
  --knobs "order_length=$order" >/dev/null
"$cli" make-tasks --out "$work/pairs" --n "$pairs" --families first_of_two --forms pairs \
  --knobs "order_length=$order" >/dev/null
task=$work/tasks/first_of_two.mc.jsonl
pairfile=$work/pairs/first_of_two.pairs.jsonl
L=$(sed -n 's/.*"num_hidden_layers": *\([0-9]*\).*/\1/p' "$model/config.json")
ks="0,$((L / 4)),$((L / 2)),$((3 * L / 4))"

run "info" - - -- "$cli" info "$model"
run "logits (6 tokens)" - - -- "$cli" logits "$model" --ids 1,2,3,4,5,6 --dtype "$dtype" --out "$work/logits.npy"
run "eval" - - -- "$cli" eval --model "$model" --task "$task" --dtype "$dtype" --out "$work/eval.jsonl"
IFS='|' read -r t m <<<"$(estimate analyze --model "$model" --task "$task" --dtype "$dtype")"
run "analyze (default)" "$t" "$m" -- "$cli" analyze --model "$model" --task "$task" --dtype "$dtype" "${budget[@]}" \
  --out "$work/analysis" --overwrite
IFS='|' read -r t m <<<"$(estimate analyze --model "$model" --task "$pairfile" --dtype "$dtype" --sensitivity-mode pairs)"
run "analyze (pairs)" "$t" "$m" -- "$cli" analyze --model "$model" --task "$pairfile" --dtype "$dtype" \
  --sensitivity-mode pairs "${budget[@]}" --out "$work/analysis-pairs" --overwrite
IFS='|' read -r t m <<<"$(estimate manipulate --model "$model" --task "$task" --mode random --layers "$ks")"
run "manipulate (4 k)" "$t" "$m" -- "$cli" manipulate --model "$model" --task "$task" --mode random --layers "$ks" \
  "${budget[@]}" --out "$work/manipulation" --overwrite
IFS='|' read -r t m <<<"$(estimate drop --model "$model" --task "$task" --plan one-shot --n 4)"
run "drop (one-shot, 4)" "$t" "$m" -- "$cli" drop --model "$model" --task "$task" --plan one-shot --n 4 \
  "${budget[@]}" --out "$work/drop" --overwrite
rm -rf "$work/adapter"
train_args=(--model "$model" --train "$task" --lora-layers "$((L * 23 / 32))-$((L - 1))" --garfa-layers "0-$((L * 9 / 32))"
            --steps "$steps" --batch 2 --dtype "$dtype")
IFS='|' read -r t m <<<"$(estimate train "${train_args[@]}")"
run "train ($steps steps)" "$t" "$m" -- "$cli" train "${train_args[@]}" --out "$work/adapter"
run "eval (adapter)" - - -- "$cli" eval --model "$model" --task "$task" --adapter "$work/adapter" --dtype "$dtype"

printf '\n| step | wall | peak RSS | estimated time | estimated peak |\n|---|---|---|---|---|\n'
for r in "${rows[@]}"; do printf '| %s |\n' "${r//|/ | }"; done
echo "logs: $logs"

#!/usr/bin/env bash
# Installs what is missing, builds (Release) and runs the main job on the bundled demo model:
# the desktop application when a display is available, otherwise the headless default analysis with its
# figures written to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
model=resources/models/demo
task=resources/tasks/demo/list_index.mc.jsonl
if [ ! -f "$model/model.safetensors" ]; then
  echo "run-demo: $model is missing; train it with: build/app/layerscope-cli pretrain --recipe demo --out $model" >&2
  exit 1
fi
if { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && [ -x build/app/gui/layerscope ] && [ -z "${LAYERSCOPE_HEADLESS:-}" ]; then
  exec build/app/gui/layerscope --model "$model" --task "$task"
fi
out=out/demo
mkdir -p "$out"
cli=build/app/layerscope-cli
$cli info "$model"
$cli eval --model "$model" --task "$task" --out "$out/eval.jsonl"
rm -rf "$out/analysis"
$cli analyze --model "$model" --task "$task" --out "$out/analysis"
# `figure` exists when the GUI libraries were built (LAYERSCOPE_BUILD_GUI, on by default). The help text is
# captured first: with pipefail, `cli --help | grep -q` fails when grep closes the pipe early.
commands=$($cli --help)
if grep -q '^  figure ' <<<"$commands"; then
  rm -rf "$out/figures"
  mkdir -p "$out/figures"
  for kind in profile heatmap scatter redundancy; do
    QT_QPA_PLATFORM=offscreen $cli figure --results "$out/analysis" --kind "$kind" --out "$out/figures/$kind.pdf"
    QT_QPA_PLATFORM=offscreen $cli figure --results "$out/analysis" --kind "$kind" --out "$out/figures/$kind.png" --dpi 150
  done
  echo "run-demo: results in $out/analysis (scores.json, stats.json, layers.csv, items.jsonl), figures in $out/figures"
else
  echo "run-demo: results in $out/analysis (scores.json, stats.json, layers.csv, items.jsonl); no figures: this build has no GUI libraries"
fi

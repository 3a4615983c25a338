#!/usr/bin/env bash
# Renders README screenshots of the LayerScope main window (every results tab and the training dock) and a figure
# sheet into docs/images/*.png.
# Needs: a build with the GUI (BUILD, default ./build), xvfb-run (xvfb, xauth) and ImageMagick (convert).
# Data: RESULTS=DIR if given; else a real `layerscope-cli analyze` run of the bundled demo model
# (resources/models/demo) on a demo task when both exist; else the GUI's synthetic example results, and the
# images are then named *-synthetic so no one mistakes them for measurements.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
GUI=$BUILD/app/gui/layerscope
CLI=$BUILD/app/layerscope-cli
OUT=$ROOT/docs/images
WIDTH=${WIDTH:-1000}
for tool in xvfb-run convert; do
  command -v "$tool" >/dev/null || { echo "screenshots.sh: '$tool' not found (apt-get install xvfb xauth imagemagick)" >&2; exit 1; }
done
[ -x "$GUI" ] || { echo "screenshots.sh: $GUI not built (cmake --build $BUILD --target layerscope layerscope-cli)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

SOURCE_ARGS=()
SUFFIX=""
RESULTS=${RESULTS:-}
TASK=${TASK:-$ROOT/resources/tasks/demo/first_of_two.mc.jsonl}
if [ -z "$RESULTS" ] && [ -f "$ROOT/resources/models/demo/config.json" ] && "$CLI" analyze --help >/dev/null 2>&1; then
  echo "analysing the demo model on $(basename "$TASK") ..."
  "$CLI" analyze --model "$ROOT/resources/models/demo" --task "$TASK" --out "$TMP/demo-results" 2>"$TMP/analyze.log" ||
    { cat "$TMP/analyze.log" >&2; exit 1; }
  RESULTS=$TMP/demo-results
fi
if [ -n "$RESULTS" ]; then
  SOURCE_ARGS=(--results "$RESULTS")
else
  echo "no results and no demo model: using the synthetic example results (images named *-synthetic)"
  SOURCE_ARGS=(--example-results)
  SUFFIX="-synthetic"
fi

# With the demo analysis: two short real fine-tunes (LS-LoRA + GARFA on every layer, held-out loss on the task),
# and the analysis again with the second adapter, for the training dock (two runs overlaid, held-out points), the
# Runs tab (base vs adapted profiles and their difference) and the Items tab (item-by-item comparison, McNemar).
EXTRA_ARGS=()
TABS=(profiles heatmap correlation redundancy)
if [ -n "$RESULTS" ] && [ -z "$SUFFIX" ] && [ -f "$ROOT/resources/models/demo/config.json" ] && [ "${ADAPTERS:-1}" != 0 ]; then
  for run in "a 5e-4" "b 2e-3"; do
    set -- $run
    echo "fine-tuning adapter-$1 (lr $2) ..."
    "$CLI" train --model "$ROOT/resources/models/demo" --train "demo:${TRAIN_FAMILY:-first_of_two}:400" --eval "$TASK" \
      --lora-layers all --garfa-layers all --steps "${TRAIN_STEPS:-60}" --lr "$2" --checkpoint-every 0 \
      --out "$TMP/adapter-$1" >"$TMP/train-$1.log" 2>&1 || { cat "$TMP/train-$1.log" >&2; exit 1; }
  done
  echo "analysing with adapter-b ..."
  "$CLI" analyze --model "$ROOT/resources/models/demo" --task "$TASK" --adapter "$TMP/adapter-b" \
    --out "$TMP/adapted-results" 2>"$TMP/analyze-b.log" || { cat "$TMP/analyze-b.log" >&2; exit 1; }
  EXTRA_ARGS=(--compare "$TMP/adapted-results" --adapter "$TMP/adapter-a" --adapter "$TMP/adapter-b")
  TABS+=(items runs training)
fi

# The main window on a 1400x900 virtual screen, one grab per tab and one of the training dock, with a layer range
# selected.
xvfb-run -a -s "-screen 0 1400x900x24" "$GUI" --settings "$TMP/settings.ini" "${SOURCE_ARGS[@]}" "${EXTRA_ARGS[@]}" \
  --select "${SELECT:-7,8,9}" --screenshots "$TMP/shots"
for tab in "${TABS[@]}"; do
  convert "$TMP/shots/window-$tab.png" -resize "${WIDTH}x" -strip -colors 256 "PNG8:$OUT/window-$tab$SUFFIX.png"
done

# A sheet of exported figures (the same code as File > Export and `layerscope-cli figure`).
if [ -n "$RESULTS" ]; then
  FIGDIR=$RESULTS
else
  FIGDIR=$TMP/example
  QT_QPA_PLATFORM=offscreen "$GUI" --write-example-results "$FIGDIR"
fi
if [ -f "$FIGDIR/scores.json" ] || [ -f "$FIGDIR/manipulation.json" ]; then
  QT_QPA_PLATFORM=offscreen "$CLI" figure --results "$FIGDIR" --kind all --out "$TMP/figs" --dpi 150 >/dev/null
  mapfile -t figs < <(ls "$TMP"/figs/{profile,heatmap,scatter,redundancy}.png 2>/dev/null)
  if [ "${#figs[@]}" -ge 2 ]; then
    convert "${figs[@]:0:2}" +append "$TMP/row1.png"
    if [ "${#figs[@]}" -ge 4 ]; then convert "${figs[@]:2:2}" +append "$TMP/row2.png"; convert "$TMP/row1.png" "$TMP/row2.png" -append "$TMP/sheet.png"; else cp "$TMP/row1.png" "$TMP/sheet.png"; fi
    convert "$TMP/sheet.png" -resize "${WIDTH}x" -strip -colors 256 "PNG8:$OUT/figures$SUFFIX.png"
  fi
fi
ls -l "$OUT"

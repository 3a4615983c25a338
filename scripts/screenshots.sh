#!/usr/bin/env bash
# Renders README screenshots of the LayerScope main window and a figure sheet into docs/images/*.png.
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
  "$CLI" analyze --model "$ROOT/resources/models/demo" --task "$TASK" --out "$TMP/demo-results"
  RESULTS=$TMP/demo-results
fi
if [ -n "$RESULTS" ]; then
  SOURCE_ARGS=(--results "$RESULTS")
else
  echo "no results and no demo model: using the synthetic example results (images named *-synthetic)"
  SOURCE_ARGS=(--example-results)
  SUFFIX="-synthetic"
fi

# The main window on a 1400x860 virtual screen, one grab per tab, with a layer range selected.
xvfb-run -a -s "-screen 0 1400x900x24" "$GUI" --settings "$TMP/settings.ini" "${SOURCE_ARGS[@]}" \
  --select "${SELECT:-20,21,22}" --screenshots "$TMP/shots"
for tab in profiles heatmap correlation redundancy; do
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

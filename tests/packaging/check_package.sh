#!/usr/bin/env bash
# One step of the packaging checks (tests/packaging/CMakeLists.txt): check_package.sh STEP BUILD_DIR SOURCE_DIR VERSION.
# Steps: deb (cpack, then unpack for the others), lintian, contents, install, cli, demo-default, gui, remove.
# Exit status 0 pass, 1 fail, 77 skipped (the install steps need root and leave an existing layerscope alone).
set -euo pipefail
step=$1 build=$2 src=$3 version=$4
work=$build/packaging-check      # the unpacked package and the marker of an install made by these tests
root=$work/root
marker=$work/installed-by-tests
deb=$build/layerscope_${version}_$(dpkg --print-architecture).deb
demo=/usr/share/layerscope/models/demo
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
need() {
  for t in "$@"; do command -v "$t" >/dev/null || fail "'$t' not found (scripts/package.sh installs the packaging tools)"; done
}
# No file of the package may name the source or build tree (strings of binaries, text of the rest, man pages unzipped).
# Binaries also may not hold an absolute path to a LayerScope source file, from whichever tree (ccache shares objects).
no_tree_paths() {
  for f in "$@"; do
    if strings -a "$f" | grep -F -e "$src" -e "$build"; then fail "$f names the source or build tree"; fi
    if strings -a "$f" | grep -oE '(/[A-Za-z0-9_.+-]+)*/(core|analysis|experiments|results|views|app)/[A-Za-z0-9_/]+\.(cpp|h)\b' |
       grep -v '^/usr/include/'; then
      fail "$f holds the absolute path of a source file"
    fi
  done
}
# "ablate", "bench analyze", ...: the command names of `layerscope-cli --help` (lines "  NAME [SUBNAME] USAGE").
cli_commands() {
  awk '/^  [a-z]/ { if ($2 ~ /^[a-z][a-z-]*$/) print $1 " " $2; else print $1 }' <<<"$("$1" --help)"
}
installed_by_tests() { [ -f "$marker" ] || skip "the package was not installed by Packaging.Install"; }
run_outside_tree() {  # a fresh directory outside both trees, no LAYERSCOPE_DATA_DIR
  unset LAYERSCOPE_DATA_DIR
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cd "$tmp"
}

case $step in
deb)
  need cpack dpkg-deb dpkg-shlibdeps
  rm -f "$build"/layerscope_*.deb
  rm -rf "$root" "$work/control"
  mkdir -p "$work"
  start=$(date +%s)
  (cd "$build" && cpack -G DEB)
  [ -f "$deb" ] || fail "cpack wrote no $deb"
  echo "built $deb: $(du -h "$deb" | cut -f1) ($(stat -c %s "$deb") bytes) in $(($(date +%s) - start)) s"
  dpkg-deb --info "$deb"
  dpkg-deb -x "$deb" "$root"
  dpkg-deb -e "$deb" "$work/control"
  ;;

lintian)
  need lintian
  # Errors fail; the warnings that remain are listed, with the reason, in packaging/README.md.
  lintian --fail-on error --tag-display-limit 0 "$deb"
  echo "lintian: no errors"
  ;;

contents)
  need desktop-file-validate appstreamcli readelf strings file zcat
  for f in usr/bin/layerscope usr/bin/layerscope-cli usr/libexec/layerscope/layerscope-cli-model \
           usr/share/layerscope/models/demo/{config.json,model.safetensors,tokenizer.json,README.md} \
           usr/share/layerscope/tasks/demo/{list_index.mc.jsonl,manifest.json,README.md} \
           usr/share/man/man1/{layerscope,layerscope-cli}.1.gz usr/share/bash-completion/completions/layerscope-cli \
           usr/share/doc/layerscope/{copyright,changelog.gz,README.md,docs/methods.md}; do
    [ -e "$root/$f" ] || fail "the package has no /$f"
  done
  cmp "$src/resources/models/demo/model.safetensors" "$root/usr/share/layerscope/models/demo/model.safetensors"
  desktop=$(ls "$root"/usr/share/applications/*.desktop)
  desktop-file-validate "$desktop"
  # validate-tree checks the metainfo file together with the desktop entry and icon it names.
  appstreamcli validate-tree --no-net "$root"
  icon=$(sed -n 's/^Icon=//p' "$desktop")
  [ -f "$root/usr/share/icons/hicolor/scalable/apps/$icon.svg" ] || fail "no icon $icon.svg for $desktop"
  for b in "$root"/usr/bin/*; do
    if readelf -d "$b" | grep -E 'RPATH|RUNPATH'; then fail "$b has an RPATH"; fi
    if file "$b" | grep -q "not stripped"; then fail "$b is not stripped"; fi
  done
  no_tree_paths "$root"/usr/bin/*
  if grep -rlF -e "$src" -e "$build" "$root"; then fail "these files name the source or build tree"; fi
  for m in "$root"/usr/share/man/man1/*.gz "$root"/usr/share/doc/layerscope/changelog.gz; do
    if zcat "$m" | grep -F -e "$src" -e "$build"; then fail "$m names the source or build tree"; fi
  done
  # The man pages and the completion follow the programs' own --help (the extracted binaries use system libraries).
  man_cli=$(zcat "$root/usr/share/man/man1/layerscope-cli.1.gz" | sed 's/\\-/-/g')
  completion=$(cat "$root/usr/share/bash-completion/completions/layerscope-cli")
  mapfile -t commands < <(cli_commands "$root/usr/bin/layerscope-cli")
  [ "${#commands[@]}" -ge 10 ] || fail "layerscope-cli --help lists only ${#commands[@]} commands"
  for c in "${commands[@]}"; do
    grep -qF -- "$c " <<<"$man_cli" || fail "layerscope-cli(1) does not mention the command '$c'"
    grep -qE -- "(^|[ \"])${c%% *}[ )\"]" <<<"$completion" || fail "the bash completion lacks the command '$c'"
  done
  man_gui=$(zcat "$root/usr/share/man/man1/layerscope.1.gz" | sed 's/\\-/-/g')
  for o in $(QT_QPA_PLATFORM=offscreen "$root/usr/bin/layerscope" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    grep -qF -- "$o" <<<"$man_gui" || fail "layerscope(1) does not mention the option $o"
  done
  echo "contents: ${#commands[@]} commands in layerscope-cli(1) and the completion; desktop entry, AppStream, icon valid"
  ;;

install)
  [ "$(id -u)" -eq 0 ] || skip "installing needs root (by hand: sudo apt-get install $deb)"
  need apt-get
  if dpkg-query -W -f='${Status}' layerscope 2>/dev/null | grep -q "install ok installed" && [ ! -f "$marker" ]; then
    skip "a layerscope package is already installed here; the tests do not replace it"
  fi
  touch "$marker"
  # Depends alone must be enough: no Recommends.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" </dev/null
  dpkg-query -W -f='${Version}\n' layerscope | grep -qx "$version" || fail "layerscope $version is not installed"
  ;;

cli)
  installed_by_tests
  run_outside_tree
  no_tree_paths /usr/bin/layerscope /usr/bin/layerscope-cli /usr/libexec/layerscope/layerscope-cli-model
  [ "$(/usr/bin/layerscope-cli --version)" = "$version" ] || fail "layerscope-cli --version is not $version"
  /usr/bin/layerscope-cli info "$demo" | tee info.json
  grep -q '"layers": *12' info.json || fail "info did not report the demo model's 12 layers"
  /usr/bin/layerscope-cli analyze --model "$demo" --task /usr/share/layerscope/tasks/demo/list_index.mc.jsonl \
    --bootstrap 50 --out results
  for f in scores.json stats.json layers.csv items.jsonl; do [ -s "results/$f" ] || fail "analyze wrote no $f"; done
  ;;

demo-default)
  # Without --model, `bench analyze` takes the demo model from the install prefix (app/bundled_data.h); 24 items keep
  # it short (about 40 s on 2 cores).
  installed_by_tests
  run_outside_tree
  head -24 /usr/share/layerscope/tasks/demo/list_index.mc.jsonl >tiny.jsonl
  /usr/bin/layerscope-cli bench analyze --task tiny.jsonl | tee bench.txt
  grep -q "^model $demo:" bench.txt || fail "bench analyze did not default to $demo"
  ;;

gui)
  installed_by_tests
  run_outside_tree
  # A fresh home: first start, so the window offers the installed demo (a dialog, offscreen).
  export HOME=$tmp XDG_CONFIG_HOME=$tmp/config QT_QPA_PLATFORM=offscreen
  [ "$(/usr/bin/layerscope --version)" = "LayerScope $version" ] || fail "layerscope --version is not LayerScope $version"
  rc=0
  timeout 5 /usr/bin/layerscope || rc=$?
  [ "$rc" -eq 124 ] || fail "layerscope ended with status $rc before the 5 s timeout"
  echo "layerscope ran for 5 s offscreen"
  ;;

remove)
  installed_by_tests
  DEBIAN_FRONTEND=noninteractive apt-get remove -y -q layerscope </dev/null
  rm -f "$marker"
  [ ! -e /usr/bin/layerscope-cli ] || fail "/usr/bin/layerscope-cli is still there"
  ;;

*) fail "unknown step '$step'" ;;
esac

#!/usr/bin/env bash
# Writes the bash completion of layerscope-cli from its own --help, so it lists exactly the commands and options the
# program has. Usage: gen-bash-completion.sh CLI OUTFILE. Run at build time by packaging/CMakeLists.txt.
set -euo pipefail
cli=$1
out=$2
help=$("$cli" --help)
# Command lines of the help look like "  NAME [SUBNAME] USAGE...": the name is the leading lower-case words.
mapfile -t lines < <(grep -E '^  [a-z]' <<<"$help")
declare -A opts=()
tops=()
subs=()
for line in "${lines[@]}"; do
  read -ra words <<<"$line"
  name=${words[0]}
  if [ "${#words[@]}" -gt 1 ] && [[ ${words[1]} =~ ^[a-z][a-z-]*$ ]]; then
    subs+=("$name:${words[1]}")
    name="$name ${words[1]}"
  fi
  [[ " ${tops[*]} " == *" ${words[0]} "* ]] || tops+=("${words[0]}")
  opts[$name]=$({ grep -oE -- '--[a-z0-9][a-z0-9-]*' <<<"$line" || true; echo --help; } | sort -u | tr '\n' ' ' | sed 's/ $//')
done
{
  echo "# bash completion for layerscope-cli (generated from 'layerscope-cli --help' by packaging/gen-bash-completion.sh)"
  echo "_layerscope_cli() {"
  echo '  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]:-} sub=${COMP_WORDS[2]:-} words=""'
  echo '  if [ "$COMP_CWORD" -eq 1 ]; then'
  echo "    COMPREPLY=(\$(compgen -W \"${tops[*]} --help --version\" -- \"\$cur\"))"
  echo '    return'
  echo '  fi'
  echo '  case "$cmd $sub" in'
  for name in "${!opts[@]}"; do
    if [[ $name == *" "* ]]; then echo "    \"$name\") words=\"${opts[$name]}\" ;;"; fi
  done | sort
  echo '  esac'
  echo '  if [ -z "$words" ]; then'
  echo '    case "$cmd" in'
  for top in "${tops[@]}"; do
    s=""
    for pair in "${subs[@]}"; do if [ "${pair%%:*}" = "$top" ]; then s+="${pair#*:} "; fi; done
    if [ -n "$s" ]; then
      echo "      $top) [ \"\$COMP_CWORD\" -eq 2 ] && words=\"${s% }\" ;;"
    else
      echo "      $top) words=\"${opts[$top]}\" ;;"
    fi
  done
  echo '    esac'
  echo '  fi'
  echo '  if [[ $cur == -* || ( -n $words && $words != *--* ) ]]; then'
  echo '    COMPREPLY=($(compgen -W "$words" -- "$cur"))'
  echo '  else'
  echo '    COMPREPLY=($(compgen -f -- "$cur"))'
  echo '  fi'
  echo '}'
  echo 'complete -o filenames -F _layerscope_cli layerscope-cli'
} >"$out.tmp"
mv "$out.tmp" "$out"

#!/bin/sh
# The core's layer order, read from the built objects with nm: a folder of
# core/ (and kernels/) may use only the symbols of the folders its line below
# names, so no lower layer reaches up and no two layers form a cycle; every
# object of the core lies in one of these folders; the command (cli/) uses
# only what libtessera.so exports, the public API. A use the order forbids
# is reported with the object, the symbol and where it is defined.
#
# A known use against the order stands in KNOWN below with the reason it is
# still there: its test reads "not ok ... # TODO" (XFAIL) while the use is
# there, and "ok ... # TODO" (XPASS, a failure) once it is gone, so that the
# list only ever shrinks. TAP by hand.
set -u
build=${TSR_TEST_BUILDDIR:-.}
nm=${NM:-nm}

# layer: the layers it may use (besides itself), bottom layer first.
LAYERS='
base:
kernels: base
gguf: base
text: base gguf
plugin: base gguf text
profile: base gguf plugin
sampling: base plugin
arch: base kernels gguf plugin
plan: base gguf plugin arch
model: base kernels gguf plugin arch plan
dist: base gguf plugin profile arch model
api: base kernels gguf plugin profile text sampling arch plan model dist
'
# from>to: why the use is still there.
KNOWN='
'

work=$(mktemp -d "${TMPDIR:-/tmp}/tsr-layers.XXXXXX") || { echo "Bail out! no temporary folder"; exit 1; }
trap 'rm -rf "$work"' EXIT

layer_of() { # layer_of OBJECT-PATH (relative to the build tree)
  case $1 in
    core/*/*) d=${1#core/}; echo "${d%%/*}" ;;
    kernels/*) echo kernels ;;
    *) echo "" ;;
  esac
}

# Every object of the core, "layer object" per line: the Makefile names them
# (TSR_TEST_CORE_OBJECTS, libtool .lo files whose PIC object sits in .libs/),
# so objects a build left behind under an old path do not count.
objects=$work/objects
: > "$objects.all"
for lo in ${TSR_TEST_CORE_OBJECTS:-}; do
  case $lo in
    *.lo) pic=$(sed -n "s/^pic_object='\(.*\)'$/\1/p" "$build/$lo")
          [ -n "$pic" ] && [ "$pic" != none ] && echo "$(dirname "$lo")/$pic" >> "$objects.all" ;;
    *) echo "$lo" >> "$objects.all" ;;
  esac
done
if [ ! -s "$objects.all" ]; then
  echo "Bail out! no core objects: run through make check (TSR_TEST_CORE_OBJECTS)"; exit 1
fi
: > "$objects"
homeless=
while read -r o; do
  l=$(layer_of "$o")
  if [ -z "$l" ] || ! printf '%s\n' "$LAYERS" | grep -q "^$l:"; then
    homeless="$homeless $o"
  else
    echo "$l $o" >> "$objects"
  fi
done < "$objects.all"

# defs: "symbol layer object"; uses: "layer object symbol".
: > "$work/defs"; : > "$work/uses"
# One nm over all objects: "OBJECT: symbol type ..." per line.
(cd "$build" && awk '{ print $2 }' "$objects" | xargs "$nm" -A -P) > "$work/nm" || {
  echo "Bail out! $nm failed on the core's objects"; exit 1; }
awk -v defs="$work/defs" -v uses="$work/uses" '
  NR == FNR { layer[$2] = $1; next }
  { o = $1; sub(/:$/, "", o); l = layer[o] }
  $3 ~ /^[TDBRVWGSC]$/ { print $2, l, o >> defs }
  $3 == "U"            { print l, o, $2 >> uses }' "$objects" "$work/nm"

# "from>to object symbol defined-in" for each use of another layer's symbol.
awk 'NR == FNR { if (!($1 in def)) { def[$1] = $2; where[$1] = $3 } next }
     ($3 in def) && def[$3] != $1 { print $1 ">" def[$3], $2, $3, where[$3] }' \
  "$work/defs" "$work/uses" | sort -u > "$work/edges"

n_layers=$(printf '%s\n' "$LAYERS" | grep -c ':')
n_known=$(printf '%s\n' "$KNOWN" | grep -c ':')
echo "1..$((n_layers + n_known + 2))"
n=0
show() { sed 's/^\([^ ]*\) \([^ ]*\) \([^ ]*\) \([^ ]*\)$/# \2 uses \3, defined in \4 (\1)/' "$1"; }

n=$((n + 1))
if [ -z "$homeless" ]; then
  echo "ok $n - every object of the core lies in a layer's folder"
else
  echo "not ok $n - every object of the core lies in a layer's folder"
  for o in $homeless; do echo "# $o: in no folder of LAYERS (tests/layers.sh)"; done
fi

# One test per layer: no use of a layer it may not use, but for KNOWN ones.
printf '%s\n' "$LAYERS" | grep ':' | while IFS=: read -r layer allowed; do
  n=$((n + 1))
  grep "^$layer>" "$work/edges" | while read -r edge o sym def; do
    case " $allowed " in *" ${edge#*>} "*) continue ;; esac
    printf '%s\n' "$KNOWN" | grep -q "^$edge:" && continue
    echo "$edge $o $sym $def"
  done > "$work/bad"
  if [ -s "$work/bad" ]; then
    echo "not ok $n - $layer uses${allowed:+ only}${allowed:- no other layer}"; show "$work/bad"
  else
    echo "ok $n - $layer uses${allowed:+ only}${allowed:- no other layer}"
  fi
done
n=$((n + n_layers))

# One test per KNOWN use: XFAIL while it lasts, XPASS (a failure) once gone.
printf '%s\n' "$KNOWN" | grep ':' | while IFS=: read -r edge why; do
  n=$((n + 1))
  grep "^$edge " "$work/edges" > "$work/bad" || true
  if [ -s "$work/bad" ]; then
    echo "not ok $n - ${edge%>*} does not use ${edge#*>} # TODO$why"; show "$work/bad"
  else
    echo "ok $n - ${edge%>*} does not use ${edge#*>} # TODO gone: drop it from KNOWN in tests/layers.sh"
  fi
done
n=$((n + n_known))

# The command: every core symbol its objects use is one libtessera.so exports.
n=$((n + 1))
lib=$build/.libs/libtessera.so
cli_bad=$work/cli
if [ ! -f "$lib" ] || [ -z "${TSR_TEST_CLI_OBJECTS:-}" ]; then
  echo "not ok $n - the command uses only the public API"
  echo "# no $lib, or no TSR_TEST_CLI_OBJECTS: run through make check"
else
  "$nm" -D --defined-only -P "$lib" | awk '{ print $1 }' | sort -u > "$work/exports"
  : > "$cli_bad"
  for o in ${TSR_TEST_CLI_OBJECTS:-}; do
    "$nm" -P "$build/$o" | awk -v o="$o" '$2 == "U" { print $1, o }'
  done | awk 'NR == FNR { def[$1] = $3; next } ($1 in def) { print $2, $1, def[$1] }' \
      "$work/defs" - | while read -r o sym def; do
    grep -qx "$sym" "$work/exports" || echo "# $o uses $sym, defined in $def, not exported"
  done > "$cli_bad"
  if [ -s "$cli_bad" ]; then
    echo "not ok $n - the command uses only the public API"; cat "$cli_bad"
  else
    echo "ok $n - the command uses only the public API"
  fi
fi

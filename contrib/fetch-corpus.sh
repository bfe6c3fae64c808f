#!/bin/sh
# Fetches the long text that perplexity figures are measured on: the Python
# 3.11 tutorial, as reStructuredText, from Debian 12's python3.11-doc package
# (apt-get download: nothing is installed), its sixteen chapters in reading
# order in one file of 253917 bytes (about 60 000 tokens of English prose
# and code with the default model's tokenizer).
#   License: the Python Software Foundation License Version 2 (the package's
#   copyright file, /usr/share/doc/python3.11-doc/copyright; its code
#   examples also under the Zero-Clause BSD licence).
#   SHA-256 of the file written: see sha256 below.
# The text is kept out of the repository; the default model and the format
# files are scored on it by contrib/bench/ppl_table.sh -f.
# Usage: contrib/fetch-corpus.sh [CACHE_DIR]
#   prints the path of the text; CACHE_DIR defaults to $TESSERA_CORPUS_CACHE
#   or ~/.cache/tessera/corpus.
set -eu
cache="${1:-${TESSERA_CORPUS_CACHE:-$HOME/.cache/tessera/corpus}}"
name=python3.11-tutorial.txt
sha256=b247a4bd92b51de0af74a4cdbe9de10fabcc898b7a510a0f383c65f2c0813803
chapters="appetite interpreter introduction controlflow datastructures modules
inputoutput errors classes stdlib stdlib2 venv whatnow interactive floatingpoint
appendix"
target="$cache/$name"

verify() { echo "$sha256  $1" | sha256sum -c --status; }

if [ -f "$target" ] && verify "$target"; then
  echo "$target"
  exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-corpus: downloading Debian's python3.11-doc (about 13 MB)" >&2
(cd "$tmp" && apt-get download -q python3.11-doc > "$tmp/apt.log" 2>&1) || {
  tail -n 5 "$tmp/apt.log" >&2
  echo "fetch-corpus: apt-get download python3.11-doc failed (run apt-get update?)" >&2
  exit 1
}
dpkg-deb -x "$tmp"/python3.11-doc_*.deb "$tmp/root"
dir="$tmp/root/usr/share/doc/python3.11/html/_sources/tutorial"
for chapter in $chapters; do
  cat "$dir/$chapter.rst.txt"
done > "$tmp/$name"
if ! verify "$tmp/$name"; then
  echo "fetch-corpus: $name has sha256 $(sha256sum < "$tmp/$name" | cut -d' ' -f1)," \
       "not the expected $sha256 (another python3.11-doc version?)" >&2
  exit 1
fi
mv "$tmp/$name" "$target"
echo "$target"

#!/bin/sh
# The committed corpus of malformed GGUF files (tests/data/gguf-corrupt) is
# exactly what its generator writes: regenerate it and compare, file by file.
# To change the corpus, edit tests/make_gguf_corrupt.c and run
#   tests/make_gguf_corrupt $(srcdir)/tests/data/gguf-corrupt
srcdir=${TSR_TEST_SRCDIR:-.}
builddir=${TSR_TEST_BUILDDIR:-.}
committed="$srcdir/tests/data/gguf-corrupt"
fresh=$(mktemp -d "${TMPDIR:-/tmp}/gguf-corpus.XXXXXX") || exit 99
trap 'rm -rf "$fresh"' EXIT

echo "1..2"
if "$builddir/tests/make_gguf_corrupt" "$fresh"; then
  echo "ok 1 - make_gguf_corrupt writes the corpus"
else
  echo "not ok 1 - make_gguf_corrupt writes the corpus"
fi
status=ok
for f in "$fresh"/*; do
  name=$(basename "$f")
  if ! cmp -s "$f" "$committed/$name"; then
    echo "# $name: the committed file differs from what make_gguf_corrupt.c writes (or is missing)"
    status="not ok"
  fi
done
for f in "$committed"/*.gguf; do
  name=$(basename "$f")
  if [ ! -e "$fresh/$name" ]; then
    echo "# $name: committed, but make_gguf_corrupt.c no longer writes it"
    status="not ok"
  fi
done
echo "$status 2 - the committed corpus is what make_gguf_corrupt.c writes"

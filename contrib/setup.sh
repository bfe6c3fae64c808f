#!/bin/sh
# Sets everything up on a fresh Debian 12 machine and runs the default model:
# installs the build dependencies, builds and installs tessera (/usr/local),
# fetches SmolLM2-135M-Instruct into the model cache, and generates text.
# Usage: contrib/setup.sh [PROMPT]   (default: "The sky is blue because")
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
"$src/contrib/install-deps.sh"
cd "$src"
[ -x configure ] || ./autogen.sh
mkdir -p _build/release
cd _build/release
[ -f Makefile ] || "$src/configure" -q
make -s -j"$(nproc)"
$sudo make -s install
$sudo ldconfig
"$src/contrib/fetch-model.sh"
tessera --version
tessera run -m "${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}/SmolLM2-135M-Instruct.Q4_1.gguf" \
  -p "${1:-Why is the sky blue?}" -n 128 --stats

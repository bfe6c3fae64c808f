#!/bin/sh
# The Python the test setup uses to make quantized model files with
# llama.cpp's own quantizer (llama-cpp-python, built from source: several
# minutes on 2 cores), to read GGUF with the gguf package and to drive
# `tessera serve` with the openai client (tests/serve.py). Tests compare
# against committed reference data; only the model files are made at setup.
# Usage: contrib/install-test-python.sh [VENV=/opt/tsr-venv]
set -eu
venv=${1:-/opt/tsr-venv}
if "$venv/bin/python" -c "import llama_cpp, gguf, numpy, openai" 2>/dev/null; then
  echo "$venv: llama-cpp-python, gguf, numpy and openai present"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check numpy gguf openai
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$venv/bin/pip" install --quiet --disable-pip-version-check \
  llama-cpp-python==0.3.36
"$venv/bin/python" -c "import llama_cpp, gguf; print('llama-cpp-python', llama_cpp.__version__)"

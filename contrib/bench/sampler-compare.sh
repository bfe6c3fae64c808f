#!/bin/sh
# Sampling time against one decode step of the default model, both printed:
# run from the build tree (contrib/bench/sampler-compare.sh). PYTHON is a Python with
# llama-cpp-python (default /opt/tsr-venv/bin/python, else python3).
here=$(dirname "$0")
python=${PYTHON:-/opt/tsr-venv/bin/python}
[ -x "$python" ] || python=python3
decode_ms=$("$python" "$here/decode_step.py" "$@") || { echo "compare.sh: cannot time a decode step" >&2; exit 1; }
exec ./contrib/bench/sampler-bench --decode-ms "$decode_ms"

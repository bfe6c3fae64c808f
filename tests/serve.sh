#!/bin/sh
# `tessera serve` end to end on the default model (tests/serve.py): every
# endpoint, streaming, batch invariance under concurrent requests, clients
# that vanish, bad requests, a full queue, the openai client, draining. TAP.
set -u
build=${TSR_TEST_BUILDDIR:-.}
src=${TSR_TEST_SRCDIR:-.}
. "$src/tests/default-model.sh"
# The openai package lives in the test venv (contrib/install-test-python.sh).
python=/opt/tsr-venv/bin/python
[ -x "$python" ] || python=python3
exec "$python" "$src/tests/serve.py" "$build/tessera" "$model"

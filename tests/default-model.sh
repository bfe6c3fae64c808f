# The default model for the TAP scripts that need it (sourced; the C tests'
# twin is tests/default_model.h): sets $model, and when the file is missing
# bails out naming contrib/fetch-model.sh, which CI runs before the tests,
# or skips the whole script when TSR_TEST_ALLOW_NO_MODEL=1 asks for that.
# Call before the script prints its plan.
model=${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -r "$model" ]; then
  if [ "${TSR_TEST_ALLOW_NO_MODEL:-}" = 1 ]; then
    echo "1..0 # SKIP the default model is missing at $model (TSR_TEST_ALLOW_NO_MODEL=1)"
    exit 0
  fi
  echo "Bail out! the default model is missing at $model: run contrib/fetch-model.sh" \
    "(or set TSR_TEST_ALLOW_NO_MODEL=1 to skip the tests that need it)"
  exit 1
fi

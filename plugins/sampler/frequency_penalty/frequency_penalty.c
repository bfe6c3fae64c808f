/* sampler/frequency_penalty (OpenAI's and vLLM's frequency_penalty,
 * llama.cpp's frequency-penalty): subtracts penalty times the number of times
 * a token occurs among the last last_n accepted tokens from its logit, so the
 * more often a token was used the less likely it becomes; a negative penalty
 * encourages repetition. */
#include "../token_window.h"

static const tsr_param_desc frequency_params[] = {
    SAMPLER_FLOAT("penalty", -2, 2, 0.1,
                  "subtract this times a token's count in the window from its logit; 0 = off"),
    TOKEN_WINDOW_PARAM,
};

static float frequency_formula(float logit, int32_t count, float penalty)
{
    return logit - (float)count * penalty;
}

PENALTY_VTABLE(frequency, frequency_formula);

static const tsr_plugin_desc frequency_desc =
    SAMPLER_DESC("frequency_penalty", "lower each token's logit in proportion to its count",
                 frequency_params, frequency_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &frequency_desc : NULL;
}

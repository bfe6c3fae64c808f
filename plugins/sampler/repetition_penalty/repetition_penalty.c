/* sampler/repetition_penalty (Keskar et al. 2019, CTRL; llama.cpp's
 * repeat_penalty; Hugging Face's and vLLM's repetition_penalty): a token seen
 * among the last last_n accepted tokens has its logit divided by penalty when
 * positive and multiplied by it when not, so it always becomes less likely
 * (penalty > 1) however often it was seen. Feed the prompt through the chain's
 * accept to have it count, as llama.cpp and vLLM do. */
#include "../token_window.h"

static const tsr_param_desc repetition_params[] = {
    SAMPLER_FLOAT("penalty", 0.01, 10, 1.1,
                  "divide positive logits (multiply negative ones) of recent tokens by this; "
                  "1 = off"),
    TOKEN_WINDOW_PARAM,
};

static float repetition_formula(float logit, int32_t count, float penalty)
{
    return logit <= 0.0f ? logit * penalty : logit / penalty;
}

PENALTY_VTABLE(repetition, repetition_formula);

static const tsr_plugin_desc repetition_desc =
    SAMPLER_DESC("repetition_penalty", "make tokens seen in the last n less likely (CTRL)",
                 repetition_params, repetition_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &repetition_desc : NULL;
}

/* sampler/presence_penalty (OpenAI's and vLLM's presence_penalty, llama.cpp's
 * presence-penalty): subtracts penalty from the logit of every token that
 * occurs at least once among the last last_n accepted tokens, however often;
 * pushes the text towards new tokens (a negative penalty, back to old ones). */
#include "../token_window.h"

static const tsr_param_desc presence_params[] = {
    SAMPLER_FLOAT("penalty", -2, 2, 0.1,
                  "subtract this from the logit of every token in the window; 0 = off"),
    TOKEN_WINDOW_PARAM,
};

static float presence_formula(float logit, int32_t count, float penalty)
{
    return count > 0 ? logit - penalty : logit;
}

PENALTY_VTABLE(presence, presence_formula);

static const tsr_plugin_desc presence_desc =
    SAMPLER_DESC("presence_penalty", "lower the logit of every token already present",
                 presence_params, presence_vtable);

TSR_EXPORT const tsr_plugin_desc *tsr_plugin_entry(uint32_t index)
{
    return index == 0 ? &presence_desc : NULL;
}

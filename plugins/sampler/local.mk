# Sampler plugins: one .so per sampler, each in its own folder. The headers
# here are compiled into the plugins that include them (no shared library).
plugins_LTLIBRARIES += plugins/sampler_greedy.la
plugins_sampler_greedy_la_SOURCES = plugins/sampler/greedy/greedy.c
plugins_sampler_greedy_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_dist.la
plugins_sampler_dist_la_SOURCES = plugins/sampler/dist/dist.c plugins/sampler/sampler_util.h
plugins_sampler_dist_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_temperature.la
plugins_sampler_temperature_la_SOURCES = plugins/sampler/temperature/temperature.c plugins/sampler/sampler_util.h
plugins_sampler_temperature_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_top_k.la
plugins_sampler_top_k_la_SOURCES = plugins/sampler/top_k/top_k.c plugins/sampler/sampler_util.h
plugins_sampler_top_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_top_p.la
plugins_sampler_top_p_la_SOURCES = plugins/sampler/top_p/top_p.c plugins/sampler/sampler_util.h
plugins_sampler_top_p_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_min_p.la
plugins_sampler_min_p_la_SOURCES = plugins/sampler/min_p/min_p.c plugins/sampler/sampler_util.h
plugins_sampler_min_p_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_typical_p.la
plugins_sampler_typical_p_la_SOURCES = plugins/sampler/typical_p/typical_p.c plugins/sampler/sampler_util.h
plugins_sampler_typical_p_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_top_n_sigma.la
plugins_sampler_top_n_sigma_la_SOURCES = plugins/sampler/top_n_sigma/top_n_sigma.c plugins/sampler/sampler_util.h
plugins_sampler_top_n_sigma_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_repetition_penalty.la
plugins_sampler_repetition_penalty_la_SOURCES = plugins/sampler/repetition_penalty/repetition_penalty.c plugins/sampler/sampler_util.h plugins/sampler/token_window.h
plugins_sampler_repetition_penalty_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_frequency_penalty.la
plugins_sampler_frequency_penalty_la_SOURCES = plugins/sampler/frequency_penalty/frequency_penalty.c plugins/sampler/sampler_util.h plugins/sampler/token_window.h
plugins_sampler_frequency_penalty_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_presence_penalty.la
plugins_sampler_presence_penalty_la_SOURCES = plugins/sampler/presence_penalty/presence_penalty.c plugins/sampler/sampler_util.h plugins/sampler/token_window.h
plugins_sampler_presence_penalty_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_dry.la
plugins_sampler_dry_la_SOURCES = plugins/sampler/dry/dry.c plugins/sampler/sampler_util.h
plugins_sampler_dry_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_xtc.la
plugins_sampler_xtc_la_SOURCES = plugins/sampler/xtc/xtc.c plugins/sampler/sampler_util.h
plugins_sampler_xtc_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_mirostat.la
plugins_sampler_mirostat_la_SOURCES = plugins/sampler/mirostat/mirostat.c plugins/sampler/sampler_util.h
plugins_sampler_mirostat_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/sampler_logit_bias.la
plugins_sampler_logit_bias_la_SOURCES = plugins/sampler/logit_bias/logit_bias.c plugins/sampler/sampler_util.h
plugins_sampler_logit_bias_la_LDFLAGS = $(PLUGIN_LDFLAGS)

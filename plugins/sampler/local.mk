# Sampler plugins: one .so per sampler.
plugins_LTLIBRARIES += plugins/sampler_greedy.la
plugins_sampler_greedy_la_SOURCES = plugins/sampler/greedy/greedy.c
plugins_sampler_greedy_la_LDFLAGS = $(PLUGIN_LDFLAGS)

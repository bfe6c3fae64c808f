# Speculative-decoding strategies: one .so per strategy, each in its own folder.
plugins_LTLIBRARIES += plugins/spec_draft_model.la
plugins_spec_draft_model_la_SOURCES = plugins/spec/draft_model/draft_model.c
plugins_spec_draft_model_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_LTLIBRARIES += plugins/spec_ngram.la
plugins_spec_ngram_la_SOURCES = plugins/spec/ngram/ngram.c
plugins_spec_ngram_la_LDFLAGS = $(PLUGIN_LDFLAGS)

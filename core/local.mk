# libtessera: the core. It never names a concrete format, sampler or strategy.
libtessera_core_la_SOURCES += \
	core/error.c core/version.c core/config.c \
	core/text_input.c core/text_input.h \
	core/rng.c core/rng.h \
	core/candidates.c core/candidates.h \
	core/params.c core/params.h \
	core/sampler_chain.c core/sampler_chain.h \
	core/log.c core/log.h \
	core/cpu.c core/cpu.h \
	core/host.c core/host.h core/half.c core/half.h \
	core/loader.c core/loader.h
# `tessera plugin check`: one plugin object against plugin.h's contract.
libtessera_core_la_SOURCES += core/plugin_check.c core/plugin_check_quant.c core/plugin_check.h
# The thread pool the forward pass splits its work with.
libtessera_core_la_SOURCES += core/threadpool.c core/threadpool.h

# GGUF: the reader and the ggml type table.
libtessera_core_la_SOURCES += core/gguf.c core/gguf_values.c core/gguf.h core/gguf_private.h \
	core/ggml_types.c
# The Llama-family model: hyperparameters, loading, the forward pass, generation.
libtessera_core_la_SOURCES += core/llama_config.c core/model.c core/model.h \
	core/model_internal.h core/forward.c core/model_requant.c core/model_seq.c
# The deployment profile: sizes, diagnostics, YAML, model paths, the profile itself.
libtessera_core_la_SOURCES += \
	core/units.c core/units.h \
	core/diag.c core/diag.h \
	core/yaml_tree.c core/yaml_tree.h \
	core/model_path.c core/model_path.h \
	core/profile.c core/profile.h core/profile_internal.h \
	core/profile_values.c core/profile_validate.c core/profile_yaml.c
# The tokenizer (byte-level BPE, SentencePiece) and chat templates.
libtessera_core_la_SOURCES += \
	core/tokenizer.c core/tokenizer.h core/tokenizer_internal.h \
	core/tokenizer_bpe.c core/tokenizer_spm.c core/tokenizer_gguf.c \
	core/detokenizer.c core/chat.c core/chat.h
# The memory planner: placement and accounting from headers, its diagnostics,
# and the fingerprint that tells a draft that is the main model itself.
libtessera_core_la_SOURCES += core/plan.c core/plan.h core/plan_internal.h core/plan_check.c \
	core/model_identity.c core/model_identity.h
# The runtime API (include/tessera/tessera.h): deployments, text, contexts,
# batches, decode, KV and state, samplers.
libtessera_core_la_SOURCES += core/api/api_internal.h core/api/deployment.c core/api/text.c \
	core/api/context.c core/api/sampler.c core/api/plan.c \
	core/api/profile.c core/api/generate.c core/api/weights_check.c \
	core/api/formats.c core/api/speculate.c core/api/speculate.h core/draft.h \
	core/api/spec_control.c core/api/spec_control.h
# A profile's server section, read before the deployment loads (tessera serve).
libtessera_core_la_SOURCES += core/api/server_settings.c

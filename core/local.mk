# libtessera: the core. It never names a concrete format, sampler or strategy.
# One folder per concept, listed from the bottom layer up: a folder uses only
# folders listed before it (tests/layers.sh says which, and checks it with nm
# over the objects).

# base: errors, logging, tessera.ini, the CPU, the thread pool the forward pass
# splits its work with, sizes with units, diagnostics, half floats, the RNG,
# and the candidates helpers (sort, softmax) the host table lends plugins.
libtessera_core_la_SOURCES += \
	core/base/error.c core/base/version.c core/base/config.c \
	core/base/text_input.c core/base/text_input.h \
	core/base/rng.c core/base/rng.h \
	core/base/candidates.c core/base/candidates.h \
	core/base/log.c core/base/log.h \
	core/base/cpu.c core/base/cpu.h \
	core/base/half.c core/base/half.h \
	core/base/threadpool.c core/base/threadpool.h \
	core/base/units.c core/base/units.h \
	core/base/diag.c core/base/diag.h

# gguf: the GGUF reader and the ggml type table; the header writer and
# llama.cpp's quantization mixes (which type each tensor of a file gets).
libtessera_core_la_SOURCES += core/gguf/gguf.c core/gguf/gguf_values.c \
	core/gguf/gguf.h core/gguf/gguf_private.h core/gguf/ggml_types.c \
	core/gguf/gguf_write.c core/gguf/gguf_write.h core/gguf/quant_mix.c core/gguf/quant_mix.h

# text: the vocabulary, the tokenizer over it (byte-level BPE, SentencePiece,
# the merge queue they share), the detokenizer and chat templates.
libtessera_core_la_SOURCES += \
	core/text/vocab.c core/text/vocab.h \
	core/text/tokenizer.c core/text/tokenizer.h core/text/tokenizer_internal.h \
	core/text/tokenizer_bpe.c core/text/tokenizer_spm.c core/text/merge_queue.c \
	core/text/tokenizer_gguf.c \
	core/text/detokenizer.c core/text/chat.c core/text/chat.h

# plugin: the loader and registry, the host-services table, declared
# parameters, and `tessera plugin check` (one plugin object against
# plugin.h's contract).
libtessera_core_la_SOURCES += \
	core/plugin/loader.c core/plugin/loader.h \
	core/plugin/host.c core/plugin/host.h \
	core/plugin/params.c core/plugin/params.h \
	core/plugin/plugin_check.c core/plugin/plugin_check_quant.c core/plugin/plugin_check.h

# profile: the deployment profile: YAML, model paths, the profile itself.
libtessera_core_la_SOURCES += \
	core/profile/yaml_tree.c core/profile/yaml_tree.h \
	core/profile/model_path.c core/profile/model_path.h \
	core/profile/profile.c core/profile/profile.h core/profile/profile_internal.h \
	core/profile/profile_values.c core/profile/profile_validate.c core/profile/profile_yaml.c

# sampling: the sampler chain over plugins.
libtessera_core_la_SOURCES += \
	core/sampling/sampler_chain.c core/sampling/sampler_chain.h

# arch: a Llama-family model from its headers alone: hyperparameters, the one
# table of the tensors it reads, the bytes a run takes (KV cache, scratch),
# and the fingerprint that tells a draft that is the main model itself.
libtessera_core_la_SOURCES += core/arch/llama_arch.h core/arch/llama_config.c \
	core/arch/llama_tensors.c core/arch/llama_sizes.c \
	core/arch/model_identity.c core/arch/model_identity.h

# plan: the memory planner: sizing from headers and the plan as a value
# (plan.c), the layout step (plan_layout.c: placement and accounting), and its
# checks (plan_check.c: diagnostics and their hints; plan_device.c: what a
# device of a kind other than the CPU can run).
libtessera_core_la_SOURCES += core/plan/plan.c core/plan/plan.h core/plan/plan_internal.h \
	core/plan/plan_layout.c core/plan/plan_check.c core/plan/plan_device.c

# model: the Llama-family model loaded as its plan says: weights (mapped,
# read or re-quantized at load), the forward pass, sequences and their state.
libtessera_core_la_SOURCES += core/model/model.c core/model/model.h \
	core/model/model_internal.h core/model/forward.c core/model/model_requant.c \
	core/model/requant.h core/model/model_seq.c

# dist: across hosts, one pipeline stage per rank of an mpirun job: the
# transport (Open MPI with --with-mpi, else a job of one), the handshake, the
# stages.
libtessera_core_la_SOURCES += core/dist/net.h core/dist/handshake.c core/dist/hop.c core/dist/pipeline.c \
	core/dist/pipeline.h
if HAVE_MPI
libtessera_core_la_SOURCES += core/dist/net_mpi.c
libtessera_core_la_CFLAGS += $(MPI_CFLAGS)
libtessera_core_la_LIBADD += $(MPI_LIBS)
else
libtessera_core_la_SOURCES += core/dist/net_none.c
endif

# api: the runtime API (include/tessera/tessera.h): deployments, text,
# contexts, batches, decode, KV and state, samplers, speculation.
libtessera_core_la_SOURCES += core/api/api_internal.h core/api/deployment.c core/api/text.c \
	core/api/context.c core/api/sampler.c core/api/plan.c \
	core/api/profile.c core/api/generate.c core/api/weights_check.c \
	core/api/formats.c core/api/speculate.c core/api/speculate.h core/api/draft.h \
	core/api/spec_control.c core/api/spec_control.h core/api/dist.c core/api/job.c
# tessera quantize: a model file written in another format.
libtessera_core_la_SOURCES += core/api/quantize.c
# A profile's server section, read before the deployment loads (tessera serve).
libtessera_core_la_SOURCES += core/api/server_settings.c

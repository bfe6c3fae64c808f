# Tests: Criterion programs (TAP on stdout) and shell scripts (TAP by hand),
# through automake's parallel harness with the TAP driver.
TEST_EXTENSIONS = .sh
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_DRIVER = $(LOG_DRIVER)
LOG_COMPILER = $(top_srcdir)/tests/criterion-tap
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	TSR_TEST_BUILDDIR='$(abs_top_builddir)'; export TSR_TEST_BUILDDIR; \
	TSR_TEST_SRCDIR='$(abs_top_srcdir)'; export TSR_TEST_SRCDIR; \
	TESSERA_PLUGIN_PATH='$(abs_top_builddir)/plugins/.libs'; export TESSERA_PLUGIN_PATH; \
	TESSERA_CONFIG=/dev/null; export TESSERA_CONFIG; \
	TSR_TEST_SANITIZER_CFLAGS='$(SANITIZER_CFLAGS)'; export TSR_TEST_SANITIZER_CFLAGS; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0; export ASAN_OPTIONS; \
	TSR_TEST_CORE_OBJECTS='$(libtessera_core_la_OBJECTS)'; export TSR_TEST_CORE_OBJECTS; \
	TSR_TEST_CLI_OBJECTS='$(tessera_OBJECTS)'; export TSR_TEST_CLI_OBJECTS;

TEST_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
TEST_LIBS = libtessera_core.la $(CRITERION_LIBS)

if HAVE_CRITERION
check_PROGRAMS += tests/test_loader
tests_test_loader_SOURCES = tests/test_loader.c tests/testutil.h
tests_test_loader_CFLAGS = $(TEST_CFLAGS)
tests_test_loader_LDADD = $(TEST_LIBS)
TESTS += tests/test_loader
endif

# Deliberately broken plugins for the loader's refusals (tests/plugins/.libs).
BROKEN_PLUGIN_LDFLAGS = -module -avoid-version -shared -no-undefined -rpath /nowhere
if HAVE_CRITERION
check_LTLIBRARIES += tests/plugins/broken_wrong_major.la tests/plugins/broken_newer_minor.la tests/plugins/broken_truncated.la tests/plugins/broken_truncated_vtable.la tests/plugins/broken_no_entry.la tests/plugins/broken_duplicate.la tests/plugins/broken_missing_member.la tests/plugins/broken_bad_param.la
tests_plugins_broken_wrong_major_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_wrong_major_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_WRONG_MAJOR
tests_plugins_broken_wrong_major_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_newer_minor_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_newer_minor_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NEWER_MINOR
tests_plugins_broken_newer_minor_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_truncated_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_truncated_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_TRUNCATED
tests_plugins_broken_truncated_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_truncated_vtable_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_truncated_vtable_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_TRUNCATED_VTABLE
tests_plugins_broken_truncated_vtable_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_no_entry_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_no_entry_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_NO_ENTRY
tests_plugins_broken_no_entry_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_duplicate_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_duplicate_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_DUPLICATE
tests_plugins_broken_duplicate_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_missing_member_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_missing_member_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_MISSING_MEMBER
tests_plugins_broken_missing_member_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_plugins_broken_bad_param_la_SOURCES = tests/plugins/broken.c
tests_plugins_broken_bad_param_la_CPPFLAGS = $(AM_CPPFLAGS) -DBROKEN_BAD_PARAM
tests_plugins_broken_bad_param_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
endif
EXTRA_DIST += tests/criterion-tap

# libFuzzer targets, built by `make fuzzers` after ./configure --enable-fuzzers CC=clang
# (contrib/fuzz.sh does both and runs each target for a bounded time). A target:
#   FUZZER_TARGETS += tests/fuzz/fuzz_NAME
#   tests_fuzz_fuzz_NAME_SOURCES = tests/fuzz/fuzz_NAME.c
#   tests_fuzz_fuzz_NAME_LDADD = $(FUZZER_LIBS)
#   tests_fuzz_fuzz_NAME_LDFLAGS = $(FUZZER_LINK_FLAGS)
# with a seed corpus in tests/fuzz/corpus/NAME/.
FUZZER_TARGETS =
FUZZER_LIBS = libtessera_core.la
FUZZER_LINK_FLAGS = -fsanitize=fuzzer
EXTRA_PROGRAMS = $(FUZZER_TARGETS)
EXTRA_DIST += tests/valgrind-cli.sh tests/fuzz/corpus
fuzzers: $(FUZZER_TARGETS)
if !FUZZERS
	@echo "the fuzz targets need ./configure --enable-fuzzers CC=clang" >&2; exit 1
endif
.PHONY: fuzzers

if HAVE_CRITERION
check_PROGRAMS += tests/test_host
tests_test_host_SOURCES = tests/test_host.c tests/testutil.h
tests_test_host_CFLAGS = $(TEST_CFLAGS)
tests_test_host_LDADD = $(TEST_LIBS)
TESTS += tests/test_host
endif

if HAVE_CRITERION
check_PROGRAMS += tests/test_alloc
tests_test_alloc_SOURCES = tests/test_alloc.c tests/testutil.h
tests_test_alloc_CFLAGS = $(TEST_CFLAGS)
tests_test_alloc_LDADD = $(TEST_LIBS)
TESTS += tests/test_alloc
# alloc/cuda's logic over a fake runtime: every build, no GPU.
check_PROGRAMS += tests/test_alloc_cuda
tests_test_alloc_cuda_SOURCES = tests/test_alloc_cuda.c $(CUDA_ALLOC_LOGIC)
tests_test_alloc_cuda_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/alloc/cuda
tests_test_alloc_cuda_CFLAGS = $(TEST_CFLAGS)
tests_test_alloc_cuda_LDADD = $(TEST_LIBS)
TESTS += tests/test_alloc_cuda
endif

clean-local: clean-test-scratch
clean-test-scratch:
	-rm -rf tests/plugins/bogus
.PHONY: clean-test-scratch

# The thread pool.
if HAVE_CRITERION
check_PROGRAMS += tests/test_threadpool
tests_test_threadpool_SOURCES = tests/test_threadpool.c
tests_test_threadpool_CFLAGS = $(TEST_CFLAGS)
tests_test_threadpool_LDADD = $(TEST_LIBS)
TESTS += tests/test_threadpool
endif

# The CUDA kernels against the CPU (tests/test_cuda_kernels.cpp): on the
# emulator always, the .cu sources compiled by the C++ compiler through
# one-line wrappers (tests/cuda_emu/); on a device with --enable-cuda, where
# the program skips (77) without one. `make check-gpu` runs the device side.
if HAVE_CRITERION
if HAVE_CUDA_EMU
check_PROGRAMS += tests/test_cuda_emu
tests_test_cuda_emu_SOURCES = tests/test_cuda_kernels.cpp tests/testutil.h \
	tests/cuda_emu/kernels.cpp tests/cuda_emu/q4_1.cpp tests/cuda_emu/q8_0.cpp \
	tests/cuda_emu/q4_0.cpp
tests_test_cuda_emu_CPPFLAGS = $(AM_CPPFLAGS) -DTSR_CUDA_EMU -I$(top_srcdir)/plugins/quant
tests_test_cuda_emu_CXXFLAGS = $(AM_CXXFLAGS) $(CRITERION_CFLAGS)
tests_test_cuda_emu_LDADD = $(TEST_LIBS)
TESTS += tests/test_cuda_emu
endif
if HAVE_CUDA
check_PROGRAMS += tests/test_cuda_device
tests_test_cuda_device_SOURCES = tests/test_cuda_kernels.cpp tests/testutil.h
tests_test_cuda_device_CPPFLAGS = $(AM_CPPFLAGS) $(CUDA_CPPFLAGS)
tests_test_cuda_device_CXXFLAGS = $(AM_CXXFLAGS) $(CRITERION_CFLAGS)
tests_test_cuda_device_LDADD = $(TEST_LIBS) $(CUDA_LIBS)
TESTS += tests/test_cuda_device
endif
endif
EXTRA_DIST += tests/check-gpu.sh

# The device checks on a real GPU, in one command (tests/check-gpu.sh says
# what it runs); fails, saying why, on a machine without one.
check-gpu:
if HAVE_CUDA
	$(MAKE) $(AM_MAKEFLAGS) $(plugins_LTLIBRARIES) tests/test_cuda_device
	TSR_TEST_BUILDDIR='$(abs_top_builddir)' CUDA_HOME='$(CUDA_HOME)' \
		$(SHELL) $(top_srcdir)/tests/check-gpu.sh
else
	@echo "check-gpu: this tree was configured without CUDA; run ./configure --enable-cuda" >&2; exit 1
endif
.PHONY: check-gpu

# The CPU kernels.
if HAVE_CRITERION
check_PROGRAMS += tests/test_kernels
tests_test_kernels_SOURCES = tests/test_kernels.c
tests_test_kernels_CFLAGS = $(TEST_CFLAGS)
tests_test_kernels_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_kernels
endif

# The sampler chain and the sampler plugins (real plugins from plugins/.libs).
if HAVE_CRITERION
SAMPLER_TESTS = tests/test_candidates tests/test_sampler_chain tests/test_samplers_filters \
	tests/test_samplers_penalties tests/test_samplers_draws tests/test_samplers_llama_cpp
check_PROGRAMS += $(SAMPLER_TESTS)
TESTS += $(SAMPLER_TESTS)
tests_test_candidates_SOURCES = tests/test_candidates.c
tests_test_candidates_CFLAGS = $(TEST_CFLAGS)
tests_test_candidates_LDADD = $(TEST_LIBS)
tests_test_sampler_chain_SOURCES = tests/test_sampler_chain.c tests/samplertest.h tests/testutil.h
tests_test_sampler_chain_CFLAGS = $(TEST_CFLAGS)
tests_test_sampler_chain_LDADD = $(TEST_LIBS)
tests_test_samplers_filters_SOURCES = tests/test_samplers_filters.c tests/samplertest.h tests/testutil.h
tests_test_samplers_filters_CFLAGS = $(TEST_CFLAGS)
tests_test_samplers_filters_LDADD = $(TEST_LIBS)
tests_test_samplers_penalties_SOURCES = tests/test_samplers_penalties.c tests/samplertest.h tests/testutil.h
tests_test_samplers_penalties_CFLAGS = $(TEST_CFLAGS)
tests_test_samplers_penalties_LDADD = $(TEST_LIBS)
tests_test_samplers_draws_SOURCES = tests/test_samplers_draws.c tests/samplertest.h tests/testutil.h
tests_test_samplers_draws_CFLAGS = $(TEST_CFLAGS)
tests_test_samplers_draws_LDADD = $(TEST_LIBS)
tests_test_samplers_llama_cpp_SOURCES = tests/test_samplers_llama_cpp.c tests/samplertest.h tests/testutil.h
tests_test_samplers_llama_cpp_CFLAGS = $(TEST_CFLAGS)
tests_test_samplers_llama_cpp_LDADD = $(TEST_LIBS)
endif
# llama.cpp's verdicts on random logits, and the script that made them.
EXTRA_DIST += tests/reference/samplers/make_llama_cpp_cases.py \
	tests/reference/samplers/llama_cpp_cases.txt

# The contrib example sampler, built against a temporary installation.
check_PROGRAMS += tests/contrib_chain
tests_contrib_chain_SOURCES = tests/contrib_chain.c tests/testutil.h
tests_contrib_chain_LDADD = libtessera_core.la
TESTS += tests/contrib-example.sh
EXTRA_DIST += tests/contrib-example.sh
# The runtime API's examples built against an installed tessera, and run.
TESTS += tests/examples.sh
EXTRA_DIST += tests/examples.sh
# The core's layer order (core/local.mk), from nm over the built objects.
TESTS += tests/layers.sh
EXTRA_DIST += tests/layers.sh

# GGUF: the reader's tests, the writer they and the tools share, the corpus
# of malformed files (tests/data/gguf-corrupt, made by make_gguf_corrupt.c and
# checked by gguf_corpus.sh) and the planner's sparse model fixtures.
GGUF_WRITER = tests/gguf_writer.c tests/gguf_writer.h
check_PROGRAMS += tests/make_gguf_corrupt tests/make_fixtures
tests_make_gguf_corrupt_SOURCES = tests/make_gguf_corrupt.c $(GGUF_WRITER)
tests_make_gguf_corrupt_LDADD = libtessera_core.la
tests_make_fixtures_SOURCES = tests/make_fixtures.c $(GGUF_WRITER)
tests_make_fixtures_LDADD = libtessera_core.la
TESTS += tests/gguf_corpus.sh
EXTRA_DIST += tests/gguf_corpus.sh tests/data/gguf-corrupt \
	tests/reference/gguf_dump.py tests/reference/smollm2-gguf.txt \
	tests/reference/ggml_types.py tests/reference/ggml-types.txt
if HAVE_CRITERION
check_PROGRAMS += tests/test_gguf tests/test_ggml_types tests/test_make_fixtures
tests_test_gguf_SOURCES = tests/test_gguf.c tests/testutil.h $(GGUF_WRITER)
tests_test_gguf_CFLAGS = $(TEST_CFLAGS)
tests_test_gguf_LDADD = $(TEST_LIBS)
TESTS += tests/test_gguf
tests_test_ggml_types_SOURCES = tests/test_ggml_types.c tests/testutil.h
tests_test_ggml_types_CFLAGS = $(TEST_CFLAGS)
tests_test_ggml_types_LDADD = $(TEST_LIBS)
TESTS += tests/test_ggml_types
tests_test_make_fixtures_SOURCES = tests/test_make_fixtures.c tests/testutil.h
tests_test_make_fixtures_CFLAGS = $(TEST_CFLAGS)
tests_test_make_fixtures_LDADD = $(TEST_LIBS)
TESTS += tests/test_make_fixtures
endif

# The reader's fuzz target (the pattern above); its seeds are the corpus of
# malformed files, valid.gguf among them (tests/fuzz/corpus/gguf links there).
FUZZER_TARGETS += tests/fuzz/fuzz_gguf
tests_fuzz_fuzz_gguf_SOURCES = tests/fuzz/fuzz_gguf.c
tests_fuzz_fuzz_gguf_LDADD = $(FUZZER_LIBS)
tests_fuzz_fuzz_gguf_LDFLAGS = $(FUZZER_LINK_FLAGS)
EXTRA_DIST += tests/fuzz/gguf.dict

# The deployment profile: sizes, reading, checking against plugins (with the
# test plugins of tests/plugins/params.c), and `tessera profile`.
check_LTLIBRARIES += tests/plugins/test_params.la
tests_plugins_test_params_la_SOURCES = tests/plugins/params.c
tests_plugins_test_params_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
# Plugins that break the contract in one way each, for tessera plugin check
# (tests/checkbad/.libs, kept out of the folders other tests list).
check_LTLIBRARIES += tests/checkbad/check_broken_quant.la tests/checkbad/check_broken_sampler.la \
	tests/checkbad/check_broken_alloc.la tests/checkbad/check_broken_abort.la \
	tests/checkbad/check_broken_f32.la
tests_checkbad_check_broken_quant_la_SOURCES = tests/plugins/check_broken.c
tests_checkbad_check_broken_quant_la_CPPFLAGS = $(AM_CPPFLAGS) -DCHECK_BROKEN_QUANT
tests_checkbad_check_broken_quant_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_checkbad_check_broken_sampler_la_SOURCES = tests/plugins/check_broken.c
tests_checkbad_check_broken_sampler_la_CPPFLAGS = $(AM_CPPFLAGS) -DCHECK_BROKEN_SAMPLER
tests_checkbad_check_broken_sampler_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_checkbad_check_broken_alloc_la_SOURCES = tests/plugins/check_broken.c
tests_checkbad_check_broken_alloc_la_CPPFLAGS = $(AM_CPPFLAGS) -DCHECK_BROKEN_ALLOC
tests_checkbad_check_broken_alloc_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_checkbad_check_broken_abort_la_SOURCES = tests/plugins/check_broken.c
tests_checkbad_check_broken_abort_la_CPPFLAGS = $(AM_CPPFLAGS) -DCHECK_BROKEN_ABORT
tests_checkbad_check_broken_abort_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_checkbad_check_broken_f32_la_SOURCES = tests/plugins/check_broken.c
tests_checkbad_check_broken_f32_la_CPPFLAGS = $(AM_CPPFLAGS) -DCHECK_BROKEN_F32
tests_checkbad_check_broken_f32_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
TESTS += tests/plugin-check.sh
EXTRA_DIST += tests/plugin-check.sh

# A plugin built as ABI 1.0 built them, which a 1.1 core keeps loading.
check_LTLIBRARIES += tests/abi10/abi_1_0.la
tests_abi10_abi_1_0_la_SOURCES = tests/plugins/abi_1_0.c
tests_abi10_abi_1_0_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
if HAVE_CRITERION
check_PROGRAMS += tests/test_units tests/test_diag tests/test_profile tests/test_profile_validate
tests_test_units_SOURCES = tests/test_units.c
tests_test_units_CFLAGS = $(TEST_CFLAGS)
tests_test_units_LDADD = $(TEST_LIBS)
tests_test_diag_SOURCES = tests/test_diag.c
tests_test_diag_CFLAGS = $(TEST_CFLAGS)
tests_test_diag_LDADD = $(TEST_LIBS)
tests_test_profile_SOURCES = tests/test_profile.c tests/profile_testutil.h tests/testutil.h
tests_test_profile_CFLAGS = $(TEST_CFLAGS)
tests_test_profile_LDADD = $(TEST_LIBS)
tests_test_profile_validate_SOURCES = tests/test_profile_validate.c tests/profile_testutil.h
tests_test_profile_validate_CFLAGS = $(TEST_CFLAGS)
tests_test_profile_validate_LDADD = $(TEST_LIBS)
TESTS += tests/test_units tests/test_diag tests/test_profile tests/test_profile_validate
endif
TESTS += tests/profile-cli.sh
# Where plugins come from and which one serves what (the search path, clashes):
# a scalar q4_1 under the installed plugin's name and under another, one folder.
check_LTLIBRARIES += tests/shadow/quant_q4_1.la tests/shadow/quant_q4_1_naive.la
tests_shadow_quant_q4_1_la_SOURCES = tests/plugins/shadow_q4_1.c
tests_shadow_quant_q4_1_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
tests_shadow_quant_q4_1_naive_la_SOURCES = tests/plugins/shadow_q4_1.c
tests_shadow_quant_q4_1_naive_la_CPPFLAGS = $(AM_CPPFLAGS) -DSHADOW_OTHER_NAME
tests_shadow_quant_q4_1_naive_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
TESTS += tests/plugin-search.sh
EXTRA_DIST += tests/plugin-search.sh
EXTRA_DIST += tests/profile-cli.sh tests/data/profiles tests/fuzz/profile.dict \
	conf/smollm2-cpu.yaml conf/tessera.ini

# Fuzzing the profile reader (and, with the plugins built, its validation).
FUZZER_TARGETS += tests/fuzz/fuzz_profile
tests_fuzz_fuzz_profile_SOURCES = tests/fuzz/fuzz_profile.c
tests_fuzz_fuzz_profile_LDADD = $(FUZZER_LIBS)
tests_fuzz_fuzz_profile_LDFLAGS = $(FUZZER_LINK_FLAGS)
fuzzers: $(plugins_LTLIBRARIES) tests/plugins/test_params.la

# The quant plugins against the gguf package's bytes and their own scalar references.
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant
tests_test_quant_SOURCES = tests/test_quant.c tests/quanttest.h tests/testutil.h
tests_test_quant_CFLAGS = $(TEST_CFLAGS)
tests_test_quant_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_quant
endif
EXTRA_DIST += tests/reference/quant_ref.py tests/reference/quant/f32.bin \
	tests/reference/quant/f16.bin tests/reference/quant/bf16.bin tests/reference/quant/q8_0.bin \
	tests/reference/quant/q8_1.bin tests/reference/quant/q4_1.bin

# The K-quant plugins and q8_k against the gguf package's floats and ggml's
# bytes (tests/reference/quant_k_ref.py), their SIMD paths against their
# scalar references.
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant_k
tests_test_quant_k_SOURCES = tests/test_quant_k.c tests/quanttest.h tests/testutil.h
tests_test_quant_k_CFLAGS = $(TEST_CFLAGS)
tests_test_quant_k_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_quant_k
endif
EXTRA_DIST += tests/reference/quant_k_ref.py \
	tests/reference/quant/q8_k.bin tests/reference/quant/q4_k.bin \
	tests/reference/quant/q6_k.bin tests/reference/quant/q5_k.bin \
	tests/reference/quant/q3_k.bin tests/reference/quant/q2_k.bin

# The tokenizer and chat templates against llama.cpp's reference data.
if HAVE_CRITERION
check_PROGRAMS += tests/test_tokenizer tests/test_tokenizer_bpe tests/test_tokenizer_spm \
	tests/test_tokenizer_gguf tests/test_chat
tests_test_tokenizer_SOURCES = tests/test_tokenizer.c tests/testutil.h
tests_test_tokenizer_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(PCRE2_CFLAGS)
tests_test_tokenizer_LDADD = $(TEST_LIBS) $(JANSSON_LIBS)
tests_test_tokenizer_bpe_SOURCES = tests/test_tokenizer_bpe.c
tests_test_tokenizer_bpe_CFLAGS = $(TEST_CFLAGS) $(PCRE2_CFLAGS)
tests_test_tokenizer_bpe_LDADD = $(TEST_LIBS)
tests_test_tokenizer_spm_SOURCES = tests/test_tokenizer_spm.c
tests_test_tokenizer_spm_CFLAGS = $(TEST_CFLAGS) $(PCRE2_CFLAGS)
tests_test_tokenizer_spm_LDADD = $(TEST_LIBS)
tests_test_tokenizer_gguf_SOURCES = tests/test_tokenizer_gguf.c $(GGUF_WRITER)
tests_test_tokenizer_gguf_CFLAGS = $(TEST_CFLAGS)
tests_test_tokenizer_gguf_LDADD = $(TEST_LIBS)
tests_test_chat_SOURCES = tests/test_chat.c tests/testutil.h
tests_test_chat_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_test_chat_LDADD = $(TEST_LIBS) $(JANSSON_LIBS)
TESTS += tests/test_tokenizer tests/test_tokenizer_bpe tests/test_tokenizer_spm \
	tests/test_tokenizer_gguf tests/test_chat
endif
EXTRA_DIST += tests/reference/make_tokenizer_ref.py tests/reference/tokenizer-smollm2.json

# The forward pass against llama.cpp on the default model.
if HAVE_CRITERION
check_PROGRAMS += tests/test_api
tests_test_api_SOURCES = tests/test_api.c tests/default_model.h
tests_test_api_CFLAGS = $(TEST_CFLAGS)
# The public library alone: the API must be whole without the core's insides.
tests_test_api_LDADD = libtessera.la $(CRITERION_LIBS)
TESTS += tests/test_api

check_PROGRAMS += tests/test_model
tests_test_model_SOURCES = tests/test_model.c tests/model_fixture.h
tests_test_model_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_test_model_LDADD = $(TEST_LIBS) $(JANSSON_LIBS) -lm
TESTS += tests/test_model
endif
EXTRA_DIST += tests/reference/make_llama_ref.py tests/reference/smollm2-greedy.json \
	tests/reference/smollm2-greedy-f32.json

# The memory planner on sparse fixtures of real model shapes (tests/make_fixtures).
if HAVE_CRITERION
check_PROGRAMS += tests/test_plan
tests_test_plan_SOURCES = tests/test_plan.c tests/plan_testutil.h tests/testutil.h $(GGUF_WRITER)
tests_test_plan_CFLAGS = $(TEST_CFLAGS)
tests_test_plan_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_plan
check_PROGRAMS += tests/test_plan_device
tests_test_plan_device_SOURCES = tests/test_plan_device.c tests/plan_testutil.h tests/testutil.h
tests_test_plan_device_CFLAGS = $(TEST_CFLAGS)
tests_test_plan_device_LDADD = $(TEST_LIBS)
TESTS += tests/test_plan_device
endif
# The model reserves exactly its plan, on the plan's devices (the default model).
if HAVE_CRITERION
check_PROGRAMS += tests/test_model_plan
tests_test_model_plan_SOURCES = tests/test_model_plan.c tests/testutil.h
tests_test_model_plan_CFLAGS = $(TEST_CFLAGS)
tests_test_model_plan_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_model_plan
endif
# `tessera plan`: the examples' verdicts, exit status, PROFILE.md's JSON object.
if HAVE_CRITERION
check_PROGRAMS += tests/test_cmd_plan
tests_test_cmd_plan_SOURCES = tests/test_cmd_plan.c tests/plan_testutil.h tests/testutil.h
tests_test_cmd_plan_CFLAGS = $(TEST_CFLAGS)
tests_test_cmd_plan_LDADD = $(TEST_LIBS)
TESTS += tests/test_cmd_plan
endif
EXTRA_DIST += conf/examples/README.md conf/examples/70b-two-24gb.yaml \
	conf/examples/70b-draft-is-main.yaml conf/examples/70b-long-context.yaml \
	conf/examples/70b-long-context-q8_0.yaml conf/examples/smollm2-ngram.yaml \
	conf/examples/smollm2-selfdraft.yaml
# spec/draft-model against a fake draft model.
if HAVE_CRITERION
check_PROGRAMS += tests/test_spec_draft_model
tests_test_spec_draft_model_SOURCES = tests/test_spec_draft_model.c tests/testutil.h
tests_test_spec_draft_model_CFLAGS = $(TEST_CFLAGS)
tests_test_spec_draft_model_LDADD = $(TEST_LIBS)
TESTS += tests/test_spec_draft_model
endif
# `tessera run` plans first: refused -> exit 3 and nothing allocated (the
# counting test allocator logs every reservation); fits -> exactly the plan.
# (Its own folder: the profile tests list every plugin of tests/plugins.)
check_LTLIBRARIES += tests/counting/counting_alloc.la
tests_counting_counting_alloc_la_SOURCES = tests/plugins/counting_alloc.c
tests_counting_counting_alloc_la_LDFLAGS = $(BROKEN_PLUGIN_LDFLAGS)
TESTS += tests/run-plan.sh
EXTRA_DIST += tests/run-plan.sh tests/default-model.sh
# Planning for GPUs without one: --devices on a cuda profile, alloc/cuda's
# refusal and hint (--enable-cuda builds; skipped otherwise).
TESTS += tests/cuda-plan.sh
EXTRA_DIST += tests/cuda-plan.sh

# `tessera run` and `tessera bench` end to end on the default model.
TESTS += tests/cli-run.sh
EXTRA_DIST += tests/cli-run.sh
# tessera perplexity: PPL against llama.cpp's (reference beside the script
# that made it), --save-logits / --kl-divergence, bad input.
TESTS += tests/cli-perplexity.sh
EXTRA_DIST += tests/cli-perplexity.sh tests/data/perplexity.txt \
	tests/reference/make_perplexity_ref.py tests/reference/perplexity-smollm2.json
# tessera quantize: llama.cpp's types for every mix, files read back by the
# gguf package and loaded by llama.cpp, llama.cpp's bytes, refusals.
TESTS += tests/cli-quantize.sh
EXTRA_DIST += tests/cli-quantize.sh tests/quantize_check.py
# The K-quant quantizers: tessera's files within 5% of the KL divergence of
# llama.cpp's for each K-quant type (tessera perplexity on a short text).
TESTS += tests/cli-quantize-quality.sh
EXTRA_DIST += tests/cli-quantize-quality.sh

# tessera.ini, the environment, the ISA limit.
if HAVE_CRITERION
check_PROGRAMS += tests/test_config
tests_test_config_SOURCES = tests/test_config.c tests/testutil.h
tests_test_config_CFLAGS = $(TEST_CFLAGS)
tests_test_config_LDADD = $(TEST_LIBS)
TESTS += tests/test_config
endif

# q4_0, q5_0, q5_1, iq4_nl against the gguf package's bytes and ggml's quantizer.
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant_legacy
tests_test_quant_legacy_SOURCES = tests/test_quant_legacy.c tests/quanttest.h tests/testutil.h
tests_test_quant_legacy_CFLAGS = $(TEST_CFLAGS)
tests_test_quant_legacy_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_quant_legacy
endif
EXTRA_DIST += tests/reference/quant_legacy_ref.py tests/reference/quant/q4_0.bin \
	tests/reference/quant/q5_0.bin tests/reference/quant/q5_1.bin tests/reference/quant/iq4_nl.bin \
	tests/reference/quant/iq4_xs.bin

# Real model files (tests/make_quant_models.py's table): the default model
# re-quantized by llama.cpp's quantizer into one file per format and into
# its K-quant mixes (iq3_xxs by ggml's), for test_quant_models. Build output (about 900 MB, a few
# minutes), made once per build tree before the tests run, by TEST_VENV_PY
# with llama-cpp-python (contrib/install-test-python.sh). When the files
# cannot be made, tests/models/UNAVAILABLE says why and the tests that need
# them fail saying so; the next make check tries again.
TEST_VENV_PY = /opt/tsr-venv/bin/python
TEST_MODELS = tests/models
check_DATA = $(TEST_MODELS)/.made
$(TEST_MODELS)/.made: $(srcdir)/tests/make_quant_models.py
	@echo "  GEN      $(TEST_MODELS) (llama.cpp's quantizer: a few minutes, once per build tree)"
	@$(MKDIR_P) $(TEST_MODELS); rm -f $@; \
	py='$(TEST_VENV_PY)'; test -x "$$py" || py=python3; \
	if "$$py" $(srcdir)/tests/make_quant_models.py $(TEST_MODELS); then touch $@; \
	elif test ! -f $(TEST_MODELS)/UNAVAILABLE; then \
	  echo "$$py could not run tests/make_quant_models.py" > $(TEST_MODELS)/UNAVAILABLE; fi
clean-local: clean-test-models
clean-test-models:
	-rm -rf $(TEST_MODELS)
.PHONY: clean-test-models
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant_models
tests_test_quant_models_SOURCES = tests/test_quant_models.c tests/model_fixture.h \
	tests/default_model.h tests/testutil.h
tests_test_quant_models_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_test_quant_models_LDADD = $(TEST_LIBS) $(JANSSON_LIBS) -lm
TESTS += tests/test_quant_models
endif
EXTRA_DIST += tests/make_quant_models.py tests/reference/quant_models.json \
	tests/reference/make_kquant_greedy_ref.py tests/reference/kquant-greedy.json

# iq3_xxs against the gguf package's floats (tests/reference/quant_iq3_xxs_ref.py),
# its SIMD paths against its scalar reference.
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant_iq3_xxs
tests_test_quant_iq3_xxs_SOURCES = tests/test_quant_iq3_xxs.c tests/quanttest.h tests/testutil.h
tests_test_quant_iq3_xxs_CFLAGS = $(TEST_CFLAGS)
tests_test_quant_iq3_xxs_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_quant_iq3_xxs
endif
EXTRA_DIST += tests/reference/quant_iq3_xxs_ref.py tests/reference/quant/iq3_xxs.bin

# mxfp4 and the 1- to 3-bit i-quants against the gguf package's floats and
# ggml's bytes (tests/reference/quant_lowbit_ref.py), their SIMD paths
# against their scalar references.
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant_lowbit
tests_test_quant_lowbit_SOURCES = tests/test_quant_lowbit.c tests/quanttest.h tests/testutil.h
tests_test_quant_lowbit_CFLAGS = $(TEST_CFLAGS)
tests_test_quant_lowbit_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_quant_lowbit
endif
EXTRA_DIST += tests/reference/quant_lowbit_ref.py tests/reference/quant/mxfp4.bin \
	tests/reference/quant/iq2_xxs.bin tests/reference/quant/iq2_xs.bin tests/reference/quant/iq2_s.bin \
	tests/reference/quant/iq3_s.bin tests/reference/quant/iq1_s.bin tests/reference/quant/iq1_m.bin

# Batch invariance: every quant plugin's products of a (row, token) bit-identical
# whatever the batch, row range and token position, at every ISA level.
if HAVE_CRITERION
check_PROGRAMS += tests/test_quant_invariance
tests_test_quant_invariance_SOURCES = tests/test_quant_invariance.c tests/quanttest.h tests/testutil.h
tests_test_quant_invariance_CFLAGS = $(TEST_CFLAGS)
tests_test_quant_invariance_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_quant_invariance
endif

# Weights re-quantized at load against llama.cpp's quantizer: needs the
# model files above (or their UNAVAILABLE reasons).
if HAVE_CRITERION
check_PROGRAMS += tests/test_model_requant
tests_test_model_requant_SOURCES = tests/test_model_requant.c tests/model_fixture.h
tests_test_model_requant_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_test_model_requant_LDADD = $(TEST_LIBS) $(JANSSON_LIBS) -lm
TESTS += tests/test_model_requant
endif
EXTRA_tests_test_model_requant_DEPENDENCIES = $(TEST_MODELS)/.made
EXTRA_DIST += tests/reference/smollm2-q8_0-greedy.json

# `tessera serve` end to end on the default model, over HTTP and with the
# openai package (tests/serve.py, run by tests/serve.sh).
TESTS += tests/serve.sh
EXTRA_DIST += tests/serve.sh tests/serve.py

# What a careless or hostile user does (issue 10): files changed during a
# run, endless inputs, a bad environment, full disks, signals, memory
# limits; one line per case with its exit status and message.
# make_hostile_model writes the NaN and Inf models it needs.
check_PROGRAMS += tests/make_hostile_model
tests_make_hostile_model_SOURCES = tests/make_hostile_model.c
tests_make_hostile_model_LDADD = libtessera_core.la
TESTS += tests/hostile.sh
EXTRA_DIST += tests/hostile.sh tests/fuzz/prompt.dict tests/fuzz/chat_line.dict tests/fuzz/request.dict

# The text readers' fuzz targets: a prompt file, and the lines of a chat
# rendered and encoded (a small vocabulary of their own, tests/fuzz/fuzz_vocab.h).
FUZZER_TARGETS += tests/fuzz/fuzz_prompt tests/fuzz/fuzz_chat_line
tests_fuzz_fuzz_prompt_SOURCES = tests/fuzz/fuzz_prompt.c tests/fuzz/fuzz_vocab.h
tests_fuzz_fuzz_prompt_LDADD = $(FUZZER_LIBS)
tests_fuzz_fuzz_prompt_LDFLAGS = $(FUZZER_LINK_FLAGS)
tests_fuzz_fuzz_chat_line_SOURCES = tests/fuzz/fuzz_chat_line.c tests/fuzz/fuzz_vocab.h
tests_fuzz_fuzz_chat_line_LDADD = $(FUZZER_LIBS)
tests_fuzz_fuzz_chat_line_LDFLAGS = $(FUZZER_LINK_FLAGS)

# The server's request reader (cli/serve_request.c) against the default
# model: any body on any route. It opens sampler chains, so the build's
# plugins are built first.
FUZZER_TARGETS += tests/fuzz/fuzz_request
tests_fuzz_fuzz_request_SOURCES = tests/fuzz/fuzz_request.c cli/serve_request.c \
	cli/serve_response.c cli/serve_sched.c cli/serve_choice.c
tests_fuzz_fuzz_request_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/cli
tests_fuzz_fuzz_request_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_request_LDADD = $(FUZZER_LIBS) $(JANSSON_LIBS) -lpthread -lm
tests_fuzz_fuzz_request_LDFLAGS = $(FUZZER_LINK_FLAGS)
EXTRA_tests_fuzz_fuzz_request_DEPENDENCIES = $(plugins_LTLIBRARIES)

# Speculative decoding: exactness on the default model, the stochastic rule,
# and the commands.
if HAVE_CRITERION
check_PROGRAMS += tests/test_spec
tests_test_spec_SOURCES = tests/test_spec.c tests/default_model.h
tests_test_spec_CFLAGS = $(TEST_CFLAGS)
tests_test_spec_LDADD = libtessera.la $(CRITERION_LIBS)
TESTS += tests/test_spec

check_PROGRAMS += tests/test_spec_sampling
tests_test_spec_sampling_SOURCES = tests/test_spec_sampling.c tests/default_model.h
tests_test_spec_sampling_CFLAGS = $(TEST_CFLAGS)
tests_test_spec_sampling_LDADD = libtessera.la $(CRITERION_LIBS) -lm
TESTS += tests/test_spec_sampling

check_PROGRAMS += tests/test_spec_rule
tests_test_spec_rule_SOURCES = tests/test_spec_rule.c
tests_test_spec_rule_CFLAGS = $(TEST_CFLAGS)
tests_test_spec_rule_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_spec_rule

check_PROGRAMS += tests/test_spec_control
tests_test_spec_control_SOURCES = tests/test_spec_control.c
tests_test_spec_control_CFLAGS = $(TEST_CFLAGS)
tests_test_spec_control_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_spec_control
endif
TESTS += tests/cli-spec.sh
EXTRA_DIST += tests/cli-spec.sh

# Pipeline stages across hosts under mpirun (skips unless configured --with-mpi;
# contrib/run-tests.sh runs it in an MPI build of its own).
TESTS += tests/dist.sh tests/dist-tcp.sh
EXTRA_DIST += tests/dist.sh tests/dist-tcp.sh tests/dist_stages.py tests/dist_f16.py

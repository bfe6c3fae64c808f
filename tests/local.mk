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
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0; export ASAN_OPTIONS;

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
check_PROGRAMS += tests/test_alloc
tests_test_alloc_SOURCES = tests/test_alloc.c tests/testutil.h
tests_test_alloc_CFLAGS = $(TEST_CFLAGS)
tests_test_alloc_LDADD = $(TEST_LIBS)
TESTS += tests/test_alloc
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

# The CPU kernels.
if HAVE_CRITERION
check_PROGRAMS += tests/test_kernels
tests_test_kernels_SOURCES = tests/test_kernels.c
tests_test_kernels_CFLAGS = $(TEST_CFLAGS)
tests_test_kernels_LDADD = $(TEST_LIBS) -lm
TESTS += tests/test_kernels
endif

# The tokenizer and chat templates against llama.cpp's reference data.
if HAVE_CRITERION
check_PROGRAMS += tests/test_tokenizer tests/test_tokenizer_bpe tests/test_tokenizer_spm \
	tests/test_chat
tests_test_tokenizer_SOURCES = tests/test_tokenizer.c tests/testutil.h
tests_test_tokenizer_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS) $(PCRE2_CFLAGS)
tests_test_tokenizer_LDADD = $(TEST_LIBS) $(JANSSON_LIBS)
tests_test_tokenizer_bpe_SOURCES = tests/test_tokenizer_bpe.c
tests_test_tokenizer_bpe_CFLAGS = $(TEST_CFLAGS) $(PCRE2_CFLAGS)
tests_test_tokenizer_bpe_LDADD = $(TEST_LIBS)
tests_test_tokenizer_spm_SOURCES = tests/test_tokenizer_spm.c
tests_test_tokenizer_spm_CFLAGS = $(TEST_CFLAGS) $(PCRE2_CFLAGS)
tests_test_tokenizer_spm_LDADD = $(TEST_LIBS)
tests_test_chat_SOURCES = tests/test_chat.c tests/testutil.h
tests_test_chat_CFLAGS = $(TEST_CFLAGS) $(JANSSON_CFLAGS)
tests_test_chat_LDADD = $(TEST_LIBS) $(JANSSON_LIBS)
TESTS += tests/test_tokenizer tests/test_tokenizer_bpe tests/test_tokenizer_spm tests/test_chat
endif
EXTRA_DIST += tests/reference/make_tokenizer_ref.py tests/reference/tokenizer-smollm2.json

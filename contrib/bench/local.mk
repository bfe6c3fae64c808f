# Timing programs (not tests): run by hand on a build without sanitizers.
noinst_PROGRAMS += contrib/bench/threadpool_overhead
contrib_bench_threadpool_overhead_SOURCES = contrib/bench/threadpool_overhead.c
contrib_bench_threadpool_overhead_LDADD = libtessera_core.la

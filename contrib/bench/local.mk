# Timing programs (not tests): run by hand on a build without sanitizers.
noinst_PROGRAMS += contrib/bench/threadpool_overhead
contrib_bench_threadpool_overhead_SOURCES = contrib/bench/threadpool_overhead.c
contrib_bench_threadpool_overhead_LDADD = libtessera_core.la
# Sampling time: the default and the full sampler chain on 128k logits.
noinst_PROGRAMS += contrib/bench/sampler-bench
contrib_bench_sampler_bench_SOURCES = contrib/bench/sampler_bench.c
contrib_bench_sampler_bench_LDADD = libtessera_core.la
# Memory read bandwidth (the widest loads the CPU has), for the decode
# roofline of contrib/bench/compare.sh.
noinst_PROGRAMS += contrib/bench/membw
contrib_bench_membw_SOURCES = contrib/bench/membw.c
# Makes the format files compare.sh --formats measures (and ppl_table.sh
# scores), and the 1B-shaped model of compare.sh --model-1b; peer.sh builds
# llama.cpp's programs (llama-bench, llama-quantize, llama-perplexity,
# llama-server) they, compare.sh and serve_compare.sh measure against.
EXTRA_DIST += contrib/bench/make_formats.py contrib/bench/ppl_table.sh contrib/bench/peer.sh \
	contrib/bench/ppl_table.txt contrib/bench/make_bench_model.py
# Pipeline stages across hosts, timed on this machine (a build --with-mpi).
EXTRA_DIST += contrib/bench/dist_bench.sh

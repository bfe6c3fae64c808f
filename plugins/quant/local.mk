# Quantization format plugins: one folder and one .so per format.
# SIMD kernels carry per-function target attributes, so no -march flag is
# needed: each plugin picks its instruction set at run time (init).
QUANT_PLUGIN_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/quant

plugins_LTLIBRARIES += plugins/quant_q4_1.la
plugins_quant_q4_1_la_SOURCES = plugins/quant/q4_1/q4_1.c plugins/quant/q4_1/q4_1_x86.c \
	plugins/quant/q4_1/q4_1.h plugins/quant/q4_1/q4_1_tier.h plugins/quant/quant_tile.h plugins/quant/common.h
plugins_quant_q4_1_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q4_1_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_q8_1.la
plugins_quant_q8_1_la_SOURCES = plugins/quant/q8_1/q8_1.c plugins/quant/common.h
plugins_quant_q8_1_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q8_1_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# A timing program for the products (not a test): contrib/bench/quant_bench.c.
noinst_PROGRAMS += contrib/bench/quant_bench
contrib_bench_quant_bench_SOURCES = contrib/bench/quant_bench.c
contrib_bench_quant_bench_LDADD = libtessera_core.la

plugins_LTLIBRARIES += plugins/quant_q8_0.la
plugins_quant_q8_0_la_SOURCES = plugins/quant/q8_0/q8_0.c plugins/quant/q8_0/q8_0_x86.c \
	plugins/quant/q8_0/q8_0.h plugins/quant/q8_0/q8_0_tier.h plugins/quant/quant_tile.h plugins/quant/quant_r16.h plugins/quant/common.h
plugins_quant_q8_0_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q8_0_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_f32.la plugins/quant_f16.la plugins/quant_bf16.la
plugins_quant_f32_la_SOURCES = plugins/quant/f32/f32.c plugins/quant/float_tier.h \
	plugins/quant/common.h
plugins_quant_f32_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_f32_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_quant_f16_la_SOURCES = plugins/quant/f16/f16.c plugins/quant/float_tier.h \
	plugins/quant/common.h
plugins_quant_f16_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_f16_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_quant_bf16_la_SOURCES = plugins/quant/bf16/bf16.c plugins/quant/float_tier.h \
	plugins/quant/common.h
plugins_quant_bf16_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_bf16_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# q4_0, q5_0, q5_1, iq4_nl and iq4_xs prefetch their weights 8 KiB ahead:
# at 4 KiB their matvec over a DRAM-sized matrix (32768 x 4096, one
# thread) read 9-14 GB/s of weights, at 8 KiB 17-22 GB/s, at 12 KiB less
# again; matrices that fit the L3 cache run the same either way.
LEGACY_QUANT_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS) -DQUANT_PREFETCH_BYTES=8192

plugins_LTLIBRARIES += plugins/quant_q4_0.la
plugins_quant_q4_0_la_SOURCES = plugins/quant/q4_0/q4_0.c plugins/quant/q4_0/q4_0_x86.c \
	plugins/quant/q4_0/q4_0.h plugins/quant/q4_0/q4_0_tier.h plugins/quant/quant_tile.h plugins/quant/quant_r16.h plugins/quant/common.h
plugins_quant_q4_0_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_q4_0_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# Device kernels: q4_1, q8_0 and q4_0 carry their CUDA kernels
# (FORMAT/FORMAT_cuda.cu over quant_cuda.cuh, compiled by nvcc with
# --enable-cuda; QUANT_CUDA hands them out through device_kernels). The
# emulated tests compile the same sources with the C++ compiler.
QUANT_CUDA_FILES = plugins/quant/q4_1/q4_1_cuda.cu plugins/quant/q8_0/q8_0_cuda.cu \
	plugins/quant/q4_0/q4_0_cuda.cu
EXTRA_DIST += $(QUANT_CUDA_FILES) plugins/quant/quant_cuda.cuh
if HAVE_CUDA
plugins_quant_q4_1_la_SOURCES += plugins/quant/q4_1/q4_1_cuda.cu
plugins_quant_q4_1_la_CPPFLAGS += -DQUANT_CUDA
plugins_quant_q4_1_la_LIBADD = $(CUDA_LIBS)
plugins_quant_q8_0_la_SOURCES += plugins/quant/q8_0/q8_0_cuda.cu
plugins_quant_q8_0_la_CPPFLAGS += -DQUANT_CUDA
plugins_quant_q8_0_la_LIBADD = $(CUDA_LIBS)
plugins_quant_q4_0_la_SOURCES += plugins/quant/q4_0/q4_0_cuda.cu
plugins_quant_q4_0_la_CPPFLAGS += -DQUANT_CUDA
plugins_quant_q4_0_la_LIBADD = $(CUDA_LIBS)
QUANT_CUDA_INCLUDES = plugins/quant/quant_cuda.cuh plugins/quant/common.h $(CUDA_KERNEL_INCLUDES) \
	include/tessera/plugin.h
plugins/quant/q4_1/q4_1_cuda.lo: $(QUANT_CUDA_INCLUDES) plugins/quant/q4_1/q4_1.h
plugins/quant/q8_0/q8_0_cuda.lo: $(QUANT_CUDA_INCLUDES) plugins/quant/q8_0/q8_0.h
plugins/quant/q4_0/q4_0_cuda.lo: $(QUANT_CUDA_INCLUDES) plugins/quant/q4_0/q4_0.h
endif

plugins_LTLIBRARIES += plugins/quant_q5_0.la
plugins_quant_q5_0_la_SOURCES = plugins/quant/q5_0/q5_0.c plugins/quant/q5_0/q5_0_x86.c \
	plugins/quant/q5_0/q5_0.h plugins/quant/q5_0/q5_0_tier.h plugins/quant/quant_tile.h plugins/quant/common.h
plugins_quant_q5_0_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_q5_0_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_q5_1.la
plugins_quant_q5_1_la_SOURCES = plugins/quant/q5_1/q5_1.c plugins/quant/q5_1/q5_1_x86.c \
	plugins/quant/q5_1/q5_1.h plugins/quant/q5_1/q5_1_tier.h plugins/quant/quant_tile.h plugins/quant/common.h
plugins_quant_q5_1_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_q5_1_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq4_nl.la
plugins_quant_iq4_nl_la_SOURCES = plugins/quant/iq4_nl/iq4_nl.c plugins/quant/iq4_nl/iq4_nl_x86.c \
	plugins/quant/iq4_nl/iq4_nl.h plugins/quant/iq4_nl/iq4_nl_tier.h plugins/quant/quant_tile.h \
	plugins/quant/iq4_nl/iq4_search.h plugins/quant/common.h
plugins_quant_iq4_nl_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq4_nl_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# The K-quants (256-value super-blocks) and q8_k, their activation form;
# kquant.h is what they share.
plugins_LTLIBRARIES += plugins/quant_q8_k.la
plugins_quant_q8_k_la_SOURCES = plugins/quant/q8_k/q8_k.c plugins/quant/kquant.h \
	plugins/quant/common.h
plugins_quant_q8_k_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q8_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

KQUANT_SHARED = plugins/quant/common.h plugins/quant/kquant.h plugins/quant/kquant_quantize.h \
	plugins/quant/kquant_tier_head.h plugins/quant/kquant_tier.h \
	plugins/quant/quant_tile.h

plugins_LTLIBRARIES += plugins/quant_q4_k.la
plugins_quant_q4_k_la_SOURCES = plugins/quant/q4_k/q4_k.c plugins/quant/q4_k/q4_k_x86.c \
	plugins/quant/q4_k/q4_k.h plugins/quant/q4_k/q4_k_tier.h $(KQUANT_SHARED)
plugins_quant_q4_k_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q4_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_q6_k.la
plugins_quant_q6_k_la_SOURCES = plugins/quant/q6_k/q6_k.c plugins/quant/q6_k/q6_k_x86.c \
	plugins/quant/q6_k/q6_k.h plugins/quant/q6_k/q6_k_tier.h $(KQUANT_SHARED)
plugins_quant_q6_k_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q6_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_q5_k.la
plugins_quant_q5_k_la_SOURCES = plugins/quant/q5_k/q5_k.c plugins/quant/q5_k/q5_k_x86.c \
	plugins/quant/q5_k/q5_k.h plugins/quant/q5_k/q5_k_tier.h $(KQUANT_SHARED)
plugins_quant_q5_k_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q5_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_q3_k.la
plugins_quant_q3_k_la_SOURCES = plugins/quant/q3_k/q3_k.c plugins/quant/q3_k/q3_k_x86.c \
	plugins/quant/q3_k/q3_k.h plugins/quant/q3_k/q3_k_tier.h $(KQUANT_SHARED)
plugins_quant_q3_k_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q3_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_q2_k.la
plugins_quant_q2_k_la_SOURCES = plugins/quant/q2_k/q2_k.c plugins/quant/q2_k/q2_k_x86.c \
	plugins/quant/q2_k/q2_k.h plugins/quant/q2_k/q2_k_tier.h $(KQUANT_SHARED)
plugins_quant_q2_k_la_CPPFLAGS = $(QUANT_PLUGIN_CPPFLAGS)
plugins_quant_q2_k_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# iq4_xs: iq4_nl's steps in K-quant super-blocks, products against q8_k.
plugins_LTLIBRARIES += plugins/quant_iq4_xs.la
plugins_quant_iq4_xs_la_SOURCES = plugins/quant/iq4_xs/iq4_xs.c plugins/quant/iq4_xs/iq4_xs_x86.c \
	plugins/quant/iq4_xs/iq4_xs.h plugins/quant/iq4_xs/iq4_xs_tier.h plugins/quant/quant_tile.h \
	plugins/quant/iq4_nl/iq4_nl.h plugins/quant/iq4_nl/iq4_search.h plugins/quant/kquant.h \
	plugins/quant/common.h
plugins_quant_iq4_xs_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq4_xs_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# The grid i-quants: ggml's 1- to 3-bit formats of 256-value blocks, read
# only (no quantizer: ggml makes them with an importance matrix), products
# against q8_k; iq_grid.h and iq_grid_tier.h are what they share, their
# grids are generated from the gguf package by make_iq_grids.py (committed
# beside them).
IQ_GRID_SHARED = plugins/quant/iq_grid.h plugins/quant/iq_grid_tier.h plugins/quant/iq_grid_x86.h \
	plugins/quant/iq_grid_plugin.h \
	plugins/quant/quant_tile.h \
	plugins/quant/kquant.h plugins/quant/common.h
EXTRA_DIST += plugins/quant/make_iq_grids.py

plugins_LTLIBRARIES += plugins/quant_iq3_xxs.la
plugins_quant_iq3_xxs_la_SOURCES = plugins/quant/iq3_xxs/iq3_xxs.c \
	plugins/quant/iq3_xxs/iq3_xxs_x86.c plugins/quant/iq3_xxs/iq3_xxs.h \
	plugins/quant/iq3_xxs/iq3_xxs_tier.h plugins/quant/iq3_xxs/iq3_xxs_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq3_xxs_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq3_xxs_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq2_xxs.la
plugins_quant_iq2_xxs_la_SOURCES = plugins/quant/iq2_xxs/iq2_xxs.c \
	plugins/quant/iq2_xxs/iq2_xxs_x86.c plugins/quant/iq2_xxs/iq2_xxs.h \
	plugins/quant/iq2_xxs/iq2_xxs_tier.h plugins/quant/iq2_xxs/iq2_xxs_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq2_xxs_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq2_xxs_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq2_xs.la
plugins_quant_iq2_xs_la_SOURCES = plugins/quant/iq2_xs/iq2_xs.c \
	plugins/quant/iq2_xs/iq2_xs_x86.c plugins/quant/iq2_xs/iq2_xs.h \
	plugins/quant/iq2_xs/iq2_xs_tier.h plugins/quant/iq2_xs/iq2_xs_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq2_xs_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq2_xs_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq2_s.la
plugins_quant_iq2_s_la_SOURCES = plugins/quant/iq2_s/iq2_s.c \
	plugins/quant/iq2_s/iq2_s_x86.c plugins/quant/iq2_s/iq2_s.h \
	plugins/quant/iq2_s/iq2_s_tier.h plugins/quant/iq2_s/iq2_s_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq2_s_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq2_s_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq3_s.la
plugins_quant_iq3_s_la_SOURCES = plugins/quant/iq3_s/iq3_s.c \
	plugins/quant/iq3_s/iq3_s_x86.c plugins/quant/iq3_s/iq3_s.h \
	plugins/quant/iq3_s/iq3_s_tier.h plugins/quant/iq3_s/iq3_s_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq3_s_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq3_s_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq1_s.la
plugins_quant_iq1_s_la_SOURCES = plugins/quant/iq1_s/iq1_s.c \
	plugins/quant/iq1_s/iq1_s_x86.c plugins/quant/iq1_s/iq1_s.h \
	plugins/quant/iq1_s/iq1_s_tier.h plugins/quant/iq1_s/iq1_s_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq1_s_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq1_s_la_LDFLAGS = $(PLUGIN_LDFLAGS)

plugins_LTLIBRARIES += plugins/quant_iq1_m.la
plugins_quant_iq1_m_la_SOURCES = plugins/quant/iq1_m/iq1_m.c \
	plugins/quant/iq1_m/iq1_m_x86.c plugins/quant/iq1_m/iq1_m.h \
	plugins/quant/iq1_m/iq1_m_tier.h plugins/quant/iq1_s/iq1_s_tables.h $(IQ_GRID_SHARED)
plugins_quant_iq1_m_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_iq1_m_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# mxfp4: OCP MXFP4 (gpt-oss's experts), iq4_nl's 4-bit table products on
# another table and a power-of-two scale, against q8_0; its quantizer
# calls log2f as ggml's does.
plugins_LTLIBRARIES += plugins/quant_mxfp4.la
plugins_quant_mxfp4_la_SOURCES = plugins/quant/mxfp4/mxfp4.c plugins/quant/mxfp4/mxfp4_x86.c \
	plugins/quant/mxfp4/mxfp4.h plugins/quant/iq4_nl/iq4_nl_tier.h plugins/quant/iq4_nl/iq4_nl.h \
	plugins/quant/quant_tile.h plugins/quant/common.h
plugins_quant_mxfp4_la_CPPFLAGS = $(LEGACY_QUANT_CPPFLAGS)
plugins_quant_mxfp4_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_quant_mxfp4_la_LIBADD = -lm

# Quantization format plugins: one folder and one .so per format.
# SIMD kernels carry per-function target attributes, so no -march flag is
# needed: each plugin picks its instruction set at run time (init).
QUANT_PLUGIN_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/quant

plugins_LTLIBRARIES += plugins/quant_q4_1.la
plugins_quant_q4_1_la_SOURCES = plugins/quant/q4_1/q4_1.c plugins/quant/q4_1/q4_1_x86.c \
	plugins/quant/q4_1/q4_1.h plugins/quant/q4_1/q4_1_tier.h plugins/quant/common.h
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
	plugins/quant/q8_0/q8_0.h plugins/quant/q8_0/q8_0_tier.h plugins/quant/common.h
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

# Allocator plugins: the devices a deployment runs on and their memory.
plugins_LTLIBRARIES += plugins/alloc_host.la plugins/alloc_sim.la
plugins_alloc_host_la_SOURCES = plugins/alloc/host/host.c plugins/alloc/arena.h
plugins_alloc_host_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_alloc_sim_la_SOURCES = plugins/alloc/sim/sim.c plugins/alloc/arena.h
plugins_alloc_sim_la_LDFLAGS = $(PLUGIN_LDFLAGS)

# alloc/cuda: cuda_alloc.c is the logic over a table of runtime calls, which
# tests/test_alloc_cuda.c runs against a fake in every build; cuda.c fills
# the table with libcudart's calls (plain C against the toolkit's headers:
# no nvcc) and is built with --enable-cuda only. -z nodelete: never unloaded.
CUDA_ALLOC_LOGIC = plugins/alloc/cuda/cuda_alloc.c plugins/alloc/cuda/cuda_alloc.h
EXTRA_DIST += $(CUDA_ALLOC_LOGIC) plugins/alloc/cuda/cuda.c
if HAVE_CUDA
plugins_LTLIBRARIES += plugins/alloc_cuda.la
plugins_alloc_cuda_la_SOURCES = plugins/alloc/cuda/cuda.c $(CUDA_ALLOC_LOGIC)
plugins_alloc_cuda_la_CPPFLAGS = $(AM_CPPFLAGS) $(CUDA_CPPFLAGS)
plugins_alloc_cuda_la_LDFLAGS = $(PLUGIN_LDFLAGS) -Wl,-z,nodelete
plugins_alloc_cuda_la_LIBADD = $(CUDA_LIBS)
endif

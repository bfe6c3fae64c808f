# Allocator plugins: the devices a deployment runs on and their memory.
plugins_LTLIBRARIES += plugins/alloc_host.la plugins/alloc_sim.la
plugins_alloc_host_la_SOURCES = plugins/alloc/host/host.c plugins/alloc/arena.h
plugins_alloc_host_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_alloc_sim_la_SOURCES = plugins/alloc/sim/sim.c plugins/alloc/arena.h
plugins_alloc_sim_la_LDFLAGS = $(PLUGIN_LDFLAGS)

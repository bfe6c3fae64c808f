/* The plugin loader: finds, checks and registers plugins (tessera.h has the
 * public calls). */
#ifndef TSR_CORE_LOADER_H
#define TSR_CORE_LOADER_H

#include "tessera/tessera.h"

/* Vtable typed accessors: NULL when the plugin is of another kind. */
const tsr_quant_vtable *tsr_plugin_quant(const tsr_plugin *plugin);
const tsr_sampler_vtable *tsr_plugin_sampler(const tsr_plugin *plugin);
const tsr_spec_vtable *tsr_plugin_spec(const tsr_plugin *plugin);
const tsr_alloc_vtable *tsr_plugin_alloc(const tsr_plugin *plugin);

/* A plugin refused because one found earlier on the search path has its
 * kind and name or, for a quant plugin, its GGUF type: the first wins. */
typedef struct tsr_plugin_clash {
    tsr_plugin_kind kind;
    const char *name;        /* the refused plugin's (owned by the registry) */
    const char *path;        /* the refused plugin's file */
    const tsr_plugin *winner; /* valid while the registry is open */
    bool same_name;          /* else only the GGUF type clashed */
} tsr_plugin_clash;

size_t tsr_registry_clash_count(const tsr_registry *registry);
/* The index-th clash, in loading order; its winner pointer is stable only
 * after loading ends (tsr_registry_open returned). */
tsr_plugin_clash tsr_registry_clash(const tsr_registry *registry, size_t index);

#endif

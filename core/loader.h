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

#endif

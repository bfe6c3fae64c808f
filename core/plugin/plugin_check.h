/* The plugin checker's parts (tessera.h: tsr_plugin_check): one reporter,
 * one exerciser per plugin kind. */
#ifndef TSR_CORE_PLUGIN_CHECK_H
#define TSR_CORE_PLUGIN_CHECK_H

#include "tessera/tessera.h"

/* Room for one failure's reason: a plugin's error message and our words. */
enum { WHY_BYTES = TSR_ERROR_MESSAGE_BYTES + 256 };

typedef struct tsr_checker {
    tsr_check_cb cb;
    void *ctx;
    size_t n_failed;
    const tsr_registry *own;       /* the file under check */
    const tsr_registry *installed; /* may be NULL */
    bool out_of_memory;
} tsr_checker;

/* Reports one check: passed when ok; detail (printf) says why not. */
void tsr_check_report(tsr_checker *c, const tsr_plugin *p, bool ok, const char *check,
                      const char *fmt, ...) TSR_PRINTF(5, 6);
/* Reports a check that had nothing to do, and why. */
void tsr_check_skip(tsr_checker *c, const tsr_plugin *p, const char *check, const char *why);

void tsr_check_quant(tsr_checker *c, const tsr_plugin *p);

#endif

/* Logging: filtered by level, serialised, handed to the application's sink. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static tsr_log_sink log_sink;
static void *log_sink_ctx;
static int log_level = TSR_LOG_WARN;

void tsr_log_set_sink(tsr_log_sink sink, void *ctx)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_ctx = ctx;
    pthread_mutex_unlock(&log_lock);
}

void tsr_log_set_level(int level)
{
    if (level < TSR_LOG_ERROR)
        level = TSR_LOG_ERROR;
    if (level > TSR_LOG_DEBUG)
        level = TSR_LOG_DEBUG;
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int tsr_log_level(void)
{
    return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int tsr_log_level_from_name(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int level = 0; level < 4; level++)
        if (name && strcasecmp(name, names[level]) == 0)
            return level;
    if (name && strcasecmp(name, "warning") == 0)
        return TSR_LOG_WARN;
    return -1;
}

void tsr_log(int level, const char *source, const char *fmt, ...)
{
    if (level > tsr_log_level())
        return;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    pthread_mutex_lock(&log_lock);
    if (log_sink)
        log_sink(level, source ? source : "tessera", message, log_sink_ctx);
    pthread_mutex_unlock(&log_lock);
}

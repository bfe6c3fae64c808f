/* The server's HTTP side (libmicrohttpd, a thread per connection): routes,
 * authorization, body limits, JSON errors, server-sent event streams. */
#ifndef TSR_CLI_SERVE_HTTP_H
#define TSR_CLI_SERVE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "serve_openai.h"

typedef enum serve_state { SERVE_LOADING, SERVE_READY, SERVE_STOPPING } serve_state;

typedef struct serve_http_options {
    const char *host;
    uint16_t port;              /* 0: any free port */
    const char *const *api_keys; /* none: no authorization */
    size_t n_api_keys;
    uint64_t max_body_bytes;
    unsigned max_connections;
    unsigned timeout_s;         /* an idle connection is closed after this; 0: never */
    bool verbose;               /* a line per request on stderr */
} serve_http_options;

typedef struct serve_http serve_http;

/* Binds and starts answering: /health says 503 until serve_http_ready. */
tsr_status serve_http_start(const serve_http_options *options, serve_http **out,
                            tsr_error *err);
/* The port bound (the one chosen when 0 was asked). */
uint16_t serve_http_port(const serve_http *h);
/* The model is loaded: requests go to sched from now on. model must outlive h. */
void serve_http_ready(serve_http *h, const serve_model *model, serve_sched *sched);
/* New generation requests get 503 from now on. */
void serve_http_drain(serve_http *h);
/* Requests being answered (streams included). */
unsigned serve_http_active(serve_http *h);
/* Closes every connection and frees h. NULL is fine. */
void serve_http_stop(serve_http *h);

#endif

/* Writing a profile back as YAML, every default spelled out, with libyaml's
 * emitter (which knows when a string needs quotes). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "profile_internal.h"
#include "units.h"

typedef struct writer {
    yaml_emitter_t emitter;
    char *text;
    size_t length, capacity;
    bool ok;
} writer;

static int write_to_buffer(void *data, unsigned char *bytes, size_t size)
{
    writer *w = data;
    if (w->length + size + 1 > w->capacity) {
        size_t capacity = (w->length + size + 1) * 2;
        char *bigger = realloc(w->text, capacity);
        if (!bigger)
            return 0;
        w->text = bigger;
        w->capacity = capacity;
    }
    memcpy(w->text + w->length, bytes, size);
    w->length += size;
    w->text[w->length] = '\0';
    return 1;
}

static void emit(writer *w, yaml_event_t *event, int initialized)
{
    if (!initialized)
        w->ok = false;
    else if (!w->ok)
        yaml_event_delete(event);
    else if (!yaml_emitter_emit(&w->emitter, event))
        w->ok = false;
}

static void begin_mapping(writer *w, bool flow)
{
    yaml_event_t e;
    emit(w, &e,
         yaml_mapping_start_event_initialize(
             &e, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void end_mapping(writer *w)
{
    yaml_event_t e;
    emit(w, &e, yaml_mapping_end_event_initialize(&e));
}

static void begin_sequence(writer *w, bool flow)
{
    yaml_event_t e;
    emit(w, &e,
         yaml_sequence_start_event_initialize(
             &e, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void end_sequence(writer *w)
{
    yaml_event_t e;
    emit(w, &e, yaml_sequence_end_event_initialize(&e));
}

/* A scalar exactly as given: plain (null, numbers, booleans, sizes) or
 * quoted (a string that would otherwise read as one of those). */
static void scalar(writer *w, const char *text, size_t length, bool quoted)
{
    yaml_event_t e;
    emit(w, &e,
         yaml_scalar_event_initialize(&e, NULL, NULL, (const yaml_char_t *)text, (int)length, 1, 1,
                                      quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                             : YAML_ANY_SCALAR_STYLE));
}

static void plain(writer *w, const char *text)
{
    scalar(w, text, strlen(text), false);
}

/* A string value: quoted when YAML would read it as null, a boolean or a
 * number; NULL is written as null. */
static void string(writer *w, const char *text)
{
    if (!text) {
        plain(w, "null");
        return;
    }
    tsr_yaml_node probe = {.kind = TSR_YAML_SCALAR, .text = (char *)text, .length = strlen(text)};
    bool flag;
    double number;
    bool ambiguous = tsr_yaml_is_null(&probe) || tsr_yaml_bool(&probe, &flag) ||
                     tsr_yaml_number(&probe, &number) || strcmp(text, "auto") == 0;
    scalar(w, text, strlen(text), ambiguous);
}

static void key(writer *w, const char *name)
{
    plain(w, name);
}

static void unsigned_number(writer *w, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    plain(w, text);
}

/* The shortest decimal that reads back as the same double. */
static void real_number(writer *w, double value)
{
    char text[40];
    if (isinf(value)) {
        plain(w, value < 0 ? "-.inf" : ".inf");
        return;
    }
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtod(text, NULL) == value)
            break;
    }
    /* "1" would read back as an integer; keep floats looking like floats. */
    if (!strpbrk(text, ".eEn"))
        strcat(text, ".0");
    plain(w, text);
}

static void size(writer *w, uint64_t bytes)
{
    char text[TSR_SIZE_TEXT_BYTES];
    plain(w, tsr_size_format_exact(bytes, text, sizeof text));
}

static void size_list(writer *w, const uint64_t *bytes, size_t n)
{
    begin_sequence(w, true);
    for (size_t i = 0; i < n; i++)
        size(w, bytes[i]);
    end_sequence(w);
}

/* A YAML subtree as the file had it. */
static void node(writer *w, const tsr_yaml_node *n)
{
    if (!n || tsr_yaml_is_null(n)) {
        plain(w, "null");
        return;
    }
    switch (n->kind) {
    case TSR_YAML_SCALAR: scalar(w, n->text, n->length, n->quoted); break;
    case TSR_YAML_SEQUENCE:
        begin_sequence(w, true);
        for (size_t i = 0; i < n->n_items; i++)
            node(w, n->items[i]);
        end_sequence(w);
        break;
    case TSR_YAML_MAPPING:
        begin_mapping(w, true);
        for (size_t i = 0; i < n->n_items; i++) {
            node(w, n->keys[i]);
            node(w, n->items[i]);
        }
        end_mapping(w);
        break;
    }
}

static void param_value(writer *w, const tsr_param_value *v)
{
    switch (v->type) {
    case TSR_PARAM_BOOL: plain(w, v->boolean ? "true" : "false"); break;
    case TSR_PARAM_INT: {
        char text[32];
        snprintf(text, sizeof text, "%" PRId64, v->integer);
        plain(w, text);
        break;
    }
    case TSR_PARAM_FLOAT: real_number(w, v->number); break;
    case TSR_PARAM_STRING: string(w, v->string); break;
    case TSR_PARAM_STRING_LIST:
        begin_sequence(w, true);
        for (uint32_t i = 0; i < v->n_items; i++)
            string(w, v->items[i]);
        end_sequence(w);
        break;
    case TSR_PARAM_FLOAT_MAP:
        begin_mapping(w, true);
        for (uint32_t i = 0; i < v->n_items; i++) {
            scalar(w, v->items[i], strlen(v->items[i]), true);
            real_number(w, v->values[i]);
        }
        end_mapping(w);
        break;
    default: plain(w, "null"); break;
    }
}

/* Every parameter of a validated plugin, or the file's text otherwise. */
static void params(writer *w, const tsr_plugin *plugin, const tsr_param_set *set,
                   const tsr_yaml_node *raw)
{
    if (!plugin) {
        node(w, raw);
        return;
    }
    begin_mapping(w, true);
    for (uint32_t i = 0; i < plugin->n_params; i++) {
        key(w, plugin->params[i].name);
        param_value(w, &set->values[i]);
    }
    end_mapping(w);
}

static void model(writer *w, const char *name, const tsr_profile_model *m)
{
    key(w, name);
    begin_mapping(w, false);
    key(w, "path");
    string(w, m->path);
    key(w, "max_seq_len");
    if (m->max_seq_len)
        unsigned_number(w, m->max_seq_len);
    else
        plain(w, "null");
    key(w, "cache_type");
    string(w, m->cache_type);
    key(w, "quantize");
    string(w, m->quantize);
    end_mapping(w);
}

static void body(writer *w, const tsr_profile *p)
{
    begin_mapping(w, false);
    key(w, "version");
    unsigned_number(w, p->version);
    model(w, "model", &p->model);
    if (p->has_draft)
        model(w, "draft", &p->draft);
    if (p->has_speculative) {
        const tsr_profile_speculative *s = &p->speculative;
        key(w, "speculative");
        begin_mapping(w, false);
        key(w, "strategy");
        string(w, s->strategy);
        key(w, "tokens");
        unsigned_number(w, s->tokens);
        key(w, "options");
        if (s->plugin || s->options)
            params(w, s->plugin, &s->params, s->options);
        else
            node(w, NULL);
        end_mapping(w);
    }

    const tsr_profile_devices *d = &p->devices;
    key(w, "devices");
    begin_mapping(w, false);
    key(w, "allocator");
    string(w, d->allocator);
    key(w, "options");
    if (d->plugin || d->options)
        params(w, d->plugin, &d->params, d->options);
    else
        node(w, NULL);
    key(w, "sim");
    size_list(w, d->sim_bytes, d->n_sim);
    key(w, "split");
    if (d->split_auto)
        plain(w, "auto");
    else
        size_list(w, d->split_bytes, d->n_split);
    key(w, "reserve");
    size(w, d->reserve_bytes);
    key(w, "overhead");
    if (d->overhead_auto)
        plain(w, "auto");
    else
        size(w, d->overhead_bytes);
    end_mapping(w);

    key(w, "sampler");
    begin_sequence(w, false);
    for (size_t i = 0; i < p->n_sampler; i++) {
        const tsr_profile_sampler *e = &p->sampler[i];
        if ((e->plugin && e->plugin->n_params == 0) || (!e->plugin && !e->args)) {
            string(w, e->name);
            continue;
        }
        begin_mapping(w, false);
        key(w, e->name);
        params(w, e->plugin, &e->params, e->args);
        end_mapping(w);
    }
    end_sequence(w);

    key(w, "plugins");
    begin_mapping(w, false);
    key(w, "path");
    begin_sequence(w, true);
    for (size_t i = 0; i < p->n_plugin_dirs; i++)
        string(w, p->plugin_dirs[i]);
    end_sequence(w);
    end_mapping(w);

    key(w, "threads");
    unsigned_number(w, p->threads);
    key(w, "seed");
    unsigned_number(w, p->seed);

    const tsr_profile_server *s = &p->server;
    key(w, "server");
    begin_mapping(w, false);
    key(w, "host");
    string(w, s->host);
    key(w, "port");
    unsigned_number(w, s->port);
    key(w, "parallel");
    unsigned_number(w, s->parallel);
    key(w, "queue");
    unsigned_number(w, s->queue);
    key(w, "api_key");
    if (s->n_api_keys == 1) {
        string(w, s->api_keys[0]);
    } else if (s->n_api_keys == 0) {
        string(w, NULL);
    } else {
        begin_sequence(w, true);
        for (size_t i = 0; i < s->n_api_keys; i++)
            string(w, s->api_keys[i]);
        end_sequence(w);
    }
    key(w, "model_name");
    string(w, s->model_name);
    key(w, "max_body");
    size(w, s->max_body_bytes);
    end_mapping(w);

    const tsr_profile_dist *dist = &p->dist;
    key(w, "dist");
    begin_mapping(w, false);
    key(w, "layers");
    if (dist->layers_auto) {
        plain(w, "auto");
    } else {
        begin_sequence(w, true);
        for (size_t i = 0; i < dist->n_layers; i++) {
            begin_sequence(w, true);
            unsigned_number(w, dist->layers[i].first);
            unsigned_number(w, dist->layers[i].last);
            end_sequence(w);
        }
        end_sequence(w);
    }
    key(w, "activations");
    plain(w, dist->activations_f16 ? "f16" : "f32");
    key(w, "in_flight");
    unsigned_number(w, dist->in_flight);
    key(w, "timeout");
    char duration[32];
    plain(w, tsr_duration_format(dist->timeout_ms, duration, sizeof duration));
    end_mapping(w);
    end_mapping(w);
}

char *tsr_profile_to_yaml(const tsr_profile *p, tsr_error *err)
{
    writer w = {.ok = true};
    if (!yaml_emitter_initialize(&w.emitter)) {
        tsr_error_set(err, TSR_ERR_NOMEM, "out of memory writing the profile");
        return NULL;
    }
    yaml_emitter_set_output(&w.emitter, write_to_buffer, &w);
    yaml_emitter_set_unicode(&w.emitter, 1);
    yaml_emitter_set_width(&w.emitter, -1);
    yaml_emitter_set_indent(&w.emitter, 2);
    yaml_event_t e;
    emit(&w, &e, yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING));
    emit(&w, &e, yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1));
    body(&w, p);
    emit(&w, &e, yaml_document_end_event_initialize(&e, 1));
    emit(&w, &e, yaml_stream_end_event_initialize(&e));
    if (w.ok && !yaml_emitter_flush(&w.emitter))
        w.ok = false;
    const char *problem = w.emitter.problem;
    yaml_emitter_delete(&w.emitter);
    if (!w.ok || !w.text) {
        free(w.text);
        tsr_error_set(err, problem ? TSR_ERR_INTERNAL : TSR_ERR_NOMEM,
                      "cannot write the profile as YAML: %s", problem ? problem : "out of memory");
        return NULL;
    }
    return w.text;
}

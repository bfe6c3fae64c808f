/* Validated parameter values, defaults first. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "params.h"

static char *keep(tsr_param_set *set, void *memory)
{
    if (!memory)
        return NULL;
    if (set->n_owned == set->cap_owned) {
        size_t cap = set->cap_owned ? set->cap_owned * 2 : 8;
        char **bigger = realloc(set->owned, cap * sizeof *bigger);
        if (!bigger) {
            free(memory);
            return NULL;
        }
        set->owned = bigger;
        set->cap_owned = cap;
    }
    set->owned[set->n_owned++] = memory;
    return memory;
}

static const char *keep_string(tsr_param_set *set, const char *s)
{
    return s ? keep(set, strdup(s)) : NULL;
}

int tsr_param_find(const tsr_plugin *plugin, const char *name)
{
    for (uint32_t i = 0; i < plugin->n_params; i++)
        if (strcmp(plugin->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

static tsr_status oom(tsr_error *err)
{
    return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory setting plugin parameters");
}

tsr_status tsr_param_set_init(tsr_param_set *set, const tsr_plugin *plugin, tsr_error *err)
{
    memset(set, 0, sizeof *set);
    set->plugin = plugin;
    if (plugin->n_params == 0)
        return TSR_OK;
    set->values = calloc(plugin->n_params, sizeof *set->values);
    if (!set->values)
        return oom(err);
    for (uint32_t i = 0; i < plugin->n_params; i++) {
        const tsr_param_desc *d = &plugin->params[i];
        tsr_param_value *v = &set->values[i];
        v->type = d->type;
        v->boolean = d->default_number != 0;
        v->number = d->default_number;
        v->integer = (int64_t)d->default_number;
        if (d->type == TSR_PARAM_STRING && d->default_string &&
            !(v->string = keep_string(set, d->default_string))) {
            tsr_param_set_free(set);
            return oom(err);
        }
        if (d->type == TSR_PARAM_STRING_LIST && d->default_list) {
            size_t n = 0;
            while (d->default_list[n])
                n++;
            if (tsr_param_set_list(set, (int)i, d->default_list, n, err) != TSR_OK) {
                tsr_param_set_free(set);
                return TSR_ERR_NOMEM;
            }
            v->is_set = false;
        }
    }
    return TSR_OK;
}

void tsr_param_set_free(tsr_param_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n_owned; i++)
        free(set->owned[i]);
    free(set->owned);
    free(set->values);
    memset(set, 0, sizeof *set);
}

static const tsr_param_desc *checked(tsr_param_set *set, int index, uint32_t type,
                                     tsr_error *err)
{
    if (index < 0 || (uint32_t)index >= set->plugin->n_params) {
        tsr_error_set(err, TSR_ERR_INTERNAL, "%s: no parameter #%d", set->plugin->name, index);
        return NULL;
    }
    const tsr_param_desc *d = &set->plugin->params[index];
    if (d->type != type) {
        static const char *const names[] = {"", "true or false", "a whole number", "a number",
                                            "a string", "a list of strings",
                                            "a mapping of keys to numbers"};
        tsr_error_set(err, TSR_ERR_INVALID, "%s.%s must be %s", set->plugin->name, d->name,
                      names[d->type <= 6 ? d->type : 0]);
        return NULL;
    }
    return d;
}

tsr_status tsr_param_set_number(tsr_param_set *set, int index, double value, tsr_error *err)
{
    if (index >= 0 && (uint32_t)index < set->plugin->n_params &&
        set->plugin->params[index].type == TSR_PARAM_INT) {
        const tsr_param_desc *d = &set->plugin->params[index];
        if (value != floor(value))
            return tsr_error_set(err, TSR_ERR_INVALID, "%s.%s must be a whole number, not %g",
                                 set->plugin->name, d->name, value);
    } else if (!checked(set, index, TSR_PARAM_FLOAT, err)) {
        return err ? err->code : TSR_ERR_INVALID;
    }
    const tsr_param_desc *d = &set->plugin->params[index];
    if (!isfinite(value) || value < d->min || value > d->max)
        return tsr_error_set(err, TSR_ERR_INVALID, "%s.%s = %g is out of range [%g, %g]",
                             set->plugin->name, d->name, value, d->min, d->max);
    tsr_param_value *v = &set->values[index];
    v->number = value;
    v->integer = (int64_t)value;
    v->is_set = true;
    return TSR_OK;
}

tsr_status tsr_param_set_bool(tsr_param_set *set, int index, bool value, tsr_error *err)
{
    if (!checked(set, index, TSR_PARAM_BOOL, err))
        return err ? err->code : TSR_ERR_INVALID;
    set->values[index].boolean = value;
    set->values[index].number = value;
    set->values[index].is_set = true;
    return TSR_OK;
}

tsr_status tsr_param_set_string(tsr_param_set *set, int index, const char *value,
                                tsr_error *err)
{
    const tsr_param_desc *d = checked(set, index, TSR_PARAM_STRING, err);
    if (!d)
        return err ? err->code : TSR_ERR_INVALID;
    if (d->choices && value) {
        bool allowed = false;
        char known[512] = "";
        size_t used = 0;
        for (size_t i = 0; d->choices[i]; i++) {
            allowed = allowed || strcmp(d->choices[i], value) == 0;
            int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                             d->choices[i]);
            if (n > 0 && (size_t)n < sizeof known - used)
                used += (size_t)n;
        }
        if (!allowed)
            return tsr_error_set(err, TSR_ERR_INVALID, "%s.%s = '%s' is not one of: %s",
                                 set->plugin->name, d->name, value, known);
    }
    const char *copy = value ? keep_string(set, value) : NULL;
    if (value && !copy)
        return oom(err);
    set->values[index].string = copy;
    set->values[index].is_set = true;
    return TSR_OK;
}

/* Copies n strings into one owned array. */
static const char *const *keep_strings(tsr_param_set *set, const char *const *items, size_t n)
{
    const char **array = (const char **)keep(set, calloc(n + 1, sizeof *array));
    if (!array)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(array[i] = keep_string(set, items[i])))
            return NULL;
    return array;
}

tsr_status tsr_param_set_list(tsr_param_set *set, int index, const char *const *items, size_t n,
                              tsr_error *err)
{
    if (!checked(set, index, TSR_PARAM_STRING_LIST, err))
        return err ? err->code : TSR_ERR_INVALID;
    const char *const *copy = keep_strings(set, items, n);
    if (!copy)
        return oom(err);
    tsr_param_value *v = &set->values[index];
    v->items = copy;
    v->n_items = (uint32_t)n;
    v->is_set = true;
    return TSR_OK;
}

tsr_status tsr_param_set_map(tsr_param_set *set, int index, const char *const *keys,
                             const double *values, size_t n, tsr_error *err)
{
    if (!checked(set, index, TSR_PARAM_FLOAT_MAP, err))
        return err ? err->code : TSR_ERR_INVALID;
    const char *const *key_copy = keep_strings(set, keys, n);
    double *value_copy = (double *)keep(set, calloc(n + 1, sizeof *value_copy));
    if (!key_copy || !value_copy)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i]) && !(isinf(values[i]) && values[i] < 0))
            return tsr_error_set(err, TSR_ERR_INVALID, "%s.%s: '%s' maps to %g, not a number",
                                 set->plugin->name, set->plugin->params[index].name, keys[i],
                                 values[i]);
        value_copy[i] = values[i];
    }
    tsr_param_value *v = &set->values[index];
    v->items = key_copy;
    v->values = value_copy;
    v->n_items = (uint32_t)n;
    v->is_set = true;
    return TSR_OK;
}

tsr_status tsr_param_set_text(tsr_param_set *set, int index, const char *text, tsr_error *err)
{
    if (index < 0 || (uint32_t)index >= set->plugin->n_params)
        return tsr_error_set(err, TSR_ERR_INTERNAL, "%s: no parameter #%d", set->plugin->name,
                             index);
    const tsr_param_desc *d = &set->plugin->params[index];
    switch (d->type) {
    case TSR_PARAM_BOOL:
        if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0)
            return tsr_param_set_bool(set, index, true, err);
        if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0)
            return tsr_param_set_bool(set, index, false, err);
        return tsr_error_set(err, TSR_ERR_INVALID, "%s.%s must be true or false, not '%s'",
                             set->plugin->name, d->name, text);
    case TSR_PARAM_INT:
    case TSR_PARAM_FLOAT: {
        char *end;
        errno = 0;
        double value = strtod(text, &end);
        if (errno || end == text || *end)
            return tsr_error_set(err, TSR_ERR_INVALID, "%s.%s must be a number, not '%s'",
                                 set->plugin->name, d->name, text);
        return tsr_param_set_number(set, index, value, err);
    }
    case TSR_PARAM_STRING:
        return tsr_param_set_string(set, index, text, err);
    case TSR_PARAM_STRING_LIST: {
        char *copy = strdup(text);
        if (!copy)
            return oom(err);
        const char *items[256];
        size_t n = 0;
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && n < 256;
             tok = strtok_r(NULL, ",", &save))
            items[n++] = tok;
        tsr_status status = tsr_param_set_list(set, index, items, n, err);
        free(copy);
        return status;
    }
    default:
        return tsr_error_set(err, TSR_ERR_INVALID,
                             "%s.%s is a mapping and cannot be set from the command line",
                             set->plugin->name, d->name);
    }
}

tsr_status tsr_param_set_copy(tsr_param_set *dst, const tsr_param_set *src, tsr_error *err)
{
    tsr_status status = tsr_param_set_init(dst, src->plugin, err);
    for (uint32_t i = 0; status == TSR_OK && i < src->plugin->n_params; i++) {
        const tsr_param_value *v = &src->values[i];
        if (!v->is_set)
            continue;
        switch (v->type) {
        case TSR_PARAM_BOOL: status = tsr_param_set_bool(dst, (int)i, v->boolean, err); break;
        case TSR_PARAM_INT:
        case TSR_PARAM_FLOAT: status = tsr_param_set_number(dst, (int)i, v->number, err); break;
        case TSR_PARAM_STRING: status = tsr_param_set_string(dst, (int)i, v->string, err); break;
        case TSR_PARAM_STRING_LIST:
            status = tsr_param_set_list(dst, (int)i, v->items, v->n_items, err);
            break;
        case TSR_PARAM_FLOAT_MAP:
            status = tsr_param_set_map(dst, (int)i, v->items, v->values, v->n_items, err);
            break;
        }
    }
    if (status != TSR_OK)
        tsr_param_set_free(dst);
    return status;
}

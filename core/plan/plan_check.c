/* The planner's verdict: PROFILE.md's diagnostics, and the hints of
 * does-not-fit, each a number found by planning again with one setting
 * changed (a binary search on max_seq_len, the cache types the plugins
 * offer, a split taken from the automatic placement, the largest draft). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "model_identity.h"
#include "plan_internal.h"
#include "units.h"

enum { HINT_BYTES = 1024, SEARCH_STEPS = 40 };

typedef char size_text[TSR_SIZE_TEXT_BYTES];

static const char *size(uint64_t bytes, char *buf)
{
    return tsr_size_format(bytes, buf, TSR_SIZE_TEXT_BYTES);
}

/* "70.6B", "1.2B", "135M": a parameter count for people. */
static const char *params_text(double n, char *buf, size_t bytes)
{
    if (n >= 1e9)
        snprintf(buf, bytes, "%.*fB", n >= 1e11 ? 0 : 1, n / 1e9);
    else
        snprintf(buf, bytes, "%.0fM", n / 1e6);
    return buf;
}

/* A rough size with one significant digit: "1B", "3B", "300M". */
static const char *round_params(double n, char *buf, size_t bytes)
{
    double unit = n >= 1e9 ? 1e9 : 1e6;
    double x = n / unit, scale = pow(10, floor(log10(x)));
    double r = round(x / scale) * scale;
    snprintf(buf, bytes, "%g%s", r, unit == 1e9 ? "B" : "M");
    return buf;
}

/* GiB as a split entry is written: "20", "13.5". */
static const char *gib_text(double gib, char *buf, size_t bytes)
{
    snprintf(buf, bytes, "%.1f", gib);
    size_t n = strlen(buf);
    if (n > 2 && strcmp(buf + n - 2, ".0") == 0)
        buf[n - 2] = '\0';
    return buf;
}

static double to_gib(uint64_t bytes)
{
    return (double)bytes / (double)TSR_GIB;
}

/* ---- where diagnostics point -------------------------------------------------- */

static tsr_profile_loc first_place(tsr_profile_loc a, tsr_profile_loc b, tsr_profile_loc c)
{
    return a.line ? a : b.line ? b : c;
}

tsr_diagnostic *plan_report(const planner *p, tsr_diagnostics *diags, tsr_severity severity,
                            const char *code, tsr_profile_loc at, const char *fmt, ...)
{
    const tsr_profile *profile = p->request->profile;
    va_list args;
    va_start(args, fmt);
    tsr_diagnostic *d = tsr_diag_addv(diags, severity, profile ? profile->file : NULL,
                                      profile ? at.line : 0, profile ? at.column : 0, fmt, args);
    va_end(args);
    if (d)
        d->code = code;
    return d;
}

static tsr_profile_loc no_place(void)
{
    return (tsr_profile_loc){0, 0};
}

tsr_profile_loc plan_devices_place(const planner *p)
{
    const tsr_profile *profile = p->request->profile;
    if (!profile)
        return no_place();
    return first_place(profile->devices.split_loc, profile->devices.loc, profile->model.loc);
}

static tsr_profile_loc draft_place(const planner *p)
{
    const tsr_profile *profile = p->request->profile;
    if (!profile)
        return no_place();
    return first_place(profile->draft.path_loc, profile->draft.loc, no_place());
}

/* ---- split ------------------------------------------------------------------------ */

static int64_t usable_bytes(const planner *p, uint32_t d)
{
    const tsr_plan_device_spec *spec = &p->request->devices[d];
    return (int64_t)spec->capacity_bytes - (int64_t)spec->overhead_bytes -
           (int64_t)p->request->reserve_bytes;
}

/* "[13.2, 12.9]": budgets in GiB, each rounded up to a tenth. */
static void split_text(const uint64_t *budgets, uint32_t n, char *buf, size_t bytes)
{
    size_t used = (size_t)snprintf(buf, bytes, "[");
    for (uint32_t d = 0; d < n && used < bytes; d++) {
        char g[32];
        used += (size_t)snprintf(buf + used, bytes - used, "%s%s", d ? ", " : "",
                                 gib_text(to_gib(budgets[d]), g, sizeof g));
    }
    if (used < bytes)
        snprintf(buf + used, bytes - used, "]");
}

/* A manual split that holds the main model: each device's weights under an
 * automatic placement, rounded up to a tenth of a GiB, and checked by
 * planning with it. false when auto does not fit either. */
static bool find_split(const planner *p, const plan_settings *base, plan_layout *work,
                       uint64_t *budgets)
{
    plan_settings s = *base;
    s.split_auto = true;
    if (!plan_place(p, &s, work))
        return false;
    for (uint32_t d = 0; d < p->n_devices; d++) {
        double tenths = ceil(to_gib(work->sums[0][d].weights) * 10.0);
        budgets[d] = (uint64_t)(tenths / 10.0 * (double)TSR_GIB);
        if ((int64_t)budgets[d] > usable_bytes(p, d))
            return false;
    }
    s.split_auto = false;
    s.split_bytes = budgets;
    return plan_place(p, &s, work);
}

void plan_check_split(const planner *p, tsr_diagnostics *diags)
{
    const tsr_plan_request *r = p->request;
    const tsr_profile *profile = r->profile;
    if (r->split_auto)
        return;
    if (r->n_split != p->n_devices) {
        char names[512] = "";
        size_t used = 0;
        for (uint32_t d = 0; d < p->n_devices && used < sizeof names; d++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", d ? ", " : "",
                                     r->devices[d].name);
        tsr_diagnostic *diag = plan_report(
            p, diags, TSR_SEVERITY_ERROR, "split-mismatch", plan_devices_place(p),
            "devices.split gives %u budget%s, but there %s %u device%s (%s): it needs one "
            "budget per device",
            r->n_split, r->n_split == 1 ? "" : "s", p->n_devices == 1 ? "is" : "are",
            p->n_devices, p->n_devices == 1 ? "" : "s", names);
        plan_layout work;
        uint64_t *budgets = calloc(p->n_devices, sizeof *budgets);
        char text[512];
        if (diag && budgets && plan_layout_init(&work, p, NULL) == TSR_OK) {
            if (find_split(p, &p->settings, &work, budgets)) {
                split_text(budgets, p->n_devices, text, sizeof text);
                tsr_diag_set_hint(diag, "write split: %s (what auto places), or split: auto",
                                  text);
            } else {
                tsr_diag_set_hint(diag, "write split: auto, or give %u budgets in GiB",
                                  p->n_devices);
            }
            plan_layout_free(&work);
        }
        free(budgets);
        return;
    }
    for (uint32_t d = 0; d < p->n_devices; d++) {
        int64_t usable = usable_bytes(p, d);
        if ((int64_t)r->split_bytes[d] <= usable)
            continue;
        const tsr_plan_device_spec *spec = &r->devices[d];
        size_text a, b, c, e, f;
        tsr_profile_loc at = profile && profile->devices.split_locs && d < profile->devices.n_split
                                 ? profile->devices.split_locs[d]
                                 : no_place();
        /* A ceiling: planning went on with the entry clamped (tsr_plan_make). */
        tsr_diagnostic *diag = plan_report(
            p, diags, TSR_SEVERITY_WARNING, "split-exceeds-device",
            first_place(at, plan_devices_place(p), no_place()),
            "devices.split gives %s %s of weights, more than it can hold: its %s less the "
            "reserve (%s) and the runtime overhead (%s) leave %s, so the entry, a ceiling, "
            "is clamped to that",
            spec->name, size(r->split_bytes[d], a), size(spec->capacity_bytes, b),
            size(r->reserve_bytes, c), size(spec->overhead_bytes, e),
            size(usable > 0 ? (uint64_t)usable : 0, f));
        char g[32];
        if (diag)
            tsr_diag_set_hint(diag, "give %s at most %s (GiB) in devices.split", spec->name,
                              gib_text(floor(to_gib(usable > 0 ? (uint64_t)usable : 0) * 10) / 10,
                                       g, sizeof g));
    }
}

/* ---- does-not-fit: the hint ---------------------------------------------------------- */

/* Appends "; or " and the formatted option to hint. */
static void add_option(char *hint, const char *fmt, ...) TSR_PRINTF(2, 3);
static void add_option(char *hint, const char *fmt, ...)
{
    size_t used = strlen(hint);
    if (used && used < HINT_BYTES)
        used += (size_t)snprintf(hint + used, HINT_BYTES - used, "; or ");
    if (used >= HINT_BYTES)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(hint + used, HINT_BYTES - used, fmt, args);
    va_end(args);
}

static uint64_t kv_total(const planner *p, const plan_settings *s)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k < s->n_models; k++)
        n += (uint64_t)(p->models[k].end - p->models[k].first) * plan_kv_layer_bytes(p, s, k);
    return n;
}

static void set_max_seq_len(const planner *p, plan_settings *s, uint32_t n)
{
    s->max_seq_len[0] = n;
    if (s->n_models > 1 && p->settings.max_seq_len[1] > n)
        s->max_seq_len[1] = n;
}

/* The longest max_seq_len that fits, or 0. */
static uint32_t longest_context(const planner *p, const plan_settings *base, plan_layout *work)
{
    plan_settings s = *base;
    set_max_seq_len(p, &s, 1);
    if (!plan_place(p, &s, work))
        return 0;
    uint32_t lo = 1, hi = base->max_seq_len[0]; /* lo fits, hi does not */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        set_max_seq_len(p, &s, mid);
        if (plan_place(p, &s, work))
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The most sequences (server.parallel) that fit, or 0. */
static uint32_t most_sequences(const planner *p, const plan_settings *base, plan_layout *work)
{
    plan_settings s = *base;
    s.n_sequences = 1;
    if (!plan_place(p, &s, work))
        return 0;
    uint32_t lo = 1, hi = base->n_sequences; /* lo fits, hi does not */
    while (hi - lo > 1) {
        s.n_sequences = lo + (hi - lo) / 2;
        if (plan_place(p, &s, work))
            lo = s.n_sequences;
        else
            hi = s.n_sequences;
    }
    return lo;
}

static double bytes_per_value(const tsr_quant_vtable *q)
{
    return (double)q->block_bytes / (double)q->block_elems;
}

/* The largest cache type smaller than the current one that fits, or NULL. */
static const tsr_plugin *smaller_cache(const planner *p, const plan_settings *base,
                                       plan_layout *work, plan_settings *found)
{
    const tsr_registry *reg = p->request->registry;
    const tsr_plugin *best = NULL;
    double current = bytes_per_value(base->cache_q[0]);
    /* A device's attention reads one cache type (plan_device.c): no other
     * type is an option there. */
    if (plan_has_device_kind(p))
        return NULL;
    for (size_t i = 0; reg && i < tsr_registry_count(reg); i++) {
        const tsr_plugin *plugin = tsr_registry_get(reg, i);
        const tsr_quant_vtable *q = tsr_plugin_quant(plugin);
        if (!q || !(q->flags & TSR_QUANT_KV_CACHE) || !q->quantize || !q->block_elems ||
            bytes_per_value(q) >= current)
            continue;
        bool divides = true;
        for (uint32_t k = 0; k < base->n_models; k++)
            divides = divides && p->models[k].config.head_dim % q->block_elems == 0;
        if (!divides || (best && bytes_per_value(q) <= bytes_per_value(tsr_plugin_quant(best))))
            continue;
        plan_settings s = *base;
        for (uint32_t k = 0; k < s.n_models; k++)
            s.cache_q[k] = q;
        if (plan_place(p, &s, work)) {
            best = plugin;
            *found = s;
        }
    }
    return best;
}

/* The largest fraction of a model's weights that fits, by bisection; -1
 * when not even none does. */
static double largest_scale(const planner *p, const plan_settings *base, uint32_t k,
                            plan_layout *work)
{
    plan_settings s = *base;
    s.weight_scale[k] = 0;
    if (!plan_place(p, &s, work))
        return -1;
    double lo = 0, hi = 1;
    for (int i = 0; i < SEARCH_STEPS; i++) {
        s.weight_scale[k] = (lo + hi) / 2;
        if (plan_place(p, &s, work))
            lo = s.weight_scale[k];
        else
            hi = s.weight_scale[k];
    }
    return lo;
}

static void fit_hint(const planner *p, char *hint)
{
    hint[0] = '\0';
    const plan_settings *base = &p->settings;
    plan_layout work;
    if (plan_layout_init(&work, p, NULL) != TSR_OK)
        return;
    size_text a, b;
    const char *both = base->n_models > 1 ? " (and the draft's)" : "";
    uint32_t sequences = base->n_sequences > 1 ? most_sequences(p, base, &work) : 0;
    if (sequences > 0)
        add_option(hint, "set server.parallel to at most %u (it is %u)", sequences,
                   base->n_sequences);
    uint32_t context = longest_context(p, base, &work);
    if (context > 0)
        add_option(hint, "set model.max_seq_len%s to at most %u (it is %u)", both, context,
                   base->max_seq_len[0]);
    plan_settings cache_settings;
    const tsr_plugin *cache = smaller_cache(p, base, &work, &cache_settings);
    if (cache)
        add_option(hint, "set model.cache_type%s to %s (KV cache %s instead of %s)", both,
                   cache->name,
                   size(kv_total(p, &cache_settings), a), size(kv_total(p, base), b));
    uint64_t *budgets = calloc(p->n_devices, sizeof *budgets);
    if (!base->split_auto && budgets && find_split(p, base, &work, budgets)) {
        char text[512];
        split_text(budgets, p->n_devices, text, sizeof text);
        add_option(hint, "set devices.split to %s", text);
    }
    free(budgets);
    bool draft_option = false;
    if (base->n_models > 1) {
        plan_settings s = *base;
        s.n_models = 1;
        if (plan_place(p, &s, &work)) {
            double scale = largest_scale(p, base, TSR_PLAN_DRAFT, &work);
            const plan_model_in *draft = &p->models[TSR_PLAN_DRAFT];
            if (scale > 0)
                add_option(hint, "drop the draft, or choose one with at most %s of weights (this "
                           "one has %s)", size(plan_scaled(draft->weights, scale), a),
                           size(draft->weights, b));
            else
                add_option(hint, "drop the draft (its KV cache and scratch alone do not fit)");
            draft_option = true;
        }
    }
    if (!hint[0] && !draft_option) {
        const plan_model_in *m = &p->models[TSR_PLAN_MAIN];
        double scale = largest_scale(p, base, TSR_PLAN_MAIN, &work);
        double bits = m->params ? (double)m->weights * 8.0 / (double)m->params : 0;
        if (scale > 0)
            snprintf(hint, HINT_BYTES,
                     "no shorter max_seq_len, smaller cache_type or other split makes it fit: the "
                     "main model's weights (%s) would have to shrink to %s, about %.1f bits per "
                     "weight instead of %.1f; choose a smaller quantization or model, or more or "
                     "larger devices",
                     size(m->weights, a), size(plan_scaled(m->weights, scale), b), bits * scale,
                     bits);
        else
            snprintf(hint, HINT_BYTES,
                     "even without weights, the KV cache, scratch, runtime overhead and reserve "
                     "do not fit these devices: use more or larger devices");
    }
    plan_layout_free(&work);
}

static void report_does_not_fit(const planner *p, const plan_layout *l, tsr_diagnostics *diags)
{
    char hint[HINT_BYTES];
    fit_hint(p, hint);
    const tsr_plan_request *r = p->request;
    const plan_model_in *m = &p->models[TSR_PLAN_MAIN];
    size_text a, b, c, e, f, g, h;
    if (l->first_over_budget >= 0) {
        uint64_t budget = 0;
        for (uint32_t d = 0; d < p->n_devices; d++)
            budget += p->settings.split_bytes[d];
        tsr_diagnostic *d = plan_report(
            p, diags, TSR_SEVERITY_ERROR, "does-not-fit", plan_devices_place(p),
            "devices.split budgets %s for the main model's weights, and they need %s: layers "
            "%d to %u are left over (planned on %s, beyond its budget)",
            size(budget, a), size(m->weights, b), l->first_over_budget, m->end - 1,
            r->devices[p->n_devices - 1].name);
        if (d && hint[0])
            tsr_diag_set_hint(d, "%s", hint);
    }
    for (uint32_t dev = 0; dev < p->n_devices; dev++) {
        const tsr_plan_device_spec *spec = &r->devices[dev];
        if (l->totals[dev] <= spec->capacity_bytes)
            continue;
        uint64_t weights = 0, kv = 0, scratch = 0;
        for (uint32_t k = 0; k < p->settings.n_models; k++) {
            weights += l->sums[k][dev].weights;
            kv += l->sums[k][dev].kv;
            scratch += l->sums[k][dev].scratch;
        }
        char draft_part[96] = "";
        if (p->settings.n_models > 1 && l->sums[1][dev].weights)
            snprintf(draft_part, sizeof draft_part, " (%s of them the draft's)",
                     size(l->sums[1][dev].weights, a));
        tsr_diagnostic *d = plan_report(
            p, diags, TSR_SEVERITY_ERROR, "does-not-fit", plan_devices_place(p),
            "device %s would need %s but holds %s: weights %s%s, KV cache %s, scratch %s, "
            "runtime overhead %s, reserve %s",
            spec->name, size(l->totals[dev], b), size(spec->capacity_bytes, c), size(weights, e),
            draft_part, size(kv, f), size(scratch, g), size(spec->overhead_bytes, h),
            size(r->reserve_bytes, a));
        if (d && hint[0])
            tsr_diag_set_hint(d, "%s", hint);
    }
}

/* ---- the draft ------------------------------------------------------------------------ */

static uint64_t sum_totals(const planner *p, const plan_layout *l)
{
    uint64_t n = 0;
    for (uint32_t d = 0; d < p->n_devices; d++)
        n += l->totals[d];
    return n;
}

static uint64_t sum_capacity(const planner *p)
{
    uint64_t n = 0;
    for (uint32_t d = 0; d < p->n_devices; d++)
        n += p->request->devices[d].capacity_bytes;
    return n;
}

/* "a 1-3B draft" for a 70B model: a seventieth to a twenty-fifth of the
 * main model's parameters, where drafts usually pay off. */
static const char *draft_size_advice(const planner *p, char *buf, size_t bytes)
{
    double n = (double)p->models[TSR_PLAN_MAIN].params;
    char lo[32], hi[32];
    round_params(n / 70, lo, sizeof lo);
    round_params(n / 25, hi, sizeof hi);
    size_t ll = strlen(lo), lh = strlen(hi);
    if (lo[ll - 1] == hi[lh - 1])
        lo[ll - 1] = '\0'; /* "1-3B", not "1B-3B" */
    snprintf(buf, bytes, "%s-%s", lo, hi);
    return buf;
}

static bool same_quantize(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Returns true when the draft is the main model itself. */
static bool check_draft_is_main(const planner *p, const plan_layout *l, tsr_diagnostics *diags)
{
    const plan_model_in *m = &p->models[TSR_PLAN_MAIN], *dr = &p->models[TSR_PLAN_DRAFT];
    tsr_same_model same;
    tsr_error err = {0};
    if (tsr_model_identity(m->request->gguf, dr->request->gguf, &same, &err) != TSR_OK ||
        same == TSR_MODEL_DIFFERENT)
        return false;
    if (!same_quantize(m->request->quantize, dr->request->quantize)) {
        /* The same weights at another format: self-speculation. */
        const char *mq = m->request->quantize, *dq = dr->request->quantize;
        plan_report(p, diags, TSR_SEVERITY_NOTE, "self-draft", draft_place(p),
               "the draft is the main model's own weights at another format (%s%s as the main "
               "model, %s%s as the draft): self-speculation; it pays when the draft's format "
               "decodes much faster than the main model's",
               mq ? "re-quantized to " : "", mq ? mq : "as stored", dq ? "re-quantized to " : "",
               dq ? dq : "as stored");
        return false;
    }
    static const char *const how[] = {
        [TSR_MODEL_SAME_PATH] = "draft.path names the same file as model.path",
        [TSR_MODEL_SYMLINK] = "draft.path leads to model.path's file through a symbolic link",
        [TSR_MODEL_HARD_LINK] = "draft.path is a hard link to model.path's file",
        [TSR_MODEL_COPY] = "draft.path is a copy of model.path: the same size, metadata and "
                           "tensor layout",
    };
    size_text a, b, c;
    char range[64];
    tsr_diagnostic *d = plan_report(
        p, diags, TSR_SEVERITY_ERROR, "draft-is-main", draft_place(p),
        "the draft model is the main model itself (%s): it would double the weight memory and "
        "cannot speed anything up, since drafting would cost as much as decoding",
        how[same]);
    if (!d)
        return true;
    /* What speculation needs: a draft many times cheaper to run that
     * tokenizes as the main model does. */
    if (!l->fits)
        tsr_diag_set_hint(d, "choose a %s draft of the same vocabulary, or this file at a "
                          "smaller format as a self-draft (draft.quantize), or drop the draft: "
                          "needs %s, devices hold %s",
                          draft_size_advice(p, range, sizeof range), size(sum_totals(p, l), a),
                          size(sum_capacity(p), b));
    else
        tsr_diag_set_hint(d, "choose a %s draft of the same vocabulary, or this file at a "
                          "smaller format as a self-draft (draft.quantize), or drop the draft "
                          "(which frees %s of weights)",
                          draft_size_advice(p, range, sizeof range), size(dr->weights, c));
    return true;
}

static void check_draft_vocab(const planner *p, tsr_diagnostics *diags)
{
    const plan_model_in *m = &p->models[TSR_PLAN_MAIN], *dr = &p->models[TSR_PLAN_DRAFT];
    tsr_vocab_difference v;
    tsr_vocab_compare(m->request->gguf, m->config.n_vocab, dr->request->gguf,
                      dr->config.n_vocab, &v);
    if (!v.differs)
        return;
    tsr_diagnostic *d;
    if (v.other[0])
        d = plan_report(p, diags, TSR_SEVERITY_ERROR, "draft-vocab-mismatch", draft_place(p),
                   "the draft and the main model have the same %llu tokens, but %s: the main "
                   "model would check the draft's tokens against other rules",
                   (unsigned long long)v.n_a, v.other);
    else if (v.first_token < 0)
        d = plan_report(p, diags, TSR_SEVERITY_ERROR, "draft-vocab-mismatch", draft_place(p),
                   "the draft's vocabulary has %llu tokens and the main model's %llu: the two "
                   "tokenize text differently, so the main model cannot check the draft's tokens",
                   (unsigned long long)v.n_b, (unsigned long long)v.n_a);
    else
        d = plan_report(p, diags, TSR_SEVERITY_ERROR, "draft-vocab-mismatch", draft_place(p),
                   "the draft and the main model both have %llu tokens, but token %lld is %s in "
                   "the draft and %s in the main model: the two tokenize text differently, so "
                   "the main model cannot check the draft's tokens",
                   (unsigned long long)v.n_a, (long long)v.first_token, v.text_b, v.text_a);
    if (d)
        tsr_diag_set_hint(d, "choose a draft whose tokenizer is the main model's, token for token "
                          "(%llu tokens): a smaller model of the same family",
                          (unsigned long long)v.n_a);
}

static void check_draft_size(const planner *p, tsr_diagnostics *diags)
{
    const plan_model_in *m = &p->models[TSR_PLAN_MAIN], *dr = &p->models[TSR_PLAN_DRAFT];
    if (dr->params * 4 <= m->params)
        return;
    char a[32], b[32], c[32], range[64];
    double share = 100.0 * (double)dr->params / (double)(m->params ? m->params : 1);
    params_text((double)dr->params, a, sizeof a);
    params_text((double)m->params, b, sizeof b);
    params_text((double)m->params / 4, c, sizeof c);
    tsr_diagnostic *d;
    if (dr->weights * 2 <= m->weights) {
        /* Many parameters in few bytes (a self-draft, or a low-bit copy of
         * a model its size): decoding reads bytes, so it may pay. */
        d = plan_report(p, diags, TSR_SEVERITY_WARNING, "draft-too-large", draft_place(p),
                        "the draft has %s parameters, %.0f%% of the main model's %s (more than "
                        "a quarter), in %.0f%% of its weight bytes: a draft token costs about "
                        "what its bytes cost to read, so speculation gains less than with a "
                        "small draft, and may still pay",
                        a, share, b,
                        100.0 * (double)dr->weights / (double)(m->weights ? m->weights : 1));
        if (d)
            tsr_diag_set_hint(d, "measure it (tessera bench PROFILE --spec-compare), or choose "
                              "a draft of at most %s parameters; %s is typical", c,
                              draft_size_advice(p, range, sizeof range));
        return;
    }
    d = plan_report(p, diags, TSR_SEVERITY_WARNING, "draft-too-large", draft_place(p),
                    "the draft has %s parameters, %.0f%% of the main model's %s (more than a "
                    "quarter): drafting would cost nearly as much as decoding, so speculation "
                    "cannot make decoding much faster",
                    a, share, b);
    if (d)
        tsr_diag_set_hint(d, "choose a draft of at most %s parameters (a quarter of the main "
                          "model's); %s is typical", c, draft_size_advice(p, range, sizeof range));
}

void plan_diagnose(const planner *p, const plan_layout *l, tsr_diagnostics *diags)
{
    if (p->settings.n_models > 1) {
        bool is_main = check_draft_is_main(p, l, diags);
        check_draft_vocab(p, diags);
        if (!is_main)
            check_draft_size(p, diags);
    }
    if (!l->fits)
        report_does_not_fit(p, l, diags);
}

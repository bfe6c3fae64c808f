/* Writing a quantized model file (tsr_quantize_model, `tessera quantize`).
 *
 *   format -> a mix (core/gguf/quant_mix.c) -> each tensor's type -> the plugins
 *   that dequantize its type and quantize the new one, checked for every
 *   tensor before anything is written -> the header, laid out in full ->
 *   a temporary file beside the output: the header, then each tensor,
 *   copied as stored or converted in slices of rows on the thread pool
 *   (core/model/requant.h, the machinery of re-quantizing at load) -> fsync ->
 *   rename over the output.
 *
 * A failure at any step removes the temporary file: the output is either
 * the whole new file or what it was before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "gguf_write.h"
#include "loader.h"
#include "quant_mix.h"
#include "requant.h"

enum {
    DEFAULT_ALIGNMENT = 32,     /* GGUF's, when general.alignment is absent */
    QUANTIZATION_VERSION = 2,   /* ggml's GGML_QNT_VERSION, which readers check */
    PROGRESS_STEPS = 200,
};
/* The most output bytes converted per dispatch: big enough that threads
 * rarely wait on each other, small enough to keep memory flat. */
static const uint64_t slice_bytes = (uint64_t)8 << 20;

void tsr_quantize_params_init(tsr_quantize_params *p)
{
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

const char *tsr_quantize_mix_name(size_t index)
{
    const tsr_quant_mix *mix = index < UINT32_MAX ? tsr_quant_mix_at((uint32_t)index) : NULL;
    return mix ? mix->name : NULL;
}

static const char *type_name(uint32_t type)
{
    const tsr_ggml_type_info *info = tsr_ggml_type(type);
    return info ? info->name : "unknown";
}

/* The plugin that can write tensors of type, or NULL. */
static const tsr_quant_vtable *quantizer(const tsr_registry *registry, uint32_t type)
{
    const tsr_quant_vtable *q = tsr_plugin_quant(tsr_registry_find_quant(registry, type));
    return q && q->quantize_reference && q->dequantize && q->block_elems &&
                   !(q->flags & TSR_QUANT_ACTIVATION)
               ? q
               : NULL;
}

/* "f32, f16, q4_0, ...": the types the loaded plugins can write. */
static void list_quantizers(const tsr_registry *registry, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tsr_registry_count(registry); i++) {
        const tsr_plugin *p = tsr_registry_get(registry, i);
        const tsr_quant_vtable *q = tsr_plugin_quant(p);
        if (!q || quantizer(registry, q->gguf_type) != q || used >= n)
            continue;
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
                                 type_name(q->gguf_type));
    }
    if (!used)
        snprintf(buf, n, "none (no quant plugin with a quantizer is on the search path)");
}

/* One tensor of the output. */
typedef struct out_tensor {
    const tsr_gguf_tensor *in;
    uint32_t type;
    const tsr_quant_vtable *from, *to; /* to NULL: copied as stored */
    uint64_t bytes, offset;            /* offset in the data section */
} out_tensor;

typedef struct quantize_job {
    const tsr_registry *registry;
    const char *in_path, *out_path, *format;
    tsr_quantize_params p;
    tsr_quant_mix mix;                 /* the named mix, or a type's own */
    bool pure;
    tsr_gguf *in;
    out_tensor *tensors;
    uint64_t n_tensors;
    uint32_t alignment;
    tsr_gguf_header header;
    uint64_t total_bytes, done_bytes;  /* data written, for progress */
    int64_t max_cols;
} quantize_job;

/* The format: a mix by name, else a type (every matrix in it). */
static tsr_status resolve_format(quantize_job *j, tsr_error *err)
{
    const tsr_quant_mix *mix = tsr_quant_mix_find(j->format);
    if (mix) {
        j->mix = *mix;
        return TSR_OK;
    }
    int64_t type = tsr_ggml_type_by_name(j->format);
    if (type >= 0) {
        const tsr_quant_mix *of_type = tsr_quant_mix_of_type((uint32_t)type);
        j->mix = (tsr_quant_mix){type_name((uint32_t)type),
                                 of_type ? of_type->file_type : UINT32_MAX, (uint32_t)type};
        j->pure = true;
        return TSR_OK;
    }
    char names[1024] = "", can[1024];
    size_t used = 0;
    for (uint32_t i = 0; tsr_quant_mix_at(i) && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                 tsr_quant_mix_at(i)->name);
    list_quantizers(j->registry, can, sizeof can);
    return tsr_error_set(err, TSR_ERR_INVALID, "%s: no mix or type of that name; mixes: %s; "
                         "types the loaded plugins can write: %s", j->format, names, can);
}

/* The types of every tensor, with the user's rules, each rule checked. */
static tsr_status choose_types(quantize_job *j, uint32_t *types, tsr_error *err)
{
    size_t n_rules = j->p.n_keep;
    tsr_quant_keep_rule *rules = calloc(n_rules ? n_rules : 1, sizeof *rules);
    uint64_t *matched = calloc(n_rules ? n_rules : 1, sizeof *matched);
    tsr_status s = rules && matched ? TSR_OK : tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    for (size_t r = 0; s == TSR_OK && r < n_rules; r++) {
        const tsr_quantize_keep *k = &j->p.keep[r];
        int64_t type = k->pattern && k->type ? tsr_ggml_type_by_name(k->type) : -1;
        if (type < 0)
            s = tsr_error_set(err, TSR_ERR_INVALID, "keep %s=%s: no GGUF type of that name",
                              k->pattern ? k->pattern : "(null)", k->type ? k->type : "(null)");
        rules[r] = (tsr_quant_keep_rule){k->pattern, (uint32_t)type};
    }
    if (s == TSR_OK)
        s = tsr_quant_mix_types(j->in, &j->mix, j->pure || j->p.pure, rules, (uint32_t)n_rules,
                                types, matched, err);
    for (size_t r = 0; s == TSR_OK && r < n_rules; r++)
        if (!matched[r])
            s = tsr_error_set(err, TSR_ERR_INVALID, "keep %s=%s: matches no matrix of %s "
                              "(a glob or an exact tensor name; only matrices are quantized)",
                              rules[r].pattern, j->p.keep[r].type, j->in_path);
    free(rules);
    free(matched);
    return s;
}

/* Each tensor's type, bytes and place in the data section. */
static void lay_out(quantize_job *j, const uint32_t *types)
{
    uint64_t offset = 0;
    for (uint64_t i = 0; i < j->n_tensors; i++) {
        out_tensor *o = &j->tensors[i];
        o->in = tsr_gguf_tensor_at(j->in, i);
        o->type = types[i];
        const tsr_ggml_type_info *info = tsr_ggml_type(o->type);
        o->bytes = o->in->n_elems / info->block_elems * info->block_bytes;
        o->offset = offset;
        offset = tsr_gguf_align(offset + o->bytes, j->alignment);
        j->total_bytes += o->bytes;
    }
}

/* The plugins that convert each tensor whose type changes; the first that
 * no plugin can convert stops it, naming the types that can be written. */
static tsr_status find_plugins(quantize_job *j, tsr_error *err)
{
    for (uint64_t i = 0; i < j->n_tensors; i++) {
        out_tensor *o = &j->tensors[i];
        if (o->type == o->in->type)
            continue;
        o->from = tsr_plugin_quant(tsr_registry_find_quant(j->registry, o->in->type));
        o->to = quantizer(j->registry, o->type);
        char can[1024];
        if (!o->to || !o->from || !o->from->dequantize)
            list_quantizers(j->registry, can, sizeof can);
        if (!o->to)
            return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s: tensor %s would be %s%s%s, "
                                 "which no loaded plugin can quantize; types the loaded plugins "
                                 "can write: %s", j->format, o->in->name, type_name(o->type),
                                 j->pure ? "" : " in the mix ", j->pure ? "" : j->mix.name, can);
        if (!o->from || !o->from->dequantize)
            return tsr_error_set(err, TSR_ERR_UNSUPPORTED, "%s: tensor %s is %s, which no "
                                 "loaded plugin can dequantize; add a plugin for %s to the "
                                 "search path", j->in_path, o->in->name, type_name(o->in->type),
                                 type_name(o->in->type));
        int64_t cols = (int64_t)o->in->dims[0];
        j->max_cols = cols > j->max_cols ? cols : j->max_cols;
    }
    return TSR_OK;
}

static bool copied_key(const tsr_gguf *in, int64_t index)
{
    static const char *const replaced[] = {
        "general.file_type", "general.quantization_version", "general.quantized_by",
        "split.no", "split.count", "split.tensors.count",
    };
    tsr_gguf_str key = tsr_gguf_key_name(in, index);
    for (size_t i = 0; i < sizeof replaced / sizeof replaced[0]; i++)
        if (key.len == strlen(replaced[i]) && memcmp(key.data, replaced[i], key.len) == 0)
            return false;
    return true;
}

static tsr_status build_header(quantize_job *j, tsr_error *err)
{
    tsr_gguf_header *h = &j->header;
    tsr_gguf_header_begin(h, j->n_tensors);
    for (int64_t k = 0; k < tsr_gguf_key_count(j->in); k++)
        if (copied_key(j->in, k))
            tsr_gguf_header_copy_kv(h, j->in, k);
    tsr_gguf_header_kv_u32(h, "general.quantization_version", QUANTIZATION_VERSION);
    if (j->mix.file_type != UINT32_MAX)
        tsr_gguf_header_kv_u32(h, "general.file_type", j->mix.file_type);
    char note[256];
    snprintf(note, sizeof note, "tessera %s quantize %s%s", tsr_version(), j->mix.name,
             j->p.pure && !j->pure ? " --pure" : "");
    tsr_gguf_header_kv_str(h, "general.quantized_by", note);
    for (uint64_t i = 0; i < j->n_tensors; i++) {
        const out_tensor *o = &j->tensors[i];
        tsr_gguf_header_tensor(h, o->in->name, o->in->n_dims, o->in->dims, o->type, o->offset);
    }
    return tsr_gguf_header_end(h, j->alignment, err);
}

static void report_tensors(const quantize_job *j)
{
    for (uint64_t i = 0; j->p.tensor && i < j->n_tensors; i++) {
        const out_tensor *o = &j->tensors[i];
        tsr_quantize_tensor_info info = {o->in->name, type_name(o->in->type), type_name(o->type),
                                         o->in->n_bytes, o->bytes, i, j->n_tensors};
        j->p.tensor(&info, j->p.tensor_ctx);
    }
}

/* ---- the output file -------------------------------------------------------- */

typedef struct out_file {
    const char *path;
    char *temp;
    int fd;
    uint64_t written;
} out_file;

/* A new file beside path, named path.tmp.PID.N, created exclusively. */
static tsr_status out_open(out_file *f, const char *path, tsr_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return tsr_error_set(err, TSR_ERR_IO, "%s: is a %s, not a regular file; give the "
                             "path of the file to write", path,
                             S_ISDIR(st.st_mode) ? "folder" : "device or other special file");
    f->path = path;
    f->fd = -1;
    for (unsigned attempt = 0; attempt < 100 && f->fd < 0; attempt++) {
        free(f->temp);
        if (asprintf(&f->temp, "%s.tmp.%ld.%u", path, (long)getpid(), attempt) < 0) {
            f->temp = NULL;
            return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
        }
        f->fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd < 0 && errno != EEXIST)
            break;
    }
    if (f->fd < 0) {
        int e = errno;
        free(f->temp);
        f->temp = NULL;
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot create the output beside it: %s",
                             path, strerror(e));
    }
    return TSR_OK;
}

static tsr_status out_write(out_file *f, const void *data, size_t n, tsr_error *err)
{
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return tsr_error_set(err, TSR_ERR_IO, "%s: cannot write (after %llu bytes): %s; "
                                 "the output is left as it was", f->path,
                                 (unsigned long long)f->written,
                                 strerror(w < 0 ? errno : ENOSPC));
        p += w;
        n -= (size_t)w;
        f->written += (uint64_t)w;
    }
    return TSR_OK;
}

/* Zeros up to the next multiple of alignment. */
static tsr_status out_pad(out_file *f, uint64_t data_start, uint32_t alignment, tsr_error *err)
{
    static const uint8_t zeros[256];
    uint64_t pad = tsr_gguf_align(f->written - data_start, alignment) - (f->written - data_start);
    tsr_status s = TSR_OK;
    while (s == TSR_OK && pad) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        s = out_write(f, zeros, n, err);
        pad -= n;
    }
    return s;
}

/* Makes the file whole on disk and puts it in place; on failure, or when
 * not ok, removes it. */
static tsr_status out_close(out_file *f, tsr_status s, tsr_error *err)
{
    if (f->fd < 0)
        return s;
    if (s == TSR_OK && fsync(f->fd) != 0)
        s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %s; the output is left as it "
                          "was", f->path, strerror(errno));
    if (close(f->fd) != 0 && s == TSR_OK)
        s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot write: %s; the output is left as it "
                          "was", f->path, strerror(errno));
    f->fd = -1;
    if (s == TSR_OK && rename(f->temp, f->path) != 0)
        s = tsr_error_set(err, TSR_ERR_IO, "%s: cannot put the output in place: %s", f->path,
                          strerror(errno));
    if (s != TSR_OK)
        unlink(f->temp);
    free(f->temp);
    f->temp = NULL;
    return s;
}

/* ---- the data --------------------------------------------------------------- */

static tsr_status report(quantize_job *j, uint64_t bytes, tsr_error *err)
{
    uint64_t step = j->total_bytes / PROGRESS_STEPS + 1;
    bool crossed = (j->done_bytes + bytes) / step != j->done_bytes / step;
    j->done_bytes += bytes;
    double fraction = j->total_bytes ? (double)j->done_bytes / (double)j->total_bytes : 1.0;
    if (j->p.progress && (crossed || j->done_bytes == j->total_bytes) &&
        !j->p.progress(fraction, j->p.progress_ctx))
        return tsr_error_set(err, TSR_ERR_ABORTED, "%s: quantizing cancelled", j->out_path);
    return TSR_OK;
}

static tsr_status write_tensor(quantize_job *j, const out_tensor *o, out_file *f,
                               tsr_threadpool *pool, uint8_t *slice, float *scratch,
                               tsr_error *err)
{
    if (!o->to) {
        tsr_status s = out_write(f, o->in->data, (size_t)o->bytes, err);
        return s == TSR_OK ? report(j, o->bytes, err) : s;
    }
    int64_t cols = (int64_t)o->in->dims[0], rows = (int64_t)(o->in->n_elems / o->in->dims[0]);
    size_t src_row = (size_t)(cols / o->from->block_elems) * o->from->block_bytes;
    size_t dst_row = (size_t)(cols / o->to->block_elems) * o->to->block_bytes;
    int64_t step = (int64_t)(slice_bytes / dst_row);
    step = step ? step : 1;
    tsr_status s = TSR_OK;
    for (int64_t row = 0; s == TSR_OK && row < rows; row += step) {
        tsr_requant_rows job = {
            .src = (const uint8_t *)o->in->data + (size_t)row * src_row,
            .dst = slice,
            .from = o->from,
            .to = o->to,
            .cols = cols,
            .n_rows = row + step < rows ? step : rows - row,
            .scratch = scratch,
        };
        tsr_requant_run(pool, &job);
        s = out_write(f, slice, (size_t)job.n_rows * dst_row, err);
        if (s == TSR_OK)
            s = report(j, (uint64_t)job.n_rows * dst_row, err);
    }
    return s;
}

static tsr_status write_file(quantize_job *j, tsr_error *err)
{
    out_file f = {0};
    tsr_status s = out_open(&f, j->out_path, err);
    if (s != TSR_OK)
        return s;
    tsr_threadpool *pool = NULL;
    uint8_t *slice = NULL;
    float *scratch = NULL;
    s = tsr_threadpool_open(j->p.n_threads > 0 ? (uint32_t)j->p.n_threads : 0, &pool, err);
    if (s == TSR_OK) {
        size_t n_threads = tsr_threadpool_n_threads(pool), cols = (size_t)j->max_cols;
        /* a slice holds at least one row, whatever its length */
        slice = malloc((size_t)slice_bytes + cols * 4);
        scratch = malloc(n_threads * (cols ? cols : 1) * sizeof *scratch);
        if (!slice || !scratch)
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    if (s == TSR_OK)
        s = out_write(&f, j->header.bytes, j->header.n_bytes, err);
    uint64_t data_start = j->header.n_bytes;
    for (uint64_t i = 0; s == TSR_OK && i < j->n_tensors; i++) {
        s = write_tensor(j, &j->tensors[i], &f, pool, slice, scratch, err);
        if (s == TSR_OK)
            s = out_pad(&f, data_start, j->alignment, err);
        /* the input's pages are not needed again */
        tsr_gguf_drop_tensor_pages(j->in, j->tensors[i].in);
    }
    free(scratch);
    free(slice);
    tsr_threadpool_close(pool);
    return out_close(&f, s, err);
}

tsr_status tsr_quantize_model(const tsr_registry *registry, const char *in_path,
                              const char *out_path, const char *format,
                              const tsr_quantize_params *params, tsr_error *err)
{
    quantize_job j = {.registry = registry, .in_path = in_path, .out_path = out_path,
                      .format = format};
    tsr_quantize_params_init(&j.p);
    tsr_api_copy_params(&j.p, sizeof j.p, params);
    if (!registry || !in_path || !out_path || !format)
        return tsr_error_set(err, TSR_ERR_INVALID, "quantize: the registry, input, output "
                             "and format must all be given");
    tsr_status s = resolve_format(&j, err);
    if (s == TSR_OK)
        s = tsr_gguf_open(in_path, &j.in, err);
    uint32_t *types = NULL;
    if (s == TSR_OK) {
        j.n_tensors = tsr_gguf_tensor_count(j.in);
        j.alignment = tsr_gguf_alignment(j.in);
        j.alignment = j.alignment ? j.alignment : DEFAULT_ALIGNMENT;
        types = calloc(j.n_tensors ? j.n_tensors : 1, sizeof *types);
        j.tensors = calloc(j.n_tensors ? j.n_tensors : 1, sizeof *j.tensors);
        if (!types || !j.tensors)
            s = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    if (s == TSR_OK)
        s = choose_types(&j, types, err);
    if (s == TSR_OK) {
        lay_out(&j, types);
        s = build_header(&j, err);
    }
    /* a dry run shows the types even when some cannot be written */
    if (s == TSR_OK && j.p.dry_run)
        report_tensors(&j);
    if (s == TSR_OK)
        s = find_plugins(&j, err);
    if (s == TSR_OK && !j.p.dry_run) {
        report_tensors(&j);
        s = write_file(&j, err);
    }
    tsr_gguf_header_free(&j.header);
    free(types);
    free(j.tensors);
    tsr_gguf_close(j.in);
    return s;
}

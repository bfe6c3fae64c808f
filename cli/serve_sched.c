/* The scheduler: continuous batching over the context's sequences.
 *
 * Each sequence of the context is a slot. A step, on the scheduler's thread:
 *
 *   under the lock:  free the slots of cancelled jobs; admit waiting jobs
 *                    (FIFO) while there are slots for all their choices,
 *                    reusing the longest cached prefix of the prompt
 *   without it:      one batch = the pending token of every generating slot
 *                    (and the drafts it verifies, where the deployment
 *                    speculates) + chunks of the prompts being read (a
 *                    prompt's last row is an output); one tsr_decode; sample
 *                    each slot's rows with its chain, in order, while the
 *                    token sampled equals the draft the row checks; cut at
 *                    stop strings
 *   under the lock:  publish each choice's new text, finish choices and jobs
 *
 * HTTP threads only queue jobs, cancel them and read what they produced, so
 * the context, the batch and the slots belong to this thread alone. A row's
 * logits do not depend on what shares the batch, so a greedy reply is the
 * same under any load.
 *
 * A slot keeps the tokens its sequence holds after its job ends; the next
 * prompt that starts the same way reads only the rest, and a slot can start
 * from another slot's copy of a longer common prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_choice.h"
#include "serve_sched.h"

typedef enum slot_state {
    SLOT_FREE,
    SLOT_PREFILL,  /* reading its prompt */
    SLOT_FOLLOW,   /* another choice of a job whose first choice reads the prompt */
    SLOT_GENERATE, /* next holds a sampled token to decode */
} slot_state;

typedef struct slot {
    int32_t seq;
    slot_state state;
    serve_job *job;
    uint32_t choice;
    struct slot *leader;     /* SLOT_FOLLOW: the slot reading the prompt */
    tsr_token *cache;        /* the tokens the sequence holds, positions 0.. */
    uint32_t n_cache;
    tsr_token next;
    int32_t row;             /* its output row in this step's batch, -1: none */
    bool in_batch;           /* it has rows in this step's batch */
    uint64_t admitted;       /* order of admission: prompts are read first come, first served */
    uint64_t last_used;
    serve_text text;         /* the choice's generated text */
    /* Speculation: the drafts decoded after next in this step's batch. */
    bool spec_started;
    tsr_token *drafts;
    uint32_t n_drafts;
    /* Staged by sampling for publishing under the lock: the step's tokens
     * (one, or the drafts kept and the token after them). */
    size_t stage_from;
    uint32_t n_staged;
    serve_logprob *logprobs; /* one per staged token, when the job wants them */
    uint32_t n_logprobs;
    const char *finish;
} slot;

struct serve_sched {
    tsr_deployment *d;
    tsr_context *ctx;
    tsr_batch *batch;
    uint32_t n_slots, max_seq_len, n_batch, n_vocab;
    uint32_t max_drafts;     /* per slot and step; 0: the deployment does not speculate */
    slot *slots;
    float *biased;           /* n_vocab: logits with a request's logit_bias added */
    serve_sched_options options;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mutex;
    pthread_cond_t wake;     /* a job arrived or was cancelled, or stop */
    serve_job **waiting;     /* FIFO */
    size_t n_waiting;
    uint32_t waiting_slots;  /* slots the waiting jobs need */
    uint32_t busy_slots;
    uint32_t running_jobs;
    bool stopping, draining;
    uint64_t clock;
    serve_metrics metrics;
    /* Under mpirun (this thread's alone): when the stages' figures were
     * last gathered, and whether a decode ran since. */
    double stages_at;
    bool stages_stale;
};

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- jobs ----------------------------------------------------------- */

void serve_params_free(serve_params *p)
{
    for (size_t i = 0; i < SERVE_MAX_CHOICES; i++)
        tsr_sampler_close(p->samplers[i]);
    for (size_t i = 0; i < p->n_stop; i++)
        free(p->stop[i]);
    free(p->bias_tokens);
    free(p->bias_values);
    memset(p, 0, sizeof *p);
}

serve_job *serve_job_new(const tsr_token *prompt, size_t n_prompt, serve_params *params)
{
    serve_job *job = calloc(1, sizeof *job);
    uint32_t n = params->n_choices ? params->n_choices : 1;
    if (job) {
        job->prompt = malloc((n_prompt ? n_prompt : 1) * sizeof *prompt);
        job->choices = calloc(n, sizeof *job->choices);
    }
    if (!job || !job->prompt || !job->choices || pthread_cond_init(&job->changed, NULL) != 0) {
        if (job) {
            free(job->prompt);
            free(job->choices);
        }
        free(job);
        serve_params_free(params);
        return NULL;
    }
    memcpy(job->prompt, prompt, n_prompt * sizeof *prompt);
    job->n_prompt = n_prompt;
    job->params = *params;
    job->params.n_choices = n;
    memset(params, 0, sizeof *params);
    job->refs = 1;
    return job;
}

static void job_free(serve_job *job)
{
    for (uint32_t i = 0; i < job->params.n_choices; i++) {
        free(job->choices[i].text);
        free(job->choices[i].logprobs);
    }
    free(job->choices);
    free(job->prompt);
    serve_params_free(&job->params);
    pthread_cond_destroy(&job->changed);
    free(job);
}

/* The lock is held. */
static void job_unref(serve_job *job)
{
    if (--job->refs == 0)
        job_free(job);
}

void serve_job_release(serve_sched *s, serve_job *job)
{
    if (!job)
        return;
    if (!s) {
        job_unref(job);
        return;
    }
    pthread_mutex_lock(&s->mutex);
    job_unref(job);
    pthread_mutex_unlock(&s->mutex);
}

void serve_sched_lock(serve_sched *s) { pthread_mutex_lock(&s->mutex); }
void serve_sched_unlock(serve_sched *s) { pthread_mutex_unlock(&s->mutex); }

void serve_sched_wait(serve_sched *s, serve_job *job, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&job->changed, &s->mutex, &until);
}

serve_submit_result serve_sched_submit(serve_sched *s, serve_job *job)
{
    serve_submit_result r = SERVE_SUBMITTED;
    pthread_mutex_lock(&s->mutex);
    uint32_t n = job->params.n_choices;
    if (s->draining || s->stopping) {
        r = SERVE_DRAINING;
    } else if (s->busy_slots + s->waiting_slots + n > s->n_slots + s->options.queue) {
        r = SERVE_QUEUE_FULL;
    } else {
        serve_job **grown = realloc(s->waiting, (s->n_waiting + 1) * sizeof *grown);
        if (!grown) {
            r = SERVE_QUEUE_FULL;
        } else {
            s->waiting = grown;
            s->waiting[s->n_waiting++] = job;
            s->waiting_slots += n;
            job->refs++;
            job->state = SERVE_JOB_WAITING;
            job->t_submit = serve_now();
            pthread_cond_signal(&s->wake);
        }
    }
    if (r != SERVE_SUBMITTED)
        s->metrics.requests_rejected++;
    pthread_mutex_unlock(&s->mutex);
    return r;
}

void serve_sched_cancel(serve_sched *s, serve_job *job)
{
    pthread_mutex_lock(&s->mutex);
    if (job->state != SERVE_JOB_DONE && !job->cancelled) {
        job->cancelled = true;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->mutex);
}

/* ---- slots (lock held where they touch jobs) ------------------------------ */

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*buf, cap2 * elem);
    if (!p)
        return false;
    *buf = p;
    *cap = cap2;
    return true;
}

/* The job's last choice has ended: it leaves the scheduler. */
static void job_done(serve_sched *s, serve_job *job)
{
    job->state = SERVE_JOB_DONE;
    s->running_jobs--;
    if (job->cancelled)
        s->metrics.requests_cancelled++;
    else if (job->error[0])
        s->metrics.requests_failed++;
    else
        s->metrics.requests_finished++;
    pthread_cond_broadcast(&job->changed);
    job_unref(job);
}

static bool job_running(const serve_sched *s, const serve_job *job)
{
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job == job)
            return true;
    return false;
}

static void slot_release(serve_sched *s, slot *sl)
{
    serve_job *job = sl->job;
    if (sl->spec_started)
        tsr_spec_stop(s->ctx, sl->seq);
    sl->spec_started = false;
    sl->state = SLOT_FREE;
    sl->job = NULL;
    sl->leader = NULL;
    sl->last_used = ++s->clock;
    s->busy_slots--;
    if (job && !job_running(s, job))
        job_done(s, job);
}

/* Ends every choice of job with message (a failed decode). */
static void job_fail(serve_sched *s, serve_job *job, const char *message)
{
    if (!job->error[0])
        snprintf(job->error, sizeof job->error, "%s", message);
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job == job)
            slot_release(s, &s->slots[i]);
}

static uint32_t common_prefix(const tsr_token *a, uint32_t n_a, const tsr_token *b, size_t n_b)
{
    uint32_t n = 0;
    while (n < n_a && n < n_b && a[n] == b[n])
        n++;
    return n;
}

/* The free slot to read a prompt in: the longest cached prefix, else the one
 * unused for longest (its cache is the least likely to be asked for). */
static slot *pick_free_slot(serve_sched *s, const serve_job *job, uint32_t *prefix)
{
    slot *best = NULL;
    uint32_t best_prefix = 0;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_FREE)
            continue;
        uint32_t n = common_prefix(sl->cache, sl->n_cache, job->prompt, job->n_prompt);
        if (!best || n > best_prefix || (n == best_prefix && sl->last_used < best->last_used)) {
            best = sl;
            best_prefix = n;
        }
    }
    *prefix = best_prefix;
    return best;
}

/* Points slot sl at the job's prompt: keeps (or copies from a busier slot)
 * the longest prefix it can, always leaving one token to read for logits. */
static tsr_status reuse_prefix(serve_sched *s, slot *sl, uint32_t prefix, const serve_job *job,
                               tsr_error *err)
{
    slot *source = sl;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *other = &s->slots[i];
        if (other == sl || other->state == SLOT_FOLLOW)
            continue;
        uint32_t n = common_prefix(other->cache, other->n_cache, job->prompt, job->n_prompt);
        if (n > prefix) {
            prefix = n;
            source = other;
        }
    }
    uint32_t keep = prefix < job->n_prompt ? prefix : (uint32_t)job->n_prompt - 1;
    tsr_status st = source != sl && keep > 0
                        ? tsr_kv_seq_copy(s->ctx, source->seq, sl->seq, keep, err)
                        : tsr_kv_seq_remove(s->ctx, sl->seq, (int32_t)keep, -1, err);
    if (st != TSR_OK) {
        keep = 0;
        st = tsr_kv_seq_remove(s->ctx, sl->seq, 0, -1, err);
    }
    memcpy(sl->cache, job->prompt, keep * sizeof *sl->cache);
    sl->n_cache = keep;
    return st;
}

static void slot_start(serve_sched *s, slot *sl, serve_job *job, uint32_t choice,
                       slot_state state, slot *leader)
{
    sl->state = state;
    sl->job = job;
    sl->choice = choice;
    sl->leader = leader;
    sl->admitted = ++s->clock;
    serve_text_clear(&sl->text);
    sl->row = -1;
    s->busy_slots++;
}

/* Starts the first waiting job when every choice of it has a slot. */
static bool admit_one(serve_sched *s)
{
    if (s->n_waiting == 0)
        return false;
    serve_job *job = s->waiting[0];
    uint32_t n = job->params.n_choices;
    if (s->busy_slots + n > s->n_slots)
        return false;
    memmove(s->waiting, s->waiting + 1, (s->n_waiting - 1) * sizeof *s->waiting);
    s->n_waiting--;
    s->waiting_slots -= n;
    s->running_jobs++;
    job->state = SERVE_JOB_RUNNING;

    uint32_t prefix;
    slot *leader = pick_free_slot(s, job, &prefix);
    tsr_error err;
    if (reuse_prefix(s, leader, prefix, job, &err) != TSR_OK)
        snprintf(job->error, sizeof job->error, "%s", err.message);
    slot_start(s, leader, job, 0, SLOT_PREFILL, NULL);
    job->n_cached = leader->n_cache;
    s->metrics.prompt_tokens += job->n_prompt;
    s->metrics.prompt_tokens_cached += leader->n_cache;
    for (uint32_t c = 1; c < n; c++) {
        uint32_t ignored;
        slot *follower = pick_free_slot(s, &(serve_job){0}, &ignored);
        slot_start(s, follower, job, c, SLOT_FOLLOW, leader);
    }
    if (job->error[0] || job->cancelled)
        job_fail(s, job, job->error[0] ? job->error : "cancelled");
    return true;
}

/* Frees what cancelled jobs hold and admits waiting jobs. Lock held. */
static void housekeeping(serve_sched *s)
{
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->job && sl->job->cancelled)
            job_fail(s, sl->job, "cancelled");
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->n_waiting; i++) {
        serve_job *job = s->waiting[i];
        if (!job->cancelled) {
            s->waiting[kept++] = job;
            continue;
        }
        s->waiting_slots -= job->params.n_choices;
        s->running_jobs++; /* job_done counts it out */
        job_done(s, job);
    }
    s->n_waiting = kept;
    while (admit_one(s))
        ;
}

/* ---- one step ------------------------------------------------------- */

static void add_row(serve_sched *s, tsr_token token, slot *sl, bool output)
{
    tsr_batch *b = s->batch;
    uint32_t i = b->n_tokens++;
    b->tokens[i] = token;
    b->pos[i] = (int32_t)sl->n_cache;
    b->seq_id[i] = sl->seq;
    b->output[i] = output;
    sl->cache[sl->n_cache++] = token;
    sl->in_batch = true;
    if (output)
        sl->row = (int32_t)i;
}

/* The drafts slot sl verifies after its pending token (just added), at most
 * room: none where the deployment does not speculate, and never past the
 * cache, the reply's max_tokens or the controller's choice. */
static void add_drafts(serve_sched *s, slot *sl, uint32_t room)
{
    serve_job *job = sl->job;
    tsr_error err;
    if (!sl->spec_started) {
        if (tsr_spec_start(s->ctx, sl->seq, sl->cache, sl->n_cache, &err) != TSR_OK) {
            snprintf(job->error, sizeof job->error, "%s", err.message);
            return;
        }
        sl->spec_started = true;
    }
    uint32_t cap = s->max_drafts < room ? s->max_drafts : room;
    uint32_t left = s->max_seq_len - sl->n_cache;
    cap = left < cap ? left : cap;
    if (job->params.max_tokens) {
        /* A step yields up to n_drafts + 1 tokens. */
        uint32_t made = job->choices[sl->choice].n_tokens + 1;
        uint32_t wanted = job->params.max_tokens > made ? job->params.max_tokens - made : 0;
        cap = wanted < cap ? wanted : cap;
    }
    if (cap == 0)
        return;
    uint32_t n;
    if (tsr_spec_draft(s->ctx, sl->seq, sl->cache, sl->n_cache, cap, sl->drafts, &n, &err) !=
        TSR_OK) {
        snprintf(job->error, sizeof job->error, "%s", err.message);
        return;
    }
    int32_t row = sl->row;
    for (uint32_t i = 0; i < n; i++)
        add_row(s, sl->drafts[i], sl, true);
    sl->row = row;
    sl->n_drafts = n;
}

/* Generating slots first, one row each and their drafts; then prompt
 * chunks, oldest first. */
static void build_batch(serve_sched *s)
{
    tsr_batch_clear(s->batch);
    uint32_t generating = 0;
    bool reading = false;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        sl->row = -1;
        sl->in_batch = false;
        sl->n_drafts = 0;
        generating += sl->state == SLOT_GENERATE;
        reading |= sl->state == SLOT_PREFILL && sl->n_cache < sl->job->n_prompt;
    }
    /* Drafts take what rows are left, less a chunk of prompt to read. */
    uint32_t room = s->n_batch - generating;
    uint32_t chunk = s->options.prefill_chunk < room ? s->options.prefill_chunk : room;
    room -= reading ? chunk : 0;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state != SLOT_GENERATE)
            continue;
        add_row(s, sl->next, sl, true);
        if (s->max_drafts && !sl->job->error[0]) {
            add_drafts(s, sl, room);
            room -= sl->n_drafts;
        }
    }
    uint32_t budget = s->n_batch - s->batch->n_tokens;
    if (generating && budget > s->options.prefill_chunk)
        budget = s->options.prefill_chunk;
    while (budget > 0) {
        slot *oldest = NULL;
        for (uint32_t i = 0; i < s->n_slots; i++) {
            slot *sl = &s->slots[i];
            if (sl->state == SLOT_PREFILL && sl->n_cache < sl->job->n_prompt &&
                (!oldest || sl->admitted < oldest->admitted))
                oldest = sl;
        }
        if (!oldest)
            break;
        const serve_job *job = oldest->job;
        while (budget > 0 && oldest->n_cache < job->n_prompt) {
            bool last = oldest->n_cache + 1 == job->n_prompt;
            add_row(s, job->prompt[oldest->n_cache], oldest, last);
            budget--;
        }
    }
}

/* Takes back the rows of the last build_batch (the decode failed). */
static void unbuild_batch(serve_sched *s)
{
    for (uint32_t i = 0; i < s->batch->n_tokens; i++) {
        for (uint32_t k = 0; k < s->n_slots; k++)
            if (s->slots[k].seq == s->batch->seq_id[i])
                s->slots[k].n_cache--;
    }
}

/* Samples slot sl's next token from batch row `row` and stages its text.
 * Runs without the lock: it reads only the job's constant parts. */
static void sample_slot(serve_sched *s, slot *sl, int32_t row)
{
    serve_job *job = sl->job;
    const serve_params *p = &job->params;
    tsr_sampler *chain = p->samplers[sl->choice];
    const float *logits = tsr_logits(s->ctx, row);
    tsr_error err;
    tsr_token token = TSR_NO_TOKEN;
    if (p->n_bias && logits) {
        memcpy(s->biased, logits, s->n_vocab * sizeof *logits);
        for (size_t i = 0; i < p->n_bias; i++)
            s->biased[p->bias_tokens[i]] += p->bias_values[i];
        logits = s->biased;
    }
    if (!logits || tsr_sample_logits(chain, logits, &token, &err) != TSR_OK) {
        snprintf(job->error, sizeof job->error, "sampling failed: %s",
                 logits ? err.message : "no logits");
        return;
    }
    if (p->logprobs)
        serve_logprob_fill(&sl->logprobs[sl->n_logprobs++], logits, s->n_vocab, token,
                           p->top_logprobs);
    sl->next = token;
    sl->n_staged++;
    uint32_t n_tokens = job->choices[sl->choice].n_tokens + sl->n_staged; /* published later */
    if (tsr_token_is_eog(s->d, token) && !p->ignore_eos) {
        sl->finish = "stop";
    } else {
        char piece[256];
        size_t n = tsr_detokenize(s->d, &token, 1, 0, piece, sizeof piece);
        if (n >= sizeof piece)
            n = sizeof piece - 1; /* no token's text is this long; keep what fits */
        bool failed;
        if (serve_text_append(&sl->text, piece, n, p->stop, p->n_stop, &failed))
            sl->finish = "stop";
        if (failed) {
            snprintf(job->error, sizeof job->error, "out of memory for the reply");
            return;
        }
    }
    if (!sl->finish && ((p->max_tokens && n_tokens >= p->max_tokens) ||
                        sl->n_cache >= s->max_seq_len))
        sl->finish = "length";
    /* An ended choice sends everything it holds back (a partial stop string). */
    if (sl->finish)
        serve_text_release_all(&sl->text);
}

/* Samples slot sl's rows of the step: its pending token's, then, while each
 * sampled token equals the draft the row checks, the next draft's. The cache
 * keeps the drafts taken; the positions of the others are removed. seconds:
 * the slot's share of the forward pass. Returns the drafts taken. */
static uint32_t sample_rows(serve_sched *s, slot *sl, double seconds)
{
    uint32_t n_drafts = sl->n_drafts;
    uint32_t base = sl->n_cache - n_drafts; /* held, with the pending token */
    uint32_t i = 0;
    for (;; i++) {
        sl->n_cache = base + i; /* what the cache holds before row i's token */
        sample_slot(s, sl, sl->row + (int32_t)i);
        if (sl->job->error[0] || sl->finish || i == n_drafts || sl->next != sl->drafts[i])
            break;
    }
    tsr_error err;
    if (i < n_drafts &&
        tsr_kv_seq_remove(s->ctx, sl->seq, (int32_t)(base + i), -1, &err) != TSR_OK &&
        !sl->job->error[0])
        snprintf(sl->job->error, sizeof sl->job->error, "%s", err.message);
    if (sl->spec_started && !sl->job->error[0] && !sl->finish) {
        /* The strategy hears what was kept: the drafts taken, then next. */
        sl->drafts[i] = sl->next;
        tsr_spec_report(s->ctx, sl->seq, n_drafts, i, sl->drafts, i + 1, seconds);
    }
    return i;
}

/* Publishes what sample_slot staged; lock held. */
static void publish_slot(serve_sched *s, slot *sl, double now)
{
    serve_job *job = sl->job;
    serve_choice *c = &job->choices[sl->choice];
    if (job->error[0]) {
        job_fail(s, job, job->error);
        return;
    }
    size_t n = sl->text.released - sl->stage_from;
    if (n && grow((void **)&c->text, &c->text_cap, c->n_text + n + 1, 1)) {
        memcpy(c->text + c->n_text, sl->text.bytes + sl->stage_from, n);
        c->n_text += n;
        c->text[c->n_text] = '\0';
    }
    if (sl->n_logprobs && grow((void **)&c->logprobs, &c->logprobs_cap,
                               c->n_logprobs + sl->n_logprobs, sizeof *c->logprobs)) {
        memcpy(c->logprobs + c->n_logprobs, sl->logprobs, sl->n_logprobs * sizeof *sl->logprobs);
        c->n_logprobs += sl->n_logprobs;
    }
    c->n_tokens += sl->n_staged;
    s->metrics.generated_tokens += sl->n_staged;
    if (!job->t_first)
        job->t_first = now;
    pthread_cond_broadcast(&job->changed);
    if (sl->finish) {
        c->finish_reason = sl->finish;
        slot_release(s, sl);
    } else {
        sl->state = SLOT_GENERATE;
    }
}

/* A leader that has read its prompt gives each follower a copy of it. */
static void start_followers(serve_sched *s, slot *leader)
{
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *f = &s->slots[i];
        if (f->state != SLOT_FOLLOW || f->leader != leader)
            continue;
        tsr_error err;
        if (tsr_kv_seq_copy(s->ctx, leader->seq, f->seq, leader->n_cache, &err) != TSR_OK) {
            snprintf(f->job->error, sizeof f->job->error, "%s", err.message);
            continue;
        }
        memcpy(f->cache, leader->cache, leader->n_cache * sizeof *f->cache);
        f->n_cache = leader->n_cache;
        f->row = leader->row;
        f->state = SLOT_GENERATE;
    }
}

static bool abort_requested(void *ctx)
{
    serve_sched *s = ctx;
    return __atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
}

/* Decodes one batch and samples its outputs; false when nothing ran. */
static bool step(serve_sched *s)
{
    build_batch(s);
    if (s->batch->n_tokens == 0)
        return false;
    tsr_error err;
    double t0 = serve_now();
    tsr_status st = tsr_decode(s->ctx, s->batch, &err);
    double t1 = serve_now();
    if (st != TSR_OK) {
        unbuild_batch(s);
        pthread_mutex_lock(&s->mutex);
        const char *why = st == TSR_ERR_ABORTED && s->stopping ? "the server is shutting down"
                                                                : err.message;
        for (uint32_t i = 0; i < s->n_slots; i++)
            if (s->slots[i].job && s->slots[i].in_batch)
                job_fail(s, s->slots[i].job, why);
        pthread_mutex_unlock(&s->mutex);
        return true;
    }
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->state == SLOT_PREFILL && sl->row >= 0)
            start_followers(s, sl);
    }
    uint64_t drafted = 0, accepted = 0, verifications = 0;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        sl->stage_from = sl->text.released;
        sl->n_staged = sl->n_logprobs = 0;
        sl->finish = NULL;
        if (sl->row < 0 || sl->job->error[0])
            continue;
        uint32_t n_drafts = sl->n_drafts;
        uint32_t kept = sample_rows(s, sl, (t1 - t0) * (1 + n_drafts) / s->batch->n_tokens);
        drafted += n_drafts;
        accepted += kept;
        verifications += n_drafts > 0;
    }
    pthread_mutex_lock(&s->mutex);
    s->metrics.spec_verifications += verifications;
    s->metrics.spec_drafted += drafted;
    s->metrics.spec_accepted += accepted;
    s->metrics.decode_steps++;
    s->metrics.decode_rows += s->batch->n_tokens;
    s->metrics.decode_seconds += t1 - t0;
    uint64_t held = 0;
    for (uint32_t i = 0; i < s->n_slots; i++)
        held += s->slots[i].n_cache;
    s->metrics.kv_tokens = held;
    for (uint32_t i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->job && sl->row >= 0)
            publish_slot(s, sl, t1);
    }
    pthread_mutex_unlock(&s->mutex);
    return true;
}

/* Under mpirun: every stage's figures into the metrics. Only this thread
 * talks to the other ranks while serving, between decodes. A stage that
 * does not answer fails the next decode too, which says so. Lock not held. */
static void collect_stages(serve_sched *s)
{
    s->stages_at = serve_now();
    s->stages_stale = false;
    tsr_error err = {0};
    if (tsr_dist_size() < 2 || tsr_dist_collect_stats(s->d, &err) != TSR_OK)
        return;
    serve_stage_metrics stages[SERVE_MAX_STAGES];
    uint32_t n = tsr_dist_size() < SERVE_MAX_STAGES ? tsr_dist_size() : SERVE_MAX_STAGES;
    for (uint32_t r = 0; r < n; r++) {
        tsr_dist_stats d = {.struct_size = sizeof d};
        if (!tsr_dist_stage_stats(s->d, r, &d))
            return;
        stages[r] = (serve_stage_metrics){
            .rank = d.rank, .first_layer = d.first_layer, .last_layer = d.last_layer,
            .compute_s = d.compute_s, .wait_s = d.wait_s, .idle_share = d.idle_share,
            .rows = d.rows, .bytes_sent = d.bytes_sent, .hop_latency_s = d.hop_latency_s,
            .hop_bytes_per_s = d.hop_bytes_per_s};
        snprintf(stages[r].host, sizeof stages[r].host, "%s", d.host ? d.host : "");
    }
    pthread_mutex_lock(&s->mutex);
    memcpy(s->metrics.stages, stages, n * sizeof *stages);
    s->metrics.n_stages = n;
    pthread_mutex_unlock(&s->mutex);
}

static void *run(void *arg)
{
    serve_sched *s = arg;
    if (tsr_dist_size() > 1)
        collect_stages(s);
    pthread_mutex_lock(&s->mutex);
    while (!s->stopping) {
        housekeeping(s);
        if (s->busy_slots == 0) {
            if (s->stages_stale) {
                pthread_mutex_unlock(&s->mutex);
                collect_stages(s);
                pthread_mutex_lock(&s->mutex);
                continue;
            }
            pthread_cond_wait(&s->wake, &s->mutex);
            continue;
        }
        pthread_mutex_unlock(&s->mutex);
        s->stages_stale |= step(s) && tsr_dist_size() > 1;
        if (s->stages_stale && serve_now() - s->stages_at >= 1.0)
            collect_stages(s);
        pthread_mutex_lock(&s->mutex);
    }
    /* Stopping: whatever is left ends as failed. */
    for (uint32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job)
            job_fail(s, s->slots[i].job, "the server is shutting down");
    for (size_t i = 0; i < s->n_waiting; i++) {
        snprintf(s->waiting[i]->error, sizeof s->waiting[i]->error, "the server is shutting down");
        s->running_jobs++;
        job_done(s, s->waiting[i]);
    }
    s->n_waiting = 0;
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

/* ---- lifetime ------------------------------------------------------- */

tsr_status serve_sched_start(tsr_deployment *d, const serve_sched_options *options,
                             serve_sched **out, tsr_error *err)
{
    *out = NULL;
    serve_sched *s = calloc(1, sizeof *s);
    if (!s)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    s->d = d;
    s->options = *options;
    if (s->options.prefill_chunk == 0)
        s->options.prefill_chunk = 1;
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->wake, NULL);
    tsr_context_params cp;
    tsr_context_params_init(&cp);
    cp.abort = abort_requested;
    cp.abort_ctx = s;
    tsr_status st = tsr_context_create(d, &cp, &s->ctx, err);
    if (st == TSR_OK)
        st = tsr_batch_open(tsr_deployment_n_batch(d), &s->batch, err);
    if (st == TSR_OK) {
        s->n_slots = tsr_context_n_seq_max(s->ctx);
        s->max_seq_len = tsr_deployment_max_seq_len(d);
        s->n_batch = tsr_deployment_n_batch(d);
        s->n_vocab = tsr_deployment_n_vocab(d);
        /* The plan gives each sequence speculative.tokens + 1 output rows. */
        if (tsr_deployment_speculation(d) && s->n_slots)
            s->max_drafts = tsr_deployment_n_outputs(d) / s->n_slots - 1;
        s->slots = calloc(s->n_slots, sizeof *s->slots);
        s->biased = malloc(s->n_vocab * sizeof *s->biased);
        if (!s->slots || !s->biased)
            st = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; st == TSR_OK && i < s->n_slots; i++) {
        s->slots[i].seq = (int32_t)i;
        slot *sl = &s->slots[i];
        sl->cache = malloc(s->max_seq_len * sizeof *sl->cache);
        sl->drafts = malloc((s->max_drafts + 1) * sizeof *sl->drafts);
        sl->logprobs = malloc((s->max_drafts + 1) * sizeof *sl->logprobs);
        if (!sl->cache || !sl->drafts || !sl->logprobs)
            st = tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    }
    s->metrics.slots = s->n_slots;
    s->metrics.kv_capacity = (uint64_t)s->n_slots * s->max_seq_len;
    if (st == TSR_OK && pthread_create(&s->thread, NULL, run, s) != 0)
        st = tsr_error_set(err, TSR_ERR_NOMEM, "cannot start the scheduler's thread");
    if (st != TSR_OK) {
        serve_sched_stop(s);
        return st;
    }
    s->thread_started = true;
    *out = s;
    return TSR_OK;
}

void serve_sched_drain(serve_sched *s)
{
    pthread_mutex_lock(&s->mutex);
    s->draining = true;
    pthread_mutex_unlock(&s->mutex);
}

bool serve_sched_busy(serve_sched *s)
{
    pthread_mutex_lock(&s->mutex);
    bool busy = s->running_jobs > 0 || s->n_waiting > 0;
    pthread_mutex_unlock(&s->mutex);
    return busy;
}

void serve_sched_halt(serve_sched *s)
{
    if (!s || !s->thread_started)
        return;
    pthread_mutex_lock(&s->mutex);
    __atomic_store_n(&s->stopping, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mutex);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

void serve_sched_stop(serve_sched *s)
{
    if (!s)
        return;
    serve_sched_halt(s);
    for (uint32_t i = 0; s->slots && i < s->n_slots; i++) {
        free(s->slots[i].cache);
        free(s->slots[i].drafts);
        free(s->slots[i].logprobs);
        serve_text_free(&s->slots[i].text);
    }
    free(s->slots);
    free(s->biased);
    free(s->waiting);
    tsr_batch_close(s->batch);
    tsr_context_free(s->ctx);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mutex);
    free(s);
}

void serve_sched_metrics(serve_sched *s, serve_metrics *out)
{
    pthread_mutex_lock(&s->mutex);
    *out = s->metrics;
    out->running = s->running_jobs;
    out->waiting = (uint32_t)s->n_waiting;
    out->slots_busy = s->busy_slots;
    pthread_mutex_unlock(&s->mutex);
}

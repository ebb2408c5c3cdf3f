/*
** Models and their slots.
**
** A model is one GGUF file loaded once (llama_model, shared read-only by
** every slot) plus a fixed array of slots. A slot owns a llama_context
** (its KV cache, created on first use so that an idle slot costs nothing)
** and a sampler chain. Acquirers that find every slot busy wait in a FIFO
** of at most queue_max entries, each until its own deadline; a released
** slot goes straight to the head of the queue, so no one is overtaken.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ai/llm_int.h"
#include "base/alloc.h"

#define CTX_DEFAULT_MAX 4096u

static uint32_t default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  /* Leave a core free: ggml's workers spin at every barrier, and with as
  ** many threads as cores, one busy core elsewhere collapses generation
  ** (measured ~35 -> 2-8 tokens/s on 2 cores; ../shared/local-llm.md). */
  return n > 1 ? (uint32_t)(n - 1) : 1u;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = wg_new_array(char, n);
  if (p) memcpy(p, s, n);
  return p;
}

/*
** Loads cfg->path. The runtime must be initialised (ai_llm_runtime_init
** is called here with the default directory if it was not).
*/
wg_err ai_llm_model_open(const ai_llm_model_cfg *cfg, ai_llm_model **out,
                         wg_error *err) {
  *out = NULL;
  if (!cfg->path || !*cfg->path)
    return wg_error_set(err, WG_EINVAL, "local model: no model_path");
  wg_err rc = ai_llm_runtime_init(NULL, err);
  if (rc) return rc;
  if (access(cfg->path, R_OK) != 0)
    return wg_error_set(err, WG_ENOTFOUND, "local model %s: %s", cfg->path,
                        strerror(errno));
  ai_llm_model *m = wg_new(ai_llm_model);
  if (!m) return wg_error_set(err, WG_ENOMEM, "local model: out of memory");
  atomic_init(&m->refs, 1);
  m->path = dup_str(cfg->path);
  m->nslots = cfg->slots ? cfg->slots : 1;
  m->slots = wg_new_array(ai_llm_session, m->nslots);
  if (!m->path || !m->slots) {
    rc = wg_error_set(err, WG_ENOMEM, "local model: out of memory");
    goto fail;
  }
  struct llama_model_params mp = LL->llama_model_default_params();
  mp.n_gpu_layers = 0;
  m->lm = LL->llama_model_load_from_file(cfg->path, mp);
  if (!m->lm) {
    rc = wg_error_set(err, WG_EINVAL,
                      "local model %s: llama.cpp could not load it (not a "
                      "GGUF model of a supported architecture?)",
                      cfg->path);
    goto fail;
  }
  m->vocab = LL->llama_model_get_vocab(m->lm);
  uint32_t train = (uint32_t)LL->llama_model_n_ctx_train(m->lm);
  m->n_ctx = cfg->ctx_size ? cfg->ctx_size
                           : (train && train < CTX_DEFAULT_MAX ? train
                                                               : CTX_DEFAULT_MAX);
  if (m->n_ctx < 16) {
    rc = wg_error_set(err, WG_EINVAL, "local model %s: ctx_size %u < 16",
                      cfg->path, m->n_ctx);
    goto fail;
  }
  m->n_batch = cfg->batch_size ? cfg->batch_size : 512;
  if (m->n_batch > m->n_ctx) m->n_batch = m->n_ctx;
  m->n_threads = cfg->threads ? cfg->threads : default_threads();
  m->queue_max = cfg->queue ? cfg->queue : 4 * m->nslots;
  for (uint32_t i = 0; i < m->nslots; i++) {
    m->slots[i].m = m;
    m->slots[i].index = i;
  }
  pthread_mutex_init(&m->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->cond, &ca);
  pthread_condattr_destroy(&ca);
  *out = m;
  return WG_OK;
fail:
  if (m->lm) LL->llama_model_free(m->lm);
  if (m->path) wg_free(m->path, strlen(m->path) + 1);
  if (m->slots) wg_free_array(m->slots, m->nslots);
  wg_free_obj(m);
  return rc;
}

/* One more owner. */
void ai_llm_model_ref(ai_llm_model *m) { atomic_fetch_add(&m->refs, 1); }

/* Drops an owner; the last one frees the contexts and the model. Every
** session must have been released. */
void ai_llm_model_unref(ai_llm_model *m) {
  if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
  for (uint32_t i = 0; i < m->nslots; i++) {
    ai_llm_session *s = &m->slots[i];
    if (s->smpl) LL->llama_sampler_free(s->smpl);
    if (s->gram) LL->llama_sampler_free(s->gram);
    if (s->cand) wg_free_array(s->cand, s->ncand);
    if (s->ctx) LL->llama_free(s->ctx);
    if (s->ectx) LL->llama_free(s->ectx);
    if (s->embd) wg_free_array(s->embd, ai_llm__n_embd(m));
    if (s->toks) wg_free_array(s->toks, s->ntoks_cap);
    if (s->piece) wg_free(s->piece, s->piece_cap);
  }
  LL->llama_model_free(m->lm);
  pthread_mutex_destroy(&m->lock);
  pthread_cond_destroy(&m->cond);
  wg_free(m->path, strlen(m->path) + 1);
  wg_free_array(m->slots, m->nslots);
  wg_free_obj(m);
}

/* Context size of each slot. */
uint32_t ai_llm_model_ctx_size(const ai_llm_model *m) { return m->n_ctx; }

/* Busy slots and waiting acquirers, now. */
void ai_llm_model_load(const ai_llm_model *m, uint32_t *busy,
                       uint32_t *waiting) {
  ai_llm_model *mm = (ai_llm_model *)m;
  pthread_mutex_lock(&mm->lock);
  if (busy) *busy = mm->busy;
  if (waiting) *waiting = mm->waiting;
  pthread_mutex_unlock(&mm->lock);
}

static bool on_abort(void *ud) {
  ai_llm_session *s = ud;
  if (atomic_load_explicit(&s->cancel, memory_order_relaxed)) return true;
  uint64_t d = atomic_load_explicit(&s->deadline_ms, memory_order_relaxed);
  return d && ai_llm__now_ms() >= d;
}

/* The parameters of a context of n_ctx tokens on m: one sequence, m's
** batch and threads. */
static struct llama_context_params ctx_params(const ai_llm_model *m,
                                             uint32_t n_ctx) {
  struct llama_context_params cp = LL->llama_context_default_params();
  cp.n_ctx = n_ctx;
  cp.n_batch = m->n_batch;
  cp.n_ubatch = m->n_batch;
  cp.n_seq_max = 1;
  cp.n_threads = (int32_t)m->n_threads;
  cp.n_threads_batch = (int32_t)m->n_threads;
  cp.no_perf = true;
  return cp;
}

/* Creates the slot's context on first use. */
wg_err ai_llm__session_ctx(ai_llm_session *s, wg_error *err) {
  if (s->ctx) return WG_OK;
  ai_llm_model *m = s->m;
  struct llama_context_params cp = ctx_params(m, m->n_ctx);
  s->ctx = LL->llama_init_from_model(m->lm, cp);
  if (!s->ctx)
    return wg_error_set(err, WG_ENOMEM,
                        "local model %s: cannot create a context of %u "
                        "tokens", m->path, m->n_ctx);
  LL->llama_set_abort_callback(s->ctx, on_abort, s);
  return WG_OK;
}

/* The model's n_embd (the length of an embedding). */
uint32_t ai_llm__n_embd(const ai_llm_model *m) {
  int32_t n = LL->llama_model_n_embd(m->lm);
  return n > 0 ? (uint32_t)n : 0;
}

static struct llama_context *embd_ctx(ai_llm_model *m,
                                      enum llama_pooling_type pool) {
  /* One batch is pooled at a time, so the context need hold no more. */
  struct llama_context_params cp = ctx_params(m, m->n_batch);
  cp.embeddings = true;
  cp.pooling_type = pool;
  return LL->llama_init_from_model(m->lm, cp);
}

/*
** Creates the slot's embedding context on first use: pooling as the model
** says (GGUF <arch>.pooling_type), or mean when it names none (a generative
** model such as LLaMA), so that a prompt gives one vector. Kept apart from
** the generation context so that a slot serving both never recreates
** either.
*/
wg_err ai_llm__session_ectx(ai_llm_session *s, wg_error *err) {
  if (s->ectx) return WG_OK;
  ai_llm_model *m = s->m;
  s->ectx = embd_ctx(m, LLAMA_POOLING_TYPE_UNSPECIFIED);
  if (s->ectx && LL->llama_pooling_type(s->ectx) != LLAMA_POOLING_TYPE_MEAN &&
      LL->llama_pooling_type(s->ectx) != LLAMA_POOLING_TYPE_CLS &&
      LL->llama_pooling_type(s->ectx) != LLAMA_POOLING_TYPE_LAST) {
    LL->llama_free(s->ectx);   /* none (or rank): pool by mean */
    s->ectx = embd_ctx(m, LLAMA_POOLING_TYPE_MEAN);
  }
  if (!s->ectx)
    return wg_error_set(err, WG_ENOMEM,
                        "local model %s: cannot create an embedding context "
                        "of %u tokens", m->path, m->n_batch);
  LL->llama_set_abort_callback(s->ectx, on_abort, s);
  return WG_OK;
}

static ai_llm_session *free_slot(ai_llm_model *m) {
  for (uint32_t i = 0; i < m->nslots; i++)
    if (!m->slots[i].in_use) return &m->slots[i];
  return NULL;
}

static void take(ai_llm_model *m, ai_llm_session *s) {
  s->in_use = true;
  m->busy++;
  atomic_store(&s->cancel, false);
  atomic_store(&s->deadline_ms, 0);
  s->has_input = false;
  s->has_embd = false;
  s->has_pending = false;
  s->generated = 0;
}

/*
** Takes a free slot, or waits in FIFO order until deadline_ms. WG_ELIMIT
** when the queue is full, when deadline_ms is 0 and no slot is free, or
** when the wait timed out.
*/
wg_err ai_llm_session_acquire(ai_llm_model *m, uint64_t deadline_ms,
                              ai_llm_session **out) {
  *out = NULL;
  pthread_mutex_lock(&m->lock);
  ai_llm_session *s = m->head ? NULL : free_slot(m);
  if (s) {
    take(m, s);
    pthread_mutex_unlock(&m->lock);
    *out = s;
    return WG_OK;
  }
  if (!deadline_ms || m->waiting >= m->queue_max) {
    pthread_mutex_unlock(&m->lock);
    return WG_ELIMIT;
  }
  ai_llm_waiter w = {NULL, NULL};
  if (m->tail) m->tail->next = &w;
  else m->head = &w;
  m->tail = &w;
  m->waiting++;
  struct timespec ts = {(time_t)(deadline_ms / 1000),
                        (long)(deadline_ms % 1000) * 1000000L};
  while (!w.granted) {
    int rc = pthread_cond_timedwait(&m->cond, &m->lock, &ts);
    if (rc == ETIMEDOUT && !w.granted) break;
  }
  if (!w.granted) {   /* timed out: leave the queue */
    ai_llm_waiter **pp = &m->head, *prev = NULL;
    while (*pp != &w) { prev = *pp; pp = &(*pp)->next; }
    *pp = w.next;
    if (m->tail == &w) m->tail = prev;
    m->waiting--;
    pthread_mutex_unlock(&m->lock);
    return WG_ELIMIT;
  }
  pthread_mutex_unlock(&m->lock);
  *out = w.granted;
  return WG_OK;
}

/* Gives the slot back: to the first waiter if there is one. */
void ai_llm_session_release(ai_llm_session *s) {
  if (!s) return;
  ai_llm_model *m = s->m;
  pthread_mutex_lock(&m->lock);
  s->in_use = false;
  m->busy--;
  ai_llm_waiter *w = m->head;
  if (w) {
    m->head = w->next;
    if (!m->head) m->tail = NULL;
    m->waiting--;
    take(m, s);
    w->granted = s;
    pthread_cond_broadcast(&m->cond);
  }
  pthread_mutex_unlock(&m->lock);
}

/* From any thread: stops the running decode and the generation. */
void ai_llm_session_cancel(ai_llm_session *s) {
  atomic_store(&s->cancel, true);
}

/* Deadline checked between tokens and inside decodes (0: none). */
void ai_llm_session_set_deadline(ai_llm_session *s, uint64_t deadline_ms) {
  atomic_store(&s->deadline_ms, deadline_ms);
}

/* ------------------------------------------------------------------ */
/* Chat templates                                                      */

/*
** Applies the model's template (tokenizer.chat_template, when llama.cpp
** recognises it among its built-in formats) or else "chatml", with the
** assistant prefix added.
*/
wg_err ai_llm_apply_template(const ai_llm_model *m, const ai_llm_msg *msgs,
                             size_t n, wg_buf *out, wg_error *err) {
  struct llama_chat_message stackmsgs[16];
  struct llama_chat_message *cm = stackmsgs;
  size_t total = 0;
  if (n > 16) {
    cm = wg_new_array(struct llama_chat_message, n);
    if (!cm) return wg_error_set(err, WG_ENOMEM, "template: out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    cm[i].role = msgs[i].role;
    cm[i].content = msgs[i].content;
    total += strlen(msgs[i].content) + strlen(msgs[i].role);
  }
  wg_err rc = WG_OK;
  const char *tmpl = LL->llama_model_chat_template(m->lm, NULL);
  size_t cap = 2 * total + 256;
  char *buf = NULL;
  int32_t got = -1;
  for (int pass = 0; pass < 2; pass++) {
    buf = wg_new_array(char, cap);
    if (!buf) {
      rc = wg_error_set(err, WG_ENOMEM, "template: out of memory");
      goto done;
    }
    if (cap > INT32_MAX) {
      rc = wg_error_set(err, WG_ELIMIT, "template: prompt too long");
      goto done;
    }
    got = tmpl ? LL->llama_chat_apply_template(tmpl, cm, n, true, buf,
                                               (int32_t)cap)
               : -1;
    if (got < 0)   /* no template, or not one llama.cpp knows */
      got = LL->llama_chat_apply_template("chatml", cm, n, true, buf,
                                          (int32_t)cap);
    if (got < 0) {
      rc = wg_error_set(err, WG_EINVAL, "template: cannot format messages");
      goto done;
    }
    if ((size_t)got < cap) break;
    wg_free(buf, cap);
    buf = NULL;
    cap = (size_t)got + 1;
  }
  wg_buf_reset(out);
  if (wg_buf_append(out, buf, (size_t)got))
    rc = wg_error_set(err, WG_ELIMIT, "template: prompt too long");
done:
  if (buf) wg_free(buf, cap);
  if (cm != stackmsgs) wg_free_array(cm, n);
  return rc;
}

/*
** wasi_ephemeral_nn: the 12 host functions, the handle tables and the
** graph/context state machine of one execution (see include/wasmgate/nn.h
** and shared/wasi-nn.md for the ABI).
**
** Every parameter and result is an i32. Out-values go through guest
** pointers as little-endian u32, written only on success (get_output*
** also writes the needed size with errno 7). Every pointer and length is
** checked through wg_memory_translate before anything is read, written or
** done; a bad one gives errno 1. A caller without a memory traps, as in
** WasmEdge.
**
** Handles: graphs and contexts come from two counters starting at 0, never
** reused (a stale handle stops resolving; it never names a newer object);
** past 2^32 ids, or past WG_NN_MAX_GRAPHS / WG_NN_MAX_CONTEXTS live ones,
** errno 5. A graph is Ready until unload, then Detached: its handle stops
** resolving at once, and its contexts keep it (and its model) alive; they
** may still read outputs, fini_single and finalize, but not set_input or
** compute (errno 1).
*/
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/alloc.h"
#include "nn/nn_int.h"

/* Past the run's deadline, the slot's own deadline aborts a decode that is
** still running; the watchdog normally interrupts the store first. */
#define DEADLINE_GRACE_MS 100u
/* The largest piece of one token. */
#define PIECE_MAX 4096u

typedef struct wgn_graph {
  uint32_t id;
  int refs;                 /* the handle (until unload) + one per context */
  wgn_model *hm;            /* a host model, or NULL ... */
  void *own;                /* ... a model loaded from guest bytes */
  bool cached;              /* in the load_by_name cache (hm != NULL) */
  wgn_params params;
} wgn_graph;

typedef struct wgn_ctx {
  uint32_t id;
  wgn_graph *g;
  wgn_params params;
  wg_buf prompt;            /* input 0 */
  bool has_prompt;
  wg_buf out;               /* output 0: the text so far */
  wg_buf last;              /* get_output_single 0: the last piece */
  wg_buf meta;              /* output 1, made on demand */
  uint32_t in_tokens, out_tokens;
  void *session;            /* held during compute and while streaming */
  bool started;             /* compute_single evaluated the prompt */
} wgn_ctx;

struct wg_nn {
  wg_nn_host *host;
  const wg_nn_backend *b;
  char **models;            /* allowed names (all_models: any) */
  size_t nmodels;
  bool all_models;
  wg_nn_tokens_fn tokens;
  void *tokens_user;
  wgn_front front;           /* the guest side in this process */
  wg_store *store;
  uint64_t deadline_ms;
  bool (*cancelled)(void *user);   /* wg_nn_set_cancel */
  void *cancel_user;
  wgn_graph *graphs[WG_NN_MAX_GRAPHS];
  size_t ngraphs;
  uint64_t next_graph;
  wgn_ctx *ctxs[WG_NN_MAX_CONTEXTS];
  size_t nctxs;
  uint64_t next_ctx;
  uint64_t used_prompt, used_completion;
  wg_buf wire;              /* wg_nn_serve's answer */
};

/* What an operation sees. */
typedef struct nn_call {
  wg_nn *nn;
  bool interrupted;         /* set: the call traps with WG_TRAP_INTERRUPT */
} nn_call;

typedef uint32_t (*nn_handler)(nn_call *c, const wg_nn_call_args *a,
                               wg_nn_call_result *r);

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}


/* ------------------------------------------------------------------ */
/* Handles                                                             */

static wgn_graph *graph_get(wg_nn *nn, uint32_t id) {
  for (size_t i = 0; i < nn->ngraphs; i++)
    if (nn->graphs[i]->id == id) return nn->graphs[i];
  return NULL;
}

static wgn_ctx *ctx_get(wg_nn *nn, uint32_t id) {
  for (size_t i = 0; i < nn->nctxs; i++)
    if (nn->ctxs[i]->id == id) return nn->ctxs[i];
  return NULL;
}

static void *graph_model(const wgn_graph *g) { return g->hm ? g->hm->model : g->own; }

static void graph_unref(wg_nn *nn, wgn_graph *g) {
  if (--g->refs > 0) return;
  if (g->own) nn->b->close(g->own);
  wgn_params_free(&g->params);
  wg_free_obj(g);
}

/* Removes g's handle (unload, or the end of the execution). */
static void graph_detach(wg_nn *nn, wgn_graph *g) {
  for (size_t i = 0; i < nn->ngraphs; i++)
    if (nn->graphs[i] == g) {
      nn->graphs[i] = nn->graphs[--nn->ngraphs];
      break;
    }
  g->cached = false;
  graph_unref(nn, g);
}

static bool graph_ready(wg_nn *nn, const wgn_graph *g) {
  for (size_t i = 0; i < nn->ngraphs; i++)
    if (nn->graphs[i] == g) return true;
  return false;
}

/* Publishes a fully built graph; errno 5 when the table or ids run out
** (g is then freed). */
static uint32_t graph_publish(wg_nn *nn, wgn_graph *g, uint32_t *id) {
  if (nn->ngraphs >= WG_NN_MAX_GRAPHS || nn->next_graph > UINT32_MAX) {
    graph_unref(nn, g);
    return WG_NN_RUNTIME_ERROR;
  }
  g->id = *id = (uint32_t)nn->next_graph++;
  nn->graphs[nn->ngraphs++] = g;
  return WG_NN_SUCCESS;
}

static void session_release(wg_nn *nn, wgn_ctx *x) {
  if (x->session) nn->b->release(x->session);
  x->session = NULL;
  x->started = false;
}

static void ctx_free(wg_nn *nn, wgn_ctx *x) {
  session_release(nn, x);
  wg_buf_free(&x->prompt);
  wg_buf_free(&x->out);
  wg_buf_free(&x->last);
  wg_buf_free(&x->meta);
  wgn_params_free(&x->params);
  graph_unref(nn, x->g);
  wg_free_obj(x);
}

/* ------------------------------------------------------------------ */
/* Executions                                                          */

static bool local_call(void *user, const wg_nn_call_args *a,
                       wg_nn_call_result *r);

static void free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (v[i]) wg_free(v[i], strlen(v[i]) + 1);
  wg_free_array(v, n);
}

wg_nn *wg_nn_new(const wg_nn_config *cfg) {
  wg_nn *nn = wg_new(wg_nn);
  if (!nn) return NULL;
  nn->host = cfg->host;
  nn->b = cfg->host->b;
  nn->all_models = cfg->all_models;
  nn->tokens = cfg->tokens;
  nn->tokens_user = cfg->tokens_user;
  nn->front.call = local_call;
  nn->front.user = nn;
  wg_buf_init(&nn->wire, WG_NN_MAX_OUTPUT + 64u);
  if (cfg->nmodels) {
    if (!(nn->models = wg_new_array(char *, cfg->nmodels))) goto fail;
    nn->nmodels = cfg->nmodels;
    for (size_t i = 0; i < cfg->nmodels; i++) {
      size_t n = strlen(cfg->models[i]);
      if (!(nn->models[i] = wg_realloc_(NULL, 0, n + 1))) goto fail;
      memcpy(nn->models[i], cfg->models[i], n + 1);
    }
  }
  return nn;
fail:
  if (nn->models) free_names(nn->models, nn->nmodels);
  wg_free_obj(nn);
  return NULL;
}

void wg_nn_free(wg_nn *nn) {
  if (!nn) return;
  while (nn->nctxs) ctx_free(nn, nn->ctxs[--nn->nctxs]);
  while (nn->ngraphs) graph_detach(nn, nn->graphs[nn->ngraphs - 1]);
  if (nn->models) free_names(nn->models, nn->nmodels);
  wg_buf_free(&nn->wire);
  wg_free_obj(nn);
}

void wg_nn_bind_store(wg_nn *nn, wg_store *s, uint64_t deadline_ms) {
  wgn_front_bind(&nn->front, s);
  nn->store = s;
  nn->deadline_ms = deadline_ms;
}

void wg_nn_usage(const wg_nn *nn, uint64_t *prompt, uint64_t *completion) {
  if (prompt) *prompt = nn->used_prompt;
  if (completion) *completion = nn->used_completion;
}

bool wg_nn_module_uses(const wg_module *m) {
  size_t len = strlen(WG_NN_MODULE);
  for (uint32_t i = 0; i < wg_module_import_count(m); i++) {
    wg_import_desc d = wg_module_import(m, i);
    if (d.module.len == len && !memcmp(d.module.ptr, WG_NN_MODULE, len)) return true;
  }
  return false;
}

static bool allowed(const wg_nn *nn, const char *name, size_t len) {
  if (nn->all_models) return true;
  for (size_t i = 0; i < nn->nmodels; i++)
    if (strlen(nn->models[i]) == len && !memcmp(nn->models[i], name, len)) return true;
  return false;
}

/* ------------------------------------------------------------------ */
/* load, load_by_name, load_by_name_with_config, unload                */

/* WasmEdge's encodings (0..14 without 8); GGML is 6, autodetect 5. */
static bool encoding_known(uint32_t e) { return e <= 14 && e != 8; }

static uint32_t nn_load(nn_call *c, const wg_nn_call_args *a,
                        wg_nn_call_result *r) {
  wg_nn *nn = c->nn;
  (void)r;
  if (a->n == 0) return WG_NN_INVALID_ARGUMENT;
  if (a->b > 2) return WG_NN_INVALID_ARGUMENT;          /* cpu, gpu, tpu */
  if (!encoding_known(a->a)) return WG_NN_INVALID_ENCODING;
  if (a->a != 5 && a->a != 6) return WG_NN_INVALID_ARGUMENT;  /* no such backend */
  if (!nn->host->cfg.allow_guest_load) return WG_NN_INVALID_ARGUMENT;
  const uint8_t *model = a->data[0];
  if (model && a->len[0] >= 8 && !memcmp(model, "preload:", 8))
    return WG_NN_INVALID_ARGUMENT;                      /* a host path */
  if (a->size > nn->host->cfg.max_guest_model_bytes) return WG_NN_TOO_LARGE;
  if (!model || a->len[0] != a->size) return WG_NN_TOO_LARGE;  /* not passed */
  if (a->n < 2 && a->data[1]) return WG_NN_INVALID_ARGUMENT;
  if (nn->ngraphs >= WG_NN_MAX_GRAPHS || nn->next_graph > UINT32_MAX)
    return WG_NN_RUNTIME_ERROR;
  wgn_graph *g = wg_new(wgn_graph);
  if (!g) return WG_NN_RUNTIME_ERROR;
  g->refs = 1;
  wgn_params_init(&g->params);
  uint32_t e = WG_NN_SUCCESS;
  if (a->n > 1) e = wgn_params_apply(nn->b, &g->params, a->data[1] ? a->data[1]
                                     : (const uint8_t *)"", a->len[1]);
  if (!e) e = wgn_host_open_bytes(nn->host, model, a->len[0], &g->own);
  if (e) {
    graph_unref(nn, g);
    return e;
  }
  return graph_publish(nn, g, &r->value);
}

/* load_by_name and _with_config (the config in data[1], b its length). */
static uint32_t nn_load_named(nn_call *c, const wg_nn_call_args *a,
                              wg_nn_call_result *r) {
  wg_nn *nn = c->nn;
  const char *name = a->data[0] ? (const char *)a->data[0] : "";
  uint32_t len = a->len[0];
  if (a->size != len || len > WG_NN_MAX_NAME) return WG_NN_NOT_FOUND;
  for (size_t i = 0; i < nn->ngraphs; i++) {
    wgn_graph *g = nn->graphs[i];
    if (g->cached && strlen(g->hm->name) == len && !memcmp(g->hm->name, name, len)) {
      r->value = g->id;               /* cached: the config is ignored */
      return WG_NN_SUCCESS;
    }
  }
  wgn_model *m = wgn_host_find(nn->host, name, len);
  if (!m || !allowed(nn, name, len)) return WG_NN_NOT_FOUND;
  bool with_cfg = a->op == WG_NN_OP_LOAD_BY_NAME_WITH_CONFIG;
  if (with_cfg && a->b > WG_NN_MAX_CONFIG) return WG_NN_TOO_LARGE;
  if (with_cfg && a->len[1] != a->b) return WG_NN_INVALID_ARGUMENT;
  if (nn->ngraphs >= WG_NN_MAX_GRAPHS || nn->next_graph > UINT32_MAX)
    return WG_NN_RUNTIME_ERROR;
  wgn_graph *g = wg_new(wgn_graph);
  if (!g) return WG_NN_RUNTIME_ERROR;
  g->refs = 1;
  g->hm = m;
  wgn_params_init(&g->params);
  uint32_t e = WG_NN_SUCCESS;
  if (with_cfg)
    e = wgn_params_apply(nn->b, &g->params,
                         a->data[1] ? a->data[1] : (const uint8_t *)"", a->len[1]);
  void *model;
  if (!e) e = wgn_host_open(nn->host, m, &model);
  if (e) {
    graph_unref(nn, g);
    return e;
  }
  g->cached = true;
  return graph_publish(nn, g, &r->value);
}

static uint32_t nn_unload(nn_call *c, const wg_nn_call_args *a,
                          wg_nn_call_result *r) {
  (void)r;
  wgn_graph *g = graph_get(c->nn, a->h);
  if (!g) return WG_NN_INVALID_ARGUMENT;
  graph_detach(c->nn, g);
  return WG_NN_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Contexts and inputs                                                 */

static uint32_t nn_init_execution_context(nn_call *c, const wg_nn_call_args *a,
                                          wg_nn_call_result *r) {
  wg_nn *nn = c->nn;
  wgn_graph *g = graph_get(nn, a->h);
  if (!g) return WG_NN_INVALID_ARGUMENT;
  if (nn->nctxs >= WG_NN_MAX_CONTEXTS || nn->next_ctx > UINT32_MAX)
    return WG_NN_RUNTIME_ERROR;
  wgn_ctx *x = wg_new(wgn_ctx);
  if (!x) return WG_NN_RUNTIME_ERROR;
  if (!wgn_params_copy(&x->params, &g->params)) {
    wg_free_obj(x);
    return WG_NN_RUNTIME_ERROR;
  }
  wg_buf_init(&x->prompt, WG_NN_MAX_INPUT);
  wg_buf_init(&x->out, WG_NN_MAX_OUTPUT);
  wg_buf_init(&x->last, PIECE_MAX);
  wg_buf_init(&x->meta, 1024);
  x->g = g;
  g->refs++;
  x->id = (uint32_t)nn->next_ctx++;
  nn->ctxs[nn->nctxs++] = x;
  r->value = x->id;
  return WG_NN_SUCCESS;
}

static uint32_t nn_finalize_execution_context(nn_call *c, const wg_nn_call_args *a,
                                              wg_nn_call_result *r) {
  wg_nn *nn = c->nn;
  (void)r;
  for (size_t i = 0; i < nn->nctxs; i++)
    if (nn->ctxs[i]->id == a->h) {
      wgn_ctx *x = nn->ctxs[i];
      nn->ctxs[i] = nn->ctxs[--nn->nctxs];
      ctx_free(nn, x);
      return WG_NN_SUCCESS;
    }
  return WG_NN_INVALID_ARGUMENT;
}

/* Tensor types (the low byte of the tensor struct's type field). */
enum { T_F16 = 0, T_F32 = 1, T_F64 = 2, T_U8 = 3, T_I32 = 4, T_I64 = 5 };

static uint32_t nn_set_input(nn_call *c, const wg_nn_call_args *a,
                             wg_nn_call_result *r) {
  wg_nn *nn = c->nn;
  (void)r;
  wgn_ctx *x = ctx_get(nn, a->h);
  if (!x) return WG_NN_INVALID_ARGUMENT;
  uint32_t type = a->b;
  if (type != T_F16 && type != T_F32 && type != T_U8 && type != T_I32)
    return WG_NN_INVALID_ARGUMENT;
  if (!graph_ready(nn, x->g)) return WG_NN_INVALID_ARGUMENT;
  if (a->size > WG_NN_MAX_INPUT) return WG_NN_TOO_LARGE;
  if (a->len[0] != a->size || (a->size && !a->data[0])) return WG_NN_INVALID_ARGUMENT;
  const uint8_t *data = a->data[0] ? a->data[0] : (const uint8_t *)"";
  uint32_t dlen = a->len[0];
  if (a->a == 1) {
    uint32_t e = wgn_params_apply(nn->b, &x->params, data, dlen);
    if (e) return e;
    /* sampling options live on the graph too (new contexts inherit) */
    wgn_params_free(&x->g->params);
    if (!wgn_params_copy(&x->g->params, &x->params)) return WG_NN_RUNTIME_ERROR;
    return WG_NN_SUCCESS;
  }
  session_release(nn, x);          /* a new prompt ends a stream */
  wg_buf_reset(&x->prompt);
  if (wg_buf_append(&x->prompt, data, dlen)) return WG_NN_RUNTIME_ERROR;
  x->has_prompt = true;
  return WG_NN_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Generation                                                          */

static bool holds_session_of(const wg_nn *nn, const void *model) {
  for (size_t i = 0; i < nn->nctxs; i++)
    if (nn->ctxs[i]->session && graph_model(nn->ctxs[i]->g) == model) return true;
  return false;
}

static bool interrupted(nn_call *c) {
  wg_nn *nn = c->nn;
  if (nn->store && wg_store_interrupted(nn->store)) return true;
  if (nn->cancelled && nn->cancelled(nn->cancel_user)) return true;
  return nn->deadline_ms && now_ms() >= nn->deadline_ms + DEADLINE_GRACE_MS;
}

/* After the backend said "cancelled": the run's deadline passed or the
** store was interrupted; wait (briefly) for the watchdog to mark the store
** so that the run ends as the timeout it is. */
static void settle_interrupt(nn_call *c) {
  wg_nn *nn = c->nn;
  for (int i = 0; i < 1000 && nn->store && !wg_store_interrupted(nn->store); i++) {
    struct timespec t = {0, 1000000};
    nanosleep(&t, NULL);
  }
  c->interrupted = true;
}

static uint32_t ctx_window(const wg_nn *nn, const wgn_ctx *x) {
  uint32_t n = nn->b->ctx_size(graph_model(x->g));
  if (x->params.ctx_size && x->params.ctx_size < n) n = x->params.ctx_size;
  return n;
}

static void clear_outputs(wgn_ctx *x) {
  wg_buf_reset(&x->out);
  wg_buf_reset(&x->last);
  x->in_tokens = x->out_tokens = 0;
}

/* Maps a backend status that ends a generation to the ABI errno. */
static uint32_t status_errno(nn_call *c, ai_llm_status st) {
  switch (st) {
    case AI_LLM_OK:
    case AI_LLM_EOG:
    case AI_LLM_STOP:
    case AI_LLM_LENGTH: return WG_NN_SUCCESS;
    case AI_LLM_CONTEXT_FULL: return WG_NN_CONTEXT_FULL;
    case AI_LLM_PROMPT_TOO_LONG: return WG_NN_PROMPT_TOO_LONG;
    case AI_LLM_CANCELLED: settle_interrupt(c); return WG_NN_RUNTIME_ERROR;
    case AI_LLM_NO_INPUT: return WG_NN_INVALID_ARGUMENT;
    case AI_LLM_DECODE_FAILED: break;
  }
  return WG_NN_RUNTIME_ERROR;
}

static bool charge(wg_nn *nn, uint32_t prompt, uint32_t completion) {
  nn->used_prompt += prompt;
  nn->used_completion += completion;
  return !nn->tokens || nn->tokens(nn->tokens_user, prompt, completion);
}

/* Takes a slot and evaluates the prompt; the ABI errno. */
static uint32_t start(nn_call *c, wgn_ctx *x) {
  wg_nn *nn = c->nn;
  if (!x->has_prompt) return WG_NN_INVALID_ARGUMENT;
  session_release(nn, x);
  clear_outputs(x);
  void *model = graph_model(x->g);
  uint64_t wait = 0;
  if (!holds_session_of(nn, model)) {   /* never wait on ourselves */
    wait = now_ms() + nn->host->cfg.queue_wait_ms;
    if (nn->deadline_ms && nn->deadline_ms < wait) wait = nn->deadline_ms;
  }
  if (nn->b->acquire(model, wait, &x->session)) {
    x->session = NULL;
    if (!interrupted(c)) return WG_NN_BUSY;
    settle_interrupt(c);
    return WG_NN_RUNTIME_ERROR;
  }
  if (nn->deadline_ms)
    nn->b->set_deadline(x->session, nn->deadline_ms + DEADLINE_GRACE_MS);
  ai_llm_params p;
  wgn_params_to_llm(&x->params, &p);
  wg_error err;
  wg_error_clear(&err);
  uint32_t ntok = 0;
  ai_llm_status st = nn->b->prompt(x->session, (const char *)x->prompt.data,
                                   x->prompt.len, &p, &ntok, &err);
  uint32_t r = status_errno(c, st);
  if (!r) {
    uint32_t win = ctx_window(nn, x);
    x->in_tokens = ntok;
    if (ntok + 4 > win && !p.embedding) r = WG_NN_PROMPT_TOO_LONG;
    else if (!charge(nn, ntok, 0)) r = WG_NN_BUSY;
  }
  if (r) session_release(nn, x);
  else x->started = true;
  return r;
}

/* One token: AI_LLM_OK / EOG with its piece appended, or how it ended
** (*r the errno). */
static bool step(nn_call *c, wgn_ctx *x, ai_llm_status *st, uint32_t *r) {
  wg_nn *nn = c->nn;
  *r = WG_NN_SUCCESS;
  if (interrupted(c)) {
    settle_interrupt(c);
    *r = WG_NN_RUNTIME_ERROR;
    return false;
  }
  if (x->in_tokens + x->out_tokens >= ctx_window(nn, x)) {
    *r = WG_NN_CONTEXT_FULL;
    return false;
  }
  const char *piece = "";
  size_t len = 0;
  *st = nn->b->step(x->session, &piece, &len);
  if (*st != AI_LLM_OK && *st != AI_LLM_EOG) {
    *r = status_errno(c, *st);
    if (!*r) *r = WG_NN_RUNTIME_ERROR;
    return false;
  }
  x->out_tokens++;
  if (len > PIECE_MAX) len = PIECE_MAX;
  wg_buf_reset(&x->last);
  if (wg_buf_append(&x->last, piece, len)) {
    *r = WG_NN_RUNTIME_ERROR;
    return false;
  }
  if (!charge(nn, 0, 1)) {
    *r = WG_NN_BUSY;
    return false;
  }
  return true;
}

static uint32_t nn_compute(nn_call *c, const wg_nn_call_args *a,
                           wg_nn_call_result *res) {
  wg_nn *nn = c->nn;
  (void)res;
  wgn_ctx *x = ctx_get(nn, a->h);
  if (!x || !graph_ready(nn, x->g)) return WG_NN_INVALID_ARGUMENT;
  uint32_t r = start(c, x);
  if (!r && x->params.embedding) {   /* output 0: the embedding's JSON */
    if (nn->b->embedding(x->session, &x->out)) r = WG_NN_RUNTIME_ERROR;
    session_release(nn, x);
    return r;
  }
  const char *rp = x->params.reverse_prompt;
  size_t rplen = rp ? strlen(rp) : 0;
  while (!r) {
    if (x->params.n_predict >= 0 && x->out_tokens >= x->params.n_predict) break;
    ai_llm_status st;
    if (!step(c, x, &st, &r)) break;
    if (st == AI_LLM_EOG) break;            /* its piece is not text */
    if (wg_buf_append(&x->out, x->last.data, x->last.len)) {
      r = WG_NN_RUNTIME_ERROR;
      break;
    }
    if (rplen && x->out.len >= rplen) {
      /* the reverse prompt may end anywhere in the new piece */
      size_t from = x->out.len - x->last.len;
      from = from > rplen ? from - rplen : 0;
      if (memmem(x->out.data + from, x->out.len - from, rp, rplen)) break;
    }
  }
  session_release(nn, x);
  return r;
}

static uint32_t nn_compute_single(nn_call *c, const wg_nn_call_args *a,
                                  wg_nn_call_result *res) {
  wg_nn *nn = c->nn;
  (void)res;
  wgn_ctx *x = ctx_get(nn, a->h);
  if (!x || !graph_ready(nn, x->g)) return WG_NN_INVALID_ARGUMENT;
  if (x->params.embedding) return WG_NN_INVALID_ARGUMENT;   /* compute only */
  uint32_t r;
  if (!x->started && (r = start(c, x))) return r;
  ai_llm_status st;
  if (!step(c, x, &st, &r)) {
    session_release(nn, x);
    return r;
  }
  if (wg_buf_append(&x->out, x->last.data, x->last.len)) {
    session_release(nn, x);
    return WG_NN_RUNTIME_ERROR;
  }
  if (st == AI_LLM_EOG) {
    session_release(nn, x);
    return WG_NN_END_OF_SEQUENCE;
  }
  return WG_NN_SUCCESS;
}

static uint32_t nn_fini_single(nn_call *c, const wg_nn_call_args *a,
                               wg_nn_call_result *res) {
  (void)res;
  wgn_ctx *x = ctx_get(c->nn, a->h);
  if (!x) return WG_NN_INVALID_ARGUMENT;
  session_release(c->nn, x);
  clear_outputs(x);
  return WG_NN_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Outputs                                                             */

static const wg_buf *metadata(wg_nn *nn, wgn_ctx *x) {
  const char *commit = nn->b->commit();
  wg_buf_reset(&x->meta);
  wg_buf_printf(&x->meta,
                "{\"input_tokens\":%u,\"output_tokens\":%u,"
                "\"llama_build_number\":%d,\"llama_commit\":\"",
                x->in_tokens, x->out_tokens, nn->b->build_number());
  for (const char *p = commit; *p && x->meta.len < 900; p++)
    if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
      wg_buf_append(&x->meta, p, 1);
  wg_buf_append(&x->meta, "\"}", 2);
  return &x->meta;
}

/* get_output and get_output_single: index a (1: metadata), b bytes at
** most; errno 7 with the size needed when it does not fit. */
static uint32_t nn_get_output(nn_call *c, const wg_nn_call_args *a,
                              wg_nn_call_result *r) {
  wg_nn *nn = c->nn;
  wgn_ctx *x = ctx_get(nn, a->h);
  if (!x) return WG_NN_INVALID_ARGUMENT;
  bool single = a->op == WG_NN_OP_GET_OUTPUT_SINGLE;
  const wg_buf *src = a->a == 1 ? metadata(nn, x) : single ? &x->last : &x->out;
  r->value = (uint32_t)src->len;
  if (src->len > a->b) return WG_NN_TOO_LARGE;
  r->data = src->len ? src->data : (const uint8_t *)"";
  return WG_NN_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

static const nn_handler ops[WG_NN_NOPS] = {
    [WG_NN_OP_LOAD] = nn_load,
    [WG_NN_OP_LOAD_BY_NAME] = nn_load_named,
    [WG_NN_OP_LOAD_BY_NAME_WITH_CONFIG] = nn_load_named,
    [WG_NN_OP_UNLOAD] = nn_unload,
    [WG_NN_OP_INIT_EXECUTION_CONTEXT] = nn_init_execution_context,
    [WG_NN_OP_FINALIZE_EXECUTION_CONTEXT] = nn_finalize_execution_context,
    [WG_NN_OP_SET_INPUT] = nn_set_input,
    [WG_NN_OP_COMPUTE] = nn_compute,
    [WG_NN_OP_COMPUTE_SINGLE] = nn_compute_single,
    [WG_NN_OP_FINI_SINGLE] = nn_fini_single,
    [WG_NN_OP_GET_OUTPUT] = nn_get_output,
    [WG_NN_OP_GET_OUTPUT_SINGLE] = nn_get_output,
};

void wg_nn_call(wg_nn *nn, const wg_nn_call_args *a, wg_nn_call_result *r) {
  memset(r, 0, sizeof *r);
  nn_call c = {nn, false};
  bool ok = (unsigned)a->op < WG_NN_NOPS;
  for (int i = 0; i < 2; i++)          /* a part's length matches its bytes */
    if (!a->data[i] && a->len[i]) ok = false;
  r->err = ok ? ops[a->op](&c, a, r) : WG_NN_INVALID_ARGUMENT;
  if (r->err && r->err != WG_NN_TOO_LARGE) r->value = 0;
  if (r->err) r->data = NULL;
  r->interrupted = c.interrupted;
}

void wg_nn_set_cancel(wg_nn *nn, uint64_t deadline_ms,
                      bool (*cancelled)(void *user), void *user) {
  nn->deadline_ms = deadline_ms;
  nn->cancelled = cancelled;
  nn->cancel_user = user;
}

/* The in-process guest side calls straight in. */
static bool local_call(void *user, const wg_nn_call_args *a,
                       wg_nn_call_result *r) {
  wg_nn_call(user, a, r);
  return true;
}

wg_err wg_nn_resolve(void *user, wg_name module, wg_name name,
                     const wg_externtype *type, wg_extern *out) {
  wg_nn *nn = user;
  return wgn_front_resolve(&nn->front, module, name, type, out);
}

wg_err wg_nn_serve_worker(wg_nn *nn, uint64_t deadline_ms,
                          bool (*gone)(void *peer), void *peer,
                          const char *who, const uint8_t *msg, size_t n,
                          const uint8_t **reply, size_t *reply_len) {
  wg_error err;
  wg_error_clear(&err);
  wg_nn_set_cancel(nn, deadline_ms, gone, peer);
  wg_err e = wg_nn_serve(nn, msg, n, reply, reply_len, &err);
  wg_nn_set_cancel(nn, deadline_ms, NULL, NULL);
  if (e)
    fprintf(stderr, "wasmgate: %s: the worker was stopped: %s\n", who,
            err.message);
  return e;
}

wg_err wg_nn_serve(wg_nn *nn, const uint8_t *msg, size_t n,
                   const uint8_t **reply, size_t *reply_len, wg_error *err) {
  wg_nn_call_args a;
  uint64_t deadline;
  wg_err e = wgn_decode_call(msg, n, &a, &deadline, err);
  if (e) return e;
  /* the sender's deadline, never past the one given here (a cap) */
  uint64_t cap = nn->deadline_ms;
  if (deadline && (!cap || deadline < cap)) nn->deadline_ms = deadline;
  wg_nn_call_result r;
  wg_nn_call(nn, &a, &r);
  nn->deadline_ms = cap;
  wg_buf_reset(&nn->wire);
  if (wgn_encode_reply(&nn->wire, &r))
    return wg_error_set(err, WG_ENOMEM, "out of memory for the answer");
  *reply = nn->wire.data;
  *reply_len = nn->wire.len;
  return WG_OK;
}

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

enum { NFUNCS = 12 };

struct wg_nn {
  wg_nn_host *host;
  const wg_nn_backend *b;
  char **models;            /* allowed names (all_models: any) */
  size_t nmodels;
  bool all_models;
  wg_nn_tokens_fn tokens;
  void *tokens_user;
  wg_store *store;
  uint64_t deadline_ms;
  wg_func *funcs[NFUNCS];
  wgn_graph *graphs[WG_NN_MAX_GRAPHS];
  size_t ngraphs;
  uint64_t next_graph;
  wgn_ctx *ctxs[WG_NN_MAX_CONTEXTS];
  size_t nctxs;
  uint64_t next_ctx;
  uint64_t used_prompt, used_completion;
};

/* What a handler sees. */
typedef struct nn_call {
  wg_nn *nn;
  wg_memory *mem;
  bool interrupted;         /* set: the call traps with WG_TRAP_INTERRUPT */
} nn_call;

typedef uint32_t (*nn_handler)(nn_call *c, const uint64_t *a);

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* The checked door into guest memory. */
static uint8_t *gmem(nn_call *c, uint32_t ptr, uint64_t len) {
  return (uint8_t *)wg_memory_translate(c->mem, ptr, len);
}

static uint32_t arg(const uint64_t *a, int i) { return (uint32_t)a[i]; }

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
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
  wg_free_obj(nn);
}

void wg_nn_bind_store(wg_nn *nn, wg_store *s, uint64_t deadline_ms) {
  if (nn->store != s) memset(nn->funcs, 0, sizeof nn->funcs);
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

static uint32_t nn_load(nn_call *c, const uint64_t *a) {
  wg_nn *nn = c->nn;
  uint32_t bptr = arg(a, 0), blen = arg(a, 1), enc = arg(a, 2), target = arg(a, 3);
  const uint8_t *arr = gmem(c, bptr, (uint64_t)blen * 8);
  uint8_t *out = gmem(c, arg(a, 4), 4);
  if (!arr || !out || blen == 0) return WG_NN_INVALID_ARGUMENT;
  const uint8_t *data[2] = {NULL, NULL};
  uint32_t dlen[2] = {0, 0};
  for (uint32_t i = 0; i < blen; i++) {
    uint32_t p = get32(arr + 8 * (size_t)i), n = get32(arr + 8 * (size_t)i + 4);
    const uint8_t *d = gmem(c, p, n);
    if (!d) return WG_NN_INVALID_ARGUMENT;
    if (i < 2) {
      data[i] = d;
      dlen[i] = n;
    }
  }
  if (target > 2) return WG_NN_INVALID_ARGUMENT;        /* cpu, gpu, tpu */
  if (!encoding_known(enc)) return WG_NN_INVALID_ENCODING;
  if (enc != 5 && enc != 6) return WG_NN_INVALID_ARGUMENT;  /* no such backend */
  if (!nn->host->cfg.allow_guest_load) return WG_NN_INVALID_ARGUMENT;
  if (dlen[0] >= 8 && !memcmp(data[0], "preload:", 8))
    return WG_NN_INVALID_ARGUMENT;                      /* a host path */
  if (dlen[0] > nn->host->cfg.max_guest_model_bytes) return WG_NN_TOO_LARGE;
  if (nn->ngraphs >= WG_NN_MAX_GRAPHS || nn->next_graph > UINT32_MAX)
    return WG_NN_RUNTIME_ERROR;
  wgn_graph *g = wg_new(wgn_graph);
  if (!g) return WG_NN_RUNTIME_ERROR;
  g->refs = 1;
  wgn_params_init(&g->params);
  uint32_t r = WG_NN_SUCCESS;
  if (blen > 1) r = wgn_params_apply(nn->b, &g->params, data[1], dlen[1]);
  if (!r) r = wgn_host_open_bytes(nn->host, data[0], dlen[0], &g->own);
  if (r) {
    graph_unref(nn, g);
    return r;
  }
  uint32_t id;
  if ((r = graph_publish(nn, g, &id))) return r;
  put32(out, id);
  return WG_NN_SUCCESS;
}

/* load_by_name and _with_config: cfg NULL for the plain one. */
static uint32_t load_named(nn_call *c, const uint8_t *name, uint32_t len,
                           const uint8_t *cfg, uint32_t cfglen, uint8_t *out) {
  wg_nn *nn = c->nn;
  for (size_t i = 0; i < nn->ngraphs; i++) {
    wgn_graph *g = nn->graphs[i];
    if (g->cached && strlen(g->hm->name) == len && !memcmp(g->hm->name, name, len)) {
      put32(out, g->id);               /* cached: the config is ignored */
      return WG_NN_SUCCESS;
    }
  }
  wgn_model *m = wgn_host_find(nn->host, (const char *)name, len);
  if (!m || !allowed(nn, (const char *)name, len)) return WG_NN_NOT_FOUND;
  if (nn->ngraphs >= WG_NN_MAX_GRAPHS || nn->next_graph > UINT32_MAX)
    return WG_NN_RUNTIME_ERROR;
  wgn_graph *g = wg_new(wgn_graph);
  if (!g) return WG_NN_RUNTIME_ERROR;
  g->refs = 1;
  g->hm = m;
  wgn_params_init(&g->params);
  uint32_t r = WG_NN_SUCCESS;
  if (cfg) r = wgn_params_apply(nn->b, &g->params, cfg, cfglen);
  void *model;
  if (!r) r = wgn_host_open(nn->host, m, &model);
  if (r) {
    graph_unref(nn, g);
    return r;
  }
  g->cached = true;
  uint32_t id;
  if ((r = graph_publish(nn, g, &id))) return r;
  put32(out, id);
  return WG_NN_SUCCESS;
}

static uint32_t nn_load_by_name(nn_call *c, const uint64_t *a) {
  uint32_t len = arg(a, 1);
  const uint8_t *name = gmem(c, arg(a, 0), len);
  uint8_t *out = gmem(c, arg(a, 2), 4);
  if (!name || !out) return WG_NN_INVALID_ARGUMENT;
  return load_named(c, name, len, NULL, 0, out);
}

static uint32_t nn_load_by_name_with_config(nn_call *c, const uint64_t *a) {
  uint32_t len = arg(a, 1), cfglen = arg(a, 3);
  const uint8_t *name = gmem(c, arg(a, 0), len);
  const uint8_t *cfg = gmem(c, arg(a, 2), cfglen);
  uint8_t *out = gmem(c, arg(a, 4), 4);
  if (!name || !cfg || !out) return WG_NN_INVALID_ARGUMENT;
  return load_named(c, name, len, cfg, cfglen, out);
}

static uint32_t nn_unload(nn_call *c, const uint64_t *a) {
  wgn_graph *g = graph_get(c->nn, arg(a, 0));
  if (!g) return WG_NN_INVALID_ARGUMENT;
  graph_detach(c->nn, g);
  return WG_NN_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Contexts and inputs                                                 */

static uint32_t nn_init_execution_context(nn_call *c, const uint64_t *a) {
  wg_nn *nn = c->nn;
  uint8_t *out = gmem(c, arg(a, 1), 4);
  if (!out) return WG_NN_INVALID_ARGUMENT;
  wgn_graph *g = graph_get(nn, arg(a, 0));
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
  put32(out, x->id);
  return WG_NN_SUCCESS;
}

static uint32_t nn_finalize_execution_context(nn_call *c, const uint64_t *a) {
  wg_nn *nn = c->nn;
  for (size_t i = 0; i < nn->nctxs; i++)
    if (nn->ctxs[i]->id == arg(a, 0)) {
      wgn_ctx *x = nn->ctxs[i];
      nn->ctxs[i] = nn->ctxs[--nn->nctxs];
      ctx_free(nn, x);
      return WG_NN_SUCCESS;
    }
  return WG_NN_INVALID_ARGUMENT;
}

/* The tensor struct: dims_ptr, dims_len (u32 count), type (low byte; the
** rest is padding in WAMR's layout), data_ptr, data_len. */
enum { T_F16 = 0, T_F32 = 1, T_F64 = 2, T_U8 = 3, T_I32 = 4, T_I64 = 5 };

static uint32_t nn_set_input(nn_call *c, const uint64_t *a) {
  wg_nn *nn = c->nn;
  wgn_ctx *x = ctx_get(nn, arg(a, 0));
  if (!x) return WG_NN_INVALID_ARGUMENT;
  uint32_t index = arg(a, 1);
  const uint8_t *t = gmem(c, arg(a, 2), 20);
  if (!t) return WG_NN_INVALID_ARGUMENT;
  uint32_t dims_len = get32(t + 4), type = t[8], dlen = get32(t + 16);
  if (!gmem(c, get32(t), (uint64_t)dims_len * 4)) return WG_NN_INVALID_ARGUMENT;
  const uint8_t *data = gmem(c, get32(t + 12), dlen);
  if (!data) return WG_NN_INVALID_ARGUMENT;
  if (type != T_F16 && type != T_F32 && type != T_U8 && type != T_I32)
    return WG_NN_INVALID_ARGUMENT;
  if (!graph_ready(nn, x->g)) return WG_NN_INVALID_ARGUMENT;
  if (dlen > WG_NN_MAX_INPUT) return WG_NN_TOO_LARGE;
  if (index == 1) {
    uint32_t r = wgn_params_apply(nn->b, &x->params, data, dlen);
    if (r) return r;
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
  memset(&p, 0, sizeof p);
  p.max_tokens = -1;
  p.temperature = (float)x->params.temp;
  p.top_p = (float)x->params.top_p;
  p.top_k = x->params.top_k;
  p.seed = x->params.seed;
  if (x->params.seed_random && getrandom(&p.seed, sizeof p.seed, 0) != sizeof p.seed)
    p.seed = (uint32_t)now_ms();
  p.grammar = x->params.grammar;
  p.ignore_eos = x->params.ignore_eos;
  wg_error err;
  wg_error_clear(&err);
  uint32_t ntok = 0;
  ai_llm_status st = nn->b->prompt(x->session, (const char *)x->prompt.data,
                                   x->prompt.len, &p, &ntok, &err);
  uint32_t r = status_errno(c, st);
  if (!r) {
    uint32_t win = ctx_window(nn, x);
    x->in_tokens = ntok;
    if (ntok + 4 > win) r = WG_NN_PROMPT_TOO_LONG;
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

static uint32_t nn_compute(nn_call *c, const uint64_t *a) {
  wg_nn *nn = c->nn;
  wgn_ctx *x = ctx_get(nn, arg(a, 0));
  if (!x || !graph_ready(nn, x->g)) return WG_NN_INVALID_ARGUMENT;
  uint32_t r = start(c, x);
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

static uint32_t nn_compute_single(nn_call *c, const uint64_t *a) {
  wg_nn *nn = c->nn;
  wgn_ctx *x = ctx_get(nn, arg(a, 0));
  if (!x || !graph_ready(nn, x->g)) return WG_NN_INVALID_ARGUMENT;
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

static uint32_t nn_fini_single(nn_call *c, const uint64_t *a) {
  wgn_ctx *x = ctx_get(c->nn, arg(a, 0));
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

static uint32_t get_output(nn_call *c, const uint64_t *a, bool single) {
  wg_nn *nn = c->nn;
  wgn_ctx *x = ctx_get(nn, arg(a, 0));
  if (!x) return WG_NN_INVALID_ARGUMENT;
  uint32_t max = arg(a, 3);
  uint8_t *dst = gmem(c, arg(a, 2), max);
  uint8_t *written = gmem(c, arg(a, 4), 4);
  if (!dst || !written) return WG_NN_INVALID_ARGUMENT;
  const wg_buf *src = arg(a, 1) == 1 ? metadata(nn, x) : single ? &x->last : &x->out;
  if (src->len > max) {
    put32(written, (uint32_t)src->len);
    return WG_NN_TOO_LARGE;
  }
  if (src->len) memcpy(dst, src->data, src->len);
  put32(written, (uint32_t)src->len);
  return WG_NN_SUCCESS;
}

static uint32_t nn_get_output(nn_call *c, const uint64_t *a) {
  return get_output(c, a, false);
}

static uint32_t nn_get_output_single(nn_call *c, const uint64_t *a) {
  return get_output(c, a, true);
}

/* ------------------------------------------------------------------ */
/* Binding                                                             */

/* Sorted by name; every parameter and the result are i32. */
static const struct nn_func {
  const char *name;
  uint8_t nparams;
  nn_handler fn;
} funcs[NFUNCS] = {
    {"compute", 1, nn_compute},
    {"compute_single", 1, nn_compute_single},
    {"finalize_execution_context", 1, nn_finalize_execution_context},
    {"fini_single", 1, nn_fini_single},
    {"get_output", 5, nn_get_output},
    {"get_output_single", 5, nn_get_output_single},
    {"init_execution_context", 2, nn_init_execution_context},
    {"load", 5, nn_load},
    {"load_by_name", 3, nn_load_by_name},
    {"load_by_name_with_config", 5, nn_load_by_name_with_config},
    {"set_input", 3, nn_set_input},
    {"unload", 1, nn_unload},
};

static const uint8_t i32s[6] = {WG_I32, WG_I32, WG_I32, WG_I32, WG_I32, WG_I32};

/* One trampoline per function (the engine passes one user pointer). */
#define NN_TRAMPOLINE(i)                                                      \
  static wg_err tramp_##i(wg_host_call *call, uint64_t *stack) {             \
    return run_call(call, stack, &funcs[i]);                                  \
  }

static wg_err run_call(wg_host_call *call, uint64_t *stack,
                       const struct nn_func *f) {
  nn_call c = {wg_host_user(call), wg_host_memory(call), false};
  if (!c.mem)
    return wg_host_trap(call, WG_TRAP_HOST,
                        "wasi_ephemeral_nn.%s: the caller has no memory", f->name);
  uint32_t r = f->fn(&c, stack);
  if (c.interrupted)
    return wg_host_trap(call, WG_TRAP_INTERRUPT,
                        "interrupted during wasi_ephemeral_nn.%s", f->name);
  stack[0] = r;
  return WG_OK;
}

NN_TRAMPOLINE(0) NN_TRAMPOLINE(1) NN_TRAMPOLINE(2) NN_TRAMPOLINE(3)
NN_TRAMPOLINE(4) NN_TRAMPOLINE(5) NN_TRAMPOLINE(6) NN_TRAMPOLINE(7)
NN_TRAMPOLINE(8) NN_TRAMPOLINE(9) NN_TRAMPOLINE(10) NN_TRAMPOLINE(11)

static const wg_host_fn tramps[NFUNCS] = {
    tramp_0, tramp_1, tramp_2, tramp_3, tramp_4, tramp_5,
    tramp_6, tramp_7, tramp_8, tramp_9, tramp_10, tramp_11,
};

static bool names_eq(wg_name n, const char *s) {
  size_t len = strlen(s);
  return n.len == len && memcmp(n.ptr, s, len) == 0;
}

wg_err wg_nn_resolve(void *user, wg_name module, wg_name name,
                     const wg_externtype *type, wg_extern *out) {
  wg_nn *nn = user;
  if (!names_eq(module, WG_NN_MODULE)) return WG_EUNKNOWNIMPORT;
  size_t i = 0;
  while (i < NFUNCS && !names_eq(name, funcs[i].name)) i++;
  if (i == NFUNCS) return WG_EUNKNOWNIMPORT;
  wg_functype ft = {funcs[i].nparams, 1, i32s, i32s};
  if (type->kind != WG_EXTERN_FUNC || type->of.func.nparams != ft.nparams ||
      type->of.func.nresults != 1 || type->of.func.results[0] != WG_I32)
    return WG_EIMPORTTYPE;
  for (uint32_t k = 0; k < ft.nparams; k++)
    if (type->of.func.params[k] != WG_I32) return WG_EIMPORTTYPE;
  if (!nn->store) return WG_EINVAL;
  if (!nn->funcs[i]) {
    nn->funcs[i] = wg_func_new_host(nn->store, &ft, tramps[i], nn);
    if (!nn->funcs[i]) return WG_ENOMEM;
  }
  out->kind = WG_EXTERN_FUNC;
  out->of.func = nn->funcs[i];
  return WG_OK;
}

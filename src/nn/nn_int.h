/*
** WASI-NN internals: the backend vtable and the metadata parameters. Tag
** wgn_, hidden visibility.
**
** A backend is the session interface of src/ai/llm.h behind function
** pointers, so that the ABI tests can run against a scripted fake
** (tests/nn/fake_backend.c) and the real module against llama.cpp
** (backend_llama.c). Models and sessions are opaque to the module.
*/
#ifndef WG_NN_INT_H
#define WG_NN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ai/llm.h"
#include "base/buf.h"
#include "wasmgate/nn.h"

#define WGN_HIDDEN __attribute__((visibility("hidden")))

struct wg_nn_backend {
  const char *name;
  /* Opens the model file cfg->path (ctx_size/threads/slots as llm.h).
  ** WG_ENOTFOUND when the file is missing, another code (message in err)
  ** when it cannot be loaded. */
  wg_err (*open)(const ai_llm_model_cfg *cfg, void **model, wg_error *err);
  void (*close)(void *model);
  uint32_t (*ctx_size)(void *model);
  /* A free slot, waiting until deadline_ms (monotonic; 0: no wait).
  ** WG_ELIMIT when none is free in time. */
  wg_err (*acquire)(void *model, uint64_t deadline_ms, void **session);
  void (*release)(void *session);
  void (*cancel)(void *session);
  void (*set_deadline)(void *session, uint64_t deadline_ms);
  ai_llm_status (*prompt)(void *session, const char *text, size_t len,
                          const ai_llm_params *p, uint32_t *prompt_tokens,
                          wg_error *err);
  ai_llm_status (*step)(void *session, const char **piece, size_t *len);
  /* JSON schema -> GBNF (out is reset first). */
  wg_err (*schema_to_grammar)(const char *schema, size_t len, wg_buf *out,
                              wg_error *err);
  /* For get_output(1): "llama_build_number" and "llama_commit". */
  int (*build_number)(void);
  const char *(*commit)(void);
  /* After a prompt with p->embedding (embedding mode): appends output 0,
  ** {"n_embedding": N, "embedding": [...]} (10 significant digits), to out.
  ** WG_EINVAL when the session holds no embedding. */
  wg_err (*embedding)(void *session, wg_buf *out);
};

/* Sampling and generation options from metadata JSON (kebab-case keys). */
typedef struct wgn_params {
  int64_t n_predict;        /* < 0: until EOG or a full context */
  char *reverse_prompt;     /* NULL: none */
  uint32_t ctx_size;        /* 0: the slot's; else lowers it */
  uint32_t batch_size, threads;   /* accepted, capped; the slot's are used */
  double temp, top_p;
  int32_t top_k;
  uint32_t seed;
  bool seed_random;         /* seed absent or -1: a fresh one per prompt */
  bool ignore_eos;
  char *grammar;            /* GBNF (from grammar or json-schema), or NULL */
  bool stream_stdout, enable_log;   /* accepted; no host output */
  double repeat_penalty, presence_penalty, frequency_penalty;  /* >= 0 */
  int32_t last_n_penalty;   /* -1: the whole context */
  double min_p, typ_p;      /* in [0, 1] */
  int32_t mirostat;         /* 0, 1 or 2 */
  double mirostat_tau, mirostat_eta;
  bool embedding;           /* compute gives output 0 = the embedding JSON */
  int32_t embd_normalize;   /* -1 none, 0 max-abs, 1 taxicab, 2 euclidean */
} wgn_params;

/* llama.cpp's common_params defaults, as WasmEdge starts from. */
void wgn_params_init(wgn_params *p) WGN_HIDDEN;
void wgn_params_free(wgn_params *p) WGN_HIDDEN;
/* A deep copy; false when memory runs out (dst is then empty). */
bool wgn_params_copy(wgn_params *dst, const wgn_params *src) WGN_HIDDEN;
/* The sampling options of p for the backend (a seed_random p gets a
** fresh random seed). */
void wgn_params_to_llm(const wgn_params *p, ai_llm_params *out) WGN_HIDDEN;
/* Applies metadata JSON to *p: every key or nothing. Returns the ABI errno:
** 0, 1 (a key of the wrong type or bad value, a host path, tts mode, a
** json-schema the converter refuses), 2 (not a JSON object). */
uint32_t wgn_params_apply(const wg_nn_backend *b, wgn_params *p,
                          const uint8_t *json, size_t len) WGN_HIDDEN;

/* ------------------------------------------------------------------ */
/* The guest side (guest.c)                                            */

enum { WGN_NFUNCS = 12 };

/* The 12 host functions of one store: each marshals its guest arguments
** into a wg_nn_call_args, runs call and writes the results back. call
** returns false when the answer never came (the link to the server is
** gone): the guest traps. */
typedef struct wgn_front {
  bool (*call)(void *user, const wg_nn_call_args *a, wg_nn_call_result *r);
  void *user;
  wg_store *store;          /* bound; NULL: resolve fails */
  bool remote;              /* interrupted answers wait for the store's
                               own interrupt (the watchdog's timeout) */
  wg_func *funcs[WGN_NFUNCS];
} wgn_front;

/* Binds f to store s (NULL unbinds); forgets functions of another store. */
void wgn_front_bind(wgn_front *f, wg_store *s) WGN_HIDDEN;
/* wg_nn_resolve's work on f. */
wg_err wgn_front_resolve(wgn_front *f, wg_name module, wg_name name,
                         const wg_externtype *type, wg_extern *out) WGN_HIDDEN;

/* The wire format (see wg_nn_serve). A call message into *a (pointing
** into msg) and the deadline the sender's run has (monotonic ms, 0:
** none): WG_EINVAL with the reason when malformed. */
wg_err wgn_decode_call(const uint8_t *msg, size_t n, wg_nn_call_args *a,
                       uint64_t *deadline_ms, wg_error *err) WGN_HIDDEN;
/* Appends the message of r to b; WG_ENOMEM / WG_ELIMIT past b's max. */
wg_err wgn_encode_reply(wg_buf *b, const wg_nn_call_result *r) WGN_HIDDEN;

/* ------------------------------------------------------------------ */
/* The host's models (host.c)                                          */

#include <pthread.h>

typedef struct wgn_model {
  char *name, *path;
  ai_llm_model_cfg cfg;
  void *model;              /* the backend's, opened on first use */
} wgn_model;

struct wg_nn_host {
  const wg_nn_backend *b;
  wg_nn_host_config cfg;
  wgn_model *models[WG_NN_MAX_MODELS];
  size_t n;
  pthread_mutex_t lock;     /* lazy opens, tmpdir */
  char tmpdir[256];         /* private (0700) directory of guest models */
};

wgn_model *wgn_host_find(wg_nn_host *h, const char *name, size_t len) WGN_HIDDEN;
/* Opens m once (any thread); the ABI errno: 0, 103 (no such file), 1. */
uint32_t wgn_host_open(wg_nn_host *h, wgn_model *m, void **model) WGN_HIDDEN;
/* A model from guest bytes, through a file in the private directory that
** is unlinked at once; the caller closes it. 0, 1 (not a model), 5. */
uint32_t wgn_host_open_bytes(wg_nn_host *h, const uint8_t *data, size_t len,
                             void **model) WGN_HIDDEN;

#endif

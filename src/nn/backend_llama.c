/*
** The llama.cpp backend of WASI-NN: the session interface of src/ai/llm.h
** (shared with the gateway's `local` provider, so that both produce the
** same tokens for the same prompt and sampling options). The library is
** loaded on the first model open (ai_llm_runtime_init), never before.
**
** get_output(1)'s "llama_build_number" and "llama_commit" are what
** WasmEdge reports, llama.cpp's LLAMA_BUILD_NUMBER and LLAMA_COMMIT, read
** from the library (ai_llm_runtime_build_number/_commit: 1 and "0ad4a86"
** for the npm prebuilt).
*/
#include <math.h>

#include "nn/nn_int.h"

static wg_err l_open(const ai_llm_model_cfg *cfg, void **model, wg_error *err) {
  wg_err e = ai_llm_runtime_init(NULL, err);
  if (e) return e == WG_ENOTFOUND ? WG_EIO : e;   /* not the model's fault */
  ai_llm_model *m = NULL;
  e = ai_llm_model_open(cfg, &m, err);
  if (!e) *model = m;
  return e;
}

static void l_close(void *model) { ai_llm_model_unref(model); }

static uint32_t l_ctx_size(void *model) { return ai_llm_model_ctx_size(model); }

static wg_err l_acquire(void *model, uint64_t deadline_ms, void **session) {
  ai_llm_session *s = NULL;
  wg_err e = ai_llm_session_acquire(model, deadline_ms, &s);
  if (!e) *session = s;
  return e;
}

static void l_release(void *session) { ai_llm_session_release(session); }
static void l_cancel(void *session) { ai_llm_session_cancel(session); }

static void l_set_deadline(void *session, uint64_t deadline_ms) {
  ai_llm_session_set_deadline(session, deadline_ms);
}

static ai_llm_status l_prompt(void *session, const char *text, size_t len,
                              const ai_llm_params *p, uint32_t *ntok,
                              wg_error *err) {
  return ai_llm_session_prompt(session, text, len, p, ntok, err);
}

static ai_llm_status l_step(void *session, const char **piece, size_t *len) {
  return ai_llm_session_step(session, piece, len);
}

static int l_build(void) { return ai_llm_runtime_build_number(); }
static const char *l_commit(void) { return ai_llm_runtime_commit(); }

/* WasmEdge's output 0 in embedding mode: `{"n_embedding": N, "embedding":
** [f0,f1,...]}`, each number with 10 significant digits (C's %.10g prints
** what C++'s setprecision(10) does); a non-finite value (which JSON cannot
** hold) is written as 0. */
static wg_err l_embedding(void *session, wg_buf *out) {
  uint32_t n;
  const float *v = ai_llm_session_embedding(session, &n);
  if (!v) return WG_EINVAL;
  wg_err e = wg_buf_printf(out, "{\"n_embedding\": %u, \"embedding\": [", n);
  for (uint32_t i = 0; i < n && !e; i++)
    e = wg_buf_printf(out, i ? ",%.10g" : "%.10g",
                      isfinite(v[i]) ? (double)v[i] : 0.0);
  if (!e) e = wg_buf_append(out, "]}", 2);
  return e;
}

static const wg_nn_backend llama_backend = {
    "llama.cpp", l_open, l_close, l_ctx_size, l_acquire, l_release, l_cancel,
    l_set_deadline, l_prompt, l_step, ai_llm_schema_to_gbnf, l_build, l_commit,
    l_embedding,
};

const wg_nn_backend *wg_nn_backend_llama(void) { return &llama_backend; }

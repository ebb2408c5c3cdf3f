/*
** ai_llm internals shared by llm_runtime.c, llm_model.c and llm_generate.c
** (module-private: nothing outside src/ai/llm_*.c and the unit tests
** includes this).
**
** The llama.cpp entry points are reached through one table of function
** pointers, AI_LLM_API below, filled by dlsym() in llm_runtime.c. Each
** pointer has the exact type of the function in the bundle's llama.h
** (__typeof__), so a header/library mismatch is a compile error here, not
** a crash at run time.
*/
#ifndef WG_AI_LLM_INT_H
#define WG_AI_LLM_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <ggml-backend.h>
#include <llama.h>

#include "ai/llm.h"

/* X(name): every llama.cpp / ggml function the module calls. */
#define AI_LLM_API(X)                                                        \
  X(llama_backend_init)                                                      \
  X(llama_log_set)                                                           \
  X(llama_version)                                                           \
  X(llama_model_default_params)                                              \
  X(llama_model_load_from_file)                                              \
  X(llama_model_free)                                                        \
  X(llama_model_get_vocab)                                                   \
  X(llama_model_n_ctx_train)                                                 \
  X(llama_model_chat_template)                                               \
  X(llama_model_desc)                                                        \
  X(llama_chat_apply_template)                                               \
  X(llama_context_default_params)                                            \
  X(llama_init_from_model)                                                   \
  X(llama_free)                                                              \
  X(llama_n_ctx)                                                             \
  X(llama_get_memory)                                                        \
  X(llama_memory_clear)                                                      \
  X(llama_set_abort_callback)                                                \
  X(llama_batch_get_one)                                                     \
  X(llama_decode)                                                            \
  X(llama_tokenize)                                                          \
  X(llama_token_to_piece)                                                    \
  X(llama_vocab_n_tokens)                                                    \
  X(llama_vocab_is_eog)                                                      \
  X(llama_sampler_chain_default_params)                                      \
  X(llama_sampler_chain_init)                                                \
  X(llama_sampler_chain_add)                                                 \
  X(llama_sampler_init_greedy)                                               \
  X(llama_sampler_init_dist)                                                 \
  X(llama_sampler_init_top_k)                                                \
  X(llama_sampler_init_top_p)                                                \
  X(llama_sampler_init_temp)                                                 \
  X(llama_sampler_init_grammar)                                              \
  X(llama_sampler_init_logit_bias)                                           \
  X(llama_sampler_sample)                                                    \
  X(llama_sampler_apply)                                                     \
  X(llama_sampler_accept)                                                    \
  X(llama_get_logits_ith)                                                    \
  X(llama_sampler_free)                                                      \
  X(llama_sampler_init_penalties)                                            \
  X(llama_sampler_init_min_p)                                                \
  X(llama_sampler_init_typical)                                              \
  X(llama_sampler_init_mirostat)                                             \
  X(llama_sampler_init_mirostat_v2)                                          \
  X(llama_model_n_embd)                                                      \
  X(llama_pooling_type)                                                      \
  X(llama_get_embeddings_seq)                                                \
  X(llama_get_embeddings_ith)

/* From libggml-base / libggml (the CPU backend is a plugin). */
#define AI_LLM_GGML_API(X)                                                   \
  X(ggml_backend_load_all_from_path)                                         \
  X(ggml_backend_dev_count)                                                  \
  X(ggml_commit)

typedef struct ai_llm_api {
#define AI_LLM__PTR(name) __typeof__(name) *name;
  AI_LLM_API(AI_LLM__PTR)
  AI_LLM_GGML_API(AI_LLM__PTR)
#undef AI_LLM__PTR
} ai_llm_api;

/* Valid once ai_llm_runtime_init succeeded. */
extern ai_llm_api ai_llm__api;
#define LL (&ai_llm__api)

/* Log level threshold for llama.cpp's messages on stderr:
** WASMGATE_LLAMA_LOG=debug|info|warn|error (default: none). */

/* A slot: one llama_context and its sampler. */
struct ai_llm_session {
  ai_llm_model *m;
  uint32_t index;
  bool in_use;                    /* under m->lock */
  struct llama_context *ctx;      /* created on first use */
  struct llama_sampler *smpl;     /* rebuilt by every prompt */
  struct llama_sampler *gram;     /* the grammar, outside the chain */
  llama_token_data *cand;         /* all tokens, when the grammar */
  size_t ncand;                   /* refused the chain's choice */
  atomic_bool cancel;
  atomic_uint_fast64_t deadline_ms;
  bool has_input;                 /* a prompt was evaluated */
  bool has_pending;               /* pending: sampled, not yet decoded */
  llama_token pending;
  uint32_t n_past;                /* tokens in the KV cache */
  uint32_t generated;             /* sampled since the prompt */
  llama_token *toks;              /* prompt tokens */
  size_t ntoks_cap;
  char *piece;                    /* the last token's text */
  size_t piece_cap;
  struct llama_context *ectx;     /* embedding mode's, created on first use */
  float *embd;                    /* the last embedding (n_embd floats) */
  bool has_embd;                  /* embd holds the last prompt's */
};

/* A waiting acquirer (on its stack), FIFO under m->lock. */
typedef struct ai_llm_waiter {
  struct ai_llm_waiter *next;
  ai_llm_session *granted;
} ai_llm_waiter;

struct ai_llm_model {
  atomic_int refs;
  struct llama_model *lm;
  const struct llama_vocab *vocab;
  char *path;
  uint32_t n_ctx, n_batch, n_threads, nslots, queue_max;
  pthread_mutex_t lock;
  pthread_cond_t cond;            /* CLOCK_MONOTONIC */
  ai_llm_session *slots;
  uint32_t busy, waiting;
  ai_llm_waiter *head, *tail;
};

/* Monotonic milliseconds (the clock of every deadline here). */
uint64_t ai_llm__now_ms(void);

/* Creates s->ctx if needed (threads, batch and abort callback set). */
wg_err ai_llm__session_ctx(ai_llm_session *s, wg_error *err);
/* Creates s->ectx if needed: embeddings on, n_batch tokens, pooling the
** model's or else mean. */
wg_err ai_llm__session_ectx(ai_llm_session *s, wg_error *err);
/* The model's n_embd. */
uint32_t ai_llm__n_embd(const ai_llm_model *m);

/* ------------------------------------------------------------------ */
/* Text delivery (llm_generate.c), pure functions for the unit tests.  */

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 boundary:
** a trailing sequence that is incomplete but may still become valid is
** left out. Invalid bytes count as complete (they become U+FFFD). */
size_t ai_llm__utf8_complete(const char *s, size_t n);

/* Appends s[0..n) to out with every invalid UTF-8 byte replaced by
** U+FFFD. */
wg_err ai_llm__utf8_sanitize(const char *s, size_t n, wg_buf *out);

/* Scans s[0..n) for the stop strings. *match gets the offset of the
** earliest full match (or SIZE_MAX when none); the return value is how
** many leading bytes are final: up to the match, else everything but the
** longest suffix that is a prefix of some stop string. */
size_t ai_llm__stop_scan(const char *s, size_t n, const char *const *stop,
                         size_t nstop, size_t *match);

#endif

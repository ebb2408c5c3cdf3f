/*
** ai_llm: local inference on llama.cpp, shared by the gateway's `local`
** provider (src/ai) and the WASI-NN host module (src/nn).
**
**   llm_runtime.c  finds and dlopen()s libllama at run time (nothing of
**                  llama.cpp is linked into the binary: `wasmgate run` and
**                  `serve` without a local model never load it)
**   llm_model.c    models (one GGUF file, shared, refcounted) and their
**                  slots (a llama_context + sampler each), bounded queue
**   llm_generate.c prompt evaluation and token-by-token generation
**   llm_schema.c   a documented JSON-schema subset converted to GBNF
**
** Threading: a model may be used from any thread. A session (one slot) is
** used by one thread at a time; ai_llm_session_cancel may be called from
** any thread (it is what a client disconnect or a guest deadline calls).
**
** Determinism: with the same model, prompt text and params (seed included),
** generate/step produce the same tokens whichever path drives them; the
** gateway's local provider and WASI-NN must both build their sampler
** through ai_llm_session_prompt from a ai_llm_params.
*/
#ifndef WG_AI_LLM_H
#define WG_AI_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

/* How a step or a generation ended (maps onto WASI-NN's errnos and the
** gateway's finish_reason). */
typedef enum ai_llm_status {
  AI_LLM_OK = 0,            /* a token was produced; more may follow */
  AI_LLM_EOG,               /* end-of-generation token (finish "stop") */
  AI_LLM_STOP,              /* a stop string matched (finish "stop") */
  AI_LLM_LENGTH,            /* max_tokens reached (finish "length") */
  AI_LLM_CONTEXT_FULL,      /* the next token does not fit (WASI-NN 101) */
  AI_LLM_PROMPT_TOO_LONG,   /* prompt tokens > ctx - 4 (WASI-NN 102) */
  AI_LLM_CANCELLED,         /* ai_llm_session_cancel, or deadline */
  AI_LLM_DECODE_FAILED,     /* llama_decode failed (WASI-NN 5) */
  AI_LLM_NO_INPUT,          /* step before a prompt (WASI-NN 1) */
} ai_llm_status;

const char *ai_llm_status_name(ai_llm_status s);

/* ------------------------------------------------------------------ */
/* The runtime (llm_runtime.c)                                             */

/* Loads libllama and its CPU backend once per process from dir (NULL: the
** WASMGATE_LLAMA_DIR environment variable, else the directory the build
** recorded). Thread-safe; later calls return the first result. WG_ENOTFOUND
** with a message naming the directory when the libraries are missing. */
wg_err ai_llm_runtime_init(const char *dir, wg_error *err);
bool ai_llm_runtime_ready(void);
/* llama.cpp's version string ("0.5.0-dev"), or "" before init. */
const char *ai_llm_runtime_version(void);
/* llama.cpp's build number and commit as its build recorded them
** (LLAMA_BUILD_NUMBER / LLAMA_COMMIT of libllama-common.so in the library
** directory; 1 and "0ad4a86" for the npm prebuilt, whose CI built from a
** one-commit clone). Without that library: 0 and ggml's commit. 0 / ""
** before init. */
int ai_llm_runtime_build_number(void);
const char *ai_llm_runtime_commit(void);

/* ------------------------------------------------------------------ */
/* Models and slots (llm_model.c)                                          */

typedef struct ai_llm_model ai_llm_model;
typedef struct ai_llm_session ai_llm_session;

typedef struct ai_llm_model_cfg {
  const char *path;      /* GGUF file on the host */
  uint32_t ctx_size;     /* tokens per slot; 0: the model's, capped 4096 */
  uint32_t batch_size;   /* prompt tokens per decode; 0: 512 */
  uint32_t threads;      /* 0: online cores - 1, at least 1 */
  uint32_t slots;        /* concurrent sessions; 0: 1 */
  uint32_t queue;        /* waiting acquirers beyond slots; 0: 4 * slots */
} ai_llm_model_cfg;

/* Loads the model (contexts are created lazily, one per slot). Fills err
** with a message naming the path on failure. */
wg_err ai_llm_model_open(const ai_llm_model_cfg *cfg, ai_llm_model **out,
                         wg_error *err);
void ai_llm_model_ref(ai_llm_model *m);
void ai_llm_model_unref(ai_llm_model *m);   /* frees at zero */
/* Context size of each slot, and the model's training context. */
uint32_t ai_llm_model_ctx_size(const ai_llm_model *m);
/* Slots busy now and acquirers waiting (metrics, /readyz). */
void ai_llm_model_load(const ai_llm_model *m, uint32_t *busy,
                       uint32_t *waiting);

/* Takes a free slot, waiting in FIFO order until deadline_ms (monotonic ms,
** 0: do not wait). WG_ELIMIT when the queue is full or the wait timed out
** (the caller answers 429/503 with Retry-After). */
wg_err ai_llm_session_acquire(ai_llm_model *m, uint64_t deadline_ms,
                              ai_llm_session **out);
void ai_llm_session_release(ai_llm_session *s);
/* From any thread: the running decode stops (abort callback) and the
** session's current generation ends with AI_LLM_CANCELLED. Cleared by the
** next ai_llm_session_prompt. */
void ai_llm_session_cancel(ai_llm_session *s);
/* A monotonic ms deadline checked between tokens and in the abort
** callback (0: none). */
void ai_llm_session_set_deadline(ai_llm_session *s, uint64_t deadline_ms);

/* ------------------------------------------------------------------ */
/* Chat templates                                                      */

typedef struct ai_llm_msg {
  const char *role;       /* "system", "user", "assistant", ... */
  const char *content;    /* NUL-terminated */
} ai_llm_msg;

/* The model's own template (GGUF tokenizer.chat_template) applied to the
** messages, with the assistant prefix added. Falls back to "chatml" when the
** model has none. Replaces out's contents. */
wg_err ai_llm_apply_template(const ai_llm_model *m, const ai_llm_msg *msgs,
                             size_t n, wg_buf *out, wg_error *err);

/* ------------------------------------------------------------------ */
/* Generation (llm_generate.c)                                             */

typedef struct ai_llm_params {
  int32_t max_tokens;     /* < 0: until EOG or the context is full */
  float temperature;      /* <= 0: greedy */
  float top_p;            /* 1: off */
  int32_t top_k;          /* 0: off */
  uint32_t seed;          /* used when temperature > 0 */
  const char *const *stop;/* stop strings (not part of the output) */
  size_t nstop;
  const char *grammar;    /* GBNF (root rule "root"), or NULL */
  bool ignore_eos;
  /* Penalties on the tokens of the last penalty_last_n (prompt tokens
  ** included; -1: the whole context, 0: off), as llama.cpp's penalties
  ** sampler: repeat divides a positive logit (multiplies a negative one),
  ** frequency subtracts per occurrence, presence once. */
  float repeat_penalty;   /* 1: off; > 0 */
  float frequency_penalty;/* 0: off */
  float presence_penalty; /* 0: off */
  int32_t penalty_last_n;
  float min_p;            /* 0: off */
  float typical_p;        /* 1: off */
  /* 1: Mirostat, 2: Mirostat 2.0 (instead of top_k/top_p/min_p/typical;
  ** with temperature > 0 only), 0: off. */
  int32_t mirostat;
  float mirostat_tau, mirostat_eta;
  /* Embedding mode (ai_llm_session_prompt computes the prompt's embedding
  ** instead of preparing a generation; see ai_llm_session_embedding). */
  bool embedding;
  int32_t embd_normalize; /* -1 none, 0 max-abs (int16 range), 1 taxicab,
                          ** 2 euclidean, > 2 p-norm */
  uint32_t batch_size;    /* embedding: most prompt tokens (0: the slot's
                          ** batch size; never more) */
} ai_llm_params;

/* greedy, unlimited, no stop strings, no grammar, seed 0, no penalties,
** no min_p/typical/mirostat, not embedding (euclidean if it is) */
void ai_llm_params_init(ai_llm_params *p);

/* Clears the slot's KV cache, (re)builds the sampler from p, tokenizes text
** (add_special and parse_special true) and evaluates it. *prompt_tokens gets
** the count. AI_LLM_PROMPT_TOO_LONG, AI_LLM_DECODE_FAILED, AI_LLM_CANCELLED
** or AI_LLM_OK. A bad grammar fails with AI_LLM_DECODE_FAILED and a message
** in err. */
ai_llm_status ai_llm_session_prompt(ai_llm_session *s, const char *text,
                                    size_t len, const ai_llm_params *p,
                                    uint32_t *prompt_tokens, wg_error *err);

/* Samples one token, evaluates it, and gives its text piece (may be part of
** a UTF-8 sequence) in piece/len (valid until the next call). AI_LLM_OK, or
** AI_LLM_EOG (the EOG token's piece is given, usually empty),
** AI_LLM_CONTEXT_FULL, AI_LLM_CANCELLED, AI_LLM_DECODE_FAILED,
** AI_LLM_NO_INPUT. Does not apply max_tokens or stop strings: the caller
** (WASI-NN compute_single) decides when to stop. */
ai_llm_status ai_llm_session_step(ai_llm_session *s, const char **piece,
                                  size_t *len);

/* Tokens generated since the last prompt. */
uint32_t ai_llm_session_generated(const ai_llm_session *s);

/* After an ai_llm_session_prompt with p->embedding: the prompt's embedding
** (mean-pooled unless the model names another pooling; normalised as
** p->embd_normalize asks), *n floats (the model's n_embd), valid until the
** next prompt or the release of the slot. NULL (*n = 0) when the last
** prompt was not an embedding. Errors of an embedding prompt: as for a
** prompt, plus AI_LLM_PROMPT_TOO_LONG when the tokens exceed the batch
** size (they are pooled in one batch). */
const float *ai_llm_session_embedding(const ai_llm_session *s, uint32_t *n);

/* out[i] = in[i] / norm(in), norm as ai_llm_params.embd_normalize says
** (-1: none; 0: max |x| / 32760; 1: sum |x|; 2: euclidean; k > 2: the
** k-norm). A zero norm gives zeros. in == out is allowed. */
void ai_llm_embd_normalize(const float *in, float *out, size_t n, int mode);

/* Called with text as it becomes final (stop strings held back until they
** cannot match any more; whole UTF-8 sequences only). Return false to stop
** (the generation ends with AI_LLM_CANCELLED). */
typedef bool (*ai_llm_text_fn)(void *user, const char *text, size_t len);

/* prompt + steps until EOG, a stop string, max_tokens, a full context or a
** cancel; text goes to fn. The usual driver of the gateway and of WASI-NN
** `compute`. Returns how it ended; *completion_tokens counts the sampled
** tokens (EOG included only when it was sampled). */
ai_llm_status ai_llm_generate(ai_llm_session *s, const char *prompt,
                              size_t len, const ai_llm_params *p,
                              ai_llm_text_fn fn, void *user,
                              uint32_t *prompt_tokens,
                              uint32_t *completion_tokens, wg_error *err);

/* ------------------------------------------------------------------ */
/* JSON schema -> GBNF (llm_schema.c)                                      */

/* Converts a JSON schema (the subset documented in llm_schema.c: object with
** properties/required/additionalProperties false, array with items,
** string (enum, const), number, integer, boolean, null, enum, anyOf)
** into a GBNF grammar with root rule "root". schema == NULL gives the
** grammar of any JSON object (response_format json_object). WG_EINVAL with
** a message naming the unsupported keyword. */
wg_err ai_llm_schema_to_gbnf(const char *schema, size_t len, wg_buf *out,
                             wg_error *err);

#endif

/*
** Metadata JSON of WASI-NN's GGML backend: the load config of
** load_by_name_with_config / builder 1 of load, and set_input index 1.
**
** Keys are kebab-case, as WasmEdge's metadata parser reads them. A missing
** key keeps its value, an unknown key is ignored, a present key of the
** wrong JSON type fails with errno 1, text that is not a JSON object with
** errno 2. Each known key is one row of the table below with its type and
** what it does here; keys that only make sense with a GPU or for other
** llama.cpp programs are type-checked and then ignored.
**
** Sampling numbers are clamped as WasmEdge clamps them (>= 0; min-p and
** typ-p also <= 1); last-n-penalty below -1 is -1 (the whole context),
** embd-normalize is kept within [-1, 64]; mirostat other than 0, 1, 2 is
** errno 1 (llama.cpp has no other). The sampler is rebuilt from these at
** every prompt, so a change takes effect with the next compute.
*/
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/alloc.h"
#include "nn/nn_int.h"

typedef enum key_kind {
  K_IGNORE,        /* type-checked only */
  K_REFUSE_PATH,   /* a host path: refused unless empty */
  K_REFUSE_TRUE,   /* a mode we do not have: refused when true */
  K_N_PREDICT, K_REVERSE_PROMPT, K_CTX_SIZE, K_BATCH_SIZE, K_THREADS,
  K_TEMP, K_TOP_P, K_TOP_K, K_SEED, K_IGNORE_EOS, K_GRAMMAR, K_JSON_SCHEMA,
  K_STREAM_STDOUT, K_ENABLE_LOG,
  K_REPEAT_PENALTY, K_PRESENCE_PENALTY, K_FREQUENCY_PENALTY, K_LAST_N,
  K_MIN_P, K_TYP_P, K_MIROSTAT, K_MIROSTAT_ETA, K_MIROSTAT_TAU,
  K_EMBEDDING, K_EMBD_NORMALIZE,
} key_kind;

/* b = bool, i = integer, f = number, s = string */
static const struct meta_key {
  const char *name;
  char type;
  key_kind kind;
} meta_keys[] = {
    {"batch-size", 'i', K_BATCH_SIZE},
    {"ctx-size", 'i', K_CTX_SIZE},
    {"embd-normalize", 'i', K_EMBD_NORMALIZE},
    {"embedding", 'b', K_EMBEDDING},
    {"enable-debug-log", 'b', K_ENABLE_LOG},
    {"enable-log", 'b', K_ENABLE_LOG},
    {"flash-attn", 's', K_IGNORE},
    {"frequency-penalty", 'f', K_FREQUENCY_PENALTY},
    {"grammar", 's', K_GRAMMAR},
    {"ignore-eos", 'b', K_IGNORE_EOS},
    {"image", 's', K_REFUSE_PATH},
    {"json-schema", 's', K_JSON_SCHEMA},
    {"last-n-penalty", 'i', K_LAST_N},
    {"main-gpu", 'i', K_IGNORE},
    {"min-p", 'f', K_MIN_P},
    {"mirostat", 'i', K_MIROSTAT},
    {"mirostat-eta", 'f', K_MIROSTAT_ETA},
    {"mirostat-tau", 'f', K_MIROSTAT_TAU},
    {"mmproj", 's', K_REFUSE_PATH},
    {"model-vocoder", 's', K_REFUSE_PATH},
    {"n-gpu-layers", 'i', K_IGNORE},
    {"n-predict", 'i', K_N_PREDICT},
    {"presence-penalty", 'f', K_PRESENCE_PENALTY},
    {"repeat-penalty", 'f', K_REPEAT_PENALTY},
    {"reverse-prompt", 's', K_REVERSE_PROMPT},
    {"seed", 'i', K_SEED},
    {"split-mode", 's', K_IGNORE},
    {"stream-stdout", 'b', K_STREAM_STDOUT},
    {"temp", 'f', K_TEMP},
    {"tensor-split", 's', K_IGNORE},
    {"threads", 'i', K_THREADS},
    {"threads-batch", 'i', K_THREADS},
    {"top-k", 'i', K_TOP_K},
    {"top-p", 'f', K_TOP_P},
    {"tts", 'b', K_REFUSE_TRUE},
    {"typ-p", 'f', K_TYP_P},
    {"ubatch-size", 'i', K_BATCH_SIZE},
    {"use-mlock", 'b', K_IGNORE},
    {"use-mmap", 'b', K_IGNORE},
};
#define NKEYS (sizeof meta_keys / sizeof meta_keys[0])

/* The defaults of llama.cpp's common_params (common_params_sampling),
** which WasmEdge starts from (wasi-nn.md 7.1 states no others). */
void wgn_params_init(wgn_params *p) {
  memset(p, 0, sizeof *p);
  p->n_predict = -1;
  p->temp = 0.8;
  p->top_p = 0.95;
  p->top_k = 40;
  p->seed_random = true;
  p->repeat_penalty = 1.0;     /* off */
  p->last_n_penalty = 64;
  p->min_p = 0.05;
  p->typ_p = 1.0;              /* off */
  p->mirostat_tau = 5.0;
  p->mirostat_eta = 0.1;
  p->embd_normalize = 2;       /* euclidean (wasi-nn.md 7.2) */
}

/* The sampling options for the backend (see nn_int.h). */
void wgn_params_to_llm(const wgn_params *x, ai_llm_params *p) {
  ai_llm_params_init(p);
  p->max_tokens = -1;
  p->temperature = (float)x->temp;
  p->top_p = (float)x->top_p;
  p->top_k = x->top_k;
  p->seed = x->seed;
  if (x->seed_random && getrandom(&p->seed, sizeof p->seed, 0) != sizeof p->seed) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    p->seed = (uint32_t)(t.tv_nsec ^ t.tv_sec);
  }
  p->grammar = x->grammar;
  p->ignore_eos = x->ignore_eos;
  p->repeat_penalty = (float)x->repeat_penalty;
  p->presence_penalty = (float)x->presence_penalty;
  p->frequency_penalty = (float)x->frequency_penalty;
  p->penalty_last_n = x->last_n_penalty;
  p->min_p = (float)x->min_p;
  p->typical_p = (float)x->typ_p;
  p->mirostat = x->mirostat;
  p->mirostat_tau = (float)x->mirostat_tau;
  p->mirostat_eta = (float)x->mirostat_eta;
  p->embedding = x->embedding;
  p->embd_normalize = x->embd_normalize;
  p->batch_size = x->batch_size;
}

void wgn_params_free(wgn_params *p) {
  if (p->reverse_prompt) wg_free(p->reverse_prompt, strlen(p->reverse_prompt) + 1);
  if (p->grammar) wg_free(p->grammar, strlen(p->grammar) + 1);
  p->reverse_prompt = p->grammar = NULL;
}

static char *dup_n(const char *s, size_t n) {
  char *d = wg_realloc_(NULL, 0, n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

bool wgn_params_copy(wgn_params *dst, const wgn_params *src) {
  *dst = *src;
  dst->reverse_prompt = dst->grammar = NULL;
  if (src->reverse_prompt &&
      !(dst->reverse_prompt = dup_n(src->reverse_prompt, strlen(src->reverse_prompt))))
    goto fail;
  if (src->grammar && !(dst->grammar = dup_n(src->grammar, strlen(src->grammar))))
    goto fail;
  return true;
fail:
  wgn_params_free(dst);
  wgn_params_init(dst);
  return false;
}

static bool type_ok(char type, const json_t *v) {
  switch (type) {
    case 'b': return json_is_boolean(v);
    case 'i': return json_is_integer(v);
    case 'f': return json_is_number(v);
    default: return json_is_string(v);
  }
}

/* A non-negative integer key that fits u32. */
static bool get_u32(const json_t *v, uint32_t *out) {
  json_int_t i = json_integer_value(v);
  if (i < 0 || i > (json_int_t)UINT32_MAX) return false;
  *out = (uint32_t)i;
  return true;
}

/* Replaces *slot by a copy of v's string ("" clears it). */
static bool set_str(char **slot, const json_t *v) {
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  char *d = NULL;
  if (n && !(d = dup_n(s, n))) return false;
  if (*slot) wg_free(*slot, strlen(*slot) + 1);
  *slot = d;
  return true;
}

/* A number clamped to [0, hi] (WasmEdge clamps the sampling options to
** >= 0; NaN cannot come from JSON, an overflow to inf can). */
static double clamp01(const json_t *v, double hi) {
  double d = json_number_value(v);
  if (!(d > 0)) return 0;
  return d < hi ? d : hi;
}

/* An integer clamped to [lo, hi]. */
static int32_t clamp_int(const json_t *v, int32_t lo, int32_t hi) {
  json_int_t i = json_integer_value(v);
  return i < lo ? lo : i > hi ? hi : (int32_t)i;
}

static uint32_t apply_key(const wg_nn_backend *b, wgn_params *p,
                          const struct meta_key *k, const json_t *v) {
  uint32_t u;
  switch (k->kind) {
    case K_REPEAT_PENALTY: p->repeat_penalty = clamp01(v, 1e9); return 0;
    case K_PRESENCE_PENALTY: p->presence_penalty = clamp01(v, 1e9); return 0;
    case K_FREQUENCY_PENALTY: p->frequency_penalty = clamp01(v, 1e9); return 0;
    case K_LAST_N:   /* -1 (or less): the whole context */
      p->last_n_penalty = clamp_int(v, -1, INT32_MAX);
      return WG_NN_SUCCESS;
    case K_MIN_P: p->min_p = clamp01(v, 1); return WG_NN_SUCCESS;
    case K_TYP_P: p->typ_p = clamp01(v, 1); return WG_NN_SUCCESS;
    case K_MIROSTAT: {   /* llama.cpp knows versions 1 and 2 only */
      json_int_t i = json_integer_value(v);
      if (i < 0 || i > 2) return WG_NN_INVALID_ARGUMENT;
      p->mirostat = (int32_t)i;
      return WG_NN_SUCCESS;
    }
    case K_MIROSTAT_ETA: p->mirostat_eta = clamp01(v, 1e9); return 0;
    case K_MIROSTAT_TAU: p->mirostat_tau = clamp01(v, 1e9); return 0;
    case K_EMBEDDING: p->embedding = json_is_true(v); return WG_NN_SUCCESS;
    case K_EMBD_NORMALIZE:   /* -1 none ... > 2 p-norm, as llama.cpp */
      p->embd_normalize = clamp_int(v, -1, 64);
      return WG_NN_SUCCESS;
    case K_IGNORE:
    case K_STREAM_STDOUT:
    case K_ENABLE_LOG:
      if (k->kind == K_STREAM_STDOUT) p->stream_stdout = json_is_true(v);
      if (k->kind == K_ENABLE_LOG) p->enable_log = json_is_true(v);
      return WG_NN_SUCCESS;
    case K_REFUSE_PATH:
      return json_string_length(v) ? WG_NN_INVALID_ARGUMENT : WG_NN_SUCCESS;
    case K_REFUSE_TRUE:
      return json_is_true(v) ? WG_NN_INVALID_ARGUMENT : WG_NN_SUCCESS;
    case K_N_PREDICT:
      p->n_predict = json_integer_value(v) < 0 ? -1 : json_integer_value(v);
      return WG_NN_SUCCESS;
    case K_REVERSE_PROMPT:
      return set_str(&p->reverse_prompt, v) ? WG_NN_SUCCESS : WG_NN_RUNTIME_ERROR;
    case K_CTX_SIZE:
      if (!get_u32(v, &u)) return WG_NN_INVALID_ARGUMENT;
      p->ctx_size = u;
      return WG_NN_SUCCESS;
    case K_BATCH_SIZE:
      if (!get_u32(v, &u)) return WG_NN_INVALID_ARGUMENT;
      p->batch_size = u;
      return WG_NN_SUCCESS;
    case K_THREADS:
      if (!get_u32(v, &u)) return WG_NN_INVALID_ARGUMENT;
      p->threads = u;
      return WG_NN_SUCCESS;
    case K_TEMP: {
      double d = json_number_value(v);
      p->temp = d > 0 && isfinite(d) ? d : 0;   /* clamped to >= 0 */
      return WG_NN_SUCCESS;
    }
    case K_TOP_P: {
      double d = json_number_value(v);
      p->top_p = d > 0 && isfinite(d) ? (d < 1 ? d : 1) : 0;
      return WG_NN_SUCCESS;
    }
    case K_TOP_K: {
      json_int_t i = json_integer_value(v);
      p->top_k = i <= 0 ? 0 : i > INT32_MAX ? INT32_MAX : (int32_t)i;
      return WG_NN_SUCCESS;
    }
    case K_SEED: {
      json_int_t i = json_integer_value(v);
      if (i == -1 || i == (json_int_t)UINT32_MAX) {  /* LLAMA_DEFAULT_SEED */
        p->seed_random = true;
        return WG_NN_SUCCESS;
      }
      if (!get_u32(v, &u)) return WG_NN_INVALID_ARGUMENT;
      p->seed = u;
      p->seed_random = false;
      return WG_NN_SUCCESS;
    }
    case K_IGNORE_EOS:
      p->ignore_eos = json_is_true(v);
      return WG_NN_SUCCESS;
    case K_GRAMMAR:
      return set_str(&p->grammar, v) ? WG_NN_SUCCESS : WG_NN_RUNTIME_ERROR;
    case K_JSON_SCHEMA: {
      if (!json_string_length(v)) return WG_NN_SUCCESS;
      wg_buf g;
      wg_buf_init(&g, 1u << 20);
      wg_error err;
      wg_error_clear(&err);
      uint32_t r = WG_NN_SUCCESS;
      if (b->schema_to_grammar(json_string_value(v), json_string_length(v), &g, &err))
        r = WG_NN_INVALID_ARGUMENT;
      else if (!g.len)
        r = WG_NN_INVALID_ARGUMENT;
      else {
        char *d = dup_n((const char *)g.data, g.len);
        if (!d) r = WG_NN_RUNTIME_ERROR;
        else {
          if (p->grammar) wg_free(p->grammar, strlen(p->grammar) + 1);
          p->grammar = d;
        }
      }
      wg_buf_free(&g);
      return r;
    }
  }
  return WG_NN_SUCCESS;
}

static const struct meta_key *find_key(const char *name) {
  size_t lo = 0, hi = NKEYS;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(meta_keys[mid].name, name);
    if (c == 0) return &meta_keys[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

uint32_t wgn_params_apply(const wg_nn_backend *b, wgn_params *p,
                          const uint8_t *json, size_t len) {
  json_error_t jerr;
  json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) return WG_NN_INVALID_ENCODING;
  if (!json_is_object(root)) {
    json_decref(root);
    return WG_NN_INVALID_ENCODING;
  }
  /* Types first, so that a bad key changes nothing. */
  const char *name;
  json_t *v;
  uint32_t r = WG_NN_SUCCESS;
  json_object_foreach(root, name, v) {
    const struct meta_key *k = find_key(name);
    if (k && !type_ok(k->type, v)) {
      r = WG_NN_INVALID_ARGUMENT;
      goto done;
    }
  }
  wgn_params next;
  if (!wgn_params_copy(&next, p)) {
    r = WG_NN_RUNTIME_ERROR;
    goto done;
  }
  json_object_foreach(root, name, v) {
    const struct meta_key *k = find_key(name);
    if (k && (r = apply_key(b, &next, k, v)) != WG_NN_SUCCESS) break;
  }
  if (r == WG_NN_SUCCESS) {
    wgn_params_free(p);
    *p = next;
  } else {
    wgn_params_free(&next);
  }
done:
  json_decref(root);
  return r;
}

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
*/
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"
#include "nn/nn_int.h"

typedef enum key_kind {
  K_IGNORE,        /* type-checked only */
  K_REFUSE_PATH,   /* a host path: refused unless empty */
  K_REFUSE_TRUE,   /* a mode we do not have: refused when true */
  K_N_PREDICT, K_REVERSE_PROMPT, K_CTX_SIZE, K_BATCH_SIZE, K_THREADS,
  K_TEMP, K_TOP_P, K_TOP_K, K_SEED, K_IGNORE_EOS, K_GRAMMAR, K_JSON_SCHEMA,
  K_STREAM_STDOUT, K_ENABLE_LOG,
} key_kind;

/* b = bool, i = integer, f = number, s = string */
static const struct meta_key {
  const char *name;
  char type;
  key_kind kind;
} meta_keys[] = {
    {"batch-size", 'i', K_BATCH_SIZE},
    {"ctx-size", 'i', K_CTX_SIZE},
    {"embd-normalize", 'i', K_IGNORE},
    {"embedding", 'b', K_REFUSE_TRUE},
    {"enable-debug-log", 'b', K_ENABLE_LOG},
    {"enable-log", 'b', K_ENABLE_LOG},
    {"flash-attn", 's', K_IGNORE},
    {"frequency-penalty", 'f', K_IGNORE},
    {"grammar", 's', K_GRAMMAR},
    {"ignore-eos", 'b', K_IGNORE_EOS},
    {"image", 's', K_REFUSE_PATH},
    {"json-schema", 's', K_JSON_SCHEMA},
    {"last-n-penalty", 'i', K_IGNORE},
    {"main-gpu", 'i', K_IGNORE},
    {"min-p", 'f', K_IGNORE},
    {"mirostat", 'i', K_IGNORE},
    {"mirostat-eta", 'f', K_IGNORE},
    {"mirostat-tau", 'f', K_IGNORE},
    {"mmproj", 's', K_REFUSE_PATH},
    {"model-vocoder", 's', K_REFUSE_PATH},
    {"n-gpu-layers", 'i', K_IGNORE},
    {"n-predict", 'i', K_N_PREDICT},
    {"presence-penalty", 'f', K_IGNORE},
    {"repeat-penalty", 'f', K_IGNORE},
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
    {"typ-p", 'f', K_IGNORE},
    {"ubatch-size", 'i', K_BATCH_SIZE},
    {"use-mlock", 'b', K_IGNORE},
    {"use-mmap", 'b', K_IGNORE},
};
#define NKEYS (sizeof meta_keys / sizeof meta_keys[0])

void wgn_params_init(wgn_params *p) {
  memset(p, 0, sizeof *p);
  p->n_predict = -1;
  p->temp = 0.8;
  p->top_p = 0.95;
  p->top_k = 40;
  p->seed_random = true;
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

static uint32_t apply_key(const wg_nn_backend *b, wgn_params *p,
                          const struct meta_key *k, const json_t *v) {
  uint32_t u;
  switch (k->kind) {
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

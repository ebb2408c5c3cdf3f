/*
** A scripted WASI-NN backend for the ABI tests (a test double only: the
** real module runs on backend_llama.c, tested in test_nn_llama.c and by the
** chat guest).
**
** A "model" is a file whose bytes are the reply: every step gives the next
** byte as its piece, then end-of-generation (an empty piece). A file that
** starts with "LOOP" never ends: it gives "x" every millisecond until it is
** cancelled or its deadline passes. One prompt byte is one token; the
** context holds cfg->ctx_size tokens (64 when 0). The prompt "FAIL" fails
** to decode. The last params a prompt got are kept in fake_last.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "fake_backend.h"

typedef struct fake_model {
  char text[4096];
  size_t len;
  bool loop;
  uint32_t ctx, slots, busy;
} fake_model;

typedef struct fake_session {
  fake_model *m;
  size_t pos;
  uint32_t used;       /* tokens in the context */
  bool has_prompt;
  atomic_bool cancel;
  uint64_t deadline;
} fake_session;

fake_params fake_last;
int fake_open_count;

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static wg_err f_open(const ai_llm_model_cfg *cfg, void **model, wg_error *err) {
  int fd = open(cfg->path, O_RDONLY);
  if (fd < 0)
    return wg_error_set(err, errno == ENOENT ? WG_ENOTFOUND : WG_EIO,
                        "cannot open %s", cfg->path);
  fake_model *m = wg_new(fake_model);
  ssize_t n = read(fd, m->text, sizeof m->text);
  close(fd);
  if (n < 4 || !memcmp(m->text, "JUNK", 4)) {
    wg_free_obj(m);
    return wg_error_set(err, WG_EINVAL, "not a model");
  }
  m->len = (size_t)n;
  m->loop = !memcmp(m->text, "LOOP", 4);
  m->ctx = cfg->ctx_size ? cfg->ctx_size : 64;
  m->slots = cfg->slots ? cfg->slots : 1;
  fake_open_count++;
  *model = m;
  return WG_OK;
}

static void f_close(void *model) { wg_free_obj((fake_model *)model); }
static uint32_t f_ctx_size(void *model) { return ((fake_model *)model)->ctx; }

static wg_err f_acquire(void *model, uint64_t deadline_ms, void **session) {
  fake_model *m = model;
  (void)deadline_ms;
  if (m->busy >= m->slots) return WG_ELIMIT;
  fake_session *s = wg_new(fake_session);
  s->m = m;
  m->busy++;
  *session = s;
  return WG_OK;
}

static void f_release(void *session) {
  fake_session *s = session;
  s->m->busy--;
  wg_free_obj(s);
}

static void f_cancel(void *session) { atomic_store(&((fake_session *)session)->cancel, true); }
static void f_set_deadline(void *session, uint64_t ms) { ((fake_session *)session)->deadline = ms; }

static ai_llm_status f_prompt(void *session, const char *text, size_t len,
                              const ai_llm_params *p, uint32_t *ntok, wg_error *err) {
  fake_session *s = session;
  atomic_store(&s->cancel, false);
  fake_last.temp = p->temperature;
  fake_last.top_p = p->top_p;
  fake_last.top_k = p->top_k;
  fake_last.seed = p->seed;
  fake_last.ignore_eos = p->ignore_eos;
  snprintf(fake_last.grammar, sizeof fake_last.grammar, "%s", p->grammar ? p->grammar : "");
  fake_last.prompts++;
  *ntok = (uint32_t)len;
  s->pos = 0;
  s->used = 0;
  s->has_prompt = false;
  if (len == 4 && !memcmp(text, "FAIL", 4)) {
    wg_error_set(err, WG_EIO, "decode failed");
    return AI_LLM_DECODE_FAILED;
  }
  if (len + 4 > s->m->ctx) return AI_LLM_PROMPT_TOO_LONG;
  s->used = (uint32_t)len;
  s->has_prompt = true;
  return AI_LLM_OK;
}

static ai_llm_status f_step(void *session, const char **piece, size_t *len) {
  fake_session *s = session;
  if (!s->has_prompt) return AI_LLM_NO_INPUT;
  if (s->m->loop) {
    struct timespec t = {0, 1000000};
    nanosleep(&t, NULL);
    if (atomic_load(&s->cancel) || (s->deadline && now_ms() >= s->deadline))
      return AI_LLM_CANCELLED;
    *piece = "x";
    *len = 1;
    return AI_LLM_OK;
  }
  if (s->used >= s->m->ctx) return AI_LLM_CONTEXT_FULL;
  s->used++;
  if (s->pos >= s->m->len) {
    *piece = "";
    *len = 0;
    return AI_LLM_EOG;
  }
  *piece = s->m->text + s->pos++;
  *len = 1;
  return AI_LLM_OK;
}

static wg_err f_schema(const char *schema, size_t len, wg_buf *out, wg_error *err) {
  wg_buf_reset(out);
  if (len == 3 && !memcmp(schema, "bad", 3))
    return wg_error_set(err, WG_EINVAL, "unsupported keyword");
  return wg_buf_printf(out, "root ::= \"{}\" # %.*s", (int)len, schema);
}

static int f_build(void) { return 42; }
static const char *f_commit(void) { return "fake\"commit"; }

static wg_err f_embedding(void *session, wg_buf *out) {
  (void)session;
  return wg_buf_printf(out, "{\"n_embedding\": 2, \"embedding\": [0.6,0.8]}");
}

static const wg_nn_backend fake = {
    "fake", f_open, f_close, f_ctx_size, f_acquire, f_release, f_cancel,
    f_set_deadline, f_prompt, f_step, f_schema, f_build, f_commit, f_embedding,
};

const wg_nn_backend *fake_backend(void) { return &fake; }

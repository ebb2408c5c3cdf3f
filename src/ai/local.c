/*
** The `local` provider: chat completions generated in this process by
** llama.cpp (src/ai/llm.h), answered through the same ai_call_ops as an
** upstream, so that the gateway's guardrails, redaction, usage
** accounting, audit, metrics and sessions work unchanged.
**
** A local deployment owns its model, one runner thread per slot and a
** watcher thread. ai_call_start (engine.c) hands a local model's call to
** ai_local_start, which parses and checks the request on the caller's
** thread (a bad request is answered 400 even when every slot is busy)
** and queues it, FIFO, at most `queue` deep. A runner takes the next job,
** generates with ai_llm_generate and feeds the text to on_data as it
** becomes final: chat.completion.chunk events when streaming (the role
** first, one event per piece, the finish_reason, the usage chunk when
** stream_options.include_usage, then [DONE]), else one chat.completion
** body at the end. The watcher answers refused jobs (429 with
** Retry-After when the queue is full, or after queue_timeout_ms without
** a slot), and polls every client socket: a client that goes away
** cancels its job, which interrupts llama_decode through the session's
** abort callback.
**
** on_done runs on a runner or on the watcher thread, exactly once; after
** it, nothing of the job touches the caller's `user`.
*/
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ai/ai.h"
#include "ai/llm.h"
#include "base/alloc.h"

#define LOCAL_BODY_MAX (64u << 20)   /* a non-streamed answer */
#define LOCAL_PROMPT_MAX (16u << 20)
#define LOCAL_STOP_MAX 4             /* OpenAI's limit */
#define LOCAL_STOP_LEN 256
#define LOCAL_MSGS_MAX 4096
#define LOCAL_WATCH_MAX 1024

typedef struct ai_local ai_local;

struct ai_local_job {
  atomic_int refs;              /* the caller's (ai_call) + the runner's */
  ai_local *L;
  const ai_call_ops *ops;
  void *user;
  int client_fd;                /* our dup, or -1 */
  bool watch;                   /* still polled (watcher only) */
  uint64_t deadline_ms;         /* the request's (0: none) */
  uint64_t slot_by_ms;          /* queue wait ends */
  atomic_bool cancel, unpause, finished, client_gone;
  ai_llm_session *sess;         /* while generating (under L->lock) */
  ai_local_job *next;           /* queue, rejects or running list */
  /* The request, parsed by ai_local_start. */
  wg_buf prompt;
  ai_llm_params p;
  char stops[LOCAL_STOP_MAX][LOCAL_STOP_LEN + 1];
  const char *stop_ptrs[LOCAL_STOP_MAX];
  wg_buf grammar;
  bool stream, include_usage;
  /* A refusal (answered by the watcher). */
  int reject_status;            /* 400, or 429 (queue full) */
  wg_buf errbody;
  /* The answer. */
  char id[48];
  int64_t created;
  wg_buf chunk;                 /* one event */
  wg_buf content;               /* non-stream: the whole text */
  bool committed, aborted;
  uint64_t t0_ns, ttfb_ns;
  char why[256];                /* the failure, for ai_result.error */
};

struct ai_local {
  ai_deployment *d;
  ai_llm_model *m;
  pthread_mutex_t lock;
  pthread_cond_t cond;          /* a job is queued, or stop */
  pthread_cond_t pause_cond;    /* a paused job may go on */
  ai_local_job *qhead, *qtail;  /* FIFO of waiting jobs */
  uint32_t queued;
  uint32_t busy;                /* runners with a job */
  ai_local_job *rejects;        /* to be answered by the watcher */
  ai_local_job *running[64];    /* by runner index */
  bool stop;
  pthread_t *runners;
  uint32_t nrunners;
  pthread_t watcher;
  bool watcher_started;
  int wake[2];                  /* wakes the watcher */
};

static atomic_uint_fast64_t local_seq;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool local_url(const ai_deployment *d, const char *endpoint,
                      char *url, size_t size) {
  (void)d, (void)endpoint, (void)url, (void)size;
  return false;               /* never reached: no HTTP for local models */
}

static bool local_headers(const ai_deployment *d, struct curl_slist **h) {
  (void)d, (void)h;
  return false;
}

const ai_provider ai_local_provider = {"local", local_url, local_headers};

/* ------------------------------------------------------------------ */
/* Jobs                                                                */

static void job_unref(ai_local_job *j) {
  if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
  if (j->client_fd >= 0) close(j->client_fd);
  wg_buf_free(&j->prompt);
  wg_buf_free(&j->grammar);
  wg_buf_free(&j->errbody);
  wg_buf_free(&j->chunk);
  wg_buf_free(&j->content);
  wg_free_obj(j);
}

static void wake_watcher(ai_local *L) {
  char c = 1;
  ssize_t w = write(L->wake[1], &c, 1);
  (void)w;                      /* a full pipe is awake already */
}

/* The end: on_done once, then the runner's reference goes. */
static void finish(ai_local_job *j, ai_result *r) {
  if (atomic_exchange(&j->finished, true)) return;
  r->dep = j->L->d;
  r->ttfb_ns = j->ttfb_ns;
  r->client_gone = atomic_load(&j->client_gone);
  if (r->outcome == AI_OK) atomic_fetch_add(&j->L->d->calls, 1);
  else if (r->outcome != AI_CANCELLED && r->outcome != AI_UPSTREAM_ERROR)
    atomic_fetch_add(&j->L->d->failures, 1);
  j->ops->on_done(j->user, r);
  job_unref(j);
}

/* An OpenAI error body into j->errbody, and the status to answer. */
static bool reject(ai_local_job *j, int status, const char *param,
                   const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static bool reject(ai_local_job *j, int status, const char *param,
                   const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *e = json_pack("{s{ss,ss,so,so}}", "error", "message", msg, "type",
                        status == 400 ? "invalid_request_error"
                                      : "rate_limit_error",
                        "param", param ? json_string(param) : json_null(),
                        "code", json_string(code ? code
                                                 : status == 400
                                                       ? "invalid_parameter"
                                                       : "rate_limit_exceeded"));
  char *s = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(e);
  wg_buf_reset(&j->errbody);
  if (s) {
    wg_buf_append(&j->errbody, s, strlen(s));
    json_free_t fr;
    json_get_alloc_funcs(NULL, &fr);
    fr(s);
  }
  j->reject_status = status;
  return false;
}

/* Appends s as the inside of a JSON string (s is valid UTF-8). */
static wg_err json_esc(wg_buf *b, const char *s, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    wg_err rc = wg_buf_append(b, s + run, i - run);
    char e[8];
    if (c == '"' || c == '\\') e[0] = '\\', e[1] = (char)c, e[2] = 0;
    else if (c == '\n') memcpy(e, "\\n", 3);
    else if (c == '\r') memcpy(e, "\\r", 3);
    else if (c == '\t') memcpy(e, "\\t", 3);
    else snprintf(e, sizeof e, "\\u%04x", c);
    if (!rc) rc = wg_buf_append(b, e, strlen(e));
    if (rc) return rc;
    run = i + 1;
  }
  return wg_buf_append(b, s + run, n - run);
}

/* ------------------------------------------------------------------ */
/* The request                                                         */

/* A message's content: a string, null, or an array of text parts
** (joined). out gets a NUL-terminated copy. */
static bool content_text(ai_local_job *j, json_t *c, size_t i, wg_buf *out) {
  if (json_is_null(c) || !c) return true;
  if (json_is_string(c))
    return wg_buf_append(out, json_string_value(c), json_string_length(c)) ==
                   WG_OK
               ? true
               : reject(j, 400, "messages", NULL, "messages: too long");
  if (!json_is_array(c))
    return reject(j, 400, "messages", NULL,
                  "messages[%zu].content must be a string or an array of "
                  "text parts", i);
  size_t k;
  json_t *part;
  json_array_foreach(c, k, part) {
    json_t *t = json_object_get(part, "type");
    json_t *tx = json_object_get(part, "text");
    if (!json_is_string(t) || strcmp(json_string_value(t), "text") ||
        !json_is_string(tx))
      return reject(j, 400, "messages", NULL,
                    "messages[%zu].content[%zu]: the local provider takes "
                    "text parts only", i, k);
    if (wg_buf_append(out, json_string_value(tx), json_string_length(tx)))
      return reject(j, 400, "messages", NULL, "messages: too long");
  }
  return true;
}

static bool prompt_from(ai_local_job *j, json_t *msgs) {
  if (!json_is_array(msgs) || !json_array_size(msgs))
    return reject(j, 400, "messages", NULL,
                  "messages must be a non-empty array");
  size_t n = json_array_size(msgs);
  if (n > LOCAL_MSGS_MAX)
    return reject(j, 400, "messages", NULL, "at most %d messages",
                  LOCAL_MSGS_MAX);
  ai_llm_msg *m = wg_new_array(ai_llm_msg, n);
  wg_buf *texts = wg_new_array(wg_buf, n);
  bool ok = m && texts;
  if (!ok) reject(j, 400, "messages", NULL, "out of memory");
  for (size_t i = 0; ok && i < n; i++) {
    json_t *msg = json_array_get(msgs, i);
    json_t *role = json_object_get(msg, "role");
    wg_buf_init(&texts[i], LOCAL_PROMPT_MAX);
    if (!json_is_string(role)) {
      ok = reject(j, 400, "messages", NULL,
                  "messages[%zu].role must be a string", i);
      break;
    }
    ok = content_text(j, json_object_get(msg, "content"), i, &texts[i]) &&
         wg_buf_append(&texts[i], "", 0) == WG_OK;
    m[i].role = json_string_value(role);
    m[i].content = texts[i].data ? (const char *)texts[i].data : "";
  }
  wg_error err;
  wg_error_clear(&err);
  if (ok && ai_llm_apply_template(j->L->m, m, n, &j->prompt, &err))
    ok = reject(j, 400, "messages", NULL, "%s", err.message);
  if (texts)
    for (size_t i = 0; i < n; i++) wg_buf_free(&texts[i]);
  if (texts) wg_free_array(texts, n);
  if (m) wg_free_array(m, n);
  return ok;
}

static bool num_in(json_t *v, double lo, double hi, bool lo_open) {
  if (!json_is_number(v)) return false;
  double x = json_number_value(v);
  return (lo_open ? x > lo : x >= lo) && x <= hi;
}

/* Rejects a field the local provider cannot honour, when it is set to
** something other than its neutral value. */
static bool unsupported(ai_local_job *j, json_t *body) {
  json_t *v;
  if ((v = json_object_get(body, "logprobs")) && json_is_true(v))
    return reject(j, 400, "logprobs", "unsupported_parameter",
                  "logprobs is not supported by the local provider");
  if ((v = json_object_get(body, "logit_bias")) && !json_is_null(v) &&
      !(json_is_object(v) && !json_object_size(v)))
    return reject(j, 400, "logit_bias", "unsupported_parameter",
                  "logit_bias is not supported by the local provider");
  if ((v = json_object_get(body, "tools")) && !json_is_null(v) &&
      !(json_is_array(v) && !json_array_size(v)))
    return reject(j, 400, "tools", "unsupported_parameter",
                  "tools are not supported by the local provider");
  if ((v = json_object_get(body, "functions")) && !json_is_null(v))
    return reject(j, 400, "functions", "unsupported_parameter",
                  "functions are not supported by the local provider");
  return true;
}

static bool parse_format(ai_local_job *j, json_t *rf) {
  if (!rf || json_is_null(rf)) return true;
  json_t *t = json_object_get(rf, "type");
  const char *ty = json_is_string(t) ? json_string_value(t) : "";
  wg_error err;
  wg_error_clear(&err);
  if (!strcmp(ty, "text")) return true;
  if (!strcmp(ty, "json_object")) {
    if (ai_llm_schema_to_gbnf(NULL, 0, &j->grammar, &err))
      return reject(j, 400, "response_format", NULL, "%s", err.message);
  } else if (!strcmp(ty, "json_schema")) {
    json_t *js = json_object_get(rf, "json_schema");
    json_t *s = json_object_get(js, "schema");
    if (!json_is_object(s))
      return reject(j, 400, "response_format", NULL,
                    "response_format.json_schema.schema must be an object");
    char *txt = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER);
    wg_err rc = txt ? ai_llm_schema_to_gbnf(txt, strlen(txt), &j->grammar,
                                            &err)
                    : wg_error_set(&err, WG_ENOMEM, "out of memory");
    if (txt) {
      json_free_t fr;
      json_get_alloc_funcs(NULL, &fr);
      fr(txt);
    }
    if (rc)
      return reject(j, 400, "response_format", NULL,
                    "response_format.json_schema: %s", err.message);
  } else {
    return reject(j, 400, "response_format", NULL,
                  "response_format.type must be text, json_object or "
                  "json_schema");
  }
  j->p.grammar = (const char *)j->grammar.data;
  return true;
}

/* Every field the local provider reads, checked: false with a 400 in
** j->errbody. */
static bool parse_request(ai_local_job *j, json_t *body) {
  json_t *v;
  ai_llm_params_init(&j->p);
  j->p.temperature = 1.0f;           /* OpenAI's default */
  if ((v = json_object_get(body, "n")) && !json_is_null(v) &&
      !(json_is_integer(v) && json_integer_value(v) == 1))
    return reject(j, 400, "n", "unsupported_parameter",
                  "n must be 1: the local provider generates one choice");
  if (!unsupported(j, body)) return false;
  v = json_object_get(body, "stream");
  if (v && !json_is_boolean(v) && !json_is_null(v))
    return reject(j, 400, "stream", NULL, "stream must be a boolean");
  j->stream = json_is_true(v);
  json_t *so = json_object_get(body, "stream_options");
  j->include_usage = json_is_true(json_object_get(so, "include_usage"));
  const char *mt_name = "max_completion_tokens";
  v = json_object_get(body, mt_name);
  if (!v || json_is_null(v)) v = json_object_get(body, mt_name = "max_tokens");
  if (v && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > INT32_MAX)
      return reject(j, 400, mt_name, NULL,
                    "%s must be an integer >= 1", mt_name);
    j->p.max_tokens = (int32_t)json_integer_value(v);
  }
  if ((v = json_object_get(body, "temperature")) && !json_is_null(v)) {
    if (!num_in(v, 0.0, 2.0, false))
      return reject(j, 400, "temperature", NULL,
                    "temperature must be a number from 0 to 2");
    j->p.temperature = (float)json_number_value(v);
  }
  if ((v = json_object_get(body, "top_p")) && !json_is_null(v)) {
    if (!num_in(v, 0.0, 1.0, true))
      return reject(j, 400, "top_p", NULL,
                    "top_p must be a number above 0 and at most 1");
    j->p.top_p = (float)json_number_value(v);
  }
  if ((v = json_object_get(body, "top_k")) && !json_is_null(v)) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > 100000)
      return reject(j, 400, "top_k", NULL,
                    "top_k must be an integer from 0 to 100000");
    j->p.top_k = (int32_t)json_integer_value(v);
  }
  /* OpenAI's penalties, -2..2: a token's logit loses frequency_penalty
  ** per occurrence and presence_penalty once, counted over the last 64
  ** tokens, prompt included (llama.cpp server's window and defaults, so
  ** that WASI-NN's presence-penalty/frequency-penalty give the same). */
  static const char *const pen[] = {"presence_penalty", "frequency_penalty"};
  for (size_t i = 0; i < 2; i++) {
    if (!(v = json_object_get(body, pen[i])) || json_is_null(v)) continue;
    if (!num_in(v, -2.0, 2.0, false))
      return reject(j, 400, pen[i], NULL,
                    "%s must be a number from -2 to 2", pen[i]);
    float f = (float)json_number_value(v);
    if (i == 0) j->p.presence_penalty = f;
    else j->p.frequency_penalty = f;
  }
  if ((v = json_object_get(body, "seed")) && !json_is_null(v)) {
    if (!json_is_integer(v))
      return reject(j, 400, "seed", NULL, "seed must be an integer");
    j->p.seed = (uint32_t)json_integer_value(v);
  } else {
    j->p.seed = (uint32_t)(now_ns() ^ (now_ns() >> 32));
  }
  v = json_object_get(body, "stop");
  if (v && !json_is_null(v)) {
    size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v)
                                                         : 0;
    if (!n || n > LOCAL_STOP_MAX)
      return reject(j, 400, "stop", NULL,
                    "stop must be a string or an array of 1 to %d strings",
                    LOCAL_STOP_MAX);
    for (size_t i = 0; i < n; i++) {
      json_t *s = json_is_string(v) ? v : json_array_get(v, i);
      if (!json_is_string(s) || !json_string_length(s) ||
          json_string_length(s) > LOCAL_STOP_LEN)
        return reject(j, 400, "stop", NULL,
                      "stop: each entry must be a string of 1 to %d bytes",
                      LOCAL_STOP_LEN);
      memcpy(j->stops[i], json_string_value(s), json_string_length(s) + 1);
      j->stop_ptrs[i] = j->stops[i];
    }
    j->p.stop = j->stop_ptrs;
    j->p.nstop = n;
  }
  /* An extension (as llama.cpp's server has it): end of generation masked,
  ** so that exactly max_tokens come (benchmarks). */
  v = json_object_get(body, "ignore_eos");
  if (v && !json_is_boolean(v) && !json_is_null(v))
    return reject(j, 400, "ignore_eos", NULL, "ignore_eos must be a boolean");
  j->p.ignore_eos = json_is_true(v);
  if (!parse_format(j, json_object_get(body, "response_format"))) return false;
  return prompt_from(j, json_object_get(body, "messages"));
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */

/* Gives bytes to on_data, waiting while it pauses. false: stop. */
static bool emit(ai_local_job *j, const char *p, size_t n) {
  for (;;) {
    int rc = j->ops->on_data(j->user, p, n);
    if (rc == AI_DATA_COMMITTED) j->committed = true;
    if (rc == AI_DATA_COMMITTED || rc == AI_DATA_OK) return true;
    if (rc == AI_DATA_ABORT) {
      j->aborted = true;
      return false;
    }
    ai_local *L = j->L;
    pthread_mutex_lock(&L->lock);
    while (!atomic_load(&j->unpause) && !atomic_load(&j->cancel))
      pthread_cond_wait(&L->pause_cond, &L->lock);
    atomic_store(&j->unpause, false);
    pthread_mutex_unlock(&L->lock);
    if (atomic_load(&j->cancel)) return false;
  }
}

static wg_err chunk_head(ai_local_job *j) {
  wg_buf_reset(&j->chunk);
  return wg_buf_printf(&j->chunk,
                       "data: {\"id\":\"%s\",\"object\":\"chat.completion."
                       "chunk\",\"created\":%lld,\"model\":\"%s\",\"choices\":",
                       j->id, (long long)j->created, j->L->d->model);
}

/* One chunk: role (first), content, or the finish_reason. */
static bool send_chunk(ai_local_job *j, const char *text, size_t n,
                       const char *finish, bool role) {
  wg_err rc = chunk_head(j);
  if (!rc) rc = wg_buf_printf(&j->chunk, "[{\"index\":0,\"delta\":{");
  if (!rc && role)
    rc = wg_buf_printf(&j->chunk, "\"role\":\"assistant\",\"content\":\"\"");
  if (!rc && text) {
    rc = wg_buf_printf(&j->chunk, "\"content\":\"");
    if (!rc) rc = json_esc(&j->chunk, text, n);
    if (!rc) rc = wg_buf_append(&j->chunk, "\"", 1);
  }
  if (!rc)
    rc = finish ? wg_buf_printf(&j->chunk,
                                "},\"logprobs\":null,\"finish_reason\":"
                                "\"%s\"}]}\n\n", finish)
                : wg_buf_printf(&j->chunk, "},\"logprobs\":null,"
                                           "\"finish_reason\":null}]}\n\n");
  if (rc) return false;
  return emit(j, (const char *)j->chunk.data, j->chunk.len);
}

static bool on_text(void *user, const char *text, size_t n) {
  ai_local_job *j = user;
  if (!j->ttfb_ns) j->ttfb_ns = now_ns() - j->t0_ns;
  if (atomic_load(&j->cancel)) return false;
  if (!j->stream) return json_esc(&j->content, text, n) == WG_OK;
  return send_chunk(j, text, n, NULL, false);
}

static bool send_end(ai_local_job *j, const char *finish, uint32_t pt,
                     uint32_t ct) {
  char usage[160];
  snprintf(usage, sizeof usage,
           "{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
           "\"total_tokens\":%u}", pt, ct, pt + ct);
  if (j->stream) {
    if (!send_chunk(j, NULL, 0, finish, false)) return false;
    if (j->include_usage) {
      if (chunk_head(j) ||
          wg_buf_printf(&j->chunk, "[],\"usage\":%s}\n\n", usage))
        return false;
      if (!emit(j, (const char *)j->chunk.data, j->chunk.len)) return false;
    }
    return emit(j, "data: [DONE]\n\n", 14);
  }
  wg_buf b;
  wg_buf_init(&b, LOCAL_BODY_MAX + 4096);
  bool ok =
      !wg_buf_printf(&b,
                     "{\"id\":\"%s\",\"object\":\"chat.completion\","
                     "\"created\":%lld,\"model\":\"%s\",\"choices\":[{"
                     "\"index\":0,\"message\":{\"role\":\"assistant\","
                     "\"content\":\"", j->id, (long long)j->created,
                     j->L->d->model) &&
      !wg_buf_append(&b, j->content.data ? (const char *)j->content.data : "",
                     j->content.len) &&
      !wg_buf_printf(&b,
                     "\",\"refusal\":null},\"logprobs\":null,"
                     "\"finish_reason\":\"%s\"}],\"usage\":%s}", finish,
                     usage);
  ok = ok && emit(j, (const char *)b.data, b.len);
  wg_buf_free(&b);
  return ok;
}

/* Generates j's answer; r gets the outcome (finish is the caller's). */
static void run(ai_local *L, ai_local_job *j, ai_result *out) {
  ai_result r;
  memset(&r, 0, sizeof r);
  if (atomic_load(&j->cancel)) {
    r.outcome = AI_CANCELLED;
    r.error = "cancelled";
    *out = r;
    return;
  }
  if (j->deadline_ms && ai_now_ms() >= j->deadline_ms) {
    r.outcome = AI_FAILED;
    r.timeout = true;
    r.error = "the deadline passed before a slot was free";
    *out = r;
    return;
  }
  ai_llm_session *s = NULL;
  if (ai_llm_session_acquire(L->m, j->slot_by_ms, &s)) {
    /* The slots are shared (WASI-NN may hold some): none came in time. */
    r.outcome = AI_NO_DEPLOYMENT;
    r.rate_limited = true;
    r.retry_after_ms = 1000;
    r.error = "every slot of the local model is busy";
    *out = r;
    return;
  }
  pthread_mutex_lock(&L->lock);
  j->sess = s;
  bool cancelled = atomic_load(&j->cancel);
  pthread_mutex_unlock(&L->lock);
  if (cancelled) ai_llm_session_cancel(s);
  ai_llm_session_set_deadline(s, j->deadline_ms);
  snprintf(j->id, sizeof j->id, "chatcmpl-local-%llu",
           (unsigned long long)atomic_fetch_add(&local_seq, 1) + 1);
  j->created = (int64_t)time(NULL);
  j->t0_ns = now_ns();
  wg_error err;
  wg_error_clear(&err);
  uint32_t pt = 0, ct = 0;
  ai_llm_status st = AI_LLM_OK;
  bool ok = !j->stream || send_chunk(j, NULL, 0, NULL, true);
  if (ok)
    st = ai_llm_generate(s, (const char *)j->prompt.data, j->prompt.len,
                         &j->p, on_text, j, &pt, &ct, &err);
  else
    st = AI_LLM_CANCELLED;
  pthread_mutex_lock(&L->lock);
  j->sess = NULL;
  pthread_mutex_unlock(&L->lock);
  bool timed_out = j->deadline_ms && ai_now_ms() >= j->deadline_ms;
  ai_llm_session_release(s);
  switch (st) {
  case AI_LLM_EOG:
  case AI_LLM_STOP:
  case AI_LLM_LENGTH:
  case AI_LLM_CONTEXT_FULL: {
    const char *fr = st == AI_LLM_EOG || st == AI_LLM_STOP ? "stop"
                                                           : "length";
    if (send_end(j, fr, pt, ct)) {
      r.outcome = AI_OK;
      r.status = 200;
    } else {
      r.outcome = atomic_load(&j->cancel) ? AI_CANCELLED : AI_BROKEN;
      r.error = "the answer could not be delivered";
    }
    break;
  }
  case AI_LLM_PROMPT_TOO_LONG:
    reject(j, 400, "messages", "context_length_exceeded",
           "This model's context holds %u tokens; the messages take %u.",
           ai_llm_model_ctx_size(L->m), pt);
    r.outcome = AI_UPSTREAM_ERROR;
    r.status = 400;
    r.body = &j->errbody;
    r.error = "prompt too long";
    break;
  case AI_LLM_CANCELLED:
    if (timed_out && !atomic_load(&j->client_gone)) {
      r.outcome = j->committed ? AI_BROKEN : AI_FAILED;
      r.timeout = true;
      r.error = "the generation passed its deadline";
    } else if (j->aborted) {
      r.outcome = AI_BROKEN;
      r.error = "the answer could not be delivered";
    } else {
      r.outcome = AI_CANCELLED;
      r.error = "cancelled";
    }
    break;
  default:
    r.outcome = j->committed ? AI_BROKEN : AI_FAILED;
    snprintf(j->why, sizeof j->why, "%s",
             err.message[0] ? err.message : ai_llm_status_name(st));
    r.error = j->why;
    break;
  }
  *out = r;
}

static void *runner_main(void *arg) {
  ai_local *L = arg;
  pthread_mutex_lock(&L->lock);
  uint32_t me = 0;
  while (me < L->nrunners && !pthread_equal(L->runners[me], pthread_self()))
    me++;
  for (;;) {
    while (!L->stop && !L->qhead) pthread_cond_wait(&L->cond, &L->lock);
    if (L->stop) break;
    ai_local_job *j = L->qhead;
    L->qhead = j->next;
    if (!L->qhead) L->qtail = NULL;
    L->queued--;
    L->busy++;
    j->next = NULL;
    if (me < 64) L->running[me] = j;
    atomic_fetch_add(&j->refs, 1);   /* the watcher may look at it */
    bool more = L->qhead != NULL;
    pthread_mutex_unlock(&L->lock);
    if (more) wake_watcher(L);       /* the next one now waits for a slot */
    ai_result r;
    run(L, j, &r);
    /* The runner is free before the caller hears of the end: a request
    ** sent right after this answer finds the slot. */
    pthread_mutex_lock(&L->lock);
    if (me < 64) L->running[me] = NULL;
    L->busy--;
    pthread_mutex_unlock(&L->lock);
    finish(j, &r);
    job_unref(j);
    pthread_mutex_lock(&L->lock);
  }
  pthread_mutex_unlock(&L->lock);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The watcher: refusals, queue timeouts, clients that went away       */

static bool client_closed(int fd) {
  char b;
  ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR);
}

static void cancel_job(ai_local *L, ai_local_job *j) {
  atomic_store(&j->cancel, true);
  if (j->sess) ai_llm_session_cancel(j->sess);   /* L->lock held */
  pthread_cond_broadcast(&L->pause_cond);
}

static void *watcher_main(void *arg) {
  ai_local *L = arg;
  struct pollfd *fds = wg_new_array(struct pollfd, LOCAL_WATCH_MAX + 1);
  ai_local_job **who = wg_new_array(ai_local_job *, LOCAL_WATCH_MAX + 1);
  pthread_mutex_lock(&L->lock);
  while (!L->stop && fds && who) {
    /* Refused jobs, and queued ones whose wait is over or cancelled. */
    ai_local_job *done = L->rejects;
    L->rejects = NULL;
    uint64_t now = ai_now_ms();
    long timeout = 1000;
    /* The first jobs have an idle runner about to take them: they do not
    ** wait for a slot, whatever the time says. */
    uint32_t idle = L->nrunners - L->busy;
    for (ai_local_job **pp = &L->qhead, *prev = NULL; *pp;) {
      ai_local_job *j = *pp;
      bool has_runner = idle > 0;
      if (has_runner) idle--;
      bool over = atomic_load(&j->cancel) ||
                  (!has_runner && now >= j->slot_by_ms);
      if (!over) {
        if (!has_runner && (long)(j->slot_by_ms - now) < timeout)
          timeout = (long)(j->slot_by_ms - now);
        prev = j;
        pp = &j->next;
        continue;
      }
      *pp = j->next;
      if (L->qtail == j) L->qtail = prev;
      L->queued--;
      j->reject_status = atomic_load(&j->cancel) ? -1 : 429;
      j->next = done;
      done = j;
    }
    /* The sockets to watch: queued and running jobs. */
    nfds_t n = 1;
    fds[0] = (struct pollfd){L->wake[0], POLLIN, 0};
    for (ai_local_job *j = L->qhead; j && n <= LOCAL_WATCH_MAX; j = j->next)
      if (j->watch) {
        atomic_fetch_add(&j->refs, 1);
        who[n] = j;
        fds[n++] = (struct pollfd){j->client_fd, POLLIN, 0};
      }
    for (uint32_t i = 0; i < L->nrunners && i < 64 && n <= LOCAL_WATCH_MAX;
         i++) {
      ai_local_job *j = L->running[i];
      if (j && j->watch) {
        atomic_fetch_add(&j->refs, 1);
        who[n] = j;
        fds[n++] = (struct pollfd){j->client_fd, POLLIN, 0};
      }
    }
    pthread_mutex_unlock(&L->lock);
    while (done) {
      ai_local_job *j = done;
      done = j->next;
      ai_result r;
      memset(&r, 0, sizeof r);
      if (j->reject_status == 400) {
        r.outcome = AI_UPSTREAM_ERROR;
        r.status = 400;
        r.body = &j->errbody;
        r.error = "invalid request";
      } else if (j->reject_status == -1) {
        r.outcome = AI_CANCELLED;
        r.error = "cancelled";
      } else {
        r.outcome = AI_NO_DEPLOYMENT;
        r.rate_limited = true;
        r.retry_after_ms = 1000;
        r.error = "every slot of the local model is busy";
      }
      finish(j, &r);
    }
    if (timeout < 0) timeout = 0;
    int got = poll(fds, n, (int)timeout);
    if (got > 0 && (fds[0].revents & POLLIN)) {
      char buf[64];
      while (read(L->wake[0], buf, sizeof buf) > 0) {
      }
    }
    pthread_mutex_lock(&L->lock);
    for (nfds_t i = 1; i < n; i++) {
      ai_local_job *j = who[i];
      if (got > 0 && fds[i].revents) {
        j->watch = false;      /* closed, or the next request: look once */
        if (client_closed(j->client_fd)) {
          atomic_store(&j->client_gone, true);
          cancel_job(L, j);
        }
      }
      if (atomic_fetch_sub(&j->refs, 1) == 1) {
        pthread_mutex_unlock(&L->lock);
        atomic_fetch_add(&j->refs, 1);
        job_unref(j);
        pthread_mutex_lock(&L->lock);
      }
    }
  }
  pthread_mutex_unlock(&L->lock);
  if (fds) wg_free_array(fds, LOCAL_WATCH_MAX + 1);
  if (who) wg_free_array(who, LOCAL_WATCH_MAX + 1);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* API                                                                 */

static void local_free(ai_local *L) {
  ai_llm_model_unref(L->m);
  if (L->wake[0] >= 0) close(L->wake[0]);
  if (L->wake[1] >= 0) close(L->wake[1]);
  if (L->runners) wg_free_array(L->runners, L->nrunners);
  pthread_mutex_destroy(&L->lock);
  pthread_cond_destroy(&L->cond);
  pthread_cond_destroy(&L->pause_cond);
  wg_free_obj(L);
}

static void local_stop(ai_local *L) {
  pthread_mutex_lock(&L->lock);
  L->stop = true;
  for (uint32_t i = 0; i < L->nrunners && i < 64; i++)
    if (L->running[i]) cancel_job(L, L->running[i]);
  ai_local_job *left = L->qhead, *rej = L->rejects;
  L->qhead = L->qtail = L->rejects = NULL;
  L->queued = 0;
  pthread_cond_broadcast(&L->cond);
  pthread_mutex_unlock(&L->lock);
  wake_watcher(L);
  for (uint32_t i = 0; i < L->nrunners; i++)
    pthread_join(L->runners[i], NULL);
  if (L->watcher_started) pthread_join(L->watcher, NULL);
  for (int pass = 0; pass < 2; pass++) {
    for (ai_local_job *j = pass ? rej : left, *nx; j; j = nx) {
      nx = j->next;
      ai_result r;
      memset(&r, 0, sizeof r);
      r.outcome = AI_CANCELLED;
      r.error = "the server is stopping";
      finish(j, &r);
    }
  }
}

static wg_err local_open(ai_deployment *d, wg_error *err) {
  ai_local *L = wg_new(ai_local);
  if (!L) return wg_error_set(err, WG_ENOMEM, "out of memory");
  L->d = d;
  L->wake[0] = L->wake[1] = -1;
  pthread_mutex_init(&L->lock, NULL);
  pthread_cond_init(&L->cond, NULL);
  pthread_cond_init(&L->pause_cond, NULL);
  uint32_t slots = d->slots ? d->slots : 1;
  if (slots > 64) slots = 64;
  ai_llm_model_cfg cfg = {.path = d->model_path,
                          .ctx_size = d->ctx_size,
                          .threads = d->threads,
                          .slots = slots,
                          .queue = d->queue ? d->queue : 1};
  wg_error e2;
  wg_error_clear(&e2);
  wg_err rc = ai_llm_model_open(&cfg, &L->m, &e2);
  if (rc) {
    wg_error_set(err, rc, "model %s: %s", d->model, e2.message);
    local_free(L);
    return rc;
  }
  if (pipe2(L->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    local_free(L);
    return wg_error_set(err, WG_EIO, "model %s: pipe: %s", d->model,
                        strerror(errno));
  }
  L->runners = wg_new_array(pthread_t, slots);
  if (!L->runners) {
    local_free(L);
    return wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  /* Runners look themselves up in L->runners: fill it under the lock. */
  pthread_mutex_lock(&L->lock);
  for (uint32_t i = 0; i < slots; i++) {
    if (pthread_create(&L->runners[i], NULL, runner_main, L) != 0) break;
    L->nrunners++;
  }
  pthread_mutex_unlock(&L->lock);
  L->watcher_started =
      pthread_create(&L->watcher, NULL, watcher_main, L) == 0;
  d->local = L;
  if (L->nrunners < slots || !L->watcher_started) {
    local_stop(L);
    local_free(L);
    d->local = NULL;
    return wg_error_set(err, WG_ENOMEM, "model %s: cannot start threads",
                        d->model);
  }
  return WG_OK;
}

/* Loads every local deployment's model and starts its threads. */
wg_err ai_local_open_all(ai_router *r, wg_error *err) {
  for (size_t i = 0; i < r->ndeps; i++) {
    ai_deployment *d = &r->deps[i];
    if (strcmp(d->provider, "local") || d->local) continue;
    wg_error le;
    wg_error_clear(&le);
    wg_err rc = local_open(d, &le);
    if (rc) {
      if (err) *err = le;   /* this failure, whatever err held before */
      ai_local_stop_all(r);
      return rc;
    }
  }
  return WG_OK;
}

/* Cancels, joins and frees every local deployment's runtime. */
void ai_local_stop_all(ai_router *r) {
  for (size_t i = 0; i < r->ndeps; i++) {
    ai_local *L = r->deps[i].local;
    if (!L) continue;
    local_stop(L);
    local_free(L);
    r->deps[i].local = NULL;
  }
}

/* The loaded local deployment of model, or NULL. */
ai_deployment *ai_local_find(ai_router *r, const char *model) {
  for (size_t i = 0; i < r->ndeps; i++)
    if (r->deps[i].local && !strcmp(r->deps[i].model, model))
      return &r->deps[i];
  return NULL;
}

/*
** Parses spec's body and queues the job; a refusal (bad request, full
** queue) is queued for the watcher, so on_done never runs before this
** returns.
*/
wg_err ai_local_start(ai_deployment *d, const ai_call_spec *spec,
                      const ai_call_ops *ops, void *user,
                      ai_local_job **out) {
  ai_local *L = d->local;
  ai_local_job *j = wg_new(ai_local_job);
  if (!j) return WG_ENOMEM;
  atomic_init(&j->refs, 2);
  j->L = L;
  j->ops = ops;
  j->user = user;
  j->client_fd = -1;
  j->deadline_ms = spec->deadline_ms;
  wg_buf_init(&j->prompt, LOCAL_PROMPT_MAX);
  wg_buf_init(&j->grammar, 1u << 20);
  wg_buf_init(&j->errbody, 8192);
  wg_buf_init(&j->chunk, 4u << 20);
  wg_buf_init(&j->content, LOCAL_BODY_MAX);
  if (spec->client_fd >= 0) {
    j->client_fd = fcntl(spec->client_fd, F_DUPFD_CLOEXEC, 0);
    j->watch = j->client_fd >= 0;
  }
  json_error_t je;
  json_t *body = json_loadb(spec->body, spec->body_len, 0, &je);
  bool ok = json_is_object(body)
                ? parse_request(j, body)
                : reject(j, 400, NULL, NULL, "the body is not a JSON object");
  json_decref(body);
  uint32_t qt = d->queue_timeout_ms ? d->queue_timeout_ms : 30000;
  j->slot_by_ms = ai_now_ms() + qt;
  /* The deployment's timeout_ms bounds the whole answer, as for an
  ** upstream attempt (the wait for a slot included). */
  if (d->timeout_ms) {
    uint64_t dl = ai_now_ms() + d->timeout_ms;
    if (!j->deadline_ms || dl < j->deadline_ms) j->deadline_ms = dl;
  }
  pthread_mutex_lock(&L->lock);
  /* Admitted while the jobs that would wait (the queued ones beyond the
  ** idle runners, this one included) fit in the queue (0: no waiting). */
  if (ok && L->queued + 1 > d->queue + (L->nrunners - L->busy)) {
    ok = false;
    j->reject_status = 429;
  }
  if (L->stop) {
    pthread_mutex_unlock(&L->lock);
    atomic_init(&j->refs, 1);
    job_unref(j);
    return WG_EINVAL;
  }
  if (ok) {
    if (L->qtail) L->qtail->next = j;
    else L->qhead = j;
    L->qtail = j;
    L->queued++;
    pthread_cond_signal(&L->cond);
  } else {
    j->next = L->rejects;
    L->rejects = j;
  }
  pthread_mutex_unlock(&L->lock);
  wake_watcher(L);
  *out = j;
  return WG_OK;
}

/* From any thread: the generation stops; on_done follows. */
void ai_local_cancel(ai_local_job *j) {
  if (atomic_load(&j->finished)) return;
  ai_local *L = j->L;
  pthread_mutex_lock(&L->lock);
  cancel_job(L, j);
  pthread_mutex_unlock(&L->lock);
  wake_watcher(L);
}

/* From any thread: a paused job may give its piece again. */
void ai_local_unpause(ai_local_job *j) {
  if (atomic_load(&j->finished)) return;
  ai_local *L = j->L;
  pthread_mutex_lock(&L->lock);
  atomic_store(&j->unpause, true);
  pthread_cond_broadcast(&L->pause_cond);
  pthread_mutex_unlock(&L->lock);
}

/* The caller's reference (ai_call_release). */
void ai_local_release(ai_local_job *j) { job_unref(j); }

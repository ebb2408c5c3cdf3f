/*
** wg_ai: the upstream side of the OpenAI-compatible gateway.
**
**   sse.c       a Server-Sent Events parser (bytes in, events out)
**   breaker.c   a circuit breaker per deployment, retry backoff
**   router.c    deployments of models: weighted or least-busy choice
**   openai.c    the OpenAI-compatible provider (one ai_provider vtable)
**   engine.c    event threads driving libcurl's multi interface: many
**               upstream calls per thread, keep-alive pools, timeouts,
**               retries with fallback, cancellation
**
** A call (ai_call) is a request with callbacks (STYLE 12): the caller
** starts it, the engine's thread calls on_data for every piece of a
** successful upstream answer and on_done exactly once at the end, then
** drops its reference. Memory of the call belongs to the engine; the
** caller's `user` pointer must stay valid until on_done has run.
*/
#ifndef WG_AI_AI_H
#define WG_AI_AI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

/* ------------------------------------------------------------------ */
/* Server-Sent Events (sse.c)                                          */

#define AI_SSE_LINE_MAX (1u << 20)   /* one event's data, at most */

typedef struct ai_sse {
  wg_buf line;           /* the current, incomplete line */
  wg_buf data;           /* data: lines of the current event, \n-joined */
  char event[64];        /* event: field of the current event */
  bool has_data;
  bool skip_lf;          /* a CR ended the last line: drop a following LF */
  bool failed;           /* a line or event was over AI_SSE_LINE_MAX */
} ai_sse;

/* Called for every complete event (a blank line after data: lines).
** Returns false to stop parsing. */
typedef bool (*ai_sse_fn)(void *user, const char *event, const char *data,
                          size_t len);

void ai_sse_init(ai_sse *p);
void ai_sse_free(ai_sse *p);
/* Feeds n bytes. Lines end at LF, CR or CRLF (also split across feeds).
** Comments (":...") and unknown fields are ignored. Returns WG_OK,
** WG_ELIMIT when an event is over the cap (parsing stops), or WG_EINVAL
** when fn returned false. */
wg_err ai_sse_feed(ai_sse *p, const char *s, size_t n, ai_sse_fn fn,
                   void *user);

/* ------------------------------------------------------------------ */
/* Circuit breaker and backoff (breaker.c)                             */

enum { AI_BREAKER_CLOSED, AI_BREAKER_OPEN, AI_BREAKER_HALF_OPEN };

typedef struct ai_breaker_cfg {
  uint32_t consecutive;    /* open after this many failures in a row */
  uint32_t window_ms;      /* ... or when failure_pct of the calls in */
  uint32_t failure_pct;    /* the window failed (at least min_calls) */
  uint32_t min_calls;
  uint32_t cooldown_ms;    /* open -> half-open after this */
} ai_breaker_cfg;

typedef struct ai_breaker {
  pthread_mutex_t lock;
  int state;
  uint32_t consecutive;    /* failures in a row */
  uint64_t window_start_ms;
  uint32_t window_calls, window_fails;
  uint64_t opened_ms;      /* when it last opened */
  bool probing;            /* half-open: the one probe is out */
  atomic_uint_fast64_t opens;  /* times it opened (metrics) */
} ai_breaker;

void ai_breaker_init(ai_breaker *b);
void ai_breaker_destroy(ai_breaker *b);
/* May a call go to the deployment at now_ms? In half-open, only one
** probe at a time is allowed; a true answer for it must be followed by
** ai_breaker_record. *retry_ms: when false, ms until it may. */
bool ai_breaker_allow(ai_breaker *b, const ai_breaker_cfg *c, uint64_t now_ms,
                      uint64_t *retry_ms);
/* Does not take the probe slot: for listing and routing decisions. */
bool ai_breaker_would_allow(ai_breaker *b, const ai_breaker_cfg *c,
                            uint64_t now_ms);
void ai_breaker_record(ai_breaker *b, const ai_breaker_cfg *c, bool ok,
                       uint64_t now_ms);
int ai_breaker_state(ai_breaker *b);

/* Delay before retry number attempt (0-based): full jitter, a uniform
** draw in [0, min(cap, base * 2^attempt)], from rnd (any 64 random bits);
** never less than retry_after_ms (the upstream's Retry-After, 0 if
** none). */
uint64_t ai_backoff_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms,
                       uint64_t retry_after_ms, uint64_t rnd);
/* Parses a Retry-After value (delta-seconds or an HTTP date) into ms
** from now_unix_s; false when it is neither. */
bool ai_retry_after_parse(const char *v, int64_t now_unix_s, uint64_t *ms);

/* ------------------------------------------------------------------ */
/* Deployments and the router (router.c)                               */

#define AI_NAME_MAX 128
#define AI_URL_MAX 512

typedef struct ai_deployment {
  char model[AI_NAME_MAX];         /* the public name clients ask for */
  char provider[32];               /* "openai" */
  char base_url[AI_URL_MAX];       /* ".../v1" */
  char api_key_env[AI_NAME_MAX];   /* environment variable with the key */
  char upstream_model[AI_NAME_MAX];/* model sent upstream ("" = model) */
  uint32_t weight;                 /* share of the traffic, >= 1 */
  uint32_t timeout_ms;             /* whole attempt */
  uint32_t connect_timeout_ms;
  uint32_t first_byte_timeout_ms;  /* request sent -> first body byte */
  uint32_t idle_timeout_ms;        /* between two body pieces */
  uint32_t max_retries;            /* on this deployment, after the first */
  /* provider "local" (local.c): a GGUF model run in this process. */
  char model_path[AI_URL_MAX];     /* the GGUF file */
  uint32_t ctx_size;               /* tokens per slot (0: the model's) */
  uint32_t threads;                /* per slot (0: online cores - 1) */
  uint32_t slots;                  /* generations at once (>= 1) */
  uint32_t queue;                  /* waiting requests beyond slots (0: none) */
  uint32_t queue_timeout_ms;       /* longest wait for a slot */
  struct ai_local *local;          /* run-time: model, runner threads */
  char id[AI_NAME_MAX + 16];       /* "<model>/<n>": metrics, audit */
  /* Run-time state. */
  const struct ai_provider *prov;
  ai_breaker breaker;
  atomic_uint inflight;
  atomic_uint_fast64_t rate_limited_until_ms;  /* after a 429 */
  atomic_uint_fast64_t calls, failures, retries;
} ai_deployment;

enum { AI_ROUTE_WEIGHTED, AI_ROUTE_LEAST_BUSY };

typedef struct ai_router {
  ai_deployment *deps;       /* grouped by model, in config order */
  size_t ndeps;
  int strategy;
  ai_breaker_cfg breaker;
  uint64_t backoff_base_ms, backoff_cap_ms;
  uint64_t max_retry_after_ms;  /* longer Retry-After: next deployment */
} ai_router;

/* Fills id, provider and breaker of every deployment; false with msg
** when a provider is unknown. */
bool ai_router_init(ai_router *r, char *msg, size_t msgsize);
void ai_router_destroy(ai_router *r);
/* Whether a model of that name is configured. */
bool ai_router_has_model(const ai_router *r, const char *model);
/* Picks a deployment of model not in `tried` (a bitmap over deps, of at
** most 64 deployments per router) and allowed by its breaker. NULL when
** there is none; then *rate_limited tells whether every candidate was
** rate limited and *retry_ms how long until one may be available. */
ai_deployment *ai_router_pick(ai_router *r, const char *model,
                              uint64_t tried, uint64_t now_ms, uint64_t rnd,
                              bool *rate_limited, uint64_t *retry_ms);

/* ------------------------------------------------------------------ */
/* Providers (openai.c)                                                */

struct curl_slist;
typedef struct ai_provider {
  const char *name;
  /* The URL of an endpoint ("chat/completions", "embeddings": the path
  ** below an OpenAI-style /v1) into url, size urlsize. */
  bool (*url)(const ai_deployment *d, const char *endpoint, char *url,
              size_t urlsize);
  /* Appends the provider's headers (auth from d->api_key_env). false when
  ** out of memory. */
  bool (*headers)(const ai_deployment *d, struct curl_slist **h);
} ai_provider;

const ai_provider *ai_provider_find(const char *name);

/* ------------------------------------------------------------------ */
/* The engine (engine.c)                                               */

typedef struct ai_engine ai_engine;
typedef struct ai_call ai_call;

/* How a call ended. */
typedef enum ai_outcome {
  AI_OK,              /* a 2xx answer, all delivered through on_data */
  AI_UPSTREAM_ERROR,  /* a non-retryable upstream error (status, body) */
  AI_FAILED,          /* retryable failures and no more tries */
  AI_NO_DEPLOYMENT,   /* none available (breakers open, rate limited) */
  AI_CANCELLED,       /* ai_call_cancel, or the client went away */
  AI_BROKEN,          /* failed after data went to the client */
} ai_outcome;

typedef struct ai_result {
  ai_outcome outcome;
  int status;               /* last upstream HTTP status (0: none) */
  const char *error;        /* what went wrong, for humans */
  const wg_buf *body;       /* AI_UPSTREAM_ERROR: the upstream's body */
  bool rate_limited;        /* AI_NO_DEPLOYMENT: all were rate limited */
  uint64_t retry_after_ms;  /* AI_NO_DEPLOYMENT/AI_FAILED: a hint */
  uint32_t retries;         /* attempts after the first */
  const ai_deployment *dep; /* the last deployment tried, or NULL */
  uint64_t ttfb_ns;         /* request start -> first upstream body byte */
  bool client_gone;         /* AI_CANCELLED because the client closed */
  bool timeout;             /* a failure was a timeout */
} ai_result;

/* on_data returns: */
enum { AI_DATA_OK, AI_DATA_COMMITTED, AI_DATA_PAUSE, AI_DATA_ABORT };

typedef struct ai_call_ops {
  /* A piece of a 2xx body. Return AI_DATA_COMMITTED once something went
  ** (or will go) to the client: from then on no retry. AI_DATA_PAUSE:
  ** this piece was not taken; it comes again after ai_call_unpause.
  ** AI_DATA_ABORT stops the call (AI_BROKEN). */
  int (*on_data)(void *user, const char *p, size_t n);
  /* A new attempt starts: drop what on_data collected (not committed). */
  void (*on_restart)(void *user);
  /* The end, exactly once, on the engine thread. */
  void (*on_done)(void *user, const ai_result *res);
} ai_call_ops;

typedef struct ai_call_spec {
  const char *model;        /* public model name */
  const char *body;         /* JSON with "model" already removed: the */
  size_t body_len;          /* engine inserts the upstream model */
  int client_fd;            /* watched for a client close (-1: none) */
  uint64_t deadline_ms;     /* 0: none; a monotonic ms deadline */
  const char *endpoint;     /* NULL: "chat/completions"; "embeddings"
                               (not for local models) */
} ai_call_spec;

wg_err ai_engine_new(ai_router *router, uint32_t threads, ai_engine **out);
/* Cancels all calls (their on_done runs) and joins the threads. */
void ai_engine_free(ai_engine *e);
/* Starts a call. On failure, nothing is called back. */
wg_err ai_call_start(ai_engine *e, const ai_call_spec *spec,
                     const ai_call_ops *ops, void *user, ai_call **out);
/* From any thread. on_done follows soon (AI_CANCELLED) unless it already
** ran. The caller's handle stays valid until ai_call_release. */
void ai_call_cancel(ai_call *c);
void ai_call_unpause(ai_call *c);
void ai_call_release(ai_call *c);
/* Monotonic milliseconds, the clock of breakers and deadlines. */
uint64_t ai_now_ms(void);

/* Another event source that an engine thread drives in its loop (the
** server's HTTP daemons: a request and its upstream call then share one
** thread, with no hand-off and no wake-up between threads). fd is
** readable when run has work; run does it without blocking; timeout_ms
** is the longest the thread may wait before calling run anyway (< 0: no
** limit). run and timeout_ms are called on that thread only, and may
** start calls: a call started on an engine thread stays on it. */
typedef struct ai_loop_hook {
  int fd;
  void (*run)(void *ctx);
  long (*timeout_ms)(void *ctx);
  void *ctx;
} ai_loop_hook;

/* The number of event threads. */
uint32_t ai_engine_threads(const ai_engine *e);
/* Makes thread i (< ai_engine_threads) drive *h (copied) from its next
** loop on. Set once per thread, before the source has work; the hook
** stays until ai_engine_free has joined the thread. */
void ai_engine_attach(ai_engine *e, uint32_t i, const ai_loop_hook *h);
/* From any thread: thread i runs its hook soon (at once when it is the
** caller's own thread, after what it is doing). For work the hook's fd
** does not signal (a suspended HTTP connection resumed). */
void ai_engine_kick(ai_engine *e, uint32_t i);

/* ------------------------------------------------------------------ */
/* Local deployments (local.c)                                         */

/* provider "local": a model run in this process by llama.cpp (llm.h).
** ai_call_start hands a call for a local model to the deployment's
** runner threads (one per slot), which answer through the same
** ai_call_ops with OpenAI-format bytes: one chat.completion body, or
** chat.completion.chunk events (usage chunk when stream_options asks)
** and [DONE]. Request errors come back as AI_UPSTREAM_ERROR with status
** 400 and an OpenAI error body; a full queue, or no slot within
** queue_timeout_ms, as AI_NO_DEPLOYMENT (rate_limited, retry_after_ms);
** a client that closes its connection cancels the generation. */
extern const ai_provider ai_local_provider;

/* Loads the model of every local deployment and starts its threads;
** err names the deployment and the file on failure. */
wg_err ai_local_open_all(ai_router *r, wg_error *err);
/* Cancels every local call (their on_done runs), joins the threads and
** frees the models. */
void ai_local_stop_all(ai_router *r);
/* The local deployment serving model, or NULL (a local model has one
** deployment). */
ai_deployment *ai_local_find(ai_router *r, const char *model);

typedef struct ai_local_job ai_local_job;
/* engine.c's side of a local call (see ai_call_start). */
wg_err ai_local_start(ai_deployment *d, const ai_call_spec *spec,
                      const ai_call_ops *ops, void *user,
                      ai_local_job **out);
void ai_local_cancel(ai_local_job *j);
void ai_local_unpause(ai_local_job *j);
void ai_local_release(ai_local_job *j);
/* Counts for /metrics. */
uint64_t ai_engine_active(ai_engine *e);

#endif

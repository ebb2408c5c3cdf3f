/*
** The upstream engine: event threads, each driving one libcurl multi
** handle (whose connection cache is the keep-alive pool of the upstreams
** that thread talks to). Calls are spread round-robin over the threads;
** no thread is ever created per request.
**
** One loop iteration of a thread:
**   1. take new calls from the inbox; act on cancel / unpause requests
**   2. start attempts whose backoff delay is over
**   3. fail attempts past their first-byte or idle timeout (curl itself
**      enforces the connect and total timeouts)
**   4. curl_multi_poll, also watching each call's client socket: when
**      the client has closed it, the call is cancelled at once, which
**      closes its upstream connection; and the thread's hook (the
**      server's HTTP daemon, ai_engine_attach), run when it has work
**   5. curl_multi_perform, then finish the attempts that completed:
**      success, a non-retryable upstream error, or a retry (same
**      deployment after a backoff with full jitter, at least the
**      upstream's Retry-After) / fallback (the next deployment at once)
**
** A call is never retried after on_data said that something went to the
** client (AI_DATA_COMMITTED).
**
** A call started on an engine thread (by its hook: an HTTP request read
** there) stays on that thread and needs no wake-up: the request, its
** upstream call and its answer cost no hand-off between threads, which
** is most of a small request's CPU on a busy machine (each sleep and
** wake-up of a thread costs more than the request's own work).
*/
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ai/ai.h"
#include "base/alloc.h"

#define ERRBODY_MAX (64u << 10)
#define BODY_MAX (64u << 20)
#define MAX_WATCH 1024
#define SPARE_MAX 32              /* idle easy handles kept per thread */

typedef struct ai_thread ai_thread;

struct ai_call {
  atomic_int refs;              /* the engine's + the caller's */
  atomic_bool cancel_req;
  atomic_bool unpause_req;
  atomic_bool finished;         /* on_done ran */
  ai_thread *t;
  ai_engine *e;
  ai_local_job *local;          /* a local model's call (local.c) */
  const ai_call_ops *ops;
  void *user;
  char model[AI_NAME_MAX];
  const char *endpoint;         /* a string literal: see ai_call_start */
  wg_buf body;                  /* the client's body without "model" */
  int client_fd;                /* watched, or -1 */
  bool own_fd;                  /* client_fd is our dup: close it */
  bool watch;                   /* still watching client_fd */
  bool client_gone;
  /* The current attempt (engine thread only). */
  CURL *easy;
  struct curl_slist *hdrs;
  wg_buf req;                   /* the body sent upstream */
  ai_deployment *dep;
  ai_deployment *last_dep;      /* the last one an attempt went to */
  bool counted;                 /* dep->inflight counts this attempt */
  uint64_t tried;               /* bitmap over router deps */
  uint32_t on_dep;              /* attempts made on dep */
  uint32_t retries;
  int status;
  uint64_t retry_after_ms;
  bool has_retry_after;
  bool all_429;                 /* every failure so far was a 429 */
  bool any_timeout;
  wg_buf errbody;
  bool committed, got_byte, paused, aborted, timed_out;
  uint64_t started_ms, last_data_ms;
  uint64_t wake_ms;             /* waiting for a retry until then (0: not) */
  uint64_t t0_ns, ttfb_ns;
  char error[256];
  ai_call *next;
};

struct ai_thread {
  ai_engine *e;
  pthread_t th;
  CURLM *multi;
  pthread_mutex_t lock;
  ai_call *inbox;               /* under lock */
  bool stop;                    /* under lock */
  ai_loop_hook hook;            /* under lock; has_hook: set */
  bool has_hook;
  atomic_bool kick;             /* run the hook soon (ai_engine_kick) */
  ai_call *active;              /* engine thread only */
  CURL *spare[SPARE_MAX];       /* easy handles of ended attempts, for */
  unsigned nspare;              /* the next (engine thread only) */
  bool started;
};

struct ai_engine {
  ai_router *router;
  uint32_t n;
  ai_thread *t;
  atomic_uint next;
  atomic_uint_fast64_t active;
};

uint64_t ai_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*, seeded per thread: jitter and weighted draws only. */
static uint64_t rnd64(void) {
  static _Thread_local uint64_t s;
  if (!s) s = now_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 2685821657736338717ull;
}

/* The engine thread running this code, or NULL on other threads. */
static _Thread_local ai_thread *tl_self;

static void call_unref(ai_call *c) {
  if (atomic_fetch_sub(&c->refs, 1) != 1) return;
  if (c->local) ai_local_release(c->local);
  wg_buf_free(&c->body);
  wg_buf_free(&c->req);
  wg_buf_free(&c->errbody);
  if (c->own_fd) close(c->client_fd);
  wg_free_obj(c);
}

/* ------------------------------------------------------------------ */
/* Attempts                                                            */

static void end_attempt(ai_call *c) {
  if (c->easy) {
    ai_thread *t = c->t;
    curl_multi_remove_handle(t->multi, c->easy);
    /* Kept for the next attempt, which sets every option again. */
    if (!c->paused && t->nspare < SPARE_MAX) {
      t->spare[t->nspare++] = c->easy;
    } else {
      curl_easy_cleanup(c->easy);
    }
    c->easy = NULL;
  }
  curl_slist_free_all(c->hdrs);
  c->hdrs = NULL;
  if (c->counted) atomic_fetch_sub(&c->dep->inflight, 1);
  c->counted = false;
}

static void finish(ai_call *c, ai_outcome o, const char *why) {
  end_attempt(c);
  ai_result r;
  memset(&r, 0, sizeof r);
  r.outcome = o;
  r.status = c->status;
  r.error = why ? why : c->error;
  r.body = &c->errbody;
  r.retry_after_ms = c->retry_after_ms;
  r.retries = c->retries;
  r.dep = c->last_dep;
  r.ttfb_ns = c->ttfb_ns;
  r.client_gone = c->client_gone;
  r.rate_limited = c->all_429;
  r.timeout = c->any_timeout;
  c->dep = NULL;
  c->ops->on_done(c->user, &r);
  atomic_store(&c->finished, true);
  atomic_fetch_sub(&c->e->active, 1);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
  ai_call *c = ud;
  size_t n = size * nmemb;
  if (n > 5 && !memcmp(p, "HTTP/", 5)) {
    c->has_retry_after = false;
    c->retry_after_ms = 0;
    return n;
  }
  if (n > 12 && !strncasecmp(p, "retry-after:", 12)) {
    char v[128];
    size_t vl = n - 12;
    if (vl >= sizeof v) vl = sizeof v - 1;
    memcpy(v, p + 12, vl);
    v[vl] = 0;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) v[--vl] = 0;
    uint64_t ms;
    if (ai_retry_after_parse(v, (int64_t)time(NULL), &ms)) {
      c->retry_after_ms = ms;
      c->has_retry_after = true;
    }
  }
  return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud) {
  ai_call *c = ud;
  size_t n = size * nmemb;
  if (!c->status) {
    long st = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &st);
    c->status = (int)st;
  }
  c->last_data_ms = ai_now_ms();
  if (!c->got_byte) {
    c->got_byte = true;
    c->ttfb_ns = now_ns() - c->t0_ns;
  }
  if (c->status < 200 || c->status > 299) {
    wg_buf_append(&c->errbody, p, n);   /* beyond the cap: cut */
    return n;
  }
  switch (c->ops->on_data(c->user, p, n)) {
    case AI_DATA_COMMITTED:
      c->committed = true;
      return n;
    case AI_DATA_PAUSE:
      c->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    case AI_DATA_ABORT:
      c->aborted = true;
      return 0;
    default:
      return n;
  }
}

/* The upstream body: the client's with "model" set to the upstream's. */
static bool build_req(ai_call *c) {
  const ai_deployment *d = c->dep;
  const char *m = d->upstream_model[0] ? d->upstream_model : d->model;
  wg_buf_reset(&c->req);
  const char *b = (const char *)c->body.data;
  size_t i = 1;
  while (i < c->body.len && (b[i] == ' ' || b[i] == '\n')) i++;
  bool empty = i < c->body.len && b[i] == '}';
  return wg_buf_printf(&c->req, "{\"model\":\"%s\"%s", m, empty ? "" : ",") ==
             WG_OK &&
         wg_buf_append(&c->req, b + 1, c->body.len - 1) == WG_OK;
}

/* Starts an attempt on c->dep; false (with c->error) when it could not. */
static bool start_attempt(ai_call *c) {
  ai_deployment *d = c->dep;
  char url[AI_URL_MAX + 64];
  c->status = 0;
  c->has_retry_after = false;
  c->retry_after_ms = 0;
  c->got_byte = c->paused = c->aborted = c->timed_out = false;
  wg_buf_reset(&c->errbody);
  c->t0_ns = now_ns();
  c->started_ms = c->last_data_ms = ai_now_ms();
  atomic_fetch_add(&d->inflight, 1);
  atomic_fetch_add(&d->calls, 1);
  c->counted = true;
  c->last_dep = d;
  if (c->retries || c->on_dep) c->ops->on_restart(c->user);
  if (!build_req(c) || !d->prov->url(d, c->endpoint, url, sizeof url) ||
      !d->prov->headers(d, &c->hdrs) ||
      !(c->easy = c->t->nspare ? c->t->spare[--c->t->nspare]
                               : curl_easy_init())) {
    snprintf(c->error, sizeof c->error, "out of memory");
    return false;
  }
  CURL *h = c->easy;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)c->req.data);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->req.len);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(h, CURLOPT_PRIVATE, c);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)d->connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
  if (curl_multi_add_handle(c->t->multi, h) != CURLM_OK) {
    snprintf(c->error, sizeof c->error, "cannot start the upstream request");
    return false;
  }
  return true;
}

/* Picks the next deployment (after `after`, a failure or the start) and
** starts it; finishes the call when there is none. */
static void next_deployment(ai_call *c) {
  ai_router *r = c->e->router;
  for (;;) {
    bool limited = false;
    uint64_t wait = 0;
    ai_deployment *d = ai_router_pick(r, c->model, c->tried, ai_now_ms(),
                                      rnd64(), &limited, &wait);
    if (!d) {
      if (c->tried == 0) {       /* nothing was even tried */
        c->all_429 = limited;
        c->retry_after_ms = wait;
        finish(c, AI_NO_DEPLOYMENT, "no deployment of this model is "
               "available");
      } else {
        if (!c->has_retry_after || c->retry_after_ms < wait) {
          c->retry_after_ms = wait;
        }
        finish(c, AI_FAILED, NULL);
      }
      return;
    }
    c->dep = d;
    c->tried |= 1ull << (size_t)(d - r->deps);
    c->on_dep = 0;
    if (start_attempt(c)) return;
    end_attempt(c);
    ai_breaker_record(&d->breaker, &r->breaker, true, ai_now_ms());
    c->dep = NULL;
    finish(c, AI_FAILED, NULL);
    return;
  }
}

/* The attempt on c->dep ended with curl code cc. */
static void attempt_done(ai_call *c, CURLcode cc) {
  ai_router *r = c->e->router;
  ai_deployment *d = c->dep;
  if (!c->status) {
    long st = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &st);
    c->status = (int)st;
  }
  uint64_t now = ai_now_ms();
  bool ok2xx = c->status >= 200 && c->status <= 299;
  if (c->aborted) {
    ai_breaker_record(&d->breaker, &r->breaker, true, now);
    finish(c, AI_BROKEN, "the upstream answer could not be relayed");
    return;
  }
  if (cc == CURLE_OK && ok2xx) {
    ai_breaker_record(&d->breaker, &r->breaker, true, now);
    finish(c, AI_OK, "");
    return;
  }
  bool retryable = cc != CURLE_OK || c->status == 408 || c->status == 429 ||
                   c->status >= 500 || ok2xx;
  if (!retryable) {             /* 4xx: the request is wrong, not them */
    ai_breaker_record(&d->breaker, &r->breaker, true, now);
    snprintf(c->error, sizeof c->error, "the upstream answered %d",
             c->status);
    finish(c, AI_UPSTREAM_ERROR, NULL);
    return;
  }
  bool timeout = c->timed_out || cc == CURLE_OPERATION_TIMEDOUT;
  c->any_timeout |= timeout;
  if (cc != CURLE_OK || c->timed_out) {
    snprintf(c->error, sizeof c->error, "%s: %s", d->id,
             c->timed_out ? "no data within the timeout"
                          : curl_easy_strerror(cc));
    if (!ok2xx) c->status = 0;
  } else {
    snprintf(c->error, sizeof c->error, "%s answered %d", d->id, c->status);
  }
  if (c->status == 429) {
    uint64_t ra = c->has_retry_after ? c->retry_after_ms : 1000;
    atomic_store(&d->rate_limited_until_ms, now + ra);
    ai_breaker_record(&d->breaker, &r->breaker, true, now);
  } else {
    c->all_429 = false;
    ai_breaker_record(&d->breaker, &r->breaker, false, now);
  }
  atomic_fetch_add(&d->failures, 1);
  if (c->committed) {
    finish(c, AI_BROKEN, NULL);
    return;
  }
  end_attempt(c);
  c->on_dep++;
  c->retries++;
  atomic_fetch_add(&d->retries, 1);
  uint64_t ra = c->has_retry_after ? c->retry_after_ms : 0;
  if (c->on_dep <= d->max_retries && ra <= r->max_retry_after_ms) {
    c->wake_ms = now + ai_backoff_ms(c->on_dep - 1, r->backoff_base_ms,
                                     r->backoff_cap_ms, ra, rnd64());
    return;                      /* c->dep stays: the retry goes there */
  }
  /* Retries exhausted, or a Retry-After too long: the next deployment. */
  c->dep = NULL;
  next_deployment(c);
}

static void retry_now(ai_call *c) {
  ai_router *r = c->e->router;
  ai_deployment *d = c->dep;
  c->wake_ms = 0;
  uint64_t rm;
  if (!ai_breaker_allow(&d->breaker, &r->breaker, ai_now_ms(), &rm)) {
    c->dep = NULL;
    next_deployment(c);
    return;
  }
  if (!start_attempt(c)) {
    finish(c, AI_FAILED, NULL);
  }
}

/* ------------------------------------------------------------------ */
/* The thread                                                          */

static bool client_closed(int fd) {
  char b;
  ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR);
}

/* curl's work, then the attempts that it completed. */
static void perform(ai_thread *t) {
  int running;
  curl_multi_perform(t->multi, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(t->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    ai_call *c = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    if (c && c->easy == m->easy_handle) attempt_done(c, m->data.result);
  }
}

static void *thread_main(void *arg) {
  ai_thread *t = arg;
  struct curl_waitfd *wfds = wg_new_array(struct curl_waitfd, MAX_WATCH);
  ai_call **wcalls = wg_new_array(ai_call *, MAX_WATCH);
  tl_self = t;
  for (;;) {
    pthread_mutex_lock(&t->lock);
    ai_call *in = t->inbox;
    t->inbox = NULL;
    bool stop = t->stop;
    bool hooked = t->has_hook;
    ai_loop_hook hook = t->hook;
    pthread_mutex_unlock(&t->lock);
    bool started = in != NULL;
    while (in) {
      ai_call *c = in;
      in = in->next;
      c->next = t->active;
      t->active = c;
      next_deployment(c);
    }
    if (started) {              /* send them now, not after a poll */
      perform(t);
      if (hooked && !stop && atomic_exchange(&t->kick, false)) {
        hook.run(hook.ctx);       /* answered already: send it */
      }
    }
    uint64_t now = ai_now_ms();
    long timeout = 1000;
    unsigned nw = 0;
    for (ai_call **pp = &t->active; *pp;) {
      ai_call *c = *pp;
      if (!atomic_load(&c->finished)) {
        if (stop || atomic_load(&c->cancel_req)) {
          finish(c, AI_CANCELLED, c->client_gone ? "the client closed the "
                 "connection" : "cancelled");
        } else {
          if (atomic_exchange(&c->unpause_req, false) && c->paused &&
              c->easy) {
            c->paused = false;
            c->last_data_ms = now;
            curl_easy_pause(c->easy, CURLPAUSE_CONT);
          }
          if (c->wake_ms && now >= c->wake_ms) retry_now(c);
        }
      }
      if (atomic_load(&c->finished)) {
        *pp = c->next;
        call_unref(c);
        continue;
      }
      /* Timeouts curl does not know about. */
      if (c->easy && !c->paused) {
        const ai_deployment *d = c->dep;
        uint64_t lim = c->got_byte ? d->idle_timeout_ms
                                   : d->first_byte_timeout_ms;
        uint64_t since = c->got_byte ? c->last_data_ms : c->started_ms;
        if (lim && now >= since + lim) {
          c->timed_out = true;
          attempt_done(c, CURLE_OPERATION_TIMEDOUT);
          continue;          /* looked at again next time round */
        }
        if (lim && (long)(since + lim - now) < timeout) {
          timeout = (long)(since + lim - now);
        }
      }
      if (c->wake_ms && (long)(c->wake_ms - now) < timeout) {
        timeout = c->wake_ms > now ? (long)(c->wake_ms - now) : 0;
      }
      if (c->watch && nw < MAX_WATCH - 1 && wfds) {
        wfds[nw].fd = c->client_fd;
        wfds[nw].events = CURL_WAIT_POLLIN;
        wfds[nw].revents = 0;
        wcalls[nw++] = c;
      }
      pp = &c->next;
    }
    if (stop && !t->active) break;
    /* The hook: its fd is the last one watched; it runs when readable or
    ** when its timeout is over. */
    uint64_t hook_due = UINT64_MAX;
    unsigned hw = nw;
    if (hooked && wfds && !stop) {
      long ht = atomic_load(&t->kick) ? 0 : hook.timeout_ms(hook.ctx);
      if (ht >= 0) {
        hook_due = now + (uint64_t)ht;
        if (ht < timeout) timeout = ht;
      }
      wfds[nw].fd = hook.fd;
      wfds[nw].events = CURL_WAIT_POLLIN;
      wfds[nw].revents = 0;
      wcalls[nw++] = NULL;
    }
    /* Calls started since the inbox was taken (by a hook run above): no
    ** waiting before they go. */
    pthread_mutex_lock(&t->lock);
    if (t->inbox) timeout = 0;
    pthread_mutex_unlock(&t->lock);
    if (timeout < 0) timeout = 0;
    int numfds = 0;
    curl_multi_poll(t->multi, wfds, nw, (int)timeout, &numfds);
    for (unsigned i = 0; i < hw; i++) {
      if (!(wfds[i].revents & CURL_WAIT_POLLIN)) continue;
      ai_call *c = wcalls[i];
      c->watch = false;        /* readable: closed, or a next request */
      if (client_closed(c->client_fd)) {
        c->client_gone = true;
        atomic_store(&c->cancel_req, true);
      }
    }
    /* After the client fds: the hook may close connections (and cancel
    ** their calls, which are then dropped before the next poll). */
    if (hw < nw && (atomic_exchange(&t->kick, false) ||
                    (wfds[hw].revents & CURL_WAIT_POLLIN) ||
                    (hook_due != UINT64_MAX && ai_now_ms() >= hook_due))) {
      hook.run(hook.ctx);
    }
    perform(t);
    /* Kicked by what finished here (an answer to send): at once. */
    if (hw < nw && atomic_exchange(&t->kick, false)) hook.run(hook.ctx);
  }
  while (t->nspare) curl_easy_cleanup(t->spare[--t->nspare]);
  wg_free_array(wfds, MAX_WATCH);
  wg_free_array(wcalls, MAX_WATCH);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* API                                                                 */

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

wg_err ai_engine_new(ai_router *router, uint32_t threads, ai_engine **out) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, global_init);
  if (threads == 0) threads = 1;
  ai_engine *e = wg_new(ai_engine);
  if (!e) return WG_ENOMEM;
  e->router = router;
  e->t = wg_new_array(ai_thread, threads);
  if (!e->t) {
    wg_free_obj(e);
    return WG_ENOMEM;
  }
  e->n = threads;
  for (uint32_t i = 0; i < threads; i++) {
    ai_thread *t = &e->t[i];
    t->e = e;
    pthread_mutex_init(&t->lock, NULL);
    t->multi = curl_multi_init();
    if (!t->multi) goto fail;
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, 256L);
    if (pthread_create(&t->th, NULL, thread_main, t) != 0) goto fail;
    t->started = true;
  }
  *out = e;
  return WG_OK;
fail:
  ai_engine_free(e);
  return WG_ENOMEM;
}

void ai_engine_free(ai_engine *e) {
  if (!e) return;
  ai_local_stop_all(e->router);
  for (uint32_t i = 0; i < e->n; i++) {
    ai_thread *t = &e->t[i];
    if (t->started) {
      pthread_mutex_lock(&t->lock);
      t->stop = true;
      pthread_mutex_unlock(&t->lock);
      curl_multi_wakeup(t->multi);
      pthread_join(t->th, NULL);
    }
    if (t->multi) curl_multi_cleanup(t->multi);
    pthread_mutex_destroy(&t->lock);
  }
  wg_free_array(e->t, e->n);
  wg_free_obj(e);
}

wg_err ai_call_start(ai_engine *e, const ai_call_spec *spec,
                     const ai_call_ops *ops, void *user, ai_call **out) {
  if (strlen(spec->model) >= AI_NAME_MAX || spec->body_len < 2 ||
      spec->body[0] != '{') {
    return WG_EINVAL;
  }
  /* The endpoints there are: the caller's string is not kept. */
  const char *endpoint = "chat/completions";
  if (spec->endpoint && !strcmp(spec->endpoint, "embeddings")) {
    endpoint = "embeddings";
  } else if (spec->endpoint && strcmp(spec->endpoint, endpoint)) {
    return WG_EINVAL;
  }
  ai_deployment *ld = ai_local_find(e->router, spec->model);
  if (ld && strcmp(endpoint, "chat/completions")) return WG_EINVAL;
  ai_call *c = wg_new(ai_call);
  if (!c) return WG_ENOMEM;
  if (ld) {   /* run here by llama.cpp, not over HTTP (local.c) */
    atomic_init(&c->refs, 1);
    c->e = e;
    c->client_fd = -1;
    wg_err le = ai_local_start(ld, spec, ops, user, &c->local);
    if (le) call_unref(c);
    else *out = c;
    return le;
  }
  atomic_init(&c->refs, 2);
  c->e = e;
  c->ops = ops;
  c->user = user;
  c->client_fd = -1;
  c->all_429 = true;
  snprintf(c->model, sizeof c->model, "%s", spec->model);
  c->endpoint = endpoint;
  wg_buf_init(&c->body, BODY_MAX);
  wg_buf_init(&c->req, BODY_MAX + 1024);
  wg_buf_init(&c->errbody, ERRBODY_MAX);
  if (wg_buf_append(&c->body, spec->body, spec->body_len) != WG_OK) {
    atomic_init(&c->refs, 1);
    call_unref(c);
    return WG_ENOMEM;
  }
  /* On an engine thread: stay there (its loop takes the inbox before it
  ** waits again, so no wake-up). */
  bool here = tl_self && tl_self->e == e;
  if (spec->client_fd >= 0 && here) {
    /* The connection is this thread's too (its hook's): the caller
    ** cancels the call before the connection and its fd go, and a
    ** cancelled call is dropped before the next poll, so the fd itself
    ** can be watched. */
    c->client_fd = spec->client_fd;
    c->watch = true;
  } else if (spec->client_fd >= 0) {
    c->client_fd = fcntl(spec->client_fd, F_DUPFD_CLOEXEC, 0);
    c->own_fd = c->watch = c->client_fd >= 0;
  }
  c->t = here ? tl_self : &e->t[atomic_fetch_add(&e->next, 1) % e->n];
  atomic_fetch_add(&e->active, 1);
  pthread_mutex_lock(&c->t->lock);
  c->next = c->t->inbox;
  c->t->inbox = c;
  pthread_mutex_unlock(&c->t->lock);
  if (!here) curl_multi_wakeup(c->t->multi);
  *out = c;
  return WG_OK;
}

void ai_call_cancel(ai_call *c) {
  if (c->local) {
    ai_local_cancel(c->local);
    return;
  }
  if (atomic_load(&c->finished)) return;
  atomic_store(&c->cancel_req, true);
  if (tl_self != c->t) curl_multi_wakeup(c->t->multi);
}

void ai_call_unpause(ai_call *c) {
  if (c->local) {
    ai_local_unpause(c->local);
    return;
  }
  if (atomic_load(&c->finished)) return;
  atomic_store(&c->unpause_req, true);
  if (tl_self != c->t) curl_multi_wakeup(c->t->multi);
}

void ai_call_release(ai_call *c) {
  if (c) call_unref(c);
}

uint64_t ai_engine_active(ai_engine *e) { return atomic_load(&e->active); }

uint32_t ai_engine_threads(const ai_engine *e) { return e->n; }

void ai_engine_kick(ai_engine *e, uint32_t i) {
  if (i >= e->n) return;
  ai_thread *t = &e->t[i];
  atomic_store(&t->kick, true);
  if (tl_self != t) curl_multi_wakeup(t->multi);
}

void ai_engine_attach(ai_engine *e, uint32_t i, const ai_loop_hook *h) {
  if (i >= e->n) return;
  ai_thread *t = &e->t[i];
  pthread_mutex_lock(&t->lock);
  t->hook = *h;
  t->has_hook = true;
  pthread_mutex_unlock(&t->lock);
  curl_multi_wakeup(t->multi);
}

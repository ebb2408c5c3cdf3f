/*
** The policies' AOT builder: one thread that takes policy versions from a
** bounded queue, gets their object from src/aot (the cache, or wasm2c + cc)
** and attaches it (policy.c switches new decisions over atomically). A
** queued version that nobody holds any more (replaced before its turn) is
** skipped. A failure is logged and leaves the version on the interpreter.
*/
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aot/aot.h"
#include "base/alloc.h"
#include "policy/policy_int.h"

#define DEFAULT_QUEUE 16

struct wg_policy_aot {
  wga_toolchain *tc;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t work, idle;
  wg_policy **q;                /* ring of cap */
  size_t head, n, cap;
  bool stop, busy;
  void (*log)(void *user, const char *msg);
  void *log_user;
  uint64_t built, cached, failed;   /* under lock */
};

static void say(wg_policy_aot *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(wg_policy_aot *a, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (a->log) {
    a->log(a->log_user, msg);
  } else {
    fprintf(stderr, "wasmgate: %s\n", msg);
  }
}

/* Builds and attaches; counts and logs the outcome. */
static wg_err compile(wg_policy_aot *a, wg_policy *p, wg_error *err) {
  bool hit = false;
  uint64_t t0 = wgp_now_ns();
  wga_object *o = wga_object_get(a->tc, wgp_policy_module(p), &hit, err);
  wg_err e = o ? wgp_policy_attach_aot(p, o, err)
               : (err && err->code ? err->code : WG_EINVAL);
  uint64_t ms = (wgp_now_ns() - t0) / 1000000u;
  pthread_mutex_lock(&a->lock);
  if (e) {
    a->failed++;
  } else if (hit) {
    a->cached++;
  } else {
    a->built++;
  }
  pthread_mutex_unlock(&a->lock);
  if (e) {
    say(a, "policy %.12s stays on the interpreter: %s", wg_policy_sha256(p),
        err ? err->message : wg_strerror(e));
  } else {
    say(a, "policy %.12s runs on the AOT tier (%s, %llu ms)",
        wg_policy_sha256(p), hit ? "from the cache" : "compiled",
        (unsigned long long)ms);
  }
  return e;
}

static void *builder(void *arg) {
  wg_policy_aot *a = arg;
  pthread_mutex_lock(&a->lock);
  for (;;) {
    while (!a->n && !a->stop) pthread_cond_wait(&a->work, &a->lock);
    if (a->stop) break;
    wg_policy *p = a->q[a->head];
    a->head = (a->head + 1) % a->cap;
    a->n--;
    a->busy = true;
    pthread_mutex_unlock(&a->lock);
    if (wgp_policy_shared(p) && !wg_policy_is_aot(p)) {
      wg_error err;
      wg_error_clear(&err);
      compile(a, p, &err);
    }
    wg_policy_release(p);
    pthread_mutex_lock(&a->lock);
    a->busy = false;
    pthread_cond_broadcast(&a->idle);
  }
  pthread_mutex_unlock(&a->lock);
  return NULL;
}

wg_policy_aot *wg_policy_aot_new(const wg_policy_aot_config *c,
                                 wg_error *err) {
  wga_toolchain_config tc = {.cache_dir = c->cache_dir,
                             .wasm2c = c->wasm2c,
                             .cc = c->cc,
                             .opt = c->opt,
                             .timeout_ms = c->timeout_ms};
  wga_toolchain *t = wga_toolchain_new(&tc, err);
  if (!t) return NULL;
  wg_policy_aot *a = wg_new(wg_policy_aot);
  size_t cap = c->queue ? c->queue : DEFAULT_QUEUE;
  wg_policy **q = a ? wg_new_array(wg_policy *, cap) : NULL;
  if (!q) {
    if (a) wg_free_obj(a);
    wga_toolchain_free(t);
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  a->tc = t;
  a->q = q;
  a->cap = cap;
  a->log = c->log;
  a->log_user = c->log_user;
  pthread_mutex_init(&a->lock, NULL);
  pthread_cond_init(&a->work, NULL);
  pthread_cond_init(&a->idle, NULL);
  if (pthread_create(&a->thread, NULL, builder, a) != 0) {
    wg_free_array(q, cap);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->idle);
    wg_free_obj(a);
    wga_toolchain_free(t);
    wg_error_set(err, WG_ENOMEM, "cannot start the AOT builder thread");
    return NULL;
  }
  return a;
}

void wg_policy_aot_free(wg_policy_aot *a) {
  if (!a) return;
  pthread_mutex_lock(&a->lock);
  a->stop = true;
  pthread_cond_broadcast(&a->work);
  pthread_mutex_unlock(&a->lock);
  wga_toolchain_cancel(a->tc);  /* a build in progress ends within 0.1 s */
  pthread_join(a->thread, NULL);
  while (a->n) {
    wg_policy_release(a->q[a->head]);
    a->head = (a->head + 1) % a->cap;
    a->n--;
  }
  wg_free_array(a->q, a->cap);
  pthread_mutex_destroy(&a->lock);
  pthread_cond_destroy(&a->work);
  pthread_cond_destroy(&a->idle);
  wga_toolchain_free(a->tc);
  wg_free_obj(a);
}

wg_err wg_policy_aot_submit(wg_policy_aot *a, wg_policy *p) {
  pthread_mutex_lock(&a->lock);
  bool full = a->n == a->cap;
  if (!full) {
    wg_policy_retain(p);
    a->q[(a->head + a->n) % a->cap] = p;
    a->n++;
    pthread_cond_signal(&a->work);
  }
  pthread_mutex_unlock(&a->lock);
  if (full) {
    say(a, "policy %.12s stays on the interpreter: the AOT queue is full "
        "(%zu builds pending)", wg_policy_sha256(p), a->cap);
    return WG_ELIMIT;
  }
  return WG_OK;
}

wg_err wg_policy_aot_compile(wg_policy_aot *a, wg_policy *p, wg_error *err) {
  if (wg_policy_is_aot(p)) return WG_OK;
  return compile(a, p, err);
}

void wg_policy_aot_drain(wg_policy_aot *a) {
  pthread_mutex_lock(&a->lock);
  while (a->n || a->busy) pthread_cond_wait(&a->idle, &a->lock);
  pthread_mutex_unlock(&a->lock);
}

void wg_policy_aot_stats(wg_policy_aot *a, uint64_t *built, uint64_t *cached,
                         uint64_t *failed) {
  pthread_mutex_lock(&a->lock);
  if (built) *built = a->built;
  if (cached) *cached = a->cached;
  if (failed) *failed = a->failed;
  pthread_mutex_unlock(&a->lock);
}

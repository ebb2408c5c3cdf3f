/*
** The deadline watchdog: one thread for the whole process sleeps until the
** nearest deadline of the runs it watches and interrupts the runs whose
** deadline has passed. A guest spinning in a loop sees the interrupt at its
** next loop head or call, so it stops within microseconds of the signal.
**
** Cancel tokens (wg_exec_cancel) share its list and lock: a run with a
** token is watched even without a deadline, and firing the token stops
** the run it is linked to, from the firing thread, under the lock (so
** the run's store cannot be freed meanwhile: wgs_watch_remove takes the
** same lock first).
*/
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"

#include "sandbox/sandbox_int.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool started;
static wgs_watch *watched;   /* unordered list: few runs at a time */
static uint64_t waiting_until = UINT64_MAX;  /* the deadline it sleeps to */

uint64_t wgs_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct wg_exec_cancel {
  atomic_bool fired;
  int efd;                    /* readable once fired (worker pools wait) */
  wgs_watch *watch;           /* the run it stops, under lock */
};

static void stop(wgs_watch *w) {
  wg_store_interrupt(w->store);
  if (w->wasi) wg_wasi_cancel(w->wasi);
}

static void *watchdog_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    uint64_t now = wgs_now_ns(), next = UINT64_MAX;
    for (wgs_watch *w = watched; w; w = w->next) {
      if (w->fired) continue;
      if (w->deadline_ns <= now) {
        w->fired = true;
        stop(w);
      } else if (w->deadline_ns < next) {
        next = w->deadline_ns;
      }
    }
    waiting_until = next;
    if (next == UINT64_MAX) {
      pthread_cond_wait(&wake, &lock);
    } else {
      struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
      pthread_cond_timedwait(&wake, &lock, &ts);
    }
  }
  return NULL;
}

static void start(void) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  started = pthread_create(&t, &a, watchdog_main, NULL) == 0;
  pthread_attr_destroy(&a);
}

wg_err wgs_watch_add(wgs_watch *w) {
  pthread_once(&once, start);
  if (!started) return WG_ENOMEM;
  pthread_mutex_lock(&lock);
  w->fired = false;
  w->next = watched;
  watched = w;
  if (w->cancel) {
    w->cancel->watch = w;
    if (atomic_load(&w->cancel->fired)) stop(w);
  }
  /* wake the thread only when it would sleep past this deadline */
  if (w->deadline_ns < waiting_until) {
    waiting_until = w->deadline_ns;
    pthread_cond_signal(&wake);
  }
  pthread_mutex_unlock(&lock);
  return WG_OK;
}

bool wgs_watch_remove(wgs_watch *w) {
  pthread_mutex_lock(&lock);
  for (wgs_watch **p = &watched; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  if (w->cancel) w->cancel->watch = NULL;
  bool fired = w->fired;
  pthread_mutex_unlock(&lock);
  return fired;
}

bool wgs_watchdog_start(void) {
  pthread_once(&once, start);
  return started;
}

wg_exec_cancel *wg_exec_cancel_new(void) {
  wg_exec_cancel *c = wg_new(wg_exec_cancel);
  if (!c) return NULL;
  c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->efd < 0) {
    wg_free_obj(c);
    return NULL;
  }
  return c;
}

void wg_exec_cancel_fire(wg_exec_cancel *c) {
  if (!c || atomic_exchange(&c->fired, true)) return;
  uint64_t one = 1;
  ssize_t n = write(c->efd, &one, sizeof one);
  (void)n;                    /* a fresh eventfd cannot be full */
  pthread_mutex_lock(&lock);
  if (c->watch) stop(c->watch);
  pthread_mutex_unlock(&lock);
}

bool wg_exec_cancel_fired(const wg_exec_cancel *c) {
  return c && atomic_load(&c->fired);
}

int wgs_cancel_fd(const wg_exec_cancel *c) { return c ? c->efd : -1; }

void wg_exec_cancel_free(wg_exec_cancel *c) {
  if (!c) return;
  close(c->efd);
  wg_free_obj(c);
}

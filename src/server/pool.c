/*
** The executor pool (pool.h): a ring buffer of jobs under one mutex, one
** condition variable for the workers and one for srv_pool_drain.
**
** On the request path the lock is held for a few instructions, and a
** worker is woken after the submitter let go of it (a thread woken while
** the lock is still held would only block on it again: two more futex
** calls per job). srv_pool_drain is told about finished jobs only while
** someone waits in it.
*/
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/cond.h"
#include "server/pool.h"
#include "server/srv.h"

typedef struct job {
  srv_job_fn fn;
  void *arg;
} job;

struct srv_pool {
  pthread_mutex_t lock;
  pthread_cond_t work;          /* a job was queued, or stopping */
  pthread_cond_t idle;          /* a job finished */
  job *ring;
  uint32_t cap, head, count;    /* count: queued jobs */
  uint32_t reserved;            /* slots reserved, not yet submitted */
  uint32_t active;              /* jobs running */
  uint32_t answered;            /* of those, the ones that answered */
  uint32_t draining;            /* threads waiting in srv_pool_drain */
  bool stop;
  uint32_t nthreads;            /* started */
  uint32_t threads_alloc;       /* length of threads */
  pthread_t *threads;
};

/* The pool of this worker thread, and whether its job has answered. */
static __thread srv_pool *tl_pool;
static __thread bool tl_answered;

static void *worker(void *arg) {
  srv_pool *p = arg;
  tl_pool = p;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (p->count == 0 && !p->stop) pthread_cond_wait(&p->work, &p->lock);
    if (p->count == 0) break;            /* stop, and nothing left */
    job j = p->ring[p->head];
    p->head = (p->head + 1) % p->cap;
    p->count--;
    p->active++;
    pthread_mutex_unlock(&p->lock);
    tl_answered = false;
    j.fn(j.arg);
    pthread_mutex_lock(&p->lock);
    p->active--;
    if (tl_answered) p->answered--;
    if (p->draining) pthread_cond_broadcast(&p->idle);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

wg_err srv_pool_new(uint32_t threads, uint32_t queue, srv_pool **out) {
  srv_pool *p = wg_new(srv_pool);
  if (!p) return WG_ENOMEM;
  p->cap = queue;
  p->ring = wg_new_array(job, queue);
  p->threads = wg_new_array(pthread_t, threads);
  p->threads_alloc = threads;
  if (!p->ring || !p->threads) goto fail;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->idle, NULL);
  for (; p->nthreads < threads; p->nthreads++) {
    if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0) {
      srv_pool_free(p);
      return WG_ENOMEM;
    }
  }
  *out = p;
  return WG_OK;
fail:
  wg_free_array(p->ring, queue);
  wg_free_array(p->threads, threads);
  wg_free_obj(p);
  return WG_ENOMEM;
}

bool srv_pool_reserve(srv_pool *p) {
  pthread_mutex_lock(&p->lock);
  bool ok = !p->stop && p->count + p->reserved < p->cap;
  if (ok) p->reserved++;
  pthread_mutex_unlock(&p->lock);
  return ok;
}

void srv_pool_unreserve(srv_pool *p) {
  pthread_mutex_lock(&p->lock);
  p->reserved--;
  pthread_mutex_unlock(&p->lock);
}

void srv_pool_submit(srv_pool *p, srv_job_fn fn, void *arg) {
  pthread_mutex_lock(&p->lock);
  p->reserved--;
  p->ring[(p->head + p->count) % p->cap] = (job){fn, arg};
  p->count++;
  pthread_mutex_unlock(&p->lock);
  pthread_cond_signal(&p->work);
}

uint32_t srv_pool_queued(srv_pool *p) {
  pthread_mutex_lock(&p->lock);
  uint32_t n = p->count;
  pthread_mutex_unlock(&p->lock);
  return n;
}

void srv_pool_answered(void) {
  srv_pool *p = tl_pool;
  if (!p || tl_answered) return;
  tl_answered = true;
  pthread_mutex_lock(&p->lock);
  p->answered++;
  pthread_mutex_unlock(&p->lock);
}

uint32_t srv_pool_active(srv_pool *p) {
  pthread_mutex_lock(&p->lock);
  uint32_t n = p->active - p->answered;
  pthread_mutex_unlock(&p->lock);
  return n;
}

uint32_t srv_pool_threads(srv_pool *p) { return p->nthreads; }

bool srv_pool_drain(srv_pool *p, uint64_t deadline_ns) {
  pthread_mutex_lock(&p->lock);
  p->draining++;
  while (p->count + p->active + p->reserved > 0 &&
         srv_now_ns() < deadline_ns) {
    wg_cond_wait_ms(&p->idle, &p->lock, 20);   /* re-check every 20 ms */
  }
  bool idle = p->count + p->active + p->reserved == 0;
  p->draining--;
  pthread_mutex_unlock(&p->lock);
  return idle;
}

void srv_pool_free(srv_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (uint32_t i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->work);
  pthread_cond_destroy(&p->idle);
  pthread_mutex_destroy(&p->lock);
  wg_free_array(p->ring, p->cap);
  wg_free_array(p->threads, p->threads_alloc);
  wg_free_obj(p);
}

/* The executor pool's counts: a job that has answered its client is no
** longer active (what /metrics shows), though drain still waits for it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "server/pool.h"

typedef struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool started, go, answer;
} gate;

/* Runs, answers if asked, then waits until let go. */
static void job(void *arg) {
  gate *g = arg;
  if (g->answer) srv_pool_answered();
  pthread_mutex_lock(&g->lock);
  g->started = true;
  pthread_cond_broadcast(&g->cond);
  while (!g->go) pthread_cond_wait(&g->cond, &g->lock);
  pthread_mutex_unlock(&g->lock);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run(bool answer, uint32_t want_active) {
  srv_pool *p;
  assert_int_equal(srv_pool_new(1, 4, &p), WG_OK);
  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false,
            false, answer};
  assert_true(srv_pool_reserve(p));
  srv_pool_submit(p, job, &g);
  pthread_mutex_lock(&g.lock);
  while (!g.started) pthread_cond_wait(&g.cond, &g.lock);
  pthread_mutex_unlock(&g.lock);
  assert_int_equal(srv_pool_active(p), want_active);
  assert_int_equal(srv_pool_queued(p), 0);
  /* still running: drain does not call the pool idle */
  assert_false(srv_pool_drain(p, now_ns() + 20 * 1000000u));
  pthread_mutex_lock(&g.lock);
  g.go = true;
  pthread_cond_broadcast(&g.cond);
  pthread_mutex_unlock(&g.lock);
  assert_true(srv_pool_drain(p, now_ns() + 10 * 1000000000ull));
  assert_int_equal(srv_pool_active(p), 0);
  srv_pool_free(p);
}

static void test_running_job_is_active(void **st) {
  (void)st;
  run(false, 1);
}

static void test_answered_job_is_not_active(void **st) {
  (void)st;
  run(true, 0);
  srv_pool_answered();          /* off a pool thread: nothing happens */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_running_job_is_active),
      cmocka_unit_test(test_answered_job_is_not_active),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

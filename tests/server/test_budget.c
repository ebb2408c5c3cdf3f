/* The daily token budget (src/server/budget.c) against a store whose
** writes can be held open: what a flush is writing still counts, and a
** flusher asleep with nothing to write wakes for new spend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "server/budget.h"
#include "server/srv.h"

/* A one-counter store; a write of a positive delta waits while held. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int64_t value;
  bool hold, writing;
} fake = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false,
          false};

static wg_err fake_counter_add(wg_db *db, const char *tenant, const char *name,
                               int64_t window, int64_t delta, int64_t limit,
                               int64_t *value, wg_error *err) {
  (void)db; (void)tenant; (void)name; (void)window; (void)limit; (void)err;
  pthread_mutex_lock(&fake.lock);
  if (delta > 0) {
    fake.writing = true;
    pthread_cond_broadcast(&fake.cond);
    while (fake.hold) pthread_cond_wait(&fake.cond, &fake.lock);
    fake.writing = false;
  }
  fake.value += delta;
  if (value) *value = fake.value;
  pthread_cond_broadcast(&fake.cond);
  pthread_mutex_unlock(&fake.lock);
  return WG_OK;
}

static wg_db_ops ops = {.counter_add = fake_counter_add};
static wg_db db = {&ops};
static srv s;

/* A server with only the fake store and the budget (its flusher running),
** the store emptied. */
static void start(void) {
  memset(&s, 0, sizeof s);
  s.db = &db;
  pthread_mutex_lock(&fake.lock);
  fake.value = 0;
  fake.hold = false;
  pthread_mutex_unlock(&fake.lock);
  wg_error err;
  wg_error_clear(&err);
  assert_int_equal(srv_budget_start(&s, &err), WG_OK);
}

static void test_tokens_being_flushed_still_count(void **state) {
  (void)state;
  start();
  int64_t day = srv_budget_day(srv_time_ms());
  pthread_mutex_lock(&fake.lock);
  fake.hold = true;
  pthread_mutex_unlock(&fake.lock);
  assert_int_equal(srv_budget_take(&s, "t", day, 60, 100), WG_OK);
  /* the flusher takes the 60 out and is held writing them */
  pthread_mutex_lock(&fake.lock);
  while (!fake.writing) pthread_cond_wait(&fake.cond, &fake.lock);
  pthread_mutex_unlock(&fake.lock);
  assert_int_equal(srv_budget_take(&s, "t", day, 50, 100), WG_ELIMIT);
  assert_int_equal(srv_budget_take(&s, "t", day, 40, 100), WG_OK);
  pthread_mutex_lock(&fake.lock);
  fake.hold = false;
  pthread_cond_broadcast(&fake.cond);
  pthread_mutex_unlock(&fake.lock);
  srv_budget_stop(&s);                 /* writes the 40 too */
  assert_int_equal(fake.value, 100);
}

/* Blocks until the store holds v (a flusher that never wakes hangs here,
** and ctest's timeout fails the test). */
static void wait_value(int64_t v) {
  pthread_mutex_lock(&fake.lock);
  while (fake.value != v) pthread_cond_wait(&fake.cond, &fake.lock);
  pthread_mutex_unlock(&fake.lock);
}

static void test_idle_flusher_wakes_for_spend(void **state) {
  (void)state;
  start();
  int64_t day = srv_budget_day(srv_time_ms());
  assert_int_equal(srv_budget_take(&s, "t", day, 10, -1), WG_OK);
  wait_value(10);
  /* written: the flusher goes back to sleep with nothing pending */
  struct timespec nap = {0, 3 * SRV_BUDGET_FLUSH_MS * 1000000L};
  nanosleep(&nap, NULL);
  assert_int_equal(srv_budget_take(&s, "t", day, 5, -1), WG_OK);
  wait_value(15);
  nanosleep(&nap, NULL);
  srv_budget_settle(&s, "t", day, 7);   /* settling wakes it too */
  wait_value(22);
  srv_budget_settle(&s, "t", day, -2);  /* and so does a refund */
  wait_value(20);
  srv_budget_stop(&s);
  assert_int_equal(fake.value, 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokens_being_flushed_still_count),
      cmocka_unit_test(test_idle_flusher_wakes_for_spend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Windowed counters in the SQLite store (the gateway's daily token
** budget): limits refuse without changing anything, a new window starts
** from 0, a settlement of a past window is ignored, values never go
** below 0, counters survive a reopen and go with their tenant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static char dir[64];
static wg_db *db;

static int mk_tenant(const char *id) {
  wg_db_tenant t;
  wg_db_tenant_init(&t);
  wg_db_set_id(t.id, id);
  t.created_ms = 1;
  wg_err e = db->ops->tenant_create(db, &t, NULL);
  wg_db_tenant_free(&t);
  return e == WG_OK ? 0 : -1;
}

static int setup(void **st) {
  (void)st;
  snprintf(dir, sizeof dir, "/tmp/wg-ctr-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  if (wg_db_open_sqlite(dir, &db, NULL) != WG_OK) return -1;
  return mk_tenant("acme") || mk_tenant("beta");
}

static int teardown(void **st) {
  (void)st;
  wg_db_close(db);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Adds and checks the outcome and the value after. */
static void add(const char *tenant, int64_t win, int64_t delta, int64_t limit,
                wg_err want, int64_t want_value) {
  int64_t v = -99;
  assert_int_equal(db->ops->counter_add(db, tenant, "c", win, delta, limit,
                                        &v, NULL), want);
  assert_int_equal(v, want_value);
}

static void test_counter_limit_window_floor(void **st) {
  (void)st;
  add("acme", 10, 20, 30, WG_OK, 20);
  add("acme", 10, 10, 30, WG_OK, 30);      /* exactly the limit */
  add("acme", 10, 1, 30, WG_ELIMIT, 30);   /* refused, unchanged */
  add("acme", 10, 31, 30, WG_ELIMIT, 30);
  add("acme", 10, -5, -1, WG_OK, 25);      /* settle down */
  add("acme", 10, 40, -1, WG_OK, 65);      /* no limit: may overshoot */
  add("acme", 10, -100, 30, WG_OK, 0);     /* never below 0 */
  add("beta", 10, 7, 30, WG_OK, 7);        /* per tenant */
  /* A new window starts from 0; the old one is gone. */
  add("acme", 10, 30, 30, WG_OK, 30);
  add("acme", 11, 30, 30, WG_OK, 30);
  add("acme", 11, 1, 30, WG_ELIMIT, 30);
  /* A late settlement of window 10 leaves window 11 alone. */
  add("acme", 10, -30, -1, WG_OK, -1);
  add("acme", 11, 0, 30, WG_OK, 30);
  /* A fresh counter: a first add above the limit is refused. */
  int64_t v = -99;
  assert_int_equal(db->ops->counter_add(db, "acme", "other", 1, 50, 30, &v,
                                        NULL), WG_ELIMIT);
  assert_int_equal(v, 0);
  /* An unknown tenant has no counters. */
  assert_int_equal(db->ops->counter_add(db, "nobody", "c", 1, 1, -1, NULL,
                                        NULL), WG_ENOTFOUND);
}

static void test_counter_survives_reopen_and_goes_with_tenant(void **st) {
  (void)st;
  add("acme", 5, 12, 100, WG_OK, 12);
  wg_db_close(db);
  assert_int_equal(wg_db_open_sqlite(dir, &db, NULL), WG_OK);
  add("acme", 5, 0, 100, WG_OK, 12);
  add("acme", 5, 88, 100, WG_OK, 100);
  add("acme", 5, 1, 100, WG_ELIMIT, 100);
  assert_int_equal(db->ops->tenant_delete(db, "acme", NULL), WG_OK);
  assert_int_equal(mk_tenant("acme"), 0);
  add("acme", 5, 0, 100, WG_OK, 0);        /* a new tenant starts afresh */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_counter_limit_window_floor, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_counter_survives_reopen_and_goes_with_tenant, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

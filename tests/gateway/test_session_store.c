/* Gateway sessions in the SQLite store: per-tenant scope, replacement,
** expiry, and removal with the tenant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static char dir[64];
static wg_db *db;

static int setup(void **st) {
  (void)st;
  snprintf(dir, sizeof dir, "/tmp/wg-sess-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  if (wg_db_open_sqlite(dir, &db, NULL) != WG_OK) return -1;
  for (int i = 0; i < 2; i++) {
    wg_db_tenant t;
    wg_db_tenant_init(&t);
    wg_db_set_id(t.id, i ? "beta" : "acme");
    t.created_ms = 1;
    wg_err e = db->ops->tenant_create(db, &t, NULL);
    wg_db_tenant_free(&t);
    if (e) return -1;
  }
  return 0;
}

static int teardown(void **st) {
  (void)st;
  wg_db_close(db);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static wg_err get(const char *tenant, const char *id, int64_t now,
                  char *out, size_t size) {
  wg_buf b;
  wg_buf_init(&b, 1u << 20);
  wg_err e = db->ops->session_get(db, tenant, id, now, &b, NULL);
  if (e == WG_OK) snprintf(out, size, "%.*s", (int)b.len, (char *)b.data);
  wg_buf_free(&b);
  return e;
}

static void put(const char *tenant, const char *id, const char *msgs,
                int64_t now, int64_t exp, wg_err want) {
  assert_int_equal(db->ops->session_put(db, tenant, id, msgs, strlen(msgs),
                                        now, exp, NULL), want);
}

static void test_session_scoped_replaced_expired(void **st) {
  (void)st;
  char got[256];
  assert_int_equal(get("acme", "s1", 100, got, sizeof got), WG_ENOTFOUND);
  put("acme", "s1", "[1]", 100, 1000, WG_OK);
  assert_int_equal(get("acme", "s1", 100, got, sizeof got), WG_OK);
  assert_string_equal(got, "[1]");
  /* the same id under another tenant is another session */
  assert_int_equal(get("beta", "s1", 100, got, sizeof got), WG_ENOTFOUND);
  put("beta", "s1", "[2]", 100, 1000, WG_OK);
  put("acme", "s1", "[1,3]", 200, 2000, WG_OK);
  assert_int_equal(get("acme", "s1", 1500, got, sizeof got), WG_OK);
  assert_string_equal(got, "[1,3]");
  assert_int_equal(get("beta", "s1", 500, got, sizeof got), WG_OK);
  assert_string_equal(got, "[2]");
  /* expired: gone at its expiry time, and purged by a later put */
  assert_int_equal(get("beta", "s1", 1000, got, sizeof got), WG_ENOTFOUND);
  put("acme", "s2", "[]", 1000, 5000, WG_OK);
  assert_int_equal(get("beta", "s1", 0, got, sizeof got), WG_ENOTFOUND);
  /* an unknown tenant has no sessions; deleting one drops them */
  put("nobody", "s1", "[]", 1000, 5000, WG_ENOTFOUND);
  assert_int_equal(db->ops->tenant_delete(db, "acme", NULL), WG_OK);
  assert_int_equal(get("acme", "s1", 1500, got, sizeof got), WG_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_session_scoped_replaced_expired,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

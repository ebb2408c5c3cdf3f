/*
** wg_global_set, the host's write to a global: it changes a mutable global
** (the guest sees the new value), and refuses a value of another type and
** any write to an immutable global, which must stay constant for the guest
** as the spec's embedding API (global_write) requires. provider.wat.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

static void test_mutable(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_global *g = wg_global_new(s, wgt_i32(1), true);
  assert_int_equal(wg_global_get(g).of.i32, 1);
  assert_int_equal(wg_global_set(g, wgt_i32(2)), WG_OK);
  assert_int_equal(wg_global_get(g).of.i32, 2);
  assert_int_not_equal(wg_global_set(g, wgt_i64(3)), WG_OK);
  assert_int_equal(wg_global_get(g).of.i32, 2);
  assert_int_equal(wg_global_get(g).type, WG_I32);
  wg_store_free(s);
}

static void test_immutable(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_global *g = wg_global_new(s, wgt_i64(7), false);
  assert_int_equal(wg_global_get(g).of.i64, 7);       /* the initial value */
  wg_err e = wg_global_set(g, wgt_i64(8));
  uint64_t after = wg_global_get(g).of.i64;
  if (e == WG_OK || after != 7) {
    wg_store_free(s);
    fail_msg("an immutable global was written: %s, now %llu", wg_err_name(e),
             (unsigned long long)after);
  }
  /* an immutable global exported by a module */
  wg_module *m = wgt_load_wasm("provider.wasm");
  wg_instance *p = wgt_instantiate(s, m, NULL);
  wg_global *k = wgt_export(p, "k", WG_EXTERN_GLOBAL).of.global;
  e = wg_global_set(k, wgt_i64(100));
  after = wg_global_get(k).of.i64;
  wg_store_free(s);
  wg_module_release(m);
  assert_int_not_equal(e, WG_OK);
  assert_int_equal(after, 9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mutable),
      cmocka_unit_test(test_immutable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

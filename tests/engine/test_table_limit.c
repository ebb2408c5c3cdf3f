/*
** The store's table limit (max_table_elems): table.grow past it returns -1
** and sets wg_store_limit_hit, while a grow refused by the table's declared
** maximum does not; a table whose minimum is over the limit cannot be
** instantiated (WG_ELIMIT). table.wat: (table 1 100 funcref).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

static wg_module *mod;

static int setup(void **state) {
  mod = wgt_load_wasm("table.wasm");
  return 0;
}

static int teardown(void **state) {
  wg_module_release(mod);
  return 0;
}

static void test_store_limit(void **state) {
  wg_store_config cfg = {.max_table_elems = 10, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  wg_func *grow = wgt_func(inst, "grow"), *size = wgt_func(inst, "size");
  wg_table *tab = wgt_export(inst, "tab", WG_EXTERN_TABLE).of.table;
  assert_int_equal(wgt_call_i32(s, grow, 1, 5), 1);
  assert_int_equal(wgt_call_i32(s, size, 0), 6);
  assert_false(wg_store_limit_hit(s));
  assert_int_equal(wgt_call_i32(s, grow, 1, 5), 0xFFFFFFFFu);
  assert_true(wg_store_limit_hit(s));
  assert_int_equal(wgt_call_i32(s, size, 0), 6);
  assert_int_equal(wgt_call_i32(s, grow, 1, 4), 6);       /* up to the limit */
  assert_int_equal(wg_table_size(tab), 10);
  wg_store_free(s);
}

static void test_declared_maximum(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  wg_func *grow = wgt_func(inst, "grow");
  assert_int_equal(wgt_call_i32(s, grow, 1, 99), 1);
  assert_int_equal(wgt_call_i32(s, grow, 1, 1), 0xFFFFFFFFu);   /* max 100 */
  assert_false(wg_store_limit_hit(s));
  wg_store_free(s);
}

static void test_minimum_over_limit(void **state) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 4, "01 70 00 14");               /* (table 20 funcref) */
  wg_module *big = wgt_load(&m);
  wg_store_config cfg = {.max_table_elems = 10, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_instance_new(s, big, NULL, NULL, &err));
  wgt_check_error(&err, WG_ELIMIT,
                  "table of 20 elements exceeds the limit of 10", -1, -1, -1);
  assert_true(wg_store_limit_hit(s));
  assert_null(wg_table_new(s, WG_FUNCREF, (wg_limits){11, 0, false}));
  assert_non_null(wg_table_new(s, WG_FUNCREF, (wg_limits){10, 0, false}));
  wg_store_free(s);
  wg_module_release(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_limit),
      cmocka_unit_test(test_declared_maximum),
      cmocka_unit_test(test_minimum_over_limit),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/*
** wg_call checks its arguments against the function's type: a wrong count
** or a wrong type fails with WG_ESIGNATURE (also in wg_store_trap) before
** any guest code runs, and the store stays usable. loops.wat: count is
** [i32] -> [i32], mix is [i32 i64 f32 f64] -> [i64].
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

static wg_module *mod;
static wg_store *store;
static wg_instance *inst;

static int setup(void **state) {
  mod = wgt_load_wasm("loops.wasm");
  store = wg_store_new(NULL);
  inst = wgt_instantiate(store, mod, NULL);
  return 0;
}

static int teardown(void **state) {
  wg_store_free(store);
  wg_module_release(mod);
  return 0;
}

static void expect_signature(wg_func *f, const wg_val *args, size_t nargs,
                             size_t nresults, const char *message) {
  wg_val res[2];
  assert_int_equal(wg_call(store, f, args, nargs, res, nresults), WG_ESIGNATURE);
  wgt_check_error(wg_store_trap(store), WG_ESIGNATURE, message, -1, -1, -1);
}

static void test_argument_count(void **state) {
  wg_func *count = wgt_func(inst, "count");
  wg_val two[2] = {wgt_i32(1), wgt_i32(2)};
  expect_signature(count, NULL, 0, 1,
                   "expected 1 arguments and 1 results, got 0 and 1");
  expect_signature(count, two, 2, 1,
                   "expected 1 arguments and 1 results, got 2 and 1");
  expect_signature(count, two, 1, 0,
                   "expected 1 arguments and 1 results, got 1 and 0");
  /* room for more results than the type has is fine */
  wg_val res[2];
  assert_int_equal(wg_call(store, count, two, 1, res, 2), WG_OK);
  assert_int_equal(res[0].of.i32, 1);
}

static void test_argument_types(void **state) {
  wg_func *count = wgt_func(inst, "count"), *mix = wgt_func(inst, "mix");
  wg_val a = wgt_i64(5);
  expect_signature(count, &a, 1, 1, "argument 0 has the wrong type");
  a = wgt_f32_bits(0x3F800000);
  expect_signature(count, &a, 1, 1, "argument 0 has the wrong type");
  wg_val args[4] = {wgt_i32(1), wgt_i64(2), wgt_f64_bits(0x400C000000000000ull),
                    wgt_f64_bits(0x4011000000000000ull)};
  expect_signature(mix, args, 4, 1, "argument 2 has the wrong type");
  args[2] = wgt_f32_bits(0x40600000);            /* 3.5f */
  args[1] = wgt_i32(2);
  expect_signature(mix, args, 4, 1, "argument 1 has the wrong type");
  args[1] = wgt_i64(2);
  wg_val res;
  assert_int_equal(wg_call(store, mix, args, 4, &res, 1), WG_OK);
  assert_int_equal(res.type, WG_I64);
  assert_int_equal(res.of.i64, 1 + 2 + 3 + 4);   /* 3.5 and 4.25 truncated */
  assert_int_equal(wg_store_trap(store)->code, WG_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_argument_count),
      cmocka_unit_test(test_argument_types),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/*
** Fuel: a metered store charges guest code as it runs (wg_store_fuel goes
** down, by the same amount for the same work), a loop that never ends
** stops with WG_TRAP_FUEL, a new budget lets code run again, and an
** unmetered store runs to completion.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

static wg_module *mod;

static int setup(void **state) {
  mod = wgt_load_wasm("loops.wasm");
  return 0;
}

static int teardown(void **state) {
  wg_module_release(mod);
  return 0;
}

static wg_store *metered(int64_t fuel) {
  wg_store_config cfg = {.fuel = fuel};
  wg_store *s = wg_store_new(&cfg);
  assert_non_null(s);
  return s;
}

static void test_fuel_decreases(void **state) {
  wg_store *s = metered(1000000);
  wg_func *count = wgt_func(wgt_instantiate(s, mod, NULL), "count");
  int64_t f0 = wg_store_fuel(s);
  assert_int_equal(f0, 1000000);
  assert_int_equal(wgt_call_i32(s, count, 1, 100), 100);
  int64_t f1 = wg_store_fuel(s);
  assert_in_range(f1, 1, f0 - 100);             /* at least one per iteration */
  assert_int_equal(wgt_call_i32(s, count, 1, 100), 100);
  int64_t f2 = wg_store_fuel(s);
  assert_int_equal(f0 - f1, f1 - f2);           /* same work, same charge */
  assert_int_equal(wgt_call_i32(s, count, 1, 1000), 1000);
  assert_true(f2 - wg_store_fuel(s) > 5 * (f1 - f2));   /* more work, more fuel */
  wg_store_free(s);
}

static void test_loop_runs_out(void **state) {
  wg_store *s = metered(100000);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  assert_int_equal(wg_call(s, wgt_func(inst, "spin"), NULL, 0, NULL, 0),
                   WG_TRAP_FUEL);
  const wg_error *t = wg_store_trap(s);
  assert_int_equal(t->code, WG_TRAP_FUEL);
  assert_memory_equal(t->message, "out of fuel", 11);
  assert_int_equal(wg_store_fuel(s), 0);
  /* still empty: the next call traps too, before doing anything */
  wg_val arg = wgt_i32(1), res;
  assert_int_equal(wg_call(s, wgt_func(inst, "count"), &arg, 1, &res, 1),
                   WG_TRAP_FUEL);
  /* a new budget */
  wg_store_set_fuel(s, 100000);
  assert_int_equal(wg_store_fuel(s), 100000);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "count"), 1, 10), 10);
  /* too little for the work asked */
  wg_store_set_fuel(s, 50);
  assert_int_equal(wg_call(s, wgt_func(inst, "count"), (wg_val[]){wgt_i32(1000)},
                           1, &res, 1), WG_TRAP_FUEL);
  wg_store_free(s);
}

/* Infinite recursion is charged at every call, too. */
static void test_recursion_runs_out(void **state) {
  wg_store_config cfg = {.fuel = 1000, .max_call_depth = 1000000};
  wg_store *s = wg_store_new(&cfg);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  assert_int_equal(wg_call(s, wgt_func(inst, "forever"), NULL, 0, NULL, 0),
                   WG_TRAP_FUEL);
  wg_store_free(s);
}

static void test_unmetered(void **state) {
  wg_store *s = metered(-1);
  assert_int_equal(wg_store_fuel(s), -1);
  wg_func *count = wgt_func(wgt_instantiate(s, mod, NULL), "count");
  assert_int_equal(wgt_call_i32(s, count, 1, 3000000), 3000000);
  assert_int_equal(wg_store_fuel(s), -1);
  wg_store_free(s);
  /* no config at all: unmetered too */
  s = wg_store_new(NULL);
  assert_int_equal(wg_store_fuel(s), -1);
  count = wgt_func(wgt_instantiate(s, mod, NULL), "count");
  assert_int_equal(wgt_call_i32(s, count, 1, 3000000), 3000000);
  wg_store_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fuel_decreases),
      cmocka_unit_test(test_loop_runs_out),
      cmocka_unit_test(test_recursion_runs_out),
      cmocka_unit_test(test_unmetered),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/*
** The store's memory limit (max_memory_pages): memory.grow past it returns
** -1 and sets wg_store_limit_hit, while a grow refused by the memory's own
** declared maximum does not; a memory whose minimum is over the limit
** cannot be instantiated (WG_ELIMIT). memory.wat: (memory 1 3).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

static wg_module *mod;

static int setup(void **state) {
  mod = wgt_load_wasm("memory.wasm");
  return 0;
}

static int teardown(void **state) {
  wg_module_release(mod);
  return 0;
}

static void test_store_limit(void **state) {
  wg_store_config cfg = {.max_memory_pages = 2, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  wg_func *grow = wgt_func(inst, "grow"), *size = wgt_func(inst, "size");
  wg_memory *mem = wgt_export(inst, "mem", WG_EXTERN_MEMORY).of.memory;
  assert_false(wg_store_limit_hit(s));
  assert_int_equal(wgt_call_i32(s, grow, 1, 0), 1);       /* no-op grow */
  assert_int_equal(wgt_call_i32(s, grow, 1, 1), 1);
  assert_int_equal(wgt_call_i32(s, size, 0), 2);
  assert_false(wg_store_limit_hit(s));
  assert_int_equal(wgt_call_i32(s, grow, 1, 1), 0xFFFFFFFFu);
  assert_true(wg_store_limit_hit(s));
  assert_int_equal(wgt_call_i32(s, size, 0), 2);
  assert_int_equal(wg_memory_pages(mem), 2);
  assert_int_equal(wg_memory_size(mem), 2 * WG_PAGE_SIZE);
  /* the memory that is there works */
  wg_val arg = wgt_i32(0x5A);
  assert_int_equal(wg_call(s, wgt_func(inst, "poke_last"), &arg, 1, NULL, 0), WG_OK);
  assert_int_equal(*(uint8_t *)wg_memory_translate(mem, 2 * WG_PAGE_SIZE - 1, 1), 0x5A);
  assert_true(wg_store_peak_memory(s) >= 2 * WG_PAGE_SIZE);
  wg_store_free(s);
}

static void test_declared_maximum(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  wg_func *grow = wgt_func(inst, "grow");
  assert_int_equal(wgt_call_i32(s, grow, 1, 2), 1);
  assert_int_equal(wgt_call_i32(s, grow, 1, 1), 0xFFFFFFFFu);  /* max is 3 */
  assert_int_equal(wgt_call_i32(s, grow, 1, 0x10000), 0xFFFFFFFFu);
  assert_false(wg_store_limit_hit(s));      /* the module's limit, not ours */
  assert_int_equal(wg_store_peak_memory(s), 3 * WG_PAGE_SIZE);
  wg_store_free(s);
}

static void test_minimum_over_limit(void **state) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 5, "01 00 03");                  /* (memory 3) */
  wg_module *big = wgt_load(&m);
  wg_store_config cfg = {.max_memory_pages = 2, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_instance_new(s, big, NULL, NULL, &err));
  wgt_check_error(&err, WG_ELIMIT,
                  "memory of 3 pages exceeds the limit of 2 pages", -1, -1, -1);
  assert_true(wg_store_limit_hit(s));
  /* host-made memories obey the limit too */
  assert_null(wg_memory_new(s, (wg_limits){3, 0, false}));
  assert_non_null(wg_memory_new(s, (wg_limits){2, 0, false}));
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

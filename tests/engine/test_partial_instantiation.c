/*
** Instantiation that traps part way keeps what it already wrote to
** imported objects, as the spec says: the data segment before the failing
** one stays in the imported memory, the element segment before the failing
** one stays in the imported table; the failing segment writes nothing.
** partial_memory.wat, partial_table.wat, provider.wat.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wgt.h"

static void test_data_segment(void **state) {
  wg_module *pm = wgt_load_wasm("provider.wasm");
  wg_module *m = wgt_load_wasm("partial_memory.wasm");
  wg_store *s = wg_store_new(NULL);
  wg_instance *p = wgt_instantiate(s, pm, NULL);
  wgt_linker l = {0};
  wgt_define_instance(&l, "p", p);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_instance_new(s, m, wgt_resolve, &l, &err));
  wgt_check_error(&err, WG_TRAP_MEMORY,
                  "out of bounds memory access (data segment 1)", -1, -1, -1);
  wg_memory *mem = wgt_export(p, "mem", WG_EXTERN_MEMORY).of.memory;
  const uint8_t *b = wg_memory_translate(mem, 0, 5);
  assert_non_null(b);
  assert_memory_equal(b, "hello", 5);
  b = wg_memory_translate(mem, 65534, 2);
  assert_int_equal(b[0], 0);                 /* nothing of "xyz" */
  assert_int_equal(b[1], 0);
  assert_int_equal(wgt_call_i32(s, wgt_func(p, "peek"), 1, 4), 'o');
  wg_store_free(s);
  wg_module_release(m);
  wg_module_release(pm);
}

static void test_element_segment(void **state) {
  wg_module *pm = wgt_load_wasm("provider.wasm");
  wg_module *m = wgt_load_wasm("partial_table.wasm");
  wg_store *s = wg_store_new(NULL);
  wg_instance *p = wgt_instantiate(s, pm, NULL);
  wg_func *is_null = wgt_func(p, "is_null");
  assert_int_equal(wgt_call_i32(s, is_null, 1, 1), 1);
  wgt_linker l = {0};
  wgt_define_instance(&l, "p", p);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_instance_new(s, m, wgt_resolve, &l, &err));
  wgt_check_error(&err, WG_TRAP_TABLE,
                  "out of bounds table access (element segment 1)", -1, -1, -1);
  assert_int_equal(wgt_call_i32(s, is_null, 1, 0), 0);   /* provider's add */
  assert_int_equal(wgt_call_i32(s, is_null, 1, 1), 0);   /* segment 0 */
  assert_int_equal(wgt_call_i32(s, is_null, 1, 2), 1);   /* not segment 1 */
  wg_store_free(s);
  wg_module_release(m);
  wg_module_release(pm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_segment),
      cmocka_unit_test(test_element_segment),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

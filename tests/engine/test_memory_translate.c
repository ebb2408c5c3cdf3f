/*
** wg_memory_translate, the only door from host code into guest memory,
** returns a pointer to [offset, offset + len) exactly when every byte of
** it is inside the memory: offset + len overflowing 64 bits, a range one
** byte past the end, and offsets past the end are refused; an empty range
** at the very end is allowed. After memory.grow the new pages are there.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

#define PAGE ((uint64_t)WG_PAGE_SIZE)

static void test_bounds(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_memory *mem = wg_memory_new(s, (wg_limits){1, 2, true});
  assert_non_null(mem);
  assert_int_equal(wg_memory_size(mem), PAGE);
  uint8_t *base = wg_memory_translate(mem, 0, PAGE);
  assert_non_null(base);
  assert_ptr_equal(wg_memory_translate(mem, 0, 0), base);
  assert_ptr_equal(wg_memory_translate(mem, 100, 10), base + 100);
  assert_ptr_equal(wg_memory_translate(mem, PAGE - 1, 1), base + PAGE - 1);
  assert_ptr_equal(wg_memory_translate(mem, PAGE, 0), base + PAGE);  /* empty, at the end */
  assert_null(wg_memory_translate(mem, PAGE, 1));
  assert_null(wg_memory_translate(mem, PAGE - 1, 2));
  assert_null(wg_memory_translate(mem, 0, PAGE + 1));
  assert_null(wg_memory_translate(mem, PAGE + 1, 0));
  /* offset + len wraps around 2^64 */
  assert_null(wg_memory_translate(mem, UINT64_MAX, 2));
  assert_null(wg_memory_translate(mem, 2, UINT64_MAX));
  assert_null(wg_memory_translate(mem, 16, UINT64_MAX - 8));
  assert_null(wg_memory_translate(mem, UINT64_MAX, 0));
  assert_null(wg_memory_translate(mem, UINT64_MAX, UINT64_MAX));
  assert_null(wg_memory_translate(NULL, 0, 0));
  /* what the host writes there, the next translate sees */
  base[PAGE - 1] = 0x77;
  assert_int_equal(*(uint8_t *)wg_memory_translate(mem, PAGE - 1, 1), 0x77);
  wg_store_free(s);
}

static void test_after_grow(void **state) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 1, "01 60 01 7f 01 7f");
  wgt_sec(&m, 3, "01 00");
  wgt_sec(&m, 5, "01 00 01");
  wgt_sec(&m, 7, "02 \"mem\" 02 00 \"grow\" 00 00");
  wgt_code1(&m, "00 20 00 40 00 0b");                /* memory.grow */
  wg_module *mod = wgt_load(&m);
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  wg_memory *mem = wgt_export(inst, "mem", WG_EXTERN_MEMORY).of.memory;
  *(uint8_t *)wg_memory_translate(mem, 5, 1) = 0x42;
  assert_null(wg_memory_translate(mem, PAGE, 1));
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "grow"), 1, 2), 1);
  assert_int_equal(wg_memory_pages(mem), 3);
  uint8_t *p = wg_memory_translate(mem, PAGE, 2 * PAGE);
  assert_non_null(p);
  assert_int_equal(p[0], 0);                         /* new pages are zero */
  assert_int_equal(p[2 * PAGE - 1], 0);
  assert_int_equal(*(uint8_t *)wg_memory_translate(mem, 5, 1), 0x42);
  assert_ptr_equal(wg_memory_translate(mem, 3 * PAGE, 0), p + 2 * PAGE);
  assert_null(wg_memory_translate(mem, 3 * PAGE, 1));
  wg_store_free(s);
  wg_module_release(mod);
}

/* A memory of 0 pages: the empty range at 0 is inside it, so the result is
** a (non-dereferenceable) pointer, not NULL, as for any other memory. */
static void test_empty_memory(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_memory *mem = wg_memory_new(s, (wg_limits){0, 0, false});
  assert_non_null(mem);
  assert_int_equal(wg_memory_size(mem), 0);
  void *one = wg_memory_translate(mem, 0, 1);
  void *past = wg_memory_translate(mem, 1, 0);
  void *empty = wg_memory_translate(mem, 0, 0);
  wg_store_free(s);
  assert_null(one);
  assert_null(past);
  assert_non_null(empty);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_after_grow),
      cmocka_unit_test(test_empty_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
** A store's linear memory is fresh and zeroed even when the mapping of a
** freed one is reused (src/wasm/mapcache.c): whatever an earlier memory on
** the same thread wrote, in its first pages, in pages past the first
** 256 KiB and in pages added by growing, reads as zero in the next one.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

#define PAGE ((uint64_t)WG_PAGE_SIZE)

static bool all_zero(wg_memory *mem) {
  uint64_t n = wg_memory_size(mem);
  const uint8_t *p = wg_memory_translate(mem, 0, n);
  for (uint64_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

/* Fills a few bytes of every 4 KiB page of mem with 0xA5. */
static void scribble(wg_memory *mem) {
  uint64_t n = wg_memory_size(mem);
  uint8_t *p = wg_memory_translate(mem, 0, n);
  for (uint64_t i = 0; i < n; i += 4096) p[i] = p[i + 4095] = 0xA5;
  p[n - 1] = 0xA5;
}

static void test_reused_memory_is_zero(void **state) {
  /* each memory reuses the largest region freed before it when it fits */
  static const uint64_t pages[] = {1, 2, 8, 17, 40, 40, 17, 1, 64, 64, 3};
  for (size_t k = 0; k < sizeof pages / sizeof *pages; k++) {
    wg_store *s = wg_store_new(NULL);
    wg_memory *mem = wg_memory_new(s, (wg_limits){pages[k], 128, true});
    assert_non_null(mem);
    assert_true(all_zero(mem));
    scribble(mem);
    wg_store_free(s);
  }
}

static void test_grown_then_reused_memory_is_zero(void **state) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 1, "01 60 01 7f 01 7f");
  wgt_sec(&m, 3, "01 00");
  wgt_sec(&m, 5, "01 00 01");
  wgt_sec(&m, 7, "02 \"mem\" 02 00 \"grow\" 00 00");
  wgt_code1(&m, "00 20 00 40 00 0b");                /* memory.grow */
  wg_module *mod = wgt_load(&m);
  for (int round = 0; round < 3; round++) {
    wg_store *s = wg_store_new(NULL);
    wg_instance *inst = wgt_instantiate(s, mod, NULL);
    wg_memory *mem = wgt_export(inst, "mem", WG_EXTERN_MEMORY).of.memory;
    assert_true(all_zero(mem));
    scribble(mem);
    assert_int_equal(wgt_call_i32(s, wgt_func(inst, "grow"), 1, 9), 1);
    assert_int_equal(wg_memory_size(mem), 10 * PAGE);
    const uint8_t *p = wg_memory_translate(mem, PAGE, 9 * PAGE);
    for (uint64_t i = 0; i < 9 * PAGE; i++) assert_int_equal(p[i], 0);
    scribble(mem);
    wg_store_free(s);
  }
  wg_module_release(mod);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reused_memory_is_zero),
      cmocka_unit_test(test_grown_then_reused_memory_is_zero),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

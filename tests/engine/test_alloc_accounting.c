/*
** The allocator hook's byte count (wg_alloc_used) comes back to where it
** was once everything is freed: after a module is released, after a store
** with instances and host objects is freed, and after every failed load.
** Per-store memory budgets (STYLE item 6) and the fault-injection tests'
** leak checks rely on this count being exact.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/alloc.h"
#include "wgt.h"

#define CHECK_BALANCED(start, what)                                          \
  do {                                                                       \
    size_t now_ = wg_alloc_used();                                           \
    if (now_ != (start))                                                     \
      fail_msg("%s: wg_alloc_used is off by %zd bytes", (what),              \
               (ssize_t)(now_ - (start)));                                   \
  } while (0)

static void test_empty_module(void **state) {
  size_t start = wg_alloc_used();
  wgt_mod m;
  wgt_begin(&m);
  wg_module_release(wgt_load(&m));
  CHECK_BALANCED(start, "header-only module");
}

static void test_module_with_every_section(void **state) {
  size_t start = wg_alloc_used();
  wg_module_release(wgt_load_wasm("every_section.wasm"));
  CHECK_BALANCED(start, "every_section.wasm");
}

static void test_store(void **state) {
  size_t start = wg_alloc_used();
  wg_store_free(wg_store_new(NULL));
  CHECK_BALANCED(start, "wg_store_new + wg_store_free");
}

static wg_err host_inc(wg_host_call *call, uint64_t *stack) {
  stack[0] = (uint32_t)stack[0] + 1;
  return WG_OK;
}

static void test_instance(void **state) {
  size_t start = wg_alloc_used();
  wg_module *m = wgt_load_wasm("every_section.wasm");
  wg_store *s = wg_store_new(NULL);
  static const uint8_t i32[1] = {WG_I32};
  wg_functype ft = {1, 1, i32, i32};
  wgt_linker l = {0};
  wgt_define(&l, "env", "host", (wg_extern){WG_EXTERN_FUNC,
             .of.func = wg_func_new_host(s, &ft, host_inc, NULL)});
  wgt_define(&l, "env", "g", (wg_extern){WG_EXTERN_GLOBAL,
             .of.global = wg_global_new(s, wgt_i32(10), false)});
  wgt_define(&l, "env", "tab", (wg_extern){WG_EXTERN_TABLE,
             .of.table = wg_table_new(s, WG_FUNCREF, (wg_limits){2, 0, false})});
  wg_instance *inst = wgt_instantiate(s, m, &l);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "run"), 1, 3), 252);
  wg_module_release(m);
  wg_store_free(s);
  CHECK_BALANCED(start, "instance of every_section.wasm");
}

/* Host functions keep a copy of their type in the store. */
static void test_host_function_types(void **state) {
  size_t start = wg_alloc_used();
  wg_store *s = wg_store_new(NULL);
  static const uint8_t params[3] = {WG_I32, WG_I64, WG_F64};
  wg_functype ft = {3, 2, params, params};
  for (int i = 0; i < 10; i++) assert_non_null(wg_func_new_host(s, &ft, host_inc, NULL));
  wg_store_free(s);
  CHECK_BALANCED(start, "10 host functions of type [i32 i64 f64] -> [i32 i64]");
}

/* A function section that ends in the middle of its second entry. */
static void test_truncated_function_section(void **state) {
  size_t start = wg_alloc_used();
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 1, "01 60 00 00");
  wgt_sec(&m, 3, "02 00 80");
  wg_error err;
  assert_null(wgt_try_load(&m, &err));
  assert_int_equal(err.code, WG_EEOF);
  CHECK_BALANCED(start, "truncated function section");
}

/* Every module of the malformed corpus fails to load without a trace. */
static void test_malformed_corpus(void **state) {
  DIR *d = opendir(WGT_MALFORMED_DIR);
  assert_non_null(d);
  struct dirent *de;
  int n = 0, bad = 0;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (len < 6 || strcmp(de->d_name + len - 5, ".wasm") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", WGT_MALFORMED_DIR, de->d_name);
    size_t size = 0;
    uint8_t *bytes = wgt_read_file(path, &size);
    size_t start = wg_alloc_used();
    wg_error err;
    wg_module *m = wg_module_load(bytes, size, &err);
    free(bytes);
    assert_null(m);
    if (wg_alloc_used() != start) {
      print_message("  %s: off by %zd bytes\n", de->d_name,
                    (ssize_t)(wg_alloc_used() - start));
      bad++;
    }
    n++;
  }
  closedir(d);
  assert_true(n > 0);
  if (bad) fail_msg("%d of %d failed loads leave wg_alloc_used off", bad, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_module),
      cmocka_unit_test(test_module_with_every_section),
      cmocka_unit_test(test_store),
      cmocka_unit_test(test_instance),
      cmocka_unit_test(test_host_function_types),
      cmocka_unit_test(test_truncated_function_section),
      cmocka_unit_test(test_malformed_corpus),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

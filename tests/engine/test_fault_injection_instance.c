/*
** Fault injection (STYLE item 7) over instantiating and calling: the module
** is loaded once; then for n = 1, 2, 3, ... the n-th and every later
** allocation fail while a store is created, host objects are made, the
** module is instantiated (imports, tables, globals, segments, start
** function) and called, until all of it succeeds. Each failing run must
** fail cleanly (NULL, with WG_ENOMEM for wg_instance_new), never crash, and
** after wg_store_free leave wg_alloc_used where it was.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/types.h>

#include "base/alloc.h"
#include "wgt.h"

static wg_err host_inc(wg_host_call *call, uint64_t *stack) {
  stack[0] = (uint32_t)stack[0] + 1;
  return WG_OK;
}

typedef enum stage { STORE, HOST, INSTANCE, DONE } stage;
static int wrong_error;   /* wg_instance_new failures without WG_ENOMEM */
static const char *const stage_names[] = {"wg_store_new", "host objects",
                                          "wg_instance_new", "done"};

/* One run: everything from the store to the call. Returns how far it got;
** on DONE, *result holds run(3). */
static stage run_once(wg_module *m, uint32_t *result) {
  static const uint8_t i32[1] = {WG_I32};
  wg_store_config cfg = {.max_stack_slots = 4096, .max_call_depth = 64,
                         .fuel = -1};
  wg_functype ft = {1, 1, i32, i32};
  stage got = STORE;
  wg_store *s = wg_store_new(&cfg);
  if (!s) return STORE;
  got = HOST;
  wg_func *host = wg_func_new_host(s, &ft, host_inc, NULL);
  wg_global *g = wg_global_new(s, wgt_i32(10), false);
  wg_table *t = wg_table_new(s, WG_FUNCREF, (wg_limits){2, 0, false});
  if (host && g && t) {
    wgt_linker l = {0};
    wgt_define(&l, "env", "host", (wg_extern){WG_EXTERN_FUNC, .of.func = host});
    wgt_define(&l, "env", "g", (wg_extern){WG_EXTERN_GLOBAL, .of.global = g});
    wgt_define(&l, "env", "tab", (wg_extern){WG_EXTERN_TABLE, .of.table = t});
    got = INSTANCE;
    wg_error err;
    wg_error_clear(&err);   /* see test_linking.c: wg_instance_new does not */
    wg_instance *inst = wg_instance_new(s, m, wgt_resolve, &l, &err);
    if (inst) {
      wg_val arg = wgt_i32(3), res;
      wg_err e = wg_call(s, wgt_func(inst, "run"), &arg, 1, &res, 1);
      if (e) fail_msg("run: %s: %s", wg_err_name(e), wg_store_trap(s)->message);
      *result = res.of.i32;
      got = DONE;
    } else if (err.code != WG_ENOMEM && wrong_error++ < 5) {
      print_message("  wg_instance_new failed with %s (%d): \"%.40s\"\n",
                    wg_err_name(err.code), (int)err.code, err.message);
    }
  }
  wg_store_free(s);
  return got;
}

static void test_instantiate_and_call(void **state) {
  wg_module *m = wgt_load_wasm("every_section.wasm");
  uint32_t result = 0;
  assert_int_equal(run_once(m, &result), DONE);   /* without faults */
  assert_int_equal(result, 252);

  size_t start = wg_alloc_used();
  int unbalanced = 0;
  int seen[DONE + 1] = {0};
  uint64_t n;
  for (n = 1; n < 100000; n++) {
    wg_alloc_fail_after(n);
    result = 0;
    stage st = run_once(m, &result);
    wg_alloc_fail_after(0);
    seen[st]++;
    if (wg_alloc_used() != start) {
      if (unbalanced++ < 5)
        print_message("  allocation %llu failed in %s: off by %zd bytes\n",
                      (unsigned long long)n, stage_names[st],
                      (ssize_t)(wg_alloc_used() - start));
      start = wg_alloc_used();
    }
    if (st == DONE) break;
  }
  assert_int_equal(result, 252);
  print_message("  %llu runs: %d failed in wg_store_new, %d in host objects, "
                "%d in wg_instance_new\n", (unsigned long long)n, seen[STORE],
                seen[HOST], seen[INSTANCE]);
  assert_true(seen[INSTANCE] > 5);
  wg_module_release(m);
  if (wrong_error)
    fail_msg("%d failed wg_instance_new calls did not say WG_ENOMEM",
             wrong_error);
  if (unbalanced)
    fail_msg("%d of %llu runs leave wg_alloc_used off", unbalanced,
             (unsigned long long)n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_instantiate_and_call),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

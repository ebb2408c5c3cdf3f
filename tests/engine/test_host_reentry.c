/*
** A host function may call back into the guest with wg_call (a callback
** from host code). Such re-entry uses the C stack, unlike guest-to-guest
** calls, so it must be bounded on its own: endless guest -> host -> guest
** recursion traps with WG_TRAP_STACK instead of overflowing the host's C
** stack, whatever max_call_depth allows for guest frames. reentry.wat.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

typedef struct reentry {
  wg_func *down;
  uint32_t stop_at;          /* the host stops recursing at this depth */
  uint32_t deepest;
} reentry;

static wg_err back(wg_host_call *call, uint64_t *stack) {
  reentry *r = wg_host_user(call);
  uint32_t n = (uint32_t)stack[0];
  if (n > r->deepest) r->deepest = n;
  if (n >= r->stop_at) return WG_OK;        /* returns n */
  wg_val arg = wgt_i32(n), res;
  wg_err e = wg_call(wg_host_store(call), r->down, &arg, 1, &res, 1);
  if (e) return e;
  stack[0] = res.of.i32;
  return WG_OK;
}

static wg_err run(uint32_t max_call_depth, uint32_t stop_at, reentry *r,
                  uint32_t *result) {
  static const uint8_t i32[1] = {WG_I32};
  wg_functype ft = {1, 1, i32, i32};
  wg_module *m = wgt_load_wasm("reentry.wasm");
  wg_store_config cfg = {.max_call_depth = max_call_depth, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  *r = (reentry){.stop_at = stop_at};
  wgt_linker l = {0};
  wgt_define(&l, "env", "back", (wg_extern){WG_EXTERN_FUNC,
             .of.func = wg_func_new_host(s, &ft, back, r)});
  wg_instance *inst = wgt_instantiate(s, m, &l);
  r->down = wgt_func(inst, "down");
  wg_val arg = wgt_i32(0), res = {0};
  wg_err e = wg_call(s, r->down, &arg, 1, &res, 1);
  *result = res.of.i32;
  wg_store_free(s);
  wg_module_release(m);
  return e;
}

static void test_bounded_reentry_works(void **state) {
  reentry r;
  uint32_t result = 0;
  assert_int_equal(run(0, 50, &r, &result), WG_OK);
  assert_int_equal(result, 50);
}

static void test_endless_reentry_traps(void **state) {
  reentry r;
  uint32_t result = 0;
  assert_int_equal(run(0, UINT32_MAX, &r, &result), WG_TRAP_STACK);
  /* guest frames may be allowed a million deep: host re-entry may not */
  assert_int_equal(run(1000000, UINT32_MAX, &r, &result), WG_TRAP_STACK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounded_reentry_works),
      cmocka_unit_test(test_endless_reentry_traps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

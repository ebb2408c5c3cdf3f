/*
** Call depth: recursion deeper than max_call_depth, or than the value stack
** (max_stack_slots), traps with WG_TRAP_STACK and leaves the store usable.
** Guest calls never use the C stack, so even a million frames deep the
** host process is fine. The trap names the function that could not call.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "wgt.h"

static wg_module *mod;

static int setup(void **state) {
  mod = wgt_load_wasm("recursion.wasm");
  return 0;
}

static int teardown(void **state) {
  wg_module_release(mod);
  return 0;
}

static void test_max_call_depth(void **state) {
  wg_store_config cfg = {.max_call_depth = 100, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_func *rec = wgt_func(wgt_instantiate(s, mod, NULL), "rec");
  assert_int_equal(wgt_call_i32(s, rec, 1, 50), 50);
  wg_val arg = wgt_i32(200), res;
  assert_int_equal(wg_call(s, rec, &arg, 1, &res, 1), WG_TRAP_STACK);
  const wg_error *t = wg_store_trap(s);
  assert_int_equal(t->code, WG_TRAP_STACK);
  assert_int_equal(t->func, 0);
  const char *want = "call stack exhausted in function 'rec' (#0) at offset 0x";
  if (strncmp(t->message, want, strlen(want)) != 0)
    fail_msg("message \"%s\"", t->message);
  /* every frame was popped: the full depth is available again */
  assert_int_equal(wgt_call_i32(s, rec, 1, 98), 98);
  wg_store_free(s);
}

/* A million nested guest calls: the C stack would not survive them. */
static void test_deep_recursion_host_fine(void **state) {
  wg_store_config cfg = {.max_call_depth = 1000000, .max_stack_slots = 4000000,
                         .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "rec"), 1, 900000), 900000);
  assert_int_equal(wg_call(s, wgt_func(inst, "forever"), NULL, 0, NULL, 0),
                   WG_TRAP_STACK);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "seven"), 0), 7);
  wg_store_free(s);
  /* the default depth */
  s = wg_store_new(NULL);
  inst = wgt_instantiate(s, mod, NULL);
  assert_int_equal(wg_call(s, wgt_func(inst, "forever"), NULL, 0, NULL, 0),
                   WG_TRAP_STACK);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "seven"), 0), 7);
  wg_store_free(s);
}

/* Frames of many slots exhaust the value stack long before the depth. */
static void test_value_stack_limit(void **state) {
  wg_store_config cfg = {.max_stack_slots = 2000, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_instance *inst = wgt_instantiate(s, mod, NULL);
  wg_func *wide = wgt_func(inst, "wide");
  wg_val arg = wgt_i32(10), res;
  assert_int_equal(wg_call(s, wide, &arg, 1, &res, 1), WG_OK);
  assert_int_equal(res.of.i64, 10);
  arg = wgt_i32(1000);
  assert_int_equal(wg_call(s, wide, &arg, 1, &res, 1), WG_TRAP_STACK);
  assert_int_equal(wg_store_trap(s)->func, 2);
  arg = wgt_i32(10);
  assert_int_equal(wg_call(s, wide, &arg, 1, &res, 1), WG_OK);
  wg_store_free(s);
}

/* A frame that does not fit at all: the trap happens on entry, before the
** function runs, and names the function at its first instruction (not at
** a later trapping instruction of it, here the i64.div_s). */
static void test_stack_exhausted_on_entry(void **state) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 1, "01 60 00 01 7e");
  wgt_sec(&m, 3, "01 00");
  wgt_sec(&m, 7, "01 \"deep\" 00 00");
  static const char body_hex[] = "01 40 7e | 42 07 42 01 7f 0b";  /* 64 locals */
  size_t at = wgt_code1(&m, body_hex) + wgt_mark(body_hex);
  wgt_sec(&m, 0, "\"name\" 01 07 01 00 \"deep\"");
  wg_module *mod2 = wgt_load(&m);
  wg_store_config cfg = {.max_stack_slots = 16, .fuel = -1};
  wg_store *s = wg_store_new(&cfg);
  wg_instance *inst = wgt_instantiate(s, mod2, NULL);
  wg_val res;
  assert_int_equal(wg_call(s, wgt_func(inst, "deep"), NULL, 0, &res, 1),
                   WG_TRAP_STACK);
  char want[128];
  snprintf(want, sizeof want,
           "call stack exhausted in function 'deep' (#0) at offset 0x%zx", at);
  wg_error trap = *wg_store_trap(s);
  wg_store_free(s);
  wg_module_release(mod2);
  wgt_check_error(&trap, WG_TRAP_STACK, want, (int64_t)at, 10, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_max_call_depth),
      cmocka_unit_test(test_deep_recursion_host_fine),
      cmocka_unit_test(test_value_stack_limit),
      cmocka_unit_test(test_stack_exhausted_on_entry),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

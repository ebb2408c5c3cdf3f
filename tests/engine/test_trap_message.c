/*
** A trap names the function it happened in (by its name from the name
** section when there is one, and by index) and the byte offset of the
** trapping instruction in the module: wg_error.func, .offset, .section 10,
** and the message "<trap> in function 'name' (#F) at offset 0xO".
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "wgt.h"

enum { NAMES_NONE, NAMES_GOOD, NAMES_BROKEN };

/* Functions: 0 run = call 1; 1 boom = unreachable; 2 div(a, b) = a / b
** (signed); 3 anon = unreachable, without a name. at[i]: offset of the
** trapping instruction of function i (the `|` in its body). */
static wg_module *build(int names, size_t at[4]) {
  static const char *const bodies[4] = {
      "00 | 10 01 0b", "00 01 | 00 0b", "00 20 00 20 01 | 6d 0b", "00 | 00 0b"};
  wgt_mod m;
  size_t offs[4];
  wgt_begin(&m);
  wgt_sec(&m, 1, "02 60 00 00 60 02 7f 7f 01 7f");
  wgt_sec(&m, 3, "04 00 00 01 00");
  wgt_sec(&m, 7, "03 \"run\" 00 00 \"div\" 00 02 \"anon\" 00 03");
  wgt_code(&m, offs, 4, bodies);
  for (int i = 0; i < 4; i++) at[i] = offs[i] + wgt_mark(bodies[i]);
  if (names == NAMES_GOOD)
    wgt_sec(&m, 0, "\"name\" 01 11 03 00 \"run\" 01 \"boom\" 02 \"div\"");
  else if (names == NAMES_BROKEN)       /* the subsection overruns its size */
    wgt_sec(&m, 0, "\"name\" 01 03 03 00 \"run\" 01 \"boom\"");
  return wgt_load(&m);
}

/* Calls export `name` with args and checks the trap it must raise. */
static void expect_trap(wg_store *s, wg_instance *inst, const char *name,
                        const wg_val *args, size_t nargs, wg_err code,
                        const char *fname, int64_t func, size_t at) {
  wg_val res[1];
  assert_int_equal(wg_call(s, wgt_func(inst, name), args, nargs, res, 1), code);
  char msg[256];
  if (fname)
    snprintf(msg, sizeof msg, "%s in function '%s' (#%lld) at offset 0x%zx",
             wg_strerror(code), fname, (long long)func, at);
  else
    snprintf(msg, sizeof msg, "%s in function #%lld at offset 0x%zx",
             wg_strerror(code), (long long)func, at);
  wgt_check_error(wg_store_trap(s), code, msg, (int64_t)at, 10, func);
}

static void check_module(int names) {
  size_t at[4];
  wg_module *m = build(names, at);
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, m, NULL);
  bool named = names == NAMES_GOOD;
  /* the innermost function is named, not its caller */
  expect_trap(s, inst, "run", NULL, 0, WG_TRAP_UNREACHABLE,
              named ? "boom" : NULL, 1, at[1]);
  wg_val args[2] = {wgt_i32(1), wgt_i32(0)};
  expect_trap(s, inst, "div", args, 2, WG_TRAP_DIVZERO, named ? "div" : NULL,
              2, at[2]);
  args[0] = wgt_i32(0x80000000u);
  args[1] = wgt_i32(0xFFFFFFFFu);
  expect_trap(s, inst, "div", args, 2, WG_TRAP_OVERFLOW, named ? "div" : NULL,
              2, at[2]);
  expect_trap(s, inst, "anon", NULL, 0, WG_TRAP_UNREACHABLE, NULL, 3, at[3]);
  /* no trap: nothing left over */
  args[0] = wgt_i32(7);
  args[1] = wgt_i32(2);
  wg_val res;
  assert_int_equal(wg_call(s, wgt_func(inst, "div"), args, 2, &res, 1), WG_OK);
  assert_int_equal(res.of.i32, 3);
  assert_int_equal(wg_store_trap(s)->code, WG_OK);
  wg_store_free(s);
  wg_module_release(m);
}

static void test_named(void **state) { check_module(NAMES_GOOD); }
static void test_unnamed(void **state) { check_module(NAMES_NONE); }

/* A malformed name section is ignored: the module loads, traps use indices. */
static void test_broken_names(void **state) { check_module(NAMES_BROKEN); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_named),
      cmocka_unit_test(test_unnamed),
      cmocka_unit_test(test_broken_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
** Function names come from the name section wherever it is placed (custom
** sections may appear anywhere, also before the function section), and a
** name section that does not fit the module is ignored, never read out of
** bounds: wg_module_func_name and trap messages stay within the module's
** functions.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "wgt.h"

/* 3 functions [] -> []; function 2 is `unreachable`, exported as "c".
** The name section (names) goes before the function section when early. */
static wg_module *build(const char *names, bool early, size_t *trap_at) {
  static const char *const bodies[3] = {"00 0b", "00 0b", "00 | 00 0b"};
  size_t offs[3];
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 1, "01 60 00 00");
  if (early) wgt_sec(&m, 0, names);
  wgt_sec(&m, 3, "03 00 00 00");
  wgt_sec(&m, 7, "01 \"c\" 00 02");
  wgt_code(&m, offs, 3, bodies);
  if (!early) wgt_sec(&m, 0, names);
  *trap_at = offs[2] + wgt_mark(bodies[2]);
  return wgt_load(&m);
}

static bool name_is(wg_name n, const char *s) {
  return n.ptr && n.len == strlen(s) && memcmp(n.ptr, s, n.len) == 0;
}

/* Runs "c" and checks the trap message names function 2 as `name`. */
static void check_trap(wg_module *m, const char *name, size_t at) {
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, m, NULL);
  assert_int_equal(wg_call(s, wgt_func(inst, "c"), NULL, 0, NULL, 0),
                   WG_TRAP_UNREACHABLE);
  char want[128];
  if (name)
    snprintf(want, sizeof want, "unreachable in function '%s' (#2) at offset 0x%zx",
             name, at);
  else
    snprintf(want, sizeof want, "unreachable in function #2 at offset 0x%zx", at);
  wg_error trap = *wg_store_trap(s);
  wg_store_free(s);
  wgt_check_error(&trap, WG_TRAP_UNREACHABLE, want, (int64_t)at, 10, 2);
}

#define NAMES_ALL "\"name\" 01 0a 03 00 \"a\" 01 \"b\" 02 \"c\""
#define NAMES_0 "\"name\" 01 04 01 00 \"a\""

static void test_after_code(void **state) {
  size_t at;
  wg_module *m = build(NAMES_ALL, false, &at);
  assert_true(name_is(wg_module_func_name(m, 0), "a"));
  assert_true(name_is(wg_module_func_name(m, 2), "c"));
  assert_null(wg_module_func_name(m, 3).ptr);        /* no such function */
  check_trap(m, "c", at);
  wg_module_release(m);
}

/* Before the function section: there are no functions yet to name. Either
** the names are found anyway or ignored; function 2 has none either way. */
static void test_before_functions(void **state) {
  size_t at;
  wg_module *m = build(NAMES_0, true, &at);
  wg_name n0 = wg_module_func_name(m, 0);
  assert_true(n0.ptr == NULL || name_is(n0, "a"));
  assert_null(wg_module_func_name(m, 1).ptr);
  assert_null(wg_module_func_name(m, 2).ptr);
  check_trap(m, NULL, at);
  wg_module_release(m);
  m = build(NAMES_ALL, true, &at);
  wg_name n2 = wg_module_func_name(m, 2);
  assert_true(n2.ptr == NULL || name_is(n2, "c"));
  wg_module_release(m);
}

/* Names for indices the module does not have are ignored. */
static void test_index_out_of_range(void **state) {
  size_t at;
  wg_module *m = build("\"name\" 01 07 02 05 \"x\" 09 \"y\"", false, &at);
  for (uint32_t i = 0; i < 3; i++) assert_null(wg_module_func_name(m, i).ptr);
  check_trap(m, NULL, at);
  wg_module_release(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_after_code),
      cmocka_unit_test(test_before_functions),
      cmocka_unit_test(test_index_out_of_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

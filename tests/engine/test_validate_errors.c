/*
** Function bodies that are well formed but invalid fail with WG_EINVALID,
** and the error names the function (wg_error.func), the byte offset of the
** offending instruction (wg_error.offset), the code section, and says both
** in the message: "invalid function F at offset 0xO: <rule>".
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "wgt.h"

enum { WITH_MEMORY = 1, WITH_DATACOUNT = 2 };

/* A module with
**   types   0: [] -> []   1: [i32] -> [i32]   2: [i32 i64] -> []
**   func 0  imported env.f: type 0
**   func 1  type `type`, the body under test (then func 2 if body2)
**   table 0 funcref; globals 0: i32 immutable, 1: i64 mutable
**   memory 0 and a data count of 1 when asked (flags)
** Returns the offset of the byte marked `|` in the body that holds it. */
static size_t build(wgt_mod *m, int flags, uint8_t type, const char *body,
                    const char *body2) {
  char funcs[32];
  wgt_begin(m);
  wgt_sec(m, 1, "03  60 00 00  60 01 7f 01 7f  60 02 7f 7e 00");
  wgt_sec(m, 2, "01 \"env\" \"f\" 00 00");
  if (body2) snprintf(funcs, sizeof funcs, "02 %02x 00", type);
  else snprintf(funcs, sizeof funcs, "01 %02x", type);
  wgt_sec(m, 3, funcs);
  wgt_sec(m, 4, "01 70 00 01");
  if (flags & WITH_MEMORY) wgt_sec(m, 5, "01 00 01");
  wgt_sec(m, 6, "02  7f 00 41 00 0b  7e 01 42 00 0b");
  if (flags & WITH_DATACOUNT) wgt_sec(m, 12, "01");
  const char *bodies[2] = {body, body2};
  size_t offs[2];
  wgt_code(m, offs, body2 ? 2 : 1, bodies);
  if (flags & WITH_DATACOUNT) wgt_sec(m, 11, "01 01 00");
  return body2 ? offs[1] + wgt_mark(body2) : offs[0] + wgt_mark(body);
}

/* Loads the module and checks the WG_EINVALID error at `at` in func. */
static void expect_invalid(const wgt_mod *m, int64_t func, size_t at,
                           const char *rule) {
  wg_error err;
  wg_module *mod = wgt_try_load(m, &err);
  if (mod) {
    wg_module_release(mod);
    fail_msg("loaded; want \"%s\"", rule);
  }
  char msg[256];
  snprintf(msg, sizeof msg, "invalid function %lld at offset 0x%zx: %s",
           (long long)func, at, rule);
  wgt_check_error(&err, WG_EINVALID, msg, (int64_t)at, 10, func);
}

/* One case: body of function 1 (type `type`), error at its `|`. */
static void check(int flags, uint8_t type, const char *body, const char *rule) {
  wgt_mod m;
  size_t at = build(&m, flags, type, body, NULL);
  expect_invalid(&m, 1, at, rule);
}

static void test_type_mismatch(void **state) {
  /* the result is an i64 where the type says i32 */
  check(0, 1, "00 42 00 | 0b", "type mismatch: expected i32, got i64");
  /* i32.add of an i32 and an i64 */
  check(0, 0, "00 41 01 42 02 | 6a 1a 0b", "type mismatch: expected i32, got i64");
  check(0, 0, "00 | 6a 1a 0b",
        "type mismatch: expected i32 but the stack is empty");
  check(0, 0, "00 41 01 | 0b",
        "type mismatch: values left at the end of the block");
}

static void test_unknown_local(void **state) {
  check(0, 1, "00 20 00 1a | 20 05 0b", "unknown local 5");
  /* a declared local counts: 1 param + 1 local; index 2 is unknown */
  check(0, 1, "01 01 7e 20 01 1a | 21 02 20 00 0b", "unknown local 2");
}

static void test_unknown_global(void **state) {
  check(0, 0, "00 | 23 07 1a 0b", "unknown global 7");
}

static void test_unknown_function(void **state) {
  check(0, 0, "00 | 10 09 0b", "unknown function 9");
}

static void test_unknown_type(void **state) {
  check(0, 0, "00 41 00 | 11 07 00 0b", "unknown type 7");     /* call_indirect */
  check(0, 0, "00 | 02 09 0b 0b", "unknown type 9");           /* block type */
}

static void test_unknown_table(void **state) {
  check(0, 0, "00 41 00 | 11 00 03 0b", "unknown table 3");
  check(0, 0, "00 41 00 | 25 01 1a 0b", "unknown table 1");    /* table.get */
}

static void test_unknown_memory(void **state) {
  check(0, 0, "00 41 00 | 28 02 00 1a 0b", "unknown memory 0");  /* i32.load */
  check(0, 0, "00 | 3f 00 1a 0b", "unknown memory 0");           /* memory.size */
}

static void test_unknown_data_segment(void **state) {
  check(WITH_MEMORY | WITH_DATACOUNT, 0,
        "00 41 00 41 00 41 00 | fc 08 01 00 0b", "unknown data segment 1");
}

static void test_immutable_global(void **state) {
  check(0, 0, "00 41 00 | 24 00 0b", "global 0 is immutable");
}

static void test_branch_depth(void **state) {
  check(0, 0, "00 | 0c 03 0b", "unknown label 3");                   /* br */
  check(0, 0, "00 02 40 41 00 | 0d 02 0b 0b", "unknown label 2");    /* br_if */
  check(0, 0, "00 41 00 | 0e 01 00 05 0b", "unknown label 5");       /* br_table */
}

static void test_select_types(void **state) {
  check(0, 0, "00 41 01 42 02 41 00 | 1b 1a 0b",
        "type mismatch: select operands differ");
}

static void test_other_rules(void **state) {
  check(WITH_MEMORY, 0, "00 41 00 | 28 03 00 1a 0b",
        "alignment must not be larger than natural");
  check(0, 0, "00 | d2 01 1a 0b", "undeclared function reference 1");
  check(0, 0, "00 | 05 0b", "else without a matching if");
}

/* The error names the function that has it, here the second of two
** defined functions (index 2), at an offset inside that body. */
static void test_second_function(void **state) {
  wgt_mod m;
  size_t at = build(&m, 0, 0, "00 0b", "00 01 01 | 20 00 0b");
  expect_invalid(&m, 2, at, "unknown local 0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_mismatch),
      cmocka_unit_test(test_unknown_local),
      cmocka_unit_test(test_unknown_global),
      cmocka_unit_test(test_unknown_function),
      cmocka_unit_test(test_unknown_type),
      cmocka_unit_test(test_unknown_table),
      cmocka_unit_test(test_unknown_memory),
      cmocka_unit_test(test_unknown_data_segment),
      cmocka_unit_test(test_immutable_global),
      cmocka_unit_test(test_branch_depth),
      cmocka_unit_test(test_select_types),
      cmocka_unit_test(test_other_rules),
      cmocka_unit_test(test_second_function),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
** Unit tests for the error table (include/wasmgate/error.h).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wasmgate/error.h"

static void test_names_and_messages(void **state) {
  assert_string_equal(wg_err_name(WG_OK), "WG_OK");
  assert_string_equal(wg_err_name(WG_EMAGIC), "WG_EMAGIC");
  assert_string_equal(wg_err_name(WG_TRAP_DIVZERO), "WG_TRAP_DIVZERO");
  assert_string_equal(wg_strerror(WG_EMAGIC), "magic header not detected");
  assert_string_equal(wg_strerror(WG_TRAP_DIVZERO), "integer divide by zero");
  assert_string_equal(wg_strerror(WG_TRAP_STACK), "call stack exhausted");
}

static void test_every_code_named(void **state) {
  for (int i = 0; i < WG_ERR_COUNT; i++) {
    const char *n = wg_err_name((wg_err)i), *m = wg_strerror((wg_err)i);
    assert_non_null(n);
    assert_non_null(m);
    assert_int_equal(strncmp(n, "WG_", 3), 0);
    assert_true(strlen(n) > 3);
    assert_true(strlen(m) > 0);
    for (int j = 0; j < i; j++)
      assert_string_not_equal(n, wg_err_name((wg_err)j));
  }
}

static void test_out_of_range_never_null(void **state) {
  assert_non_null(wg_err_name(WG_ERR_COUNT));
  assert_non_null(wg_strerror(WG_ERR_COUNT));
  assert_non_null(wg_err_name((wg_err)-1));
  assert_non_null(wg_strerror((wg_err)12345));
}

static void test_is_trap(void **state) {
  assert_false(wg_is_trap(WG_OK));
  assert_false(wg_is_trap(WG_EINVALID));
  assert_true(wg_is_trap(WG_TRAP_UNREACHABLE));
  assert_true(wg_is_trap(WG_TRAP_EXIT));
}

static void test_clear(void **state) {
  wg_error e;
  memset(&e, 0x5a, sizeof e);
  wg_error_clear(&e);
  assert_int_equal(e.code, WG_OK);
  assert_int_equal(e.section, -1);
  assert_int_equal(e.offset, -1);
  assert_int_equal(e.func, -1);
  assert_string_equal(e.message, "");
  wg_error_clear(NULL); /* tolerated */
}

static void test_first_failure_wins(void **state) {
  wg_error e;
  wg_error_clear(&e);
  assert_int_equal(wg_error_set(&e, WG_EMAGIC, "bad magic at %d", 4), WG_EMAGIC);
  assert_int_equal(wg_error_set(&e, WG_EEOF, "later %s", "failure"), WG_EEOF);
  assert_int_equal(e.code, WG_EMAGIC);
  assert_string_equal(e.message, "bad magic at 4");
}

static void test_null_tolerated(void **state) {
  assert_int_equal(wg_error_set(NULL, WG_EINVAL, "no %s", "struct"), WG_EINVAL);
  wg_error e;
  wg_error_clear(&e);
  /* Without a format the message is the code's own text. */
  assert_int_equal(wg_error_set(&e, WG_TRAP_MEMORY, NULL), WG_TRAP_MEMORY);
  assert_string_equal(e.message, "out of bounds memory access");
}

static void test_long_message_truncated(void **state) {
  char big[1000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  wg_error e;
  wg_error_clear(&e);
  wg_error_set(&e, WG_EINVALID, "%s", big);
  assert_int_equal(e.code, WG_EINVALID);
  assert_int_equal(strlen(e.message), sizeof e.message - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_messages),
      cmocka_unit_test(test_every_code_named),
      cmocka_unit_test(test_out_of_range_never_null),
      cmocka_unit_test(test_is_trap),
      cmocka_unit_test(test_clear),
      cmocka_unit_test(test_first_failure_wins),
      cmocka_unit_test(test_null_tolerated),
      cmocka_unit_test(test_long_message_truncated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

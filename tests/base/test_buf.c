/*
** Unit tests for bounded buffers (src/base/buf.h).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"

static void test_append(void **state) {
  wg_buf b;
  wg_buf_init(&b, 100);
  assert_int_equal(b.len, 0);
  assert_int_equal(wg_buf_append(&b, "abc", 3), WG_OK);
  assert_int_equal(wg_buf_append(&b, "", 0), WG_OK);
  assert_int_equal(wg_buf_append(&b, "de", 2), WG_OK);
  assert_int_equal(b.len, 5);
  assert_memory_equal(b.data, "abcde", 6); /* NUL-terminated */
  wg_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal((char *)b.data, "");
  wg_buf_free(&b);
  assert_null(b.data);
}

static void test_append_past_max(void **state) {
  wg_buf b;
  wg_buf_init(&b, 8);
  assert_int_equal(wg_buf_append(&b, "12345", 5), WG_OK);
  assert_int_equal(wg_buf_append(&b, "6789", 4), WG_ELIMIT);
  assert_int_equal(b.len, 5);
  assert_string_equal((char *)b.data, "12345");
  assert_int_equal(wg_buf_append(&b, "678", 3), WG_OK); /* exactly max */
  assert_int_equal(wg_buf_append(&b, "9", 1), WG_ELIMIT);
  assert_int_equal(b.len, 8);
  assert_string_equal((char *)b.data, "12345678");
  /* A huge length must not wrap around. */
  assert_int_equal(wg_buf_append(&b, "x", SIZE_MAX), WG_ELIMIT);
  assert_int_equal(b.len, 8);
  wg_buf_free(&b);
}

static void test_reserve(void **state) {
  wg_buf b;
  wg_buf_init(&b, 1000);
  assert_int_equal(wg_buf_reserve(&b, 300), WG_OK);
  assert_int_equal(b.len, 0);
  assert_string_equal((char *)b.data, "");       /* NUL-terminated */
  size_t cap = b.cap;
  assert_true(cap >= 301);
  char chunk[30];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(wg_buf_append(&b, chunk, sizeof chunk), WG_OK);
  }
  assert_int_equal(b.cap, cap);                  /* no growth on the way */
  /* beyond the maximum: only up to it, and appending still stops there */
  assert_int_equal(wg_buf_reserve(&b, SIZE_MAX), WG_OK);
  assert_true(b.cap >= 1001 && b.cap <= 2048);
  static char rest[1000];
  assert_int_equal(wg_buf_append(&b, rest, 1000 - b.len), WG_OK);
  assert_int_equal(wg_buf_append(&b, "y", 1), WG_ELIMIT);
  wg_buf_free(&b);
  wg_buf_init(&b, 100);
  wg_alloc_fail_after(1);
  assert_int_equal(wg_buf_reserve(&b, 50), WG_ENOMEM);
  wg_alloc_fail_after(0);
  assert_null(b.data);
  wg_buf_free(&b);
}

static void test_printf(void **state) {
  wg_buf b;
  wg_buf_init(&b, 4096);
  assert_int_equal(wg_buf_printf(&b, "%s=%d", "x", 42), WG_OK);
  assert_int_equal(wg_buf_printf(&b, ";%05u", 7u), WG_OK);
  assert_string_equal((char *)b.data, "x=42;00007");
  assert_int_equal(b.len, strlen("x=42;00007"));

  /* Longer than the internal stack buffer. */
  char big[2000];
  memset(big, 'y', sizeof big - 1);
  big[sizeof big - 1] = 0;
  wg_buf_reset(&b);
  assert_int_equal(wg_buf_printf(&b, "%s", big), WG_OK);
  assert_int_equal(b.len, sizeof big - 1);
  assert_string_equal((char *)b.data, big);
  wg_buf_free(&b);
}

static void test_printf_past_max(void **state) {
  wg_buf b;
  wg_buf_init(&b, 10);
  assert_int_equal(wg_buf_printf(&b, "%d", 12345), WG_OK);
  assert_int_equal(wg_buf_printf(&b, "%d", 123456), WG_ELIMIT);
  assert_int_equal(b.len, 5);
  assert_string_equal((char *)b.data, "12345");
  wg_buf_free(&b);
}

static void test_no_leak(void **state) {
  size_t before = wg_alloc_used();
  wg_buf b;
  wg_buf_init(&b, 1 << 20);
  for (int i = 0; i < 1000; i++) assert_int_equal(wg_buf_printf(&b, "%d,", i), WG_OK);
  assert_true(wg_alloc_used() > before);
  wg_buf_free(&b);
  assert_int_equal(wg_alloc_used(), before);
}

static void test_alloc_failure(void **state) {
  wg_buf b;
  wg_buf_init(&b, 100);
  wg_alloc_fail_after(1);
  assert_int_equal(wg_buf_append(&b, "abc", 3), WG_ENOMEM);
  wg_alloc_fail_after(0);
  assert_int_equal(b.len, 0);
  assert_int_equal(wg_buf_append(&b, "abc", 3), WG_OK);
  assert_string_equal((char *)b.data, "abc");
  wg_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append),
      cmocka_unit_test(test_append_past_max),
      cmocka_unit_test(test_reserve),
      cmocka_unit_test(test_printf),
      cmocka_unit_test(test_printf_past_max),
      cmocka_unit_test(test_no_leak),
      cmocka_unit_test(test_alloc_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

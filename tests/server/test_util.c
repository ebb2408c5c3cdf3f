/* Server helpers: strict base64, UTF-8 checking, media types, the map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "server/srv.h"

static void test_base64(void **state) {
  (void)state;
  static const struct { const char *raw, *std, *url; } v[] = {
      {"", "", ""}, {"f", "Zg==", "Zg"}, {"fo", "Zm8=", "Zm8"},
      {"foo", "Zm9v", "Zm9v"}, {"foob", "Zm9vYg==", "Zm9vYg"},
      {"\xfb\xff", "+/8=", "-_8"},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    wg_buf b;
    wg_buf_init(&b, 1024);
    assert_int_equal(srv_b64_encode((const uint8_t *)v[i].raw,
                                    strlen(v[i].raw), false, &b), WG_OK);
    assert_string_equal(b.data ? (char *)b.data : "", v[i].std);
    wg_buf_reset(&b);
    assert_int_equal(srv_b64_encode((const uint8_t *)v[i].raw,
                                    strlen(v[i].raw), true, &b), WG_OK);
    assert_string_equal(b.data ? (char *)b.data : "", v[i].url);
    wg_buf_reset(&b);
    assert_int_equal(srv_b64_decode(v[i].std, strlen(v[i].std), &b), WG_OK);
    assert_int_equal(b.len, strlen(v[i].raw));
    if (b.len) assert_memory_equal(b.data, v[i].raw, b.len);
    wg_buf_free(&b);
  }
  const char *bad[] = {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9", "Zh==", "Zg==Zg==",
                       "=Zg=", "Zm-_"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    wg_buf b;
    wg_buf_init(&b, 1024);
    assert_int_equal(srv_b64_decode(bad[i], strlen(bad[i]), &b), WG_EINVAL);
    wg_buf_free(&b);
  }
}

static void test_utf8(void **state) {
  (void)state;
  static const char *good[] = {"", "abc", "\xc3\xa9", "\xe2\x82\xac",
                               "\xf0\x9f\x98\x80", "\xef\xbf\xbd"};
  static const char *bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf",
                              "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80",
                              "\xe2\x82"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    assert_true(srv_utf8_valid((const uint8_t *)good[i], strlen(good[i])));
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_false(srv_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
  }
}

static void test_media(void **state) {
  (void)state;
  assert_true(srv_media_is("application/json", "application/json"));
  assert_true(srv_media_is("Application/JSON; charset=utf-8",
                           "application/json"));
  assert_false(srv_media_is("application/jsonx", "application/json"));
  assert_false(srv_media_is(NULL, "application/json"));
}

static bool drop_odd(void *user, const char *key, void *value) {
  (void)user;
  (void)key;
  return ((uintptr_t)value & 1) != 0;
}

static void test_map(void **state) {
  (void)state;
  srv_map m;
  srv_map_init(&m);
  assert_null(srv_map_get(&m, "a"));
  char key[16];
  for (uintptr_t i = 1; i <= 1000; i++) {
    snprintf(key, sizeof key, "k%lu", (unsigned long)i);
    assert_int_equal(srv_map_put(&m, key, (void *)i), WG_OK);
  }
  assert_int_equal(m.count, 1000);
  assert_ptr_equal(srv_map_get(&m, "k500"), (void *)500);
  assert_ptr_equal(srv_map_del(&m, "k500"), (void *)500);
  assert_null(srv_map_get(&m, "k500"));
  srv_map_sweep(&m, drop_odd, NULL);
  assert_int_equal(m.count, 499);
  assert_null(srv_map_get(&m, "k1"));
  assert_ptr_equal(srv_map_get(&m, "k2"), (void *)2);
  srv_map_free(&m);
}

static void test_ids(void **state) {
  (void)state;
  char a[40], b[40];
  assert_true(srv_random_id("x_", 12, a, sizeof a));
  assert_true(srv_random_id("x_", 12, b, sizeof b));
  assert_int_equal(strlen(a), 26);
  assert_string_not_equal(a, b);
  assert_false(srv_random_id("x_", 20, a, sizeof a));   /* too small */
  assert_true(srv_time_id("exec_", a, sizeof a));
  assert_int_equal(strlen(a), 29);
  assert_true(srv_time_id("exec_", b, sizeof b));
  assert_memory_equal(a, b, 5 + 8);    /* the same time, give or take */
  assert_string_not_equal(a + 17, b + 17);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_base64), cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_media),  cmocka_unit_test(test_map),
      cmocka_unit_test(test_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

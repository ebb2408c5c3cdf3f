/* The token bucket behind requests_per_minute, and quota JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "server/srv.h"

#define SEC 1000000000ull

static void test_bucket_burst_then_refill(void **state) {
  (void)state;
  wg_bucket b = {0, 0};
  uint64_t retry = 0, t = 5 * SEC;
  double rate = 60.0 / 60.0;            /* 60 per minute */
  for (int i = 0; i < 60; i++) assert_true(srv_bucket_take(&b, rate, 60, t, &retry));
  assert_false(srv_bucket_take(&b, rate, 60, t, &retry));
  assert_int_equal(retry, 1000);        /* one token per second */
  assert_false(srv_bucket_take(&b, rate, 60, t + SEC / 2, &retry));
  assert_int_equal(retry, 500);
  assert_true(srv_bucket_take(&b, rate, 60, t + SEC, &retry));
  assert_false(srv_bucket_take(&b, rate, 60, t + SEC, &retry));
}

static void test_bucket_caps_at_burst(void **state) {
  (void)state;
  wg_bucket b = {0, 0};
  uint64_t retry;
  double rate = 5.0 / 60.0;             /* 5 per minute */
  assert_true(srv_bucket_take(&b, rate, 5, SEC, &retry));
  /* An hour idle refills to 5, not more. */
  for (int i = 0; i < 5; i++) {
    assert_true(srv_bucket_take(&b, rate, 5, 3600 * SEC, &retry));
  }
  assert_false(srv_bucket_take(&b, rate, 5, 3600 * SEC, &retry));
  assert_int_equal(retry, 12000);
}

static void test_bucket_clock_backwards(void **state) {
  (void)state;
  wg_bucket b = {0, 0};
  uint64_t retry;
  assert_true(srv_bucket_take(&b, 1, 1, 10 * SEC, &retry));
  assert_false(srv_bucket_take(&b, 1, 1, 9 * SEC, &retry));  /* no refill */
}

static void test_quotas_apply(void **state) {
  (void)state;
  wg_quotas q;
  char param[64], msg[160];
  srv_quotas_default(&q);
  json_t *o = json_pack("{sI,sI}", "max_fuel", (json_int_t)5, "max_modules",
                        (json_int_t)2);
  assert_true(srv_quotas_apply(&q, o, false, param, msg, sizeof msg));
  assert_int_equal(q.max_fuel, 5);
  assert_int_equal(q.max_modules, 2);
  json_decref(o);

  o = json_pack("{sI}", "max_fuul", (json_int_t)5);
  assert_false(srv_quotas_apply(&q, o, false, param, msg, sizeof msg));
  assert_string_equal(param, "quotas.max_fuul");
  assert_string_equal(msg, "unknown quota 'max_fuul'");
  json_decref(o);

  o = json_pack("{sI}", "max_fuel", (json_int_t)0);
  assert_false(srv_quotas_apply(&q, o, false, param, msg, sizeof msg));
  assert_string_equal(param, "quotas.max_fuel");
  assert_string_equal(msg, "quotas.max_fuel must be a positive integer");
  json_decref(o);

  o = json_pack("{ss}", "max_fuel", "10");
  assert_false(srv_quotas_apply(&q, o, false, param, msg, sizeof msg));
  json_decref(o);

  o = json_pack("{sn}", "max_fuel");
  assert_false(srv_quotas_apply(&q, o, false, param, msg, sizeof msg));
  assert_true(srv_quotas_apply(&q, o, true, param, msg, sizeof msg));
  assert_int_equal(q.max_fuel, 5);       /* null: left as it was */
  json_decref(o);

  json_t *j = srv_quotas_json(&q);
  assert_int_equal(json_integer_value(json_object_get(j, "max_fuel")), 5);
  assert_int_equal(json_object_size(j), 10);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bucket_burst_then_refill),
      cmocka_unit_test(test_bucket_caps_at_burst),
      cmocka_unit_test(test_bucket_clock_backwards),
      cmocka_unit_test(test_quotas_apply),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Circuit breaker transitions, backoff with full jitter, Retry-After. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ai/ai.h"

static const ai_breaker_cfg cfg = {3, 1000, 50, 10, 500};

static void test_breaker_consecutive_then_half_open(void **st) {
  (void)st;
  ai_breaker b;
  ai_breaker_init(&b);
  uint64_t rm = 0;
  for (int i = 0; i < 2; i++) ai_breaker_record(&b, &cfg, false, 10);
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_CLOSED);
  ai_breaker_record(&b, &cfg, true, 10);     /* resets the run */
  for (int i = 0; i < 3; i++) ai_breaker_record(&b, &cfg, false, 20);
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_OPEN);
  assert_false(ai_breaker_allow(&b, &cfg, 100, &rm));
  assert_int_equal(rm, 420);
  /* after the cooldown: one probe only */
  assert_true(ai_breaker_allow(&b, &cfg, 520, &rm));
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_HALF_OPEN);
  assert_false(ai_breaker_allow(&b, &cfg, 521, &rm));
  ai_breaker_record(&b, &cfg, false, 530);   /* probe failed: open again */
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_OPEN);
  assert_false(ai_breaker_allow(&b, &cfg, 1000, &rm));
  assert_true(ai_breaker_allow(&b, &cfg, 1030, &rm));
  ai_breaker_record(&b, &cfg, true, 1031);   /* probe ok: closed */
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_CLOSED);
  assert_int_equal(atomic_load(&b.opens), 2);
  ai_breaker_destroy(&b);
}

static void test_breaker_failure_ratio(void **st) {
  (void)st;
  ai_breaker_cfg c = {0, 1000, 50, 10, 500};
  ai_breaker b;
  ai_breaker_init(&b);
  for (int i = 0; i < 9; i++) ai_breaker_record(&b, &c, i % 2 == 0, 5);
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_CLOSED);  /* 9 < min */
  ai_breaker_record(&b, &c, false, 6);       /* 5 of 10 failed */
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_OPEN);
  ai_breaker_destroy(&b);
  /* a new window forgets the old calls */
  ai_breaker_init(&b);
  for (int i = 0; i < 9; i++) ai_breaker_record(&b, &c, false, 5);
  ai_breaker_record(&b, &c, false, 2000);
  assert_int_equal(ai_breaker_state(&b), AI_BREAKER_CLOSED);
  ai_breaker_destroy(&b);
}

static void test_backoff(void **st) {
  (void)st;
  for (uint64_t r = 0; r < 1000; r += 7) {
    assert_true(ai_backoff_ms(0, 100, 5000, 0, r) <= 100);
    assert_true(ai_backoff_ms(3, 100, 5000, 0, r) <= 800);
    assert_true(ai_backoff_ms(30, 100, 5000, 0, r) <= 5000);
    assert_true(ai_backoff_ms(1, 100, 5000, 3000, r) >= 3000);
  }
  assert_int_equal(ai_backoff_ms(2, 100, 5000, 0, 400), 400);
  assert_int_equal(ai_backoff_ms(2, 100, 5000, 0, 401), 0);
}

static void test_retry_after(void **st) {
  (void)st;
  uint64_t ms;
  assert_true(ai_retry_after_parse("3", 0, &ms));
  assert_int_equal(ms, 3000);
  assert_true(ai_retry_after_parse(" 120 ", 0, &ms));
  assert_int_equal(ms, 120000);
  assert_true(ai_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT",
                                   1445412470, &ms));
  assert_int_equal(ms, 10000);
  assert_false(ai_retry_after_parse("soon", 0, &ms));
  assert_false(ai_retry_after_parse("-1", 0, &ms));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_breaker_consecutive_then_half_open),
      cmocka_unit_test(test_breaker_failure_ratio),
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_retry_after),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

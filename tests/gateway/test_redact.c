/* PII redaction: each kind, validators, and streams split at every
** position (a card number across three chunks included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "guard/guard.h"

static guard_redactor *R;

static int setup(void **st) {
  (void)st;
  char msg[256];
  guard_pattern extra[] = {{"employee", "EMP-[0-9]{6}"}};
  return guard_redactor_new(extra, 1, &R, msg, sizeof msg) == WG_OK ? 0 : -1;
}

static int teardown(void **st) {
  (void)st;
  guard_redactor_free(R);
  return 0;
}

static void check(const char *in, const char *want) {
  wg_buf o;
  wg_buf_init(&o, 1 << 20);
  assert_int_equal(guard_redact(R, in, strlen(in), &o, NULL), WG_OK);
  assert_string_equal(o.data ? (char *)o.data : "", want);
  wg_buf_free(&o);
}

static void test_kinds(void **st) {
  (void)st;
  check("write to jane.doe+x@mail.example.org now",
        "write to [REDACTED:EMAIL] now");
  check("card 4111 1111 1111 1111.", "card [REDACTED:CARD].");
  check("not a card 4111 1111 1111 1112", "not a card 4111 1111 1111 1112");
  check("ssn 123-45-6789 and 000-12-3456", "ssn [REDACTED:SSN] and "
        "000-12-3456");
  check("iban DE89 3704 0044 0532 0130 00 ok", "iban [REDACTED:IBAN] ok");
  check("iban DE89 3704 0044 0532 0130 01 no",
        "iban DE89 3704 0044 0532 0130 01 no");
  check("host 192.168.10.255 and 999.1.1.1", "host [REDACTED:IPV4] and "
        "999.1.1.1");
  check("call +1 415-555-0132 today", "call [REDACTED:PHONE] today");
  check("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 x",
        "token [REDACTED:SECRET] x");
  check("id EMP-123456", "id [REDACTED:EMPLOYEE]");
  check("nothing here, 42 apples", "nothing here, 42 apples");
  /* many hits of several kinds in one text (the redactor keeps each
  ** pattern's next hit between replacements) */
  check("a@b.io, c@d.io;4111 1111 1111 1111 123-45-6789 10.0.0.1 10.0.0.2"
        "(415) 555-0132 a@b.io EMP-123456x@y.zz 4111 1111 EMP-654321",
        "[REDACTED:EMAIL], [REDACTED:EMAIL];[REDACTED:CARD] [REDACTED:SSN] "
        "[REDACTED:IPV4] [REDACTED:IPV4](415) 555-0132 [REDACTED:EMAIL] "
        "[REDACTED:EMAIL] 4111 1111 [REDACTED:EMPLOYEE]");
  check("", "");
}

static void luhn_iban(void **st) {
  (void)st;
  assert_true(guard_luhn_ok("4111111111111111", 16));
  assert_false(guard_luhn_ok("4111111111111112", 16));
  assert_true(guard_iban_ok("GB82WEST12345698765432", 22));
  assert_false(guard_iban_ok("GB82WEST12345698765433", 22));
}

/* Streams text in pieces cut at the given positions. */
static void stream(const char *in, const size_t *cuts, size_t ncuts,
                   wg_buf *o, size_t *held) {
  guard_stream s;
  assert_int_equal(guard_stream_init(&s, R), WG_OK);
  size_t prev = 0, n = strlen(in);
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : n;
    assert_int_equal(guard_stream_feed(&s, in + prev, end - prev, o), WG_OK);
    prev = end;
  }
  assert_int_equal(guard_stream_flush(&s, o), WG_OK);
  *held = s.max_held;
  guard_stream_free(&s);
}

static void test_stream_card_three_chunks(void **st) {
  (void)st;
  const char *in = "My card is 4111 1111 1111 1111, thanks";
  size_t cuts[] = {16, 24};
  wg_buf o;
  wg_buf_init(&o, 1 << 20);
  size_t held;
  stream(in, cuts, 2, &o, &held);
  assert_string_equal((char *)o.data, "My card is [REDACTED:CARD], thanks");
  assert_true(held <= 24);
  wg_buf_free(&o);
}

static void test_stream_every_split(void **st) {
  (void)st;
  const char *in = "a b.c@d.io 4111-1111-1111-1111 123-45-6789 1.2.3.4 z";
  const char *want = "a [REDACTED:EMAIL] [REDACTED:CARD] [REDACTED:SSN] "
                     "[REDACTED:IPV4] z";
  size_t n = strlen(in);
  for (size_t a = 1; a < n; a++) {
    for (size_t b = a; b < n; b += 3) {
      size_t cuts[] = {a, b};
      wg_buf o;
      wg_buf_init(&o, 1 << 20);
      size_t held;
      stream(in, cuts, 2, &o, &held);
      assert_string_equal((char *)o.data, want);
      wg_buf_free(&o);
    }
  }
}

static void test_stream_holds_little(void **st) {
  (void)st;
  /* plain prose is not held back: each piece comes out at once, save for
  ** a trailing word that might start an e-mail address */
  guard_stream s;
  assert_int_equal(guard_stream_init(&s, R), WG_OK);
  wg_buf o;
  wg_buf_init(&o, 1 << 20);
  assert_int_equal(guard_stream_feed(&s, "The cat sat. ", 13, &o), WG_OK);
  assert_string_equal((char *)o.data, "The cat sat. ");
  assert_int_equal(guard_stream_feed(&s, "Then", 4, &o), WG_OK);
  assert_string_equal((char *)o.data, "The cat sat. ");
  assert_int_equal(guard_stream_feed(&s, " it ran. ", 9, &o), WG_OK);
  assert_string_equal((char *)o.data, "The cat sat. Then it ran. ");
  guard_stream_free(&s);
  wg_buf_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kinds),
      cmocka_unit_test(luhn_iban),
      cmocka_unit_test(test_stream_card_three_chunks),
      cmocka_unit_test(test_stream_every_split),
      cmocka_unit_test(test_stream_holds_little),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

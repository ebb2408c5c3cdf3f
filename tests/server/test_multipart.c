/* The multipart/form-data parser: well-formed bodies and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "server/multipart.h"

static bool parse(const char *body, srv_part *parts, size_t *n, char *why) {
  return srv_multipart_parse((const uint8_t *)body, strlen(body), "XyZ", parts,
                             SRV_MP_MAX_PARTS, n, why, 200);
}

static void test_boundary(void **state) {
  (void)state;
  char b[SRV_MP_BOUNDARY_MAX + 1], why[200];
  assert_true(srv_multipart_boundary("multipart/form-data; boundary=abc", b,
                                     why, sizeof why));
  assert_string_equal(b, "abc");
  assert_true(srv_multipart_boundary(
      "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b;c\"", b, why,
      sizeof why));
  assert_string_equal(b, "a b;c");
  assert_false(srv_multipart_boundary("application/json", b, why, sizeof why));
  assert_string_equal(why, "Content-Type must be multipart/form-data");
  assert_false(srv_multipart_boundary(NULL, b, why, sizeof why));
  assert_false(srv_multipart_boundary("multipart/form-data", b, why,
                                      sizeof why));
  assert_string_equal(why, "the boundary parameter is missing");
  char longb[200] = "multipart/form-data; boundary=";
  memset(longb + strlen(longb), 'x', 71);
  assert_false(srv_multipart_boundary(longb, b, why, sizeof why));
  assert_string_equal(why, "the boundary parameter is too long or malformed");
}

static void test_two_parts(void **state) {
  (void)state;
  const char body[] =
      "preamble\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"wasm\"; filename=\"m.wasm\"\r\n"
      "Content-Type: application/wasm\r\n\r\n"
      "\0asm\r\n--Xy not yet\r\n--XyZ\r\n"
      "content-disposition: form-data; name=input\r\n\r\n"
      "{\"a\":1}\r\n--XyZ--\r\nepilogue";
  srv_part parts[SRV_MP_MAX_PARTS];
  size_t n;
  char why[200];
  assert_true(srv_multipart_parse((const uint8_t *)body, sizeof body - 1,
                                  "XyZ", parts, SRV_MP_MAX_PARTS, &n, why,
                                  sizeof why));
  assert_int_equal(n, 2);
  const srv_part *w = srv_multipart_find(parts, n, "wasm");
  assert_non_null(w);
  assert_true(w->has_filename);
  assert_string_equal(w->filename, "m.wasm");
  assert_string_equal(w->content_type, "application/wasm");
  assert_int_equal(w->len, 4 + 2 + 12);
  assert_memory_equal(w->data, "\0asm\r\n--Xy not yet", w->len);
  const srv_part *in = srv_multipart_find(parts, n, "input");
  assert_non_null(in);
  assert_false(in->has_filename);
  assert_int_equal(in->len, 7);
  assert_memory_equal(in->data, "{\"a\":1}", 7);
  assert_null(srv_multipart_find(parts, n, "other"));
}

static void test_empty_part_data(void **state) {
  (void)state;
  srv_part parts[SRV_MP_MAX_PARTS];
  size_t n;
  char why[200];
  assert_true(parse("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                    "\r\n--XyZ--", parts, &n, why));
  assert_int_equal(n, 1);
  assert_int_equal(parts[0].len, 0);
}

static void test_refusals(void **state) {
  (void)state;
  static const struct {
    const char *body, *why;
  } cases[] = {
      {"", "no boundary delimiter in the body"},
      {"no delimiter at all", "no boundary delimiter in the body"},
      {"--XyZ--", "no parts"},
      {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\ndata",
       "unterminated part (no closing boundary)"},
      {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n",
       "part headers not terminated"},
      {"--XyZ\r\nX-Other: 1\r\n\r\nd\r\n--XyZ--",
       "a part has no Content-Disposition"},
      {"--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nd\r\n--XyZ--",
       "Content-Disposition is not form-data"},
      {"--XyZ\r\nContent-Disposition: form-data\r\n\r\nd\r\n--XyZ--",
       "a part has no (or a bad) name"},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nd\r\n--XyZ--",
       "a part has no (or a bad) name"},
      {"--XyZ\r\nno colon here\r\n\r\nd\r\n--XyZ--", "malformed part header"},
      {"--XyZ garbage\r\n", "boundary delimiter not followed by CRLF"},
      {"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nd\r\n--XyZ\r\n"
       "Content-Disposition: form-data; name=a\r\n\r\ne\r\n--XyZ--",
       "duplicate part name"},
  };
  srv_part parts[SRV_MP_MAX_PARTS];
  size_t n;
  char why[200];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    assert_false(parse(cases[i].body, parts, &n, why));
    assert_string_equal(why, cases[i].why);
  }
}

static void test_too_many_parts(void **state) {
  (void)state;
  char body[8192];
  size_t len = 0;
  for (int i = 0; i <= SRV_MP_MAX_PARTS; i++) {
    len += (size_t)snprintf(body + len, sizeof body - len,
                            "--XyZ\r\nContent-Disposition: form-data; "
                            "name=p%d\r\n\r\nx\r\n", i);
  }
  snprintf(body + len, sizeof body - len, "--XyZ--");
  srv_part parts[SRV_MP_MAX_PARTS];
  size_t n;
  char why[200];
  assert_false(parse(body, parts, &n, why));
  assert_string_equal(why, "too many parts");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_boundary),
      cmocka_unit_test(test_two_parts),
      cmocka_unit_test(test_empty_part_data),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_too_many_parts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Input guardrails: lengths in code points, control characters (reject
** and strip), chat-template tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "guard/guard.h"

static void test_control(void **st) {
  (void)st;
  guard_cfg c;
  guard_cfg_default(&c);
  guard_violation v;
  uint64_t chars;
  char s[] = "a\tb\r\nc";
  size_t n = strlen(s);
  assert_true(guard_check_text(&c, GUARD_MESSAGE, s, &n, &chars, &v));
  assert_int_equal(chars, 6);
  char bad[] = "a\x1b[31m";
  n = strlen(bad);
  assert_false(guard_check_text(&c, GUARD_MESSAGE, bad, &n, &chars, &v));
  assert_string_equal(v.code, "control_characters");
  assert_string_equal(v.message, "The message contains the control character "
                      "U+001B, which is not allowed.");
  c.control_chars = GUARD_CTRL_STRIP;
  char strip[] = "a\x01" "b\x7f" "c";
  n = strlen(strip);
  assert_true(guard_check_text(&c, GUARD_MESSAGE, strip, &n, &chars, &v));
  assert_int_equal(n, 3);
  assert_memory_equal(strip, "abc", 3);
}

static void test_lengths(void **st) {
  (void)st;
  guard_cfg c;
  guard_cfg_default(&c);
  c.max_message_chars = 3;
  guard_violation v;
  uint64_t chars;
  char ok[] = "\xc3\xa9\xc3\xa9\xc3\xa9";   /* 3 code points, 6 bytes */
  size_t n = strlen(ok);
  assert_true(guard_check_text(&c, GUARD_MESSAGE, ok, &n, &chars, &v));
  assert_int_equal(chars, 3);
  char no[] = "abcd";
  n = 4;
  assert_false(guard_check_text(&c, GUARD_MESSAGE, no, &n, &chars, &v));
  assert_string_equal(v.code, "message_too_long");
  assert_string_equal(v.message, "A message has 4 characters; the limit is "
                      "3.");
}

static void test_template_tokens(void **st) {
  (void)st;
  const char *hits[] = {"<|im_start|>", "x <|im_end|>", "<|system|>",
                        "<|begin_of_text|>", "<|start_header_id|>",
                        "please [inst] now", "<<SYS>>", "<start_of_turn>"};
  for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
    size_t len;
    assert_non_null(guard_find_template_token(hits[i], strlen(hits[i]),
                                              &len));
  }
  const char *misses[] = {"a < b | c > d", "<|>", "|im_start|", "[INS]"};
  for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
    size_t len;
    assert_null(guard_find_template_token(misses[i], strlen(misses[i]),
                                          &len));
  }
  guard_cfg c;
  guard_cfg_default(&c);
  guard_violation v;
  uint64_t chars;
  char s[] = "hi <|eot_id|> there";
  size_t n = strlen(s);
  assert_false(guard_check_text(&c, GUARD_MESSAGE, s, &n, &chars, &v));
  assert_string_equal(v.message, "The message contains the chat-template "
                      "control token '<|eot_id|>', which is not allowed.");
  c.reject_template_tokens = false;
  n = strlen(s);
  assert_true(guard_check_text(&c, GUARD_MESSAGE, s, &n, &chars, &v));
}

/* An embeddings input: its own limit and words, no template-token check. */
static void test_inputs(void **st) {
  (void)st;
  guard_cfg c;
  guard_cfg_default(&c);
  assert_int_equal(c.max_input_chars, 32768);
  assert_int_equal(c.max_input_total_chars, 1048576);
  c.max_message_chars = 2;
  c.max_input_chars = 3;
  guard_violation v;
  uint64_t chars;
  char ok[] = "<|im_start|>";
  size_t n = strlen(ok);
  c.max_input_chars = 12;
  assert_true(guard_check_text(&c, GUARD_INPUT, ok, &n, &chars, &v));
  assert_false(guard_check_text(&c, GUARD_MESSAGE, ok, &n, &chars, &v));
  assert_string_equal(v.code, "message_too_long");
  c.max_input_chars = 3;
  char no[] = "abcd";
  n = 4;
  assert_false(guard_check_text(&c, GUARD_INPUT, no, &n, &chars, &v));
  assert_string_equal(v.code, "input_too_long");
  assert_string_equal(v.message, "An input has 4 characters; the limit is "
                      "3.");
  char ctl[] = "a\x02";
  n = 2;
  assert_false(guard_check_text(&c, GUARD_INPUT, ctl, &n, &chars, &v));
  assert_string_equal(v.code, "control_characters");
  assert_string_equal(v.message, "The input contains the control character "
                      "U+0002, which is not allowed.");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_control),
      cmocka_unit_test(test_lengths),
      cmocka_unit_test(test_template_tokens),
      cmocka_unit_test(test_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

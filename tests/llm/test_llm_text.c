/*
** Unit tests of the text delivery of ai_llm_generate (src/ai/llm_generate.c):
** stop-string holdback, UTF-8 completeness and sanitizing, and the
** defaults of ai_llm_params.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ai/llm_int.h"

static size_t scan(const char *s, const char *const *stop, size_t n,
                   size_t *match) {
  return ai_llm__stop_scan(s, strlen(s), stop, n, match);
}

static void test_stop_none(void **state) {
  size_t m;
  assert_int_equal(scan("hello world", NULL, 0, &m), 11);
  assert_true(m == SIZE_MAX);
  const char *st[] = {"END"};
  assert_int_equal(scan("hello world", st, 1, &m), 11);
  assert_true(m == SIZE_MAX);
}

static void test_stop_holdback(void **state) {
  const char *st[] = {"END", "</s>"};
  size_t m;
  /* "E" and "EN" may grow into "END": held back */
  assert_int_equal(scan("abc E", st, 2, &m), 4);
  assert_int_equal(scan("abc EN", st, 2, &m), 4);
  /* "</" may grow into "</s>" */
  assert_int_equal(scan("x</", st, 2, &m), 1);
  /* "ENX" cannot: everything is final */
  assert_int_equal(scan("ENX", st, 2, &m), 3);
  assert_true(m == SIZE_MAX);
  /* the longest candidate wins */
  const char *st2[] = {"aab"};
  assert_int_equal(scan("xaa", st2, 1, &m), 1);
  assert_int_equal(scan("xa", st2, 1, &m), 1);
}

static void test_stop_match(void **state) {
  const char *st[] = {"END", "ab"};
  size_t m;
  assert_int_equal(scan("xyz END more", st, 2, &m), 4);
  assert_int_equal(m, 4);
  /* the earliest match of any string */
  assert_int_equal(scan("..ab..END", st, 2, &m), 2);
  assert_int_equal(m, 2);
  /* a match at 0 */
  assert_int_equal(scan("END", st, 2, &m), 0);
  assert_int_equal(m, 0);
  /* empty stop strings are ignored */
  const char *st2[] = {""};
  assert_int_equal(scan("abc", st2, 1, &m), 3);
  assert_true(m == SIZE_MAX);
}

static void test_utf8_complete(void **state) {
  /* "é" = C3 A9, "€" = E2 82 AC, "😀" = F0 9F 98 80 */
  assert_int_equal(ai_llm__utf8_complete("ab\xc3", 3), 2);
  assert_int_equal(ai_llm__utf8_complete("ab\xc3\xa9", 4), 4);
  assert_int_equal(ai_llm__utf8_complete("\xe2\x82", 2), 0);
  assert_int_equal(ai_llm__utf8_complete("x\xf0\x9f\x98", 4), 1);
  assert_int_equal(ai_llm__utf8_complete("x\xf0\x9f\x98\x80", 5), 5);
  /* invalid bytes are complete (they will be replaced) */
  assert_int_equal(ai_llm__utf8_complete("a\xff", 2), 2);
  assert_int_equal(ai_llm__utf8_complete("a\xc3\x41", 3), 3);
  /* E0 80 can never be valid (overlong) */
  assert_int_equal(ai_llm__utf8_complete("\xe0\x80", 2), 2);
  assert_int_equal(ai_llm__utf8_complete("", 0), 0);
}

static void sanitized(const char *in, size_t n, const char *want) {
  wg_buf b;
  wg_buf_init(&b, 1024);
  assert_int_equal(ai_llm__utf8_sanitize(in, n, &b), WG_OK);
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  wg_buf_free(&b);
}

static void test_utf8_sanitize(void **state) {
  sanitized("plain", 5, "plain");
  sanitized("caf\xc3\xa9", 5, "caf\xc3\xa9");
  sanitized("a\xff" "b", 3, "a\xef\xbf\xbd" "b");
  /* a lone lead byte, then ASCII */
  sanitized("\xc3" "A", 2, "\xef\xbf\xbd" "A");
  /* surrogates (ED A0 80) are invalid: each byte replaced */
  sanitized("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  /* a truncated sequence at the end */
  sanitized("ok\xe2\x82", 4, "ok\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_params_defaults(void **state) {
  ai_llm_params p;
  memset(&p, 0x5a, sizeof p);
  ai_llm_params_init(&p);
  assert_int_equal(p.max_tokens, -1);
  assert_true(p.temperature <= 0.0f);
  assert_true(p.top_p == 1.0f);
  assert_int_equal(p.top_k, 0);
  assert_int_equal(p.seed, 0);
  assert_null(p.stop);
  assert_int_equal(p.nstop, 0);
  assert_null(p.grammar);
  assert_false(p.ignore_eos);
  /* penalties off (repeat 1), llama.cpp's window and Mirostat constants,
  ** no min-p/typical, not embedding (euclidean when it is) */
  assert_true(p.repeat_penalty == 1.0f);
  assert_true(p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f);
  assert_int_equal(p.penalty_last_n, 64);
  assert_true(p.min_p == 0.0f && p.typical_p == 1.0f);
  assert_int_equal(p.mirostat, 0);
  assert_true(p.mirostat_tau == 5.0f && p.mirostat_eta == 0.1f);
  assert_false(p.embedding);
  assert_int_equal(p.embd_normalize, 2);
  assert_int_equal(p.batch_size, 0);
  assert_string_equal(ai_llm_status_name(AI_LLM_LENGTH), "length");
  assert_string_equal(ai_llm_status_name(AI_LLM_CANCELLED), "cancelled");
}

static void test_embd_normalize(void **state) {
  const float v[4] = {3.0f, -4.0f, 0.0f, 0.0f};
  float o[4];
  ai_llm_embd_normalize(v, o, 4, 2);            /* euclidean: / 5 */
  assert_true(fabsf(o[0] - 0.6f) < 1e-7f && fabsf(o[1] + 0.8f) < 1e-7f);
  ai_llm_embd_normalize(v, o, 4, 1);            /* taxicab: / 7 */
  assert_true(fabsf(o[0] - 3.0f / 7) < 1e-7f && fabsf(o[1] + 4.0f / 7) < 1e-7f);
  ai_llm_embd_normalize(v, o, 4, 0);            /* max-abs: 4 -> 32760 */
  assert_true(fabsf(o[1] + 32760.0f) < 1e-2f && fabsf(o[0] - 24570.0f) < 1e-2f);
  ai_llm_embd_normalize(v, o, 4, -1);           /* none */
  assert_memory_equal(o, v, sizeof v);
  ai_llm_embd_normalize(v, o, 4, 3);            /* 3-norm: (27+64)^(1/3) */
  float n3 = cbrtf(91.0f);
  assert_true(fabsf(o[0] - 3.0f / n3) < 1e-6f);
  const float z[2] = {0.0f, 0.0f};
  float oz[2] = {1.0f, 1.0f};
  ai_llm_embd_normalize(z, oz, 2, 2);           /* zero norm: zeros */
  assert_true(oz[0] == 0.0f && oz[1] == 0.0f);
  float w[2] = {6.0f, 8.0f};                    /* in place */
  ai_llm_embd_normalize(w, w, 2, 2);
  assert_true(fabsf(w[0] - 0.6f) < 1e-7f && fabsf(w[1] - 0.8f) < 1e-7f);
}

static void test_runtime_bad_dir(void **state) {
  /* A directory without libllama: a clear error naming it, remembered. */
  wg_error e;
  wg_error_clear(&e);
  assert_int_equal(ai_llm_runtime_init("/nonexistent-llama", &e),
                   WG_ENOTFOUND);
  assert_non_null(strstr(e.message, "/nonexistent-llama"));
  assert_false(ai_llm_runtime_ready());
  assert_string_equal(ai_llm_runtime_version(), "");
  ai_llm_model_cfg cfg = {.path = "/nonexistent.gguf"};
  ai_llm_model *m = (ai_llm_model *)1;
  wg_error_clear(&e);
  assert_int_equal(ai_llm_model_open(&cfg, &m, &e), WG_ENOTFOUND);
  assert_null(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stop_none),
      cmocka_unit_test(test_stop_holdback),
      cmocka_unit_test(test_stop_match),
      cmocka_unit_test(test_utf8_complete),
      cmocka_unit_test(test_utf8_sanitize),
      cmocka_unit_test(test_params_defaults),
      cmocka_unit_test(test_embd_normalize),
      cmocka_unit_test(test_runtime_bad_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

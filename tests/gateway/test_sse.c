/* The SSE parser: events split at every byte, CR/LF/CRLF line ends,
** multi-line data, comments, the size cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ai/ai.h"

typedef struct got {
  char text[2048];
  int n;
} got;

static bool collect(void *user, const char *event, const char *data,
                    size_t len) {
  got *g = user;
  size_t used = strlen(g->text);
  snprintf(g->text + used, sizeof g->text - used, "[%s|%.*s]", event,
           (int)len, data);
  g->n++;
  return true;
}

static void feed_split(const char *s, size_t step, got *g) {
  ai_sse p;
  ai_sse_init(&p);
  memset(g, 0, sizeof *g);
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i += step) {
    size_t k = n - i < step ? n - i : step;
    assert_int_equal(ai_sse_feed(&p, s + i, k, collect, g), WG_OK);
  }
  ai_sse_free(&p);
}

static void test_sse_every_split(void **st) {
  (void)st;
  const char *in = ": comment\r\ndata: {\"a\":1}\r\n\r\nevent: error\n"
                   "data: x\ndata: y\n\ndata:[DONE]\r\rid: 7\n\n";
  const char *want = "[message|{\"a\":1}][error|x\ny][message|[DONE]]";
  for (size_t step = 1; step <= strlen(in); step++) {
    got g;
    feed_split(in, step, &g);
    assert_string_equal(g.text, want);
    assert_int_equal(g.n, 3);
  }
}

static void test_sse_incomplete_event_not_dispatched(void **st) {
  (void)st;
  got g;
  feed_split("data: half", 3, &g);
  assert_int_equal(g.n, 0);
}

static bool stop_first(void *user, const char *e, const char *d, size_t n) {
  (void)e, (void)d, (void)n;
  ++*(int *)user;
  return false;
}

static void test_sse_stop_and_cap(void **st) {
  (void)st;
  ai_sse p;
  ai_sse_init(&p);
  int calls = 0;
  assert_int_equal(ai_sse_feed(&p, "data: a\n\ndata: b\n\n", 18, stop_first,
                               &calls), WG_EINVAL);
  assert_int_equal(calls, 1);
  ai_sse_free(&p);
  ai_sse_init(&p);
  static char big[AI_SSE_LINE_MAX + 16];
  memset(big, 'x', sizeof big);
  assert_int_equal(ai_sse_feed(&p, big, sizeof big, stop_first, &calls),
                   WG_ELIMIT);
  ai_sse_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sse_every_split),
      cmocka_unit_test(test_sse_incomplete_event_not_dispatched),
      cmocka_unit_test(test_sse_stop_and_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
** libFuzzer target: the Server-Sent Events parser (src/ai/sse.c), which
** reads what upstream servers stream. Aborts when the events (names and
** data) or the result differ between feeding the bytes at once and
** feeding them in up to 8 pieces: a line end (LF, CR, CRLF) or a field
** split between two network reads must not change what is parsed.
**
** Input: byte 0 picks how many cut points follow (0-7), the next bytes
** place them, the rest is the stream.
**
**   build-fuzz/tests/fuzz/fuzz_sse -max_total_time=60 corpus/
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each event as <event>\0<len><data>, so any two differing lists of
** events give differing logs. */
static bool log_event(void *user, const char *event, const char *d,
                      size_t len) {
  wg_buf *b = user;
  size_t el = strnlen(event, 64);
  if (el == 64) abort();                     /* the name is terminated */
  if (wg_buf_append(b, event, el + 1) || wg_buf_append(b, &len, sizeof len) ||
      wg_buf_append(b, d, len)) {
    abort();
  }
  return true;
}

static wg_err parse(const char *s, size_t n, const size_t *cuts, size_t nc,
                    wg_buf *log) {
  ai_sse p;
  ai_sse_init(&p);
  wg_err e = WG_OK;
  size_t prev = 0;
  for (size_t i = 0; i <= nc && !e; i++) {
    size_t end = i < nc ? cuts[i] : n;
    e = ai_sse_feed(&p, s + prev, end - prev, log_event, log);
    prev = end;
  }
  ai_sse_free(&p);
  return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t ncuts = data[0] % 8;
  if (size < 1 + ncuts) return 0;
  const uint8_t *cutb = data + 1;
  const char *s = (const char *)data + 1 + ncuts;
  size_t n = size - 1 - ncuts;
  size_t cuts[8], nc = 0;
  for (size_t i = 0; i < ncuts; i++) {
    size_t c = (size_t)cutb[i] * n / 256;
    size_t k = nc++;
    while (k > 0 && cuts[k - 1] > c) {
      cuts[k] = cuts[k - 1];
      k--;
    }
    cuts[k] = c;
  }
  wg_buf whole, pieces;
  wg_buf_init(&whole, 64 << 20);
  wg_buf_init(&pieces, 64 << 20);
  wg_err a = parse(s, n, NULL, 0, &whole);
  wg_err b = parse(s, n, cuts, nc, &pieces);
  if (a != b || whole.len != pieces.len ||
      (whole.len && memcmp(whole.data, pieces.data, whole.len))) {
    fprintf(stderr, "whole: %d, %zu bytes of events; pieces: %d, %zu\n",
            (int)a, whole.len, (int)b, pieces.len);
    abort();
  }
  wg_buf_free(&whole);
  wg_buf_free(&pieces);
  return 0;
}

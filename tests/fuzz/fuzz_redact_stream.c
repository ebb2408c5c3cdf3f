/*
** libFuzzer target: streaming PII redaction (guard_stream, src/guard/
** redact.c) against redaction of the whole text (guard_redact). Aborts
** when they disagree on the output or the number of redactions: a piece
** boundary must never let a match through, nor change what is replaced.
**
** Input: byte 0 picks how many cut points follow (0-7), the next bytes
** place them, the rest is the text. Each text byte is mapped to a symbol
** of an alphabet weighted towards what the patterns look for (digits,
** separators, '@', letters, a few multi-byte characters), so valid UTF-8
** comes out of any input; cuts fall on code point boundaries, as they do
** between the content deltas of a stream.
**
**   build-fuzz/tests/fuzz/fuzz_redact_stream -max_total_time=60 corpus/
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const alphabet[] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    "0", "1", "4", "9", "0", "5",
    " ", " ", " ", "-", "-", ".", ".", "@", "+", "(", ")", "_", ":", "/",
    "\n", ",",
    "a", "b", "c", "e", "k", "s", "x", "z", "A", "B", "G", "K", "S", "X",
    "k", "e", "y", "T", "O", "N", "sk-", "ghp_", "AKIA", "xoxb-", "GB82",
    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x99\x82", "\xc2\xa0", ".com",
    "EMP-", "@x.io"};
#define NSYM (sizeof alphabet / sizeof alphabet[0])

static guard_redactor *redactor(void) {
  static guard_redactor *r;
  if (!r) {
    /* one configured pattern besides the built-in ones, as in tests */
    static const guard_pattern extra[] = {{"EMPLOYEE", "EMP-[0-9]{6}"}};
    char msg[256];
    if (guard_redactor_new(extra, 1, &r, msg, sizeof msg) != WG_OK) {
      fprintf(stderr, "redactor: %s\n", msg);
      abort();
    }
  }
  return r;
}

static void differ(const char *what, const wg_buf *text, const wg_buf *a,
                   const wg_buf *b) {
  fprintf(stderr, "%s differ\ntext:   %.*s\nwhole:  %.*s\nstream: %.*s\n",
          what, (int)text->len, (const char *)text->data, (int)a->len,
          a->data ? (const char *)a->data : "", (int)b->len,
          b->data ? (const char *)b->data : "");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t ncuts = data[0] % 8;
  if (size < 1 + ncuts) return 0;
  const uint8_t *cutb = data + 1;
  data += 1 + ncuts;
  size -= 1 + ncuts;
  guard_redactor *r = redactor();
  wg_buf text, whole, streamed;
  wg_buf_init(&text, 1 << 20);
  wg_buf_init(&whole, 8 << 20);
  wg_buf_init(&streamed, 8 << 20);
  for (size_t i = 0; i < size; i++) {
    const char *sym = alphabet[data[i] % NSYM];
    if (wg_buf_append(&text, sym, strlen(sym)) != WG_OK) abort();
  }
  const char *t = text.data ? (const char *)text.data : "";
  uint32_t hw = 0, hs = 0;
  wg_err ew = guard_redact(r, t, text.len, &whole, &hw);
  /* the cuts, ascending, each moved forward to a code point boundary */
  size_t cuts[8], nc = 0;
  for (size_t i = 0; i < ncuts; i++) {
    size_t c = text.len ? (size_t)cutb[i] * text.len / 256 : 0;
    while (c < text.len && ((unsigned char)t[c] & 0xc0) == 0x80) c++;
    size_t k = nc++;
    while (k > 0 && cuts[k - 1] > c) {
      cuts[k] = cuts[k - 1];
      k--;
    }
    cuts[k] = c;
  }
  guard_stream s;
  if (guard_stream_init(&s, r) != WG_OK) abort();
  wg_err es = WG_OK;
  size_t prev = 0;
  for (size_t i = 0; i <= nc && !es; i++) {
    size_t end = i < nc ? cuts[i] : text.len;
    es = guard_stream_feed(&s, t + prev, end - prev, &streamed);
    prev = end;
  }
  if (!es) es = guard_stream_flush(&s, &streamed);
  hs = s.hits;
  guard_stream_free(&s);
  /* Both may fail (a match limit): then neither may have let text out
  ** that the other redacted; only a disagreement on success is a bug. */
  if (!ew && !es) {
    if (whole.len != streamed.len ||
        (whole.len && memcmp(whole.data, streamed.data, whole.len))) {
      differ("outputs", &text, &whole, &streamed);
    }
    if (hw != hs) differ("redaction counts", &text, &whole, &streamed);
  } else if (!ew != !es) {
    fprintf(stderr, "whole %d, stream %d\n", (int)ew, (int)es);
    differ("results", &text, &whole, &streamed);
  }
  wg_buf_free(&text);
  wg_buf_free(&whole);
  wg_buf_free(&streamed);
  return 0;
}

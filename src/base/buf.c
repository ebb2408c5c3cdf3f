#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"

void wg_buf_init(wg_buf *b, size_t max) {
  memset(b, 0, sizeof *b);
  b->max = max;
}

void wg_buf_free(wg_buf *b) {
  wg_free(b->data, b->cap);
  b->data = NULL;
  b->len = b->cap = 0;
}

void wg_buf_reset(wg_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

/* Room for n more bytes (and the NUL): doubling from 64. */
static wg_err grow(wg_buf *b, size_t n) {
  if (n > b->max || b->len > b->max - n) return WG_ELIMIT;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    uint8_t *d = wg_realloc_(b->data, b->cap, cap);
    if (!d) return WG_ENOMEM;
    if (!b->data) d[0] = 0;
    b->data = d;
    b->cap = cap;
  }
  return WG_OK;
}

wg_err wg_buf_reserve(wg_buf *b, size_t n) {
  if (n > b->max - b->len) n = b->max - b->len;
  return grow(b, n);
}

wg_err wg_buf_append(wg_buf *b, const void *p, size_t n) {
  wg_err e = grow(b, n);
  if (e) return e;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return WG_OK;
}

wg_err wg_buf_printf(wg_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return WG_EINVAL;
  if ((size_t)n < sizeof tmp) return wg_buf_append(b, tmp, (size_t)n);
  char *big = wg_realloc_(NULL, 0, (size_t)n + 1);
  if (!big) return WG_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  wg_err e = wg_buf_append(b, big, (size_t)n);
  wg_free(big, (size_t)n + 1);
  return e;
}

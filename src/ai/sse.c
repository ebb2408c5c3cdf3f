/*
** Server-Sent Events parsing (the WHATWG "event stream" rules, reduced to
** what chat completions use): lines end at LF, CR or CRLF; "data:" lines
** of one event are joined with LF; a blank line dispatches the event;
** ":" lines are comments; other fields ("id", "retry", unknown) are
** ignored. A line may be split anywhere across feeds, even inside CRLF.
*/
#include <string.h>

#include "ai/ai.h"

void ai_sse_init(ai_sse *p) {
  memset(p, 0, sizeof *p);
  wg_buf_init(&p->line, AI_SSE_LINE_MAX);
  wg_buf_init(&p->data, AI_SSE_LINE_MAX);
}

void ai_sse_free(ai_sse *p) {
  wg_buf_free(&p->line);
  wg_buf_free(&p->data);
}

/* One complete line (without its end). Returns false to stop. */
static bool take_line(ai_sse *p, const char *s, size_t n, ai_sse_fn fn,
                      void *user, wg_err *e) {
  if (n == 0) {
    bool go = true;
    if (p->has_data) {
      go = fn(user, p->event[0] ? p->event : "message",
              p->data.data ? (const char *)p->data.data : "", p->data.len);
    }
    wg_buf_reset(&p->data);
    p->has_data = false;
    p->event[0] = 0;
    if (!go) *e = WG_EINVAL;
    return go;
  }
  if (s[0] == ':') return true;
  const char *colon = memchr(s, ':', n);
  size_t flen = colon ? (size_t)(colon - s) : n;
  const char *v = colon ? colon + 1 : s + n;
  size_t vlen = colon ? n - flen - 1 : 0;
  if (vlen && v[0] == ' ') v++, vlen--;
  if (flen == 4 && !memcmp(s, "data", 4)) {
    if ((p->has_data && wg_buf_append(&p->data, "\n", 1)) ||
        wg_buf_append(&p->data, v, vlen)) {
      p->failed = true;
      *e = WG_ELIMIT;
      return false;
    }
    p->has_data = true;
  } else if (flen == 5 && !memcmp(s, "event", 5)) {
    if (vlen >= sizeof p->event) vlen = sizeof p->event - 1;
    memcpy(p->event, v, vlen);
    p->event[vlen] = 0;
  }
  return true;
}

wg_err ai_sse_feed(ai_sse *p, const char *s, size_t n, ai_sse_fn fn,
                   void *user) {
  wg_err e = WG_OK;
  if (p->failed) return WG_ELIMIT;
  size_t i = 0;
  if (p->skip_lf && n > 0) {
    p->skip_lf = false;
    if (s[0] == '\n') i = 1;
  }
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != '\n' && s[j] != '\r') j++;
    if (j == n) {             /* no line end: keep the piece */
      if (wg_buf_append(&p->line, s + i, n - i)) {
        p->failed = true;
        return WG_ELIMIT;
      }
      break;
    }
    bool ok;
    if (p->line.len) {
      if (wg_buf_append(&p->line, s + i, j - i)) {
        p->failed = true;
        return WG_ELIMIT;
      }
      ok = take_line(p, (const char *)p->line.data, p->line.len, fn, user,
                     &e);
      wg_buf_reset(&p->line);
    } else {
      ok = take_line(p, s + i, j - i, fn, user, &e);
    }
    if (!ok) return e;
    if (s[j] == '\r') {
      if (j + 1 < n) {
        if (s[j + 1] == '\n') j++;
      } else {
        p->skip_lf = true;
      }
    }
    i = j + 1;
  }
  return WG_OK;
}

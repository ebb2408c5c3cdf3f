/*
** PII redaction with PCRE2 (UTF mode, JIT-compiled).
**
** Every pattern has a label and optionally a validator (Luhn for cards,
** mod 97 for IBANs): a match that fails its validator is not redacted.
** Patterns are bounded in length, so that what the streaming redactor
** holds back is bounded too.
**
** Streaming: pend holds [ctx bytes already emitted][text not yet
** emitted]. The context (a few bytes) lets \b and lookbehinds see what
** came before. Each feed scans the held text with PCRE2_PARTIAL_HARD: a
** complete match is replaced and scanning goes on after it; a partial
** match (the text ends where a match could still continue) stops the
** scan, and everything from its start is held back until more text comes
** or the stream ends. So a card number split across any number of pieces
** is still redacted, and only a possible prefix of a match is ever held.
*/
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "guard/guard.h"

#define CTX_MAX 16
#define PEND_MAX (1u << 20)

typedef bool (*validator)(const char *s, size_t n);

typedef struct rx {
  char name[48];
  pcre2_code *code;
  validator ok;
  const char *needs;            /* a match holds one of these bytes */
} rx;

struct guard_redactor {
  rx *pats;
  size_t n;                     /* compiled */
  size_t cap;                   /* allocated */
};

bool guard_luhn_ok(const char *s, size_t n) {
  int sum = 0, digits = 0;
  bool dbl = false;
  for (size_t i = n; i-- > 0;) {
    if (s[i] < '0' || s[i] > '9') continue;
    int d = s[i] - '0';
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    dbl = !dbl;
    digits++;
  }
  return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

bool guard_iban_ok(const char *s, size_t n) {
  char c[40];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ') continue;
    if (m == sizeof c) return false;
    c[m++] = s[i];
  }
  if (m < 15 || m > 34) return false;
  unsigned rem = 0;
  for (size_t k = 0; k < m; k++) {
    char ch = c[(k + 4) % m];
    if (ch >= '0' && ch <= '9') {
      rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
    } else if (ch >= 'A' && ch <= 'Z') {
      unsigned v = (unsigned)(ch - 'A') + 10;
      rem = (rem * 100 + v) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

/* needs: bytes of which every match holds at least one (NULL: no such
** set). It lets a complete text skip the patterns that cannot match it;
** never a stream's pieces, where a match may still be coming. */
static const struct {
  const char *name, *regex;
  validator ok;
  const char *needs;
} builtin[] = {
    {"SECRET",
     "(?<![A-Za-z0-9_-])(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,200}"
     "|gh[pousr]_[A-Za-z0-9]{36,80}|github_pat_[A-Za-z0-9_]{22,120}"
     "|xox[abprs]-[A-Za-z0-9-]{10,120}|AKIA[0-9A-Z]{16}"
     "|AIza[0-9A-Za-z_-]{35}|wg-[A-Za-z0-9_-]{43}"
     "|eyJ[A-Za-z0-9_-]{8,400}\\.eyJ[A-Za-z0-9_-]{8,1000}\\.[A-Za-z0-9_-]"
     "{8,400})(?![A-Za-z0-9_-])",
     NULL, NULL},
    {"EMAIL",
     "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}"
     "(?:\\.[A-Za-z0-9-]{1,63}){0,8}\\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
     NULL, "@"},
    /* contiguous, or 4-4-4-(1..7) / 4-6-5 with one kind of separator */
    {"CARD",
     "(?<![0-9])(?:[0-9]{13,19}|[0-9]{4}([ -])[0-9]{4}\\1[0-9]{4}\\1"
     "[0-9]{1,7}|[0-9]{4}([ -])[0-9]{6}\\2[0-9]{5})(?![0-9])",
     guard_luhn_ok, "0123456789"},
    {"IBAN",
     "(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}"
     "(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
     guard_iban_ok, "0123456789"},
    {"SSN",
     "(?<![0-9-])(?!000|666|9[0-9][0-9])[0-9]{3}-(?!00)[0-9]{2}-"
     "(?!0000)[0-9]{4}(?![0-9-])",
     NULL, "-"},
    {"PHONE",
     "(?<![0-9+])(?:\\+[0-9]{1,3}[ .-]?[0-9]{2,4}[ .-]?[0-9]{3,4}[ .-]?"
     "[0-9]{3,4}|(?:\\([0-9]{3}\\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4})"
     "(?![0-9])",
     NULL, "0123456789"},
    {"IPV4",
     "(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
     "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![0-9]|\\.[0-9])",
     NULL, "."},
};

#define NBUILTIN (sizeof builtin / sizeof builtin[0])

static wg_err compile(rx *p, const char *name, const char *regex, validator ok,
                      const char *needs, char *msg, size_t msgsize) {
  int ec;
  PCRE2_SIZE eo;
  p->needs = needs;
  snprintf(p->name, sizeof p->name, "%s", name);
  for (char *c = p->name; *c; c++) {
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  }
  p->ok = ok;
  p->code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF, &ec, &eo, NULL);
  if (!p->code) {
    PCRE2_UCHAR why[160];
    pcre2_get_error_message(ec, why, sizeof why);
    snprintf(msg, msgsize, "pattern %s: %s at offset %zu", name,
             (const char *)why, (size_t)eo);
    return WG_EINVAL;
  }
  /* Without JIT (not available) the interpreter is used: same results. */
  pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD);
  return WG_OK;
}

wg_err guard_redactor_new(const guard_pattern *extra, size_t nextra,
                          guard_redactor **out, char *msg, size_t msgsize) {
  guard_redactor *r = wg_new(guard_redactor);
  if (!r) return WG_ENOMEM;
  r->cap = NBUILTIN + nextra;
  r->pats = wg_new_array(rx, r->cap);
  if (!r->pats) {
    wg_free_obj(r);
    return WG_ENOMEM;
  }
  wg_err e = WG_OK;
  for (size_t i = 0; i < NBUILTIN + nextra && !e; i++) {
    if (i < NBUILTIN) {
      e = compile(&r->pats[i], builtin[i].name, builtin[i].regex,
                  builtin[i].ok, builtin[i].needs, msg, msgsize);
    } else {
      e = compile(&r->pats[i], extra[i - NBUILTIN].name,
                  extra[i - NBUILTIN].regex, NULL, NULL, msg, msgsize);
    }
    r->n = i + 1;
  }
  if (e) {
    guard_redactor_free(r);
    return e;
  }
  *out = r;
  return WG_OK;
}

void guard_redactor_free(guard_redactor *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) pcre2_code_free(r->pats[i].code);
  wg_free_array(r->pats, r->cap);
  wg_free_obj(r);
}

enum { HIT_NONE, HIT_FULL, HIT_PARTIAL, HIT_ERROR = -1 };

static size_t next_cp(const char *s, size_t n, size_t i) {
  i++;
  while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80) i++;
  return i;
}

/* The first hit of p in s[from..n): a valid complete match, or (partial)
** a partial one. */
static int find_hit(const rx *p, pcre2_match_data *md, const char *s,
                    size_t n, size_t from, bool partial, size_t *start,
                    size_t *end) {
  uint32_t opts = PCRE2_NO_UTF_CHECK | (partial ? PCRE2_PARTIAL_HARD : 0);
  while (from <= n) {
    int rc = pcre2_match(p->code, (PCRE2_SPTR)s, n, from, opts, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return HIT_NONE;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (rc == PCRE2_ERROR_PARTIAL) {
      *start = ov[0];
      *end = n;
      return HIT_PARTIAL;
    }
    if (rc < 0) return HIT_ERROR;
    if (ov[1] > ov[0] && (!p->ok || p->ok(s + ov[0], ov[1] - ov[0]))) {
      *start = ov[0];
      *end = ov[1];
      return HIT_FULL;
    }
    if (ov[0] >= n) return HIT_NONE;
    from = next_cp(s, n, ov[0]);
  }
  return HIT_NONE;
}

/* A pattern's first hit at or after some position (find_hit). */
typedef struct hit {
  int kind;                     /* HIT_*; HIT_UNKNOWN: not searched yet */
  size_t start, end;
} hit;

#define HIT_UNKNOWN (-2)
#define HITS_ON_STACK 16

/* Redacts s[from..n) into out, appending; stops at the first partial
** match (when partial) and returns its start in *held (n when none).
**
** Each pattern's first hit is kept between rounds: after a match is
** replaced, only the patterns whose hit started inside it are searched
** again (from its end). A kept hit that starts at or after the new
** position is what a new search would find: nothing valid began between
** the old position and it. */
static wg_err scan(const guard_redactor *r, pcre2_match_data *md,
                   const char *s, size_t n, size_t from, bool partial,
                   wg_buf *out, uint32_t *hits, size_t *held) {
  hit on_stack[HITS_ON_STACK];
  hit *found = r->n <= HITS_ON_STACK ? on_stack : wg_new_array(hit, r->n);
  if (!found) return WG_ENOMEM;
  /* A complete text: the patterns that cannot match it are done. */
  bool seen[256] = {false};
  if (!partial) {
    for (size_t i = from; i < n; i++) seen[(unsigned char)s[i]] = true;
  }
  for (size_t i = 0; i < r->n; i++) {
    found[i].kind = HIT_UNKNOWN;
    const char *need = r->pats[i].needs;
    if (partial || !need) continue;
    while (*need && !seen[(unsigned char)*need]) need++;
    if (!*need) found[i].kind = HIT_NONE;
  }
  wg_err e = WG_OK;
  size_t pos = from;
  *held = n;
  while (pos < n) {
    int best = HIT_NONE;
    size_t bs = n, be = n, bi = 0;
    for (size_t i = 0; i < r->n; i++) {
      hit *f = &found[i];
      if (f->kind == HIT_UNKNOWN || (f->kind != HIT_NONE && f->start < pos)) {
        f->kind = find_hit(&r->pats[i], md, s, n, pos, partial, &f->start,
                           &f->end);
      }
      if (f->kind == HIT_ERROR) {
        e = WG_EIO;
        goto out;
      }
      if (f->kind == HIT_NONE) continue;
      /* earliest start; at the same start a partial (it may grow) or the
      ** longer match wins */
      if (best == HIT_NONE || f->start < bs ||
          (f->start == bs &&
           (f->kind == HIT_PARTIAL || (best == HIT_FULL && f->end > be)))) {
        best = f->kind;
        bs = f->start;
        be = f->end;
        bi = i;
      }
    }
    if (best == HIT_NONE) break;
    if (wg_buf_append(out, s + pos, bs - pos)) {
      e = WG_ENOMEM;
      goto out;
    }
    if (best == HIT_PARTIAL) {
      *held = bs;
      goto out;
    }
    if (wg_buf_printf(out, "[REDACTED:%s]", r->pats[bi].name)) {
      e = WG_ENOMEM;
      goto out;
    }
    if (hits) (*hits)++;
    pos = be;
  }
  if (pos < n && wg_buf_append(out, s + pos, n - pos)) e = WG_ENOMEM;
out:
  if (found != on_stack) wg_free_array(found, r->n);
  return e;
}

wg_err guard_redact(const guard_redactor *r, const char *s, size_t n,
                    wg_buf *out, uint32_t *hits) {
  pcre2_match_data *md = pcre2_match_data_create(8, NULL);
  if (!md) return WG_ENOMEM;
  size_t held;
  size_t mark = out->len;
  wg_err e = scan(r, md, s, n, 0, false, out, hits, &held);
  pcre2_match_data_free(md);
  if (e) {            /* never leave a half-redacted text behind */
    out->len = mark;
    if (out->data) out->data[mark] = 0;
  }
  return e;
}

wg_err guard_stream_init(guard_stream *s, const guard_redactor *r) {
  memset(s, 0, sizeof *s);
  s->r = r;
  wg_buf_init(&s->pend, PEND_MAX);
  s->md = pcre2_match_data_create(8, NULL);
  return s->md ? WG_OK : WG_ENOMEM;
}

void guard_stream_free(guard_stream *s) {
  if (s->md) pcre2_match_data_free(s->md);
  s->md = NULL;
  wg_buf_free(&s->pend);
}

/* Keeps the last CTX_MAX bytes (whole code points) of emitted text before
** the held part as context. */
static wg_err keep(guard_stream *s, size_t held) {
  const char *p = (const char *)s->pend.data;
  size_t c0 = held > CTX_MAX ? held - CTX_MAX : 0;
  while (c0 < held && ((unsigned char)p[c0] & 0xc0) == 0x80) c0++;
  size_t n = s->pend.len - c0;
  memmove(s->pend.data, p + c0, n);
  s->pend.len = n;
  s->pend.data[n] = 0;
  s->ctx = held - c0;
  if (n - s->ctx > s->max_held) s->max_held = n - s->ctx;
  return WG_OK;
}

wg_err guard_stream_feed(guard_stream *s, const char *p, size_t n,
                         wg_buf *out) {
  if (wg_buf_append(&s->pend, p, n)) return WG_ELIMIT;
  size_t held;
  wg_err e = scan(s->r, s->md, (const char *)s->pend.data, s->pend.len,
                  s->ctx, true, out, &s->hits, &held);
  if (e) return e;
  return keep(s, held);
}

wg_err guard_stream_flush(guard_stream *s, wg_buf *out) {
  size_t held;
  wg_err e = scan(s->r, s->md, (const char *)s->pend.data, s->pend.len,
                  s->ctx, false, out, &s->hits, &held);
  if (e) return e;
  wg_buf_reset(&s->pend);
  s->ctx = 0;
  return WG_OK;
}

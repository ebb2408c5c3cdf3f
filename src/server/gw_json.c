/*
** The gateway's one-pass JSON (gw_json.h): one lexer (strings decoded into
** reused buffers, numbers checked against jansson's ranges) under two
** parsers, and a compact dump. They replaced jansson on the gateway's hot
** path, where its byte-at-a-time stream lexer, token copies and
** per-token dump callback were most of the gateway's own work on a small
** request (bench/gateway; callgrind 475k -> 328k instructions a request
** with the redaction and buffer changes of the same session).
**
** The tree builder makes the jansson values itself; anything it does not
** take goes to json_loadb, so verdicts and error texts stay jansson's.
**
** The answer rewrite is a recursive-descent checker that knows where it is
** (the root object, the choices array, one choice, its message, usage) and
** copies the input to the output lazily: in[0..copied) is already out,
** and a value to replace is preceded by the bytes before it, then its
** replacement, and copied moves past it. Nothing is allocated per value;
** keys and the content strings are decoded into reused buffers.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "server/gw_json.h"
#include "server/srv.h"

#define DEPTH_MAX 2048            /* jansson's JSON_PARSER_MAX_DEPTH */
#define NUM_SHORT 64

/* Where a value is; containers of the wrong kind there are AT_NONE. */
typedef enum place {
  AT_NONE,
  AT_ROOT,                      /* the answer (an object) */
  AT_CHOICES,                   /* its "choices" (an array) */
  AT_CHOICE,                    /* one of them (an object) */
  AT_MESSAGE,                   /* its "message" (an object) */
  AT_USAGE                      /* the answer's "usage" (an object) */
} place;

typedef struct rw {
  const char *in, *p, *end;
  size_t copied;                /* in[0..copied) is in out */
  const char *model;
  gw_answer_content_fn content;
  void *user;
  gw_answer_usage *usage;
  wg_buf *out;
  wg_buf key, text;             /* the decoded key / content string */
  wg_buf num;                   /* a long number, NUL-terminated */
  size_t choice;
  int depth;
  bool allow_nul;               /* \u0000 may be in a string */
  bool reject_dups;             /* a duplicate key is an error */
  wg_err err;
} rw;

static bool fail(rw *w, wg_err e) {
  if (!w->err) w->err = e;
  return false;
}

static void ws(rw *w) {
  while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' ||
                           *w->p == '\r')) {
    w->p++;
  }
}

static bool at(rw *w, char c) { return w->p < w->end && *w->p == c; }

/* The value of 4 hex digits at p (end permitting), or -1. */
static int32_t hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  int32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v << 4 | d;
  }
  return v;
}

static size_t utf8_put(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The string at w->p (its opening quote), checked; decoded into dec
** unless NULL. */
static bool string(rw *w, wg_buf *dec) {
  if (dec) wg_buf_reset(dec);
  const char *run = ++w->p;      /* bytes that stand for themselves */
  for (;;) {
    if (w->p >= w->end) return fail(w, WG_EINVAL);
    unsigned char c = (unsigned char)*w->p;
    if (c < 0x20) return fail(w, WG_EINVAL);
    if (c != '"' && c != '\\') {
      w->p++;
      continue;
    }
    size_t rn = (size_t)(w->p - run);
    if (!srv_utf8_valid((const uint8_t *)run, rn)) {
      return fail(w, WG_EINVAL);
    }
    if (dec && wg_buf_append(dec, run, rn)) return fail(w, WG_ENOMEM);
    w->p++;
    if (c == '"') return true;
    if (w->p >= w->end) return fail(w, WG_EINVAL);
    char e = *w->p++, o[4];
    size_t on = 1;
    switch (e) {
      case '"': case '\\': case '/': o[0] = e; break;
      case 'b': o[0] = '\b'; break;
      case 'f': o[0] = '\f'; break;
      case 'n': o[0] = '\n'; break;
      case 'r': o[0] = '\r'; break;
      case 't': o[0] = '\t'; break;
      case 'u': {
        int32_t u = hex4(w->p, w->end);
        if (u < 0 || (u == 0 && !w->allow_nul)) return fail(w, WG_EINVAL);
        w->p += 4;
        uint32_t cp = (uint32_t)u;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(w, WG_EINVAL);
        if (cp >= 0xD800 && cp <= 0xDBFF) {       /* then its low half */
          if (w->end - w->p < 2 || w->p[0] != '\\' || w->p[1] != 'u') {
            return fail(w, WG_EINVAL);
          }
          int32_t lo = hex4(w->p + 2, w->end);
          if (lo < 0xDC00 || lo > 0xDFFF) return fail(w, WG_EINVAL);
          w->p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        }
        on = utf8_put(cp, o);
        break;
      }
      default:
        return fail(w, WG_EINVAL);
    }
    if (dec && wg_buf_append(dec, o, on)) return fail(w, WG_ENOMEM);
    run = w->p;
  }
}

static bool digits(rw *w) {
  const char *s = w->p;
  while (w->p < w->end && *w->p >= '0' && *w->p <= '9') w->p++;
  return w->p > s;
}

/* The number at w->p: an integer (no fraction, no exponent) must fit in
** int64, a real must be finite. */
static bool number(rw *w, bool *is_int, int64_t *iv, double *dv) {
  const char *s = w->p;
  if (at(w, '-')) w->p++;
  if (at(w, '0')) {
    w->p++;
  } else if (w->p < w->end && *w->p >= '1' && *w->p <= '9') {
    digits(w);
  } else {
    return fail(w, WG_EINVAL);
  }
  bool real = false;
  if (at(w, '.')) {
    real = true;
    w->p++;
    if (!digits(w)) return fail(w, WG_EINVAL);
  }
  if (at(w, 'e') || at(w, 'E')) {
    real = true;
    w->p++;
    if (at(w, '+') || at(w, '-')) w->p++;
    if (!digits(w)) return fail(w, WG_EINVAL);
  }
  size_t n = (size_t)(w->p - s);
  char small[NUM_SHORT];
  char *t = small;
  if (n >= sizeof small) {
    if (!real) return fail(w, WG_EINVAL);  /* past any int64 */
    wg_buf_reset(&w->num);
    if (wg_buf_append(&w->num, s, n)) return fail(w, WG_ENOMEM);
    t = (char *)w->num.data;
  } else {
    memcpy(small, s, n);
    small[n] = 0;
  }
  errno = 0;
  if (real) {
    double d = strtod(t, NULL);
    if (isinf(d)) return fail(w, WG_EINVAL);
    *is_int = false;
    *dv = d;
  } else {
    long long v = strtoll(t, NULL, 10);
    if (errno == ERANGE) return fail(w, WG_EINVAL);
    *is_int = true;
    *iv = v;
  }
  return true;
}

static bool literal(rw *w, const char *word, size_t n) {
  if ((size_t)(w->end - w->p) < n || memcmp(w->p, word, n)) {
    return fail(w, WG_EINVAL);
  }
  w->p += n;
  return true;
}

/* Sends in[copied..from) out: the bytes before a value being replaced
** (the caller appends the replacement and moves copied past the value). */
static bool splice_to(rw *w, const char *from) {
  size_t a = (size_t)(from - w->in);
  if (wg_buf_append(w->out, w->in + w->copied, a - w->copied)) {
    return fail(w, WG_ENOMEM);
  }
  return true;
}

/* Containers, for both parsers: enter at the opening byte; leave (true)
** at the closing one; comma (true) when another item follows. */
static bool enter(rw *w) {
  if (++w->depth > DEPTH_MAX) return fail(w, WG_EINVAL);
  w->p++;
  ws(w);
  return true;
}

static bool leave(rw *w, char close) {
  if (!at(w, close)) return false;
  w->p++;
  w->depth--;
  return true;
}

static bool comma(rw *w) {
  ws(w);
  if (!at(w, ',')) return false;
  w->p++;
  ws(w);
  return true;
}

/* A member's key and its colon, the key decoded into w->key. */
static bool key(rw *w) {
  if (!at(w, '"') || !string(w, &w->key)) return fail(w, WG_EINVAL);
  ws(w);
  if (!at(w, ':')) return fail(w, WG_EINVAL);
  w->p++;
  ws(w);
  return true;
}

static bool value(rw *w, place where);

static bool key_is(const rw *w, const char *k) {
  size_t n = strlen(k);
  return w->key.len == n && !memcmp(w->key.data, k, n);
}

/* The member value at w->p of an object at `where`, key in w->key. */
static bool member(rw *w, place where) {
  place next = AT_NONE;
  switch (where) {
    case AT_ROOT:
      if (key_is(w, "model")) {
        const char *a = w->p;
        if (!value(w, AT_NONE) || !splice_to(w, a)) return false;
        srv_json_str(w->out, w->model, strlen(w->model));
        w->copied = (size_t)(w->p - w->in);
        return true;
      }
      if (key_is(w, "usage")) {        /* the last one counts */
        memset(w->usage, 0, sizeof *w->usage);
        w->usage->object = at(w, '{');
        next = AT_USAGE;
      } else if (key_is(w, "choices")) {
        next = AT_CHOICES;
      }
      break;
    case AT_CHOICE:
      if (key_is(w, "message")) next = AT_MESSAGE;
      break;
    case AT_MESSAGE:
      if (key_is(w, "content") && at(w, '"')) {
        const char *a = w->p;
        if (!string(w, &w->text) || !splice_to(w, a)) return false;
        wg_err e = w->content(w->user, w->choice,
                              w->text.data ? (const char *)w->text.data : "",
                              w->text.len, a, (size_t)(w->p - a), w->out);
        if (e) return fail(w, e);
        w->copied = (size_t)(w->p - w->in);
        return true;
      }
      break;
    case AT_USAGE: {
      bool p = key_is(w, "prompt_tokens");
      if (p || key_is(w, "completion_tokens")) {
        bool is_int = false;
        int64_t v = 0;
        double d;
        if (at(w, '-') || (w->p < w->end && *w->p >= '0' && *w->p <= '9')) {
          if (!number(w, &is_int, &v, &d)) return false;
        } else if (!value(w, AT_NONE)) {
          return false;
        }
        if (p) {
          w->usage->has_prompt = is_int;
          w->usage->prompt = v;
        } else {
          w->usage->has_completion = is_int;
          w->usage->completion = v;
        }
        return true;
      }
      break;
    }
    default:
      break;
  }
  return value(w, next);
}

static bool object(rw *w, place where) {
  if (!enter(w)) return false;
  if (leave(w, '}')) return true;
  do {
    if (!key(w) || !member(w, where)) return false;
  } while (comma(w));
  return leave(w, '}') || fail(w, WG_EINVAL);
}

static bool array(rw *w, place where) {
  if (!enter(w)) return false;
  if (leave(w, ']')) return true;
  size_t i = 0;
  do {
    if (where == AT_CHOICES) w->choice = i++;
    if (!value(w, where == AT_CHOICES ? AT_CHOICE : AT_NONE)) return false;
  } while (comma(w));
  return leave(w, ']') || fail(w, WG_EINVAL);
}

static bool value(rw *w, place where) {
  if (w->p >= w->end) return fail(w, WG_EINVAL);
  bool is_int;
  int64_t v;
  double d;
  switch (*w->p) {
    case '{':
      return object(w, where == AT_CHOICES ? AT_NONE : where);
    case '[':
      return array(w, where == AT_CHOICES ? where : AT_NONE);
    case '"':
      return string(w, NULL);
    case 't':
      return literal(w, "true", 4);
    case 'f':
      return literal(w, "false", 5);
    case 'n':
      return literal(w, "null", 4);
    default:
      return number(w, &is_int, &v, &d);
  }
}

wg_err srv_gw_answer_rewrite(const char *in, size_t n, const char *model,
                             gw_answer_content_fn content, void *user,
                             gw_answer_usage *usage, wg_buf *out) {
  rw w = {.in = in, .p = in, .end = in + n, .model = model,
          .content = content, .user = user, .usage = usage, .out = out};
  memset(usage, 0, sizeof *usage);
  wg_buf_init(&w.key, n);       /* a decoded key is no longer */
  wg_buf_init(&w.text, n);
  wg_buf_init(&w.num, n);
  size_t mark = out->len;
  ws(&w);
  if (!at(&w, '{')) {
    fail(&w, WG_EINVAL);
  } else if (object(&w, AT_ROOT)) {
    ws(&w);
    if (w.p != w.end) {
      fail(&w, WG_EINVAL);
    } else if (wg_buf_append(out, in + w.copied, n - w.copied)) {
      fail(&w, WG_ENOMEM);
    }
  }
  wg_buf_free(&w.key);
  wg_buf_free(&w.text);
  wg_buf_free(&w.num);
  if (w.err) {
    out->len = mark;
    if (out->data) out->data[mark] = 0;
    memset(usage, 0, sizeof *usage);
  }
  return w.err;
}

/* ------------------------------------------------------------------ */
/* The tree builder                                                    */

static json_t *build(rw *w);

/* One member into o: its key (no NUL in it: jansson takes none) and
** value. */
static bool build_member(rw *w, json_t *o) {
  if (!key(w)) return false;
  const char *k = w->key.data ? (const char *)w->key.data : "";
  size_t kn = w->key.len + 1;
  if (memchr(k, 0, kn - 1)) return fail(w, WG_EINVAL);
  /* the value may reuse w->key: the key is copied first */
  char small[64];
  char *kc = kn <= sizeof small ? small : wg_realloc_(NULL, 0, kn);
  if (!kc) return fail(w, WG_ENOMEM);
  memcpy(kc, k, kn);
  json_t *v = NULL;
  bool ok = !(w->reject_dups && json_object_get(o, kc)) &&
            (v = build(w)) != NULL &&
            json_object_set_new_nocheck(o, kc, v) == 0;
  if (kc != small) wg_free(kc, kn);
  return ok || fail(w, v ? WG_ENOMEM : WG_EINVAL);
}

static json_t *build_object(rw *w) {
  json_t *o = enter(w) ? json_object() : NULL;
  if (!o) {
    fail(w, WG_ENOMEM);
    return NULL;
  }
  if (leave(w, '}')) return o;
  do {
    if (!build_member(w, o)) break;
  } while (comma(w));
  if (!w->err && leave(w, '}')) return o;
  fail(w, WG_EINVAL);
  json_decref(o);
  return NULL;
}

static json_t *build_array(rw *w) {
  json_t *a = enter(w) ? json_array() : NULL;
  if (!a) {
    fail(w, WG_ENOMEM);
    return NULL;
  }
  if (leave(w, ']')) return a;
  do {
    json_t *v = build(w);
    if (!v || json_array_append_new(a, v)) {
      fail(w, v ? WG_ENOMEM : WG_EINVAL);
      break;
    }
  } while (comma(w));
  if (!w->err && leave(w, ']')) return a;
  fail(w, WG_EINVAL);
  json_decref(a);
  return NULL;
}

static json_t *build(rw *w) {
  if (w->p >= w->end) {
    fail(w, WG_EINVAL);
    return NULL;
  }
  switch (*w->p) {
    case '{':
      return build_object(w);
    case '[':
      return build_array(w);
    case '"':
      if (!string(w, &w->text)) return NULL;
      return json_stringn_nocheck(w->text.data ? (const char *)w->text.data
                                               : "", w->text.len);
    case 't':
      return literal(w, "true", 4) ? json_true() : NULL;
    case 'f':
      return literal(w, "false", 5) ? json_false() : NULL;
    case 'n':
      return literal(w, "null", 4) ? json_null() : NULL;
    default: {
      bool is_int;
      int64_t v;
      double d;
      if (!number(w, &is_int, &v, &d)) return NULL;
      return is_int ? json_integer((json_int_t)v) : json_real(d);
    }
  }
}

json_t *srv_json_build(const char *in, size_t n, size_t flags) {
  if (flags & ~(size_t)(JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)) return NULL;
  rw w = {.in = in, .p = in, .end = in + n,
          .allow_nul = (flags & JSON_ALLOW_NUL) != 0,
          .reject_dups = (flags & JSON_REJECT_DUPLICATES) != 0};
  wg_buf_init(&w.key, n);
  wg_buf_init(&w.text, n);
  wg_buf_init(&w.num, n);
  json_t *j = NULL;
  ws(&w);
  if (at(&w, '{') || at(&w, '[')) {       /* no JSON_DECODE_ANY */
    j = build(&w);
    ws(&w);
    if (j && w.p != w.end) {
      json_decref(j);
      j = NULL;
    }
  }
  wg_buf_free(&w.key);
  wg_buf_free(&w.text);
  wg_buf_free(&w.num);
  return j;
}

json_t *srv_json_loadb(const char *in, size_t n, size_t flags,
                       json_error_t *err) {
  json_t *j = srv_json_build(in, n, flags);
  return j ? j : json_loadb(in, n, flags, err);
}

/* ------------------------------------------------------------------ */
/* The compact dump                                                    */

/* A string as jansson dumps it: \" \\ \b \f \n \r \t, other bytes
** below 0x20 as \u00XX (upper-case hex), everything else as it is. */
static wg_err dump_str(wg_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  if (wg_buf_append(b, "\"", 1)) return WG_ENOMEM;
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (wg_buf_append(b, s + run, i - run)) return WG_ENOMEM;
    run = i + 1;
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    size_t en = 2;
    switch (c) {
      case '"': case '\\': e[1] = (char)c; break;
      case '\b': e[1] = 'b'; break;
      case '\f': e[1] = 'f'; break;
      case '\n': e[1] = 'n'; break;
      case '\r': e[1] = 'r'; break;
      case '\t': e[1] = 't'; break;
      default: en = 6;
    }
    if (wg_buf_append(b, e, en)) return WG_ENOMEM;
  }
  if (wg_buf_append(b, s + run, n - run)) return WG_ENOMEM;
  return wg_buf_append(b, "\"", 1) ? WG_ENOMEM : WG_OK;
}

/* A real as jansson dumps it: %.17g, with ".0" when that reads as an
** integer, and the exponent without '+' or leading zeros. */
static wg_err dump_real(wg_buf *b, double v) {
  char t[40];
  int n = snprintf(t, sizeof t - 2, "%.17g", v);
  if (n < 0 || n >= (int)sizeof t - 2) return WG_EINVAL;
  if (!strchr(t, '.') && !strchr(t, 'e')) {
    memcpy(t + n, ".0", 3);
    n += 2;
  }
  char *e = strchr(t, 'e');
  if (e) {
    char *from = e + 1, *to = e + 1;
    if (*from == '-') to = ++from;
    else if (*from == '+') from++;
    while (*from == '0' && from[1]) from++;
    memmove(to, from, strlen(from) + 1);
    n = (int)strlen(t);
  }
  return wg_buf_append(b, t, (size_t)n) ? WG_ENOMEM : WG_OK;
}

static wg_err dump(const json_t *j, wg_buf *b) {
  char t[32];
  int n;
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      if (wg_buf_append(b, "{", 1)) return WG_ENOMEM;
      const char *k;
      json_t *v;
      bool first = true;
      json_object_foreach((json_t *)j, k, v) {
        if ((!first && wg_buf_append(b, ",", 1)) ||
            dump_str(b, k, strlen(k)) || wg_buf_append(b, ":", 1) ||
            dump(v, b)) {
          return WG_ENOMEM;
        }
        first = false;
      }
      return wg_buf_append(b, "}", 1) ? WG_ENOMEM : WG_OK;
    }
    case JSON_ARRAY: {
      if (wg_buf_append(b, "[", 1)) return WG_ENOMEM;
      for (size_t i = 0; i < json_array_size(j); i++) {
        if ((i && wg_buf_append(b, ",", 1)) ||
            dump(json_array_get(j, i), b)) {
          return WG_ENOMEM;
        }
      }
      return wg_buf_append(b, "]", 1) ? WG_ENOMEM : WG_OK;
    }
    case JSON_STRING:
      return dump_str(b, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
      n = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
      return wg_buf_append(b, t, (size_t)n) ? WG_ENOMEM : WG_OK;
    case JSON_REAL:
      return dump_real(b, json_real_value(j));
    case JSON_TRUE:
      return wg_buf_append(b, "true", 4) ? WG_ENOMEM : WG_OK;
    case JSON_FALSE:
      return wg_buf_append(b, "false", 5) ? WG_ENOMEM : WG_OK;
    default:
      return wg_buf_append(b, "null", 4) ? WG_ENOMEM : WG_OK;
  }
}

wg_err srv_json_dump_compact(const json_t *j, wg_buf *out) {
  if (!j) return WG_ENOMEM;
  size_t mark = out->len;
  wg_err e = dump(j, out);
  if (e) {
    out->len = mark;
    if (out->data) out->data[mark] = 0;
  }
  return e;
}
